"""Data-parallel cost of ravine optimizers: DDP and ZeRO on 2 CPU ranks vs torch.optim.AdamW.

Spawns 2 ranks (gloo, 127.0.0.1) that train the ``load_digits`` MLP 64-256-256-10 (float32,
global batch 64, 32 per rank). Per configuration it times full steps (``zero_grad``, forward,
backward with DDP's gradient all-reduce, ``step``; ZeRO adds the parameter broadcast), in
interleaved rounds, and reports the median time per step and the optimizer-state bytes held by
each rank, both as ratios to DDP + ``torch.optim.AdamW`` measured in the same run.

Run: ``.venv/bin/python benchmarks/distributed_zero.py [--rounds 7] [--steps 10]``.
Expected: ravine within a few percent of torch under DDP and under ZeRO. ZeRO splits the
replicated state between the ranks by whole tensors, so per-rank shares sum to 1 but need not
be halves (the rank holding the 256x256 weight keeps 77% of the state on this model).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.optim import ZeroRedundancyOptimizer
from torch.nn.parallel import DistributedDataParallel

import ravine.optim as ro
from ravine.distributed import ShardedBatches, free_port, process_group, zero_optimizer
from ravine.distributed.train import digits_data

HYPER = {"lr": 1e-3, "weight_decay": 1e-2}
CONFIGS = {  # name -> how to build the optimizer over a DDP model's parameters
    "DDP + torch.optim.AdamW": lambda p: torch.optim.AdamW(p, **HYPER),
    "DDP + ravine AdamW": lambda p: ro.AdamW(p, **HYPER),
    "ZeRO + torch.optim.AdamW": lambda p: ZeroRedundancyOptimizer(
        p, optimizer_class=torch.optim.AdamW, **HYPER),
    "ZeRO + ravine AdamW": lambda p: zero_optimizer(p, ro.AdamW, **HYPER),
}
ANCHOR = "DDP + torch.optim.AdamW"


def mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(),
                               torch.nn.Linear(256, 256), torch.nn.ReLU(),
                               torch.nn.Linear(256, 10))


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    local = optimizer.optim if isinstance(optimizer, ZeroRedundancyOptimizer) else optimizer
    return sum(v.numel() * v.element_size() for s in local.state.values()
               for v in s.values() if torch.is_tensor(v))


def worker(rank: int, port: int, rounds: int, steps: int, out: str) -> None:
    torch.set_num_threads(1)
    with process_group(rank, 2, port):
        train_set, _ = digits_data(torch.float32)
        batches = [b for e in range(4) for b in ShardedBatches(train_set, 64).epoch(e)]
        runs = {}
        for name, make in CONFIGS.items():
            net = DistributedDataParallel(mlp())
            runs[name] = (net, make(net.parameters()))
        loss_fn = torch.nn.CrossEntropyLoss()
        times: dict[str, list[float]] = {name: [] for name in CONFIGS}
        cursor = 0
        for r in range(rounds + 1):  # round 0 warms up (state creation, kernel loading)
            for name, (net, opt) in runs.items():
                dist.barrier()
                start = time.perf_counter()
                for i in range(steps):
                    xb, yb = batches[(cursor + i) % len(batches)]
                    opt.zero_grad(set_to_none=True)
                    loss_fn(net(xb), yb).backward()
                    opt.step()
                dist.barrier()
                if r:
                    times[name].append((time.perf_counter() - start) / steps)
            cursor += steps
        mine = {name: state_bytes(opt) for name, (_, opt) in runs.items()}
        memory: list = [None, None]
        dist.all_gather_object(memory, mine)
    if rank == 0:
        torch.save({"times": times, "memory": memory}, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "result.pt")
        mp.spawn(worker, args=(free_port(), args.rounds, args.steps, out), nprocs=2)
        result = torch.load(out)
    median = {name: statistics.median(t) for name, t in result["times"].items()}
    memory = {name: [m[name] for m in result["memory"]] for name in CONFIGS}
    print(f"2 ranks (gloo, 1 thread each), MLP 64-256-256-10, float32, global batch 64; "
          f"median of {args.rounds} rounds x {args.steps} steps")
    print(f"{'configuration':28s} {'ms/step':>8s} {'vs anchor':>9s}   "
          "optimizer state per rank (KiB, vs anchor)")
    anchor_bytes = memory[ANCHOR][0]
    for name in CONFIGS:
        per_rank = ", ".join(f"rank {r}: {b / 1024:.1f} ({b / anchor_bytes:.3f})"
                             for r, b in enumerate(memory[name]))
        print(f"{name:28s} {1e3 * median[name]:8.3f} {median[name] / median[ANCHOR]:9.3f}   "
              f"{per_rank}")
    print(f"ZeRO ravine / ZeRO torch: "
          f"{median['ZeRO + ravine AdamW'] / median['ZeRO + torch.optim.AdamW']:.3f}")


if __name__ == "__main__":
    main()
