"""Cost of a ravine schedule against torch.optim.lr_scheduler, measured in the same run.

Two measurements, each a ratio to its anchor (lower is faster for ravine):

1. evaluating the lr: ``schedule(t)`` for t = 0..N-1 vs ``scheduler.step()`` N times
   (torch's CosineAnnealingWarmRestarts, OneCycleLR, SequentialLR(LinearLR, CosineAnnealingLR));
2. a training step of a small MLP with ravine.optim.SGD: ``lr=schedule`` (evaluated inside
   ``step``) vs a float lr driven by torch's CosineAnnealingWarmRestarts.

Run: ``.venv/bin/python benchmarks/schedules_overhead.py`` (one thread; best of 5 repeats).
"""

from __future__ import annotations

import time
import warnings

import torch
from torch.optim import lr_scheduler as tl

import ravine
from ravine import schedules as rs

N = 20_000
REPEATS = 5


def best_of(fn):
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def eval_pair(schedule, make_torch):
    def ours():
        for t in range(N):
            schedule(t)

    def theirs():
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        sched = make_torch(opt)
        for _ in range(N):
            sched.step()

    return best_of(ours), best_of(theirs)


def train_pair(steps=2000):
    x, y = torch.randn(64, 32), torch.randn(64, 1)

    def run(use_schedule):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(),
                                    torch.nn.Linear(64, 1))
        sgdr = rs.sgdr(peak=0.05, T_0=200, T_mult=2)
        opt = ravine.optim.SGD(model.parameters(), lr=sgdr if use_schedule else 0.05,
                               momentum=0.9)
        sched = None if use_schedule else tl.CosineAnnealingWarmRestarts(opt, T_0=200, T_mult=2)
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            opt.step()
            if sched is not None:
                sched.step()

    return best_of(lambda: run(True)), best_of(lambda: run(False))


def main():
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
    cases = [
        ("sgdr vs CosineAnnealingWarmRestarts", rs.sgdr(peak=0.1, T_0=500, T_mult=2),
         lambda o: tl.CosineAnnealingWarmRestarts(o, T_0=500, T_mult=2)),
        ("one_cycle vs OneCycleLR", rs.one_cycle(peak=0.1, total=N + 1),
         lambda o: tl.OneCycleLR(o, max_lr=0.1, total_steps=N + 1, cycle_momentum=False)),
        ("warmup_cosine vs SequentialLR(LinearLR, Cosine)",
         rs.warmup_cosine(peak=0.1, warmup=500, total=N, start=1e-4),
         lambda o: tl.SequentialLR(o, [tl.LinearLR(o, start_factor=1e-3, total_iters=500),
                                       tl.CosineAnnealingLR(o, T_max=N - 500)],
                                   milestones=[500])),
    ]
    print(f"{'case':66s} {'ravine us/step':>14s} {'torch us/step':>14s} {'ratio':>7s}")
    for name, schedule, make in cases:
        ours, theirs = eval_pair(schedule, make)
        print(f"{'lr only: ' + name:66s} {1e6 * ours / N:14.2f} {1e6 * theirs / N:14.2f} "
              f"{ours / theirs:7.2f}")
    ours, theirs = train_pair()
    print(f"{'MLP step, ravine SGD: lr=sgdr vs float lr + torch scheduler':66s} "
          f"{1e6 * ours / 2000:14.2f} {1e6 * theirs / 2000:14.2f} {ours / theirs:7.2f}")


if __name__ == "__main__":
    main()
