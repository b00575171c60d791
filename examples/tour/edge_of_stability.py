"""Sharpness and step size: full-batch GD drives the top Hessian eigenvalue up to 2/lr, no further.

On a quadratic, gradient descent with step ``lr`` is stable only where the curvature is below
``2 / lr``: along an eigenvector of ``H`` the error is multiplied by ``1 - lr lambda`` per step.
Training a neural network with full-batch GD, the sharpness ``lambda_max(H)`` first grows
("progressive sharpening") until it reaches ``2 / lr``; from then on it hovers at that value
("edge of stability") while the loss keeps falling, non-monotonically. So the step size selects
how flat the region that GD can stay in must be: a larger ``lr`` ends at a flatter point. The
script trains a 64-32-10 tanh MLP with squared loss on 256 digits images at a few step sizes
and measures ``lambda_max`` with ``ravine.analysis.hessian_eigenvalues`` (Lanczos on
Hessian-vector products) along the way.

Run: ``python examples/tour/edge_of_stability.py --out docs/img/tour``

References:
    Cohen, Kaur, Li, Kolter & Talwalkar, "Gradient Descent on Neural Networks Typically Occurs
    at the Edge of Stability", ICLR 2021; Keskar et al., "On Large-Batch Training for Deep
    Learning: Generalization Gap and Sharp Minima", ICLR 2017; Wu, Ma & E, "How SGD selects the
    global minima in over-parameterized learning", NeurIPS 2018.
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

from ravine.analysis import hessian_eigenvalues  # noqa: E402
from ravine.optim import SGD  # noqa: E402


def squared_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean_i ||out_i - target_i||^2 / 2``."""
    return 0.5 * ((out - target) ** 2).sum(1).mean()


def data(n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` digits images in [0, 1] and their one-hot labels."""
    X, y = load_digits(return_X_y=True)
    return (torch.tensor(X[:n] / 16.0, dtype=torch.float32),
            nn.functional.one_hot(torch.tensor(y[:n]), 10).float())


def train(lr: float, steps: int, every: int, X, Y):
    """Full-batch GD from a fixed initialization; ``(step, loss, lambda_max)`` every ``every``."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
    opt = SGD(model.parameters(), lr=lr)
    record = []
    for step in range(steps + 1):
        if step % every == 0:
            top = hessian_eigenvalues(model, loss_fn=squared_loss, data=(X, Y), k=1, tol=1e-4)
            with torch.no_grad():
                record.append((step, float(squared_loss(model(X), Y)),
                               float(top.eigenvalues[0])))
        if step == steps:
            break
        opt.zero_grad()
        squared_loss(model(X), Y).backward()
        opt.step()
    return record


def main(out_dir: str | Path, quick: bool = False) -> dict:
    """Train at several step sizes; save ``edge_of_stability.png``; return the key numbers."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    X, Y = data()
    lrs = [0.15, 0.2] if quick else [0.1, 0.15, 0.2]
    steps, every = (800, 50) if quick else (3000, 100)
    runs = {lr: train(lr, steps, every, X, Y) for lr in lrs}
    print(f"64-32-10 tanh MLP, squared loss, 256 digits, full-batch GD, {steps} steps; "
          f"lambda_max by Lanczos every {every} steps")
    print(f"{'lr':>5s} {'2/lr':>6s} {'lambda_max at 0':>15s} {'max':>7s} "
          f"{'mean over last third':>20s} {'ratio to 2/lr':>13s} {'final loss':>10s}")
    summary = {}
    for lr, rec in runs.items():
        lams = [r[2] for r in rec]
        last = lams[-max(1, len(lams) // 3):]
        mean_last = sum(last) / len(last)
        summary[lr] = {"initial": lams[0], "max": max(lams), "final_mean": mean_last,
                       "ratio": mean_last / (2 / lr), "final_loss": rec[-1][1]}
        print(f"{lr:5g} {2 / lr:6.2f} {lams[0]:15.2f} {max(lams):7.2f} {mean_last:20.2f} "
              f"{mean_last * lr / 2:13.3f} {rec[-1][1]:10.4f}")

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (lr, rec) in enumerate(runs.items()):
        steps_, losses, lams = zip(*rec, strict=True)
        ax0.plot(steps_, lams, ".-", ms=3, color=f"C{i}", label=f"lr = {lr:g}")
        ax0.axhline(2 / lr, color=f"C{i}", ls=":", lw=1)
        ax1.semilogy(steps_, losses, color=f"C{i}", label=f"lr = {lr:g}")
    ax0.set_xlabel("step")
    ax0.set_ylabel("λ_max of the Hessian")
    ax0.set_title("sharpness rises to 2/lr (dotted) and stays there")
    ax0.legend(fontsize=8)
    ax1.set_xlabel("step")
    ax1.set_ylabel("training loss")
    ax1.set_title("the loss keeps falling")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "edge_of_stability.png", dpi=85)
    plt.close(fig)
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="folder for the PNG")
    parser.add_argument("--quick", action="store_true", help="smaller run (for the tests)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    main(args.out, quick=args.quick)
