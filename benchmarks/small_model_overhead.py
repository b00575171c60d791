"""Cost of a ravine optimizer on a small model: a full training step vs torch.optim's default.

The lab's small models are where per-step Python overhead shows. This times a full step
(``zero_grad``, forward, loss, backward, ``step``) of the ``load_digits`` MLP 64-256-256-10 with
batch 64, for ravine's fast path, ravine's reference path and ``torch.optim``'s default
implementation of the same optimizer, interleaved in rounds; prints medians and ratios.

Run: ``.venv/bin/python benchmarks/small_model_overhead.py [--rounds 15] [--threads 1]``.
Target: ravine (fast) / torch default <= 1.1.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from sklearn.datasets import load_digits

import ravine.optim as ro

OPTIMIZERS = {
    "SGD momentum": (ro.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    "Adam": (ro.Adam, torch.optim.Adam, dict(lr=1e-3)),
    "AdamW": (ro.AdamW, torch.optim.AdamW, dict(lr=1e-3, weight_decay=1e-2)),
}


def digits_batches(batch: int = 64):
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, len(x) - batch + 1, batch)]


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(),
                               torch.nn.Linear(256, 256), torch.nn.ReLU(),
                               torch.nn.Linear(256, 10))


def seconds_per_step(make_optimizer, batches, steps: int) -> float:
    model = mlp()
    opt = make_optimizer(model.parameters())
    loss_fn = torch.nn.CrossEntropyLoss()
    for x, y in batches[:3]:  # warm-up: state creation, kernel load
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    t0 = time.perf_counter()
    for i in range(steps):
        x, y = batches[i % len(batches)]
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return (time.perf_counter() - t0) / steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    batches = digits_batches()
    print(f"load_digits MLP 64-256-256-10, batch 64, {args.threads} thread(s), "
          f"{args.steps} steps x {args.rounds} rounds (medians)")
    print("| optimizer | torch default ms | ravine fast ms | ravine reference ms "
          "| fast / torch | reference / torch |")
    print("|---|---|---|---|---|---|")
    for name, (ours, theirs, kwargs) in OPTIMIZERS.items():
        def fast(params, ours=ours, kwargs=kwargs):
            return ours(params, **kwargs)

        def reference(params, ours=ours, kwargs=kwargs):
            opt = ours(params, **kwargs)
            opt.fast_path = "reference"
            return opt

        def anchor(params, theirs=theirs, kwargs=kwargs):
            return theirs(params, **kwargs)

        times = {"torch": [], "fast": [], "reference": []}
        for _ in range(args.rounds):
            for key, make in (("torch", anchor), ("fast", fast), ("reference", reference)):
                times[key].append(seconds_per_step(make, batches, args.steps))
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        # per-round ratios are less exposed to load drifting between rounds
        fast_ratio = statistics.median(f / t for f, t in zip(times["fast"], times["torch"],
                                                              strict=True))
        ref_ratio = statistics.median(r / t for r, t in zip(times["reference"], times["torch"],
                                                             strict=True))
        print(f"| {name} | {med['torch']:.3f} | {med['fast']:.3f} | {med['reference']:.3f} "
              f"| {fast_ratio:.3f} | {ref_ratio:.3f} |")


if __name__ == "__main__":
    main()
