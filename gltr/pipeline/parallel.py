"""One way to run batches in worker processes: in order, with a bounded number in flight."""
import multiprocessing as mp
from collections import deque


def in_order(fn, batches, workers: int, initializer=None, initargs: tuple = ()):
    """Yield fn(batch) for each batch, in the batches' order, computed in `workers` forked processes with at
    most 4 batches per worker in flight (memory stays bounded however many batches there are)."""
    with mp.get_context("fork").Pool(workers, initializer, initargs) as pool:
        window = deque()
        for batch in batches:
            window.append(pool.apply_async(fn, (batch,)))
            if len(window) >= 4 * workers:
                yield window.popleft().get()
        while window:
            yield window.popleft().get()
