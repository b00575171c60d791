"""Learning-rate schedules: annealing beats a constant lr when gradients are noisy.

With minibatch gradients, SGD at a constant lr ``eta`` does not converge: it bounces in a band
whose loss excess is roughly proportional to ``eta`` times the gradient-noise variance. Annealing
the lr (cosine: ``eta_t = eta_0 (1 + cos(pi t / T)) / 2``) shrinks the band as it goes, so the
final loss is lower for the same number of steps. SGDR restarts the cosine every ``T_i`` steps
(``T_i = T_0 T_mult^i``): right after a restart the large lr throws the iterate out of the basin
(the loss jumps up), and each cycle ends lower. The second panel is the linear scaling rule:
when the batch grows ``k``-fold, multiply the lr by ``k`` (``schedules.linear_scaling``) -- per
epoch, the large batch then follows the small batch's curve, while keeping the small batch's lr
makes ``k`` times fewer, equally long steps and lags behind.

The model is L2-regularized softmax regression on scikit-learn's 1797 digits (650 weights,
``weight_decay = 1e-3`` inside the loss), trained by SGD with momentum 0.9 from zero weights with
the same batch order in every run; the loss is shown as ``f - f*``, with ``f*`` from
``ravine.solvers.minimize`` (L-BFGS, full batch). The problem is convex and its per-example
gradients do not vanish at the minimum, so the noise floor is there to see. (On an MLP that fits
its training set exactly the noise vanishes at the minimum and a constant lr is not penalized.)

Run: ``python examples/tour/lr_schedules.py --out docs/img/tour``

References:
    Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017;
    Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017;
    Bottou, Curtis & Nocedal, "Optimization methods for large-scale machine learning",
    SIAM Review 2018, Thm. 4.6 (the noise floor of a constant step).
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
from ravine.optim import SGD  # noqa: E402
from ravine.solvers import minimize  # noqa: E402

WEIGHT_DECAY = 1e-3


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The 1797 digits images (scaled to [0, 1], float64) and labels."""
    X, y = load_digits(return_X_y=True)
    return torch.tensor(X / 16.0, dtype=torch.float64), torch.tensor(y)


def loss(w: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of softmax regression with weights ``w = [W (10x64), b (10)]``, plus
    ``weight_decay / 2 * ||W||^2``."""
    W, b = w[:640].view(10, 64), w[640:]
    return (nn.functional.cross_entropy(X @ W.T + b, y)
            + 0.5 * WEIGHT_DECAY * (W * W).sum())


def optimum(X, y) -> float:
    """``f*``, by full-batch L-BFGS."""
    res = minimize(lambda w: loss(w, X, y), torch.zeros(650, dtype=torch.float64),
                   method="lbfgs", options={"gtol": 1e-8, "ftol": 0.0})
    return float(res.fun)


def train(lr, batch_size: int, epochs: int, X, y, f_star: float, evals_per_epoch: int = 3):
    """SGD (momentum 0.9) with ``lr`` a number or a schedule; return ``f - f*`` on the whole set
    ``evals_per_epoch`` times per epoch, as ``(epochs, gaps)``."""
    w = nn.Parameter(torch.zeros(650, dtype=torch.float64))
    opt = SGD([w], lr=lr, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    n = len(X)
    per_epoch = -(-n // batch_size)
    every = max(1, per_epoch // evals_per_epoch)
    when, gaps, step = [], [], 0
    for _ in range(epochs):
        for idx in torch.randperm(n, generator=gen).split(batch_size):
            opt.zero_grad()
            loss(w, X[idx], y[idx]).backward()
            opt.step()
            step += 1
            if step % every == 0:
                with torch.no_grad():
                    gaps.append(float(loss(w, X, y)) - f_star)
                when.append(step / per_epoch)
    return when, gaps


def main(out_dir: str | Path, quick: bool = False) -> dict:
    """Train with a constant, a cosine and an SGDR schedule, and with batch sizes 32 and 128;
    save ``lr_schedules.png``; return the key numbers."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    X, y = digits()
    f_star = optimum(X, y)
    batch, peak = 32, 0.3
    per_epoch = -(-len(X) // batch)
    t0_epochs = 2 if quick else 4
    epochs = t0_epochs * 7  # three SGDR cycles: T_0, 2 T_0, 4 T_0
    total = epochs * per_epoch
    runs = {
        "constant": schedules.constant(peak=peak),
        "cosine": schedules.cosine(peak=peak, total=total),
        "SGDR": schedules.sgdr(peak=peak, T_0=t0_epochs * per_epoch, T_mult=2),
    }
    curves = {name: train(s, batch, epochs, X, y, f_star) for name, s in runs.items()}
    tail = max(1, len(curves["constant"][1]) // 10)
    final = {name: sum(c[1][-tail:]) / tail for name, c in curves.items()}
    print(f"digits softmax regression (f* = {f_star:.6f}), SGD momentum 0.9, batch {batch}, "
          f"peak lr {peak}, {epochs} epochs ({total} steps)")
    for name, value in final.items():
        print(f"  {name:8s} final f - f* (mean of the last {tail} evaluations) {value:.2e}")
    restarts = runs["SGDR"].cycle_ends(total)[:-1]
    when, losses = curves["SGDR"]
    jumps = []
    for r in restarts:
        epoch = r / per_epoch
        before = max(i for i, w in enumerate(when) if w <= epoch)
        after = [v for w, v in zip(when, losses, strict=True) if epoch < w <= epoch + 1]
        jumps.append((losses[before], max(after)))
        print(f"  SGDR restart at epoch {epoch:g}: f - f* {losses[before]:.2e} just before, "
              f"up to {max(after):.2e} in the next epoch")

    scale_epochs = 3 if quick else 6
    k, base_lr = 4, 0.05
    big_lr, warm = schedules.linear_scaling(base_lr, batch_size=batch * k, base_batch_size=batch)
    scaling = {
        f"batch {batch}, lr {base_lr:g}": train(base_lr, batch, scale_epochs, X, y, f_star),
        f"batch {batch * k}, lr {base_lr:g} (unscaled)": train(base_lr, batch * k, scale_epochs,
                                                               X, y, f_star),
        f"batch {batch * k}, lr {big_lr:g} (linear scaling)": train(warm, batch * k,
                                                                  scale_epochs, X, y, f_star),
    }
    scale_final = {name: c[1][-1] for name, c in scaling.items()}
    print(f"linear scaling rule, {scale_epochs} epochs each, final f - f*:")
    for name, value in scale_final.items():
        print(f"  {name:36s} {value:.2e}")

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.3))
    for name, (when, losses) in curves.items():
        ax0.semilogy(when, losses, lw=1, label=f"{name}: final {final[name]:.1e}")
    for r in restarts:
        ax0.axvline(r / per_epoch, color="C2", lw=0.5, ls=":")
    ax0.set_xlabel("epoch")
    ax0.set_ylabel("f - f* (whole training set)")
    ax0.set_title(f"schedules, batch {batch}, peak lr {peak} (dotted: SGDR restarts)")
    ax0.legend(fontsize=8)
    for name, (when, losses) in scaling.items():
        ax1.semilogy(when, losses, lw=1, label=name)
    ax1.set_xlabel("epoch")
    ax1.set_title("the linear scaling rule (same epochs, 4x larger batch)")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "lr_schedules.png", dpi=80)
    plt.close(fig)
    names = list(scale_final)
    return {"final_constant": final["constant"], "final_cosine": final["cosine"],
            "final_sgdr": final["SGDR"], "restart_jumps": jumps,
            "scaling_small": scale_final[names[0]], "scaling_unscaled": scale_final[names[1]],
            "scaling_scaled": scale_final[names[2]]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="folder for the PNG")
    parser.add_argument("--quick", action="store_true", help="smaller run (for the tests)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    main(args.out, quick=args.quick)
