"""Schedule-free SGD: no schedule, no horizon, and as good as a tuned cosine at every time.

A cosine schedule needs the length ``T`` of training in advance, and is only good at ``T``: stop
it halfway and its iterate is still noisy (the lr is still large). Schedule-free SGD
(``ravine.optim.SGDScheduleFree``) keeps three sequences: ``z`` takes plain SGD steps
``z_{t+1} = z_t - lr g(y_t)``, ``x`` is their running average
``x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}`` (``c_{t+1} = 1/(t+1)`` without warmup), and
gradients are taken at the interpolation ``y_t = (1 - beta) z_t + beta x_t``. The average ``x``
(what ``optimizer.eval()`` puts in the parameters) plays the part of the annealed iterate at
every ``t`` at once. Here, on the same budget, each method gets its best lr from a small grid;
cosine is run once per horizon (``T/4``, ``T/2`` and ``T``), schedule-free once.

The problem is L2-regularized softmax regression on scikit-learn's digits (convex, noisy
minibatch gradients, batch 32), shown as ``f - f*`` with ``f*`` from ``ravine.solvers.minimize``.

Run: ``python examples/tour/schedule_free.py --out docs/img/tour``

References:
    Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, "The Road Less Scheduled", NeurIPS
    2024; Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from torch import nn  # noqa: E402

from ravine import schedules  # noqa: E402
from ravine.optim import SGD, SGDScheduleFree  # noqa: E402
from ravine.solvers import minimize  # noqa: E402

WEIGHT_DECAY = 1e-3
BATCH = 32


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The 1797 digits images (scaled to [0, 1], float64) and labels."""
    X, y = load_digits(return_X_y=True)
    return torch.tensor(X / 16.0, dtype=torch.float64), torch.tensor(y)


def loss(w: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Softmax-regression cross-entropy (``w = [W (10x64), b (10)]``) + ``wd/2 ||W||^2``."""
    W, b = w[:640].view(10, 64), w[640:]
    return (nn.functional.cross_entropy(X @ W.T + b, y)
            + 0.5 * WEIGHT_DECAY * (W * W).sum())


def train(make_opt, steps: int, X, y, f_star: float, marks=(), evals: int = 40):
    """Run ``steps`` minibatch steps; return ``(steps, f - f*)`` at ``evals`` points and at the
    steps in ``marks``. A schedule-free optimizer is evaluated at its average (``eval()``), then
    put back in train mode."""
    w = nn.Parameter(torch.zeros(650, dtype=torch.float64))
    opt = make_opt([w])
    gen = torch.Generator().manual_seed(0)
    order = torch.cat([torch.randperm(len(X), generator=gen)
                       for _ in range(steps * BATCH // len(X) + 1)])
    every = max(1, steps // evals)
    when, gaps = [], []
    for t in range(steps):
        idx = order[t * BATCH:(t + 1) * BATCH]
        opt.zero_grad()
        loss(w, X[idx], y[idx]).backward()
        opt.step()
        if (t + 1) % every == 0 or t + 1 == steps or t + 1 in marks:
            if hasattr(opt, "eval"):
                opt.eval()
            with torch.no_grad():
                gaps.append(float(loss(w, X, y)) - f_star)
            if hasattr(opt, "train"):
                opt.train()
            when.append(t + 1)
    return when, gaps


def best(runs: dict) -> tuple:
    """The lr whose run ends lowest, with its curve."""
    lr = min(runs, key=lambda k: runs[k][1][-1])
    return lr, runs[lr]


def main(out_dir: str | Path, quick: bool = False) -> dict:
    """Tune cosine SGD per horizon and schedule-free SGD once; save ``schedule_free.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    X, y = digits()
    f_star = float(minimize(lambda w: loss(w, X, y), torch.zeros(650, dtype=torch.float64),
                            method="lbfgs", options={"gtol": 1e-8, "ftol": 0.0}).fun)
    T = 300 if quick else 1200
    sgd_lrs = [0.3, 1.0] if quick else [0.3, 1.0, 3.0]
    constant_lrs = [0.1, 0.3] if quick else [0.1, 0.3, 1.0]
    sf_lrs = [3.0, 10.0] if quick else [3.0, 10.0, 30.0]
    horizons = [T // 4, T // 2, T]
    cosine = {}
    for h in horizons:
        runs = {lr: train(lambda p, lr=lr, h=h: SGD(p, lr=schedules.cosine(peak=lr, total=h),
                                                    momentum=0.9), h, X, y, f_star, horizons)
                for lr in sgd_lrs}
        cosine[h] = best(runs)
    constant = best({lr: train(lambda p, lr=lr: SGD(p, lr=lr, momentum=0.9), T, X, y, f_star,
                               horizons) for lr in constant_lrs})
    sf = best({lr: train(lambda p, lr=lr: SGDScheduleFree(p, lr=lr, momentum=0.9), T, X, y,
                         f_star, horizons) for lr in sf_lrs})

    def at(curve, step):
        return curve[1][curve[0].index(step)]

    print(f"digits softmax regression, batch {BATCH}, f* = {f_star:.6f}; best lr of each grid "
          f"(SGD momentum 0.9 cosine: {sgd_lrs}, constant: {constant_lrs}; schedule-free: "
          f"{sf_lrs})")
    print(f"{'steps':>6s} {'cosine tuned for these steps':>30s} {'constant lr':>12s} "
          f"{'schedule-free':>14s}")
    rows = {}
    for h in horizons:
        rows[h] = (at(cosine[h][1], h), at(constant[1], h), at(sf[1], h))
        print(f"{h:6d} {rows[h][0]:20.2e} (lr {cosine[h][0]:g}) {rows[h][1]:12.2e} "
              f"{rows[h][2]:14.2e}")
    half = at(cosine[T][1], T // 2)
    print(f"the cosine run for {T} steps, looked at after {T // 2}: f - f* = {half:.2e} "
          f"(schedule-free there: {rows[T // 2][2]:.2e}); constant lr {constant[0]:g}, "
          f"schedule-free lr {sf[0]:g}")

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for h, color in zip(horizons, ["C4", "C1", "C3"], strict=True):
        ax.semilogy(*cosine[h][1], color=color, lw=1,
                    label=f"SGD + cosine for {h} steps (lr {cosine[h][0]:g})")
    ax.semilogy(*constant[1], color="0.5", lw=1, label=f"SGD, constant lr {constant[0]:g}")
    ax.semilogy(*sf[1], color="C0", lw=2, label=f"schedule-free SGD, x = eval() (lr {sf[0]:g})")
    ax.set_xlabel("step")
    ax.set_ylabel("f - f* (whole training set)")
    ax.set_title("one schedule-free run vs a cosine run per horizon")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "schedule_free.png", dpi=85)
    plt.close(fig)
    return {"steps": T, "cosine_at_horizon": {h: r[0] for h, r in rows.items()},
            "constant": {h: r[1] for h, r in rows.items()},
            "schedule_free": {h: r[2] for h, r in rows.items()},
            "cosine_full_at_half": half, "lr_schedule_free": sf[0]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="folder for the PNG")
    parser.add_argument("--quick", action="store_true", help="smaller run (for the tests)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    main(args.out, quick=args.quick)
