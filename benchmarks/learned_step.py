"""Cost of a LearnedOptimizer step against torch.optim.Adam, and of meta-training.

The learned optimizer runs a 2-layer, 20-unit LSTM on every parameter coordinate each step, so
its step costs far more than Adam's elementwise update; this prints how much more, per model
size, as ratios measured in the same run (one thread; the median of repeated timings), and the
speed-up of the fused inference cell over the nn.LSTMCell reference.

Run: ``python benchmarks/learned_step.py``
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from ravine.learned import CoordinatewiseLSTM, LearnedOptimizer, QuadraticFamily, meta_train


def step_time(model, optimizer, repeats=30):
    X = torch.randn(128, model[0].in_features)
    y = torch.randint(10, (128,))
    times = []
    for i in range(repeats + 3):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        start = time.perf_counter()
        optimizer.step()
        if i >= 3:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


class ReferenceCellLSTM(CoordinatewiseLSTM):
    """The same network, always on nn.LSTMCell (the reference path)."""

    def forward(self, grad, state, *, fused=None):
        return super().forward(grad, state, fused=False)


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = CoordinatewiseLSTM(hidden_size=20, num_layers=2)
    print("optimizer.step() time, model on a 128-example batch (median of 30)")
    reference = ReferenceCellLSTM(hidden_size=20, num_layers=2)
    reference.load_state_dict(net.state_dict())
    print(f"{'model':<12} {'params':>8} {'Adam (us)':>10} {'Learned (us)':>13} {'/ Adam':>7} "
          f"{'LSTMCell (us)':>14} {'fused speed-up':>15}")
    for hidden in (20, 100, 500):
        model = nn.Sequential(nn.Linear(64, hidden), nn.Sigmoid(), nn.Linear(hidden, 10))
        n = sum(p.numel() for p in model.parameters())
        adam = step_time(model, torch.optim.Adam(model.parameters(), lr=1e-3))
        learned = step_time(model, LearnedOptimizer(model.parameters(), net))
        slow = step_time(model, LearnedOptimizer(model.parameters(), reference))
        print(f"64-{hidden}-10{'':<{6 - len(str(hidden))}} {n:>8} {adam * 1e6:>10.0f} "
              f"{learned * 1e6:>13.0f} {learned / adam:>7.1f} {slow * 1e6:>14.0f} "
              f"{slow / learned:>15.2f}")
    for batch in (32, 128):
        family = QuadraticFamily(dim=10, batch=batch)
        meta_train(net, family, meta_iterations=1, unroll=20, truncation=20)  # warm up
        start = time.perf_counter()
        meta_train(net, family, meta_iterations=3, unroll=100, truncation=20)
        per_iteration = (time.perf_counter() - start) / 3
        print(f"meta-training, 10-D quadratics x {batch}, unroll 100 / truncation 20: "
              f"{per_iteration:.2f} s per meta-iteration")


if __name__ == "__main__":
    main()
