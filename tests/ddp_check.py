"""Run under `torchrun --nproc_per_node 2`: pretrain a few steps, record the samples each rank saw."""
import json
import os
import sys

from gltr.train.data import LoaderConfig, ShardLoader
from gltr.train.pretrain import PretrainConfig, train

data, out = sys.argv[1], sys.argv[2]
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
loader = ShardLoader(data, "xsub", "train", LoaderConfig(batch_size=4, workers=0, seed=0), rank, world)
seen = {e: [k for b in loader.epoch(e) for k in b["key"]] for e in (0, 1)}
summary = train(PretrainConfig(data=data, benchmark="xsub", out=out, preset="tiny", epochs=2, batch_size=4, workers=0,
                               lr=1e-3, log_every=1))
json.dump({"rank": rank, "seen": seen, "batches": len(loader), "summary": summary}, open(f"{out}/rank{rank}.json", "w"))
