"""One way to run batches in worker processes: in order, with a bounded number in flight; the workers die
with the process that started them (a `kill -9` of prepare leaves no orphan holding its files)."""
import ctypes
import multiprocessing as mp
import os
import signal
import sys
from collections import deque

PR_SET_PDEATHSIG = 1


def _start_worker(parent: int, initializer, initargs: tuple) -> None:
    """In each worker: be killed when the parent dies (Linux), then the caller's initializer."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:                    # the parent died before the request took effect
            os._exit(1)
    if initializer is not None:
        initializer(*initargs)


def in_order(fn, batches, workers: int, initializer=None, initargs: tuple = ()):
    """Yield fn(batch) for each batch, in the batches' order, computed in `workers` forked processes with at
    most 4 batches per worker in flight (memory stays bounded however many batches there are)."""
    with mp.get_context("fork").Pool(workers, _start_worker, (os.getpid(), initializer, initargs)) as pool:
        window = deque()
        for batch in batches:
            window.append(pool.apply_async(fn, (batch,)))
            if len(window) >= 4 * workers:
                yield window.popleft().get()
        while window:
            yield window.popleft().get()
