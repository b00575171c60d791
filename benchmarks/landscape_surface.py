"""2-D loss surfaces: ravine.landscape.surface_2d (one point at a time, and vmap chunks) vs the
weight-copying loop of Li et al.'s reference code.

Anchor: the loop of the ``loss-landscape`` code of Li et al. (2018): for each grid point, write
``w + a d1 + b d2`` into the model's parameters in place, run the model under ``no_grad`` over
the data, and at the end restore the weights. ravine evaluates through
``torch.func.functional_call`` (the model is never written), either one point at a time
(``chunk_size=None``, the reference path) or ``chunk_size`` points per ``torch.func.vmap`` call.
All paths compute the same surface (checked here: max relative difference printed).

Problems: load_digits (float32, one batch of 1797 or of 128 images), 21 x 21 grid of
filter-normalized directions, ReLU MLPs 64-32-10 and 64-256-10, and a small conv net (8 3x3
filters on the 8x8 images, 2x2 pooling, linear head) on 512 or 64 images. One thread; best of 3
repeats. Ratios are anchor time / ravine time (> 1: ravine is faster), measured in the same run.
The vmap path pays off when one evaluation is cheap (small batches: Python and dispatch overhead
dominate); with large batches the batched matmuls are slower than the plain loop.

Run: ``python benchmarks/landscape_surface.py`` (one to two minutes on one core).
"""

from __future__ import annotations

import time

import torch
from sklearn.datasets import load_digits
from torch import nn

from ravine.analysis import FlatParams
from ravine.landscape import random_direction, surface_2d

LOSS = nn.CrossEntropyLoss()


def anchor_surface(model, X, y, d1, d2, grid):
    """The weight-copying loop (Li et al.'s ``loss-landscape`` code, ``set_weights`` + eval)."""
    flat = FlatParams(model)
    params = dict(model.named_parameters())
    w0 = {n: p.detach().clone() for n, p in params.items()}
    out = torch.empty(len(grid), len(grid), dtype=torch.float64)
    with torch.no_grad():
        for i, a in enumerate(grid.tolist()):
            for j, b in enumerate(grid.tolist()):
                for n, p in params.items():
                    s = flat.slices[n]
                    p.copy_(w0[n] + a * d1[s].view(p.shape) + b * d2[s].view(p.shape))
                out[i, j] = float(LOSS(model(X), y))
        for n, p in params.items():
            p.copy_(w0[n])
    return out


def best_time(fn, repeats=3):
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def problems():
    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    torch.manual_seed(0)
    small = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    yield "mlp 64-32-10", 1797, small, X, y
    yield "mlp 64-32-10", 128, small, X[:128], y[:128]
    wide = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    yield "mlp 64-256-10", 1797, wide, X, y
    conv = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    images = X.view(-1, 1, 8, 8)
    yield "conv 8x3x3", 512, conv, images[:512], y[:512]
    yield "conv 8x3x3", 64, conv, images[:64], y[:64]


def main() -> None:
    torch.set_num_threads(1)
    grid = torch.linspace(-1, 1, 21)
    print(f"21 x 21 grid, best of 3, torch {torch.__version__}, 1 thread\n")
    header = (f"{'problem':15s} {'images':>6s} {'params':>7s} {'anchor s':>9s} {'ravine ref':>10s} "
              f"{'vmap 32':>8s} {'vmap 128':>8s} | {'ref x':>6s} {'vmap32 x':>8s} "
              f"{'vmap128 x':>9s} {'max rel diff':>12s}")
    print(header)
    for name, images, model, X, y in problems():
        g = torch.Generator().manual_seed(1)
        d1, d2 = random_direction(model, generator=g), random_direction(model, generator=g)
        t_anchor, ref = best_time(lambda: anchor_surface(model, X, y, d1, d2, grid))  # noqa: B023
        times, diff = {}, 0.0
        for chunk in (None, 32, 128):
            def run(chunk=chunk, model=model, data=(X, y), d1=d1, d2=d2):
                return surface_2d(model, LOSS, data, d1, d2, grid, grid, chunk_size=chunk)

            t, s = best_time(run)
            times[chunk] = t
            diff = max(diff, float(((s.loss - ref).abs() / ref.abs()).max()))
        n = FlatParams(model).numel
        print(f"{name:15s} {images:6d} {n:7d} {t_anchor:9.3f} {times[None]:10.3f} {times[32]:8.3f} "
              f"{times[128]:8.3f} | {t_anchor / times[None]:6.2f} {t_anchor / times[32]:8.2f} "
              f"{t_anchor / times[128]:9.2f} {diff:12.1e}")


if __name__ == "__main__":
    main()
