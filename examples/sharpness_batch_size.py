"""Sharpness of the minima found with small and with large batches (Keskar et al. 2017).

A 64-32-10 tanh MLP is trained on scikit-learn's load_digits (1437 training images) with
ravine's SGD (momentum 0.9) at batch size 16 and at batch size 1437 (full batch), each until the
training loss falls below 0.02 (or a step budget runs out). At each solution, on the training set
in float64, ravine.analysis.sharpness measures the largest Hessian eigenvalue (Lanczos), the
Hessian trace (Hutchinson, with a 95% interval) and Keskar's epsilon-sharpness (epsilon = 1e-3,
projected ascent in the box); the test accuracy is printed next to them. Because training stops
at a loss threshold, not at an exact minimum, the gradient is not zero, and the first-order part
of the box maximum (``sum_i |g_i| eps (|x_i| + 1)``, in the same units) is printed as well: where
it is close to the epsilon-sharpness, that number measures the leftover gradient, not curvature.

Run: ``python examples/sharpness_batch_size.py`` (about a minute).
"""

from __future__ import annotations

import time

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from ravine.analysis import as_objective, sharpness
from ravine.optim import SGD

TARGET_LOSS = 0.02


def data():
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X / 16.0, y, test_size=0.2, random_state=0)
    as_t = torch.tensor
    return (as_t(X_tr, dtype=torch.float32), as_t(y_tr), as_t(X_te, dtype=torch.float32),
            as_t(y_te))


def train(batch_size: int, lr: float, seed: int, X, y, max_steps: int = 20000):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
    opt = SGD(model.parameters(), lr=lr, momentum=0.9)
    gen = torch.Generator().manual_seed(seed)
    steps = 0
    while steps < max_steps:
        order = torch.randperm(len(X), generator=gen)
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad()
            nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
            steps += 1
        with torch.no_grad():
            loss = float(nn.functional.cross_entropy(model(X), y))
        if loss < TARGET_LOSS:
            break
    return model, steps, loss


def main() -> None:
    torch.set_num_threads(1)
    X, y, X_te, y_te = data()
    rows = []
    for label, batch_size, lr in [("small", 16, 0.05), ("large", len(X), 0.5)]:
        for seed in (0, 1):
            start = time.perf_counter()
            model, steps, loss = train(batch_size, lr, seed, X, y)
            with torch.no_grad():
                acc = float((model(X_te).argmax(1) == y_te).float().mean())
            s = sharpness(model, loss_fn=nn.functional.cross_entropy, data=(X, y),
                          dtype=torch.float64, epsilon=1e-3, trace_samples=50, seed=seed)
            # the first-order part of the box maximum: sum_i |g_i| w_i, in Keskar's units
            obj = as_objective(model, loss_fn=nn.functional.cross_entropy, data=(X, y),
                               dtype=torch.float64)
            width = 1e-3 * (obj.x0.abs() + 1)
            linear = 100 * float((obj.grad(obj.x0).abs() * width).sum()) / (1 + s.loss)
            rows.append((label, batch_size, seed, steps, s.loss, acc, s.max_eigenvalue,
                         s.trace, s.epsilon.value, linear, time.perf_counter() - start))
    print(f"load_digits, 64-32-10 tanh MLP, SGD momentum 0.9, trained to loss < {TARGET_LOSS}")
    print("| batch | size | seed | steps | train loss | test acc | lambda_max | trace (95% CI) "
          "| eps-sharpness (eps=1e-3) | its first-order part | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for label, bs, seed, steps, loss, acc, lam, tr, eps, lin, secs in rows:
        print(f"| {label} | {bs} | {seed} | {steps} | {loss:.4f} | {acc:.3f} | {lam:.3f} | "
              f"{tr.estimate:.1f} [{tr.ci_low:.1f}, {tr.ci_high:.1f}] | {eps:.4f} | {lin:.4f} "
              f"| {secs:.0f} |")
    for label in ("small", "large"):
        sel = [r for r in rows if r[0] == label]
        print(f"mean over seeds, {label} batch: lambda_max {sum(r[6] for r in sel) / len(sel):.3f},"
              f" trace {sum(r[7].estimate for r in sel) / len(sel):.1f},"
              f" eps-sharpness {sum(r[8] for r in sel) / len(sel):.4f},"
              f" test acc {sum(r[5] for r in sel) / len(sel):.3f}")


if __name__ == "__main__":
    main()
