"""Adaptive steps: Adam and RMSprop move every coordinate of a badly scaled problem alike.

On ``f(x) = sum_i d_i x_i^2 / 2`` with curvatures ``d_i`` from 0.01 to 100 (condition 1e4), SGD
is stable only for ``lr < 2 / max d_i``, so coordinate ``i`` shrinks as ``(1 - lr d_i)^t`` and the
flat ones barely move. Adam's step ``lr * m_hat / (sqrt(v_hat) + eps)`` (RMSprop's
``lr * g / (sqrt(v) + eps)``) is unchanged when the gradient of one coordinate is multiplied by a
constant, and ``g_i = d_i x_i``: with ``eps`` negligible, each coordinate follows the same path
whatever its ``d_i`` -- a diagonal preconditioner learnt from the gradients. The invariance is
per coordinate, so it is lost when the same spectrum is rotated (``A = Q diag(d) Q^T``): SGD is
rotation invariant, Adam is not. The script prints the fraction of each coordinate left after
the run, and the final loss on the diagonal and on the rotated problem.

Run: ``python examples/tour/adaptive_steps.py --out docs/img/tour``

References:
    Tieleman & Hinton, "Lecture 6.5 -- RMSprop", 2012; Kingma & Ba, "Adam: A Method for
    Stochastic Optimization", ICLR 2015; Duchi, Hazan & Singer, "Adaptive subgradient methods",
    JMLR 2011.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from ravine.optim import SGD, Adam, RMSprop  # noqa: E402

CURVATURES = torch.logspace(-2, 2, 5, dtype=torch.float64)
SHRINK = 1e-3


def optimizers(params) -> dict:
    """The three optimizers, each at the largest step size that is safe for it here."""
    return {
        "SGD (lr = 1/L)": lambda: SGD(params, lr=1.0 / float(CURVATURES.max())),
        "RMSprop (lr = 0.01)": lambda: RMSprop(params, lr=0.01),
        "Adam (lr = 0.01)": lambda: Adam(params, lr=0.01),
    }


def run(name: str, A: torch.Tensor, start: torch.Tensor, Q: torch.Tensor, steps: int):
    """Minimize ``x^T A x / 2`` from ``start``; return the loss and the eigen-coordinates ``Q^T x``
    (as ``|.|``) after every step."""
    x = torch.nn.Parameter(start.clone())
    opt = optimizers([x])[name]()
    losses, coords = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * x @ (A @ x)
        loss.backward()
        opt.step()
        with torch.no_grad():
            losses.append(float(0.5 * x @ (A @ x)))
            coords.append((Q.T @ x).abs().tolist())
    return losses, torch.tensor(coords)


def steps_to_shrink(coords: torch.Tensor) -> list[int | None]:
    """Per coordinate, the first step (1-based) at which ``|x_i| <= SHRINK`` (None if never)."""
    below = coords <= SHRINK
    return [int(col.nonzero()[0]) + 1 if col.any() else None for col in below.T]


def main(out_dir: str | Path, quick: bool = False) -> dict:
    """Run SGD, RMSprop and Adam on the diagonal and the rotated problem; save
    ``adaptive_steps.png``; return the key numbers."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = 300 if quick else 1000
    n = len(CURVATURES)
    gen = torch.Generator().manual_seed(0)
    Q_rot, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    problems = {"diagonal": torch.eye(n, dtype=torch.float64), "rotated": Q_rot}
    results = {}
    for pname, Q in problems.items():
        A = (Q * CURVATURES) @ Q.T
        start = Q @ torch.ones(n, dtype=torch.float64)  # every eigen-coordinate starts at 1
        for oname in optimizers([]):
            results[pname, oname] = run(oname, A, start, Q, steps)

    print(f"f(x) = x^T A x / 2, curvatures d = {[round(v, 2) for v in CURVATURES.tolist()]}, "
          f"{steps} steps, every coordinate starts at 1")
    print(f"steps until each (eigen-)coordinate is below {SHRINK:g} of its start, diagonal "
          f"problem ('-' = not within {steps} steps):")
    print(f"{'optimizer':22s} " + " ".join(f"d={v:<7.3g}" for v in CURVATURES.tolist()))
    reach = {}
    for oname in optimizers([]):
        reach[oname] = steps_to_shrink(results["diagonal", oname][1])
        print(f"{oname:22s} " + " ".join(f"{'-' if v is None else v:<9}" for v in reach[oname]))
    print("final loss:")
    final = {key: losses[-1] for key, (losses, _) in results.items()}
    for oname in optimizers([]):
        print(f"  {oname:22s} diagonal {final['diagonal', oname]:.3e}   "
              f"rotated {final['rotated', oname]:.3e}")

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, oname in zip(axes[:2], ["SGD (lr = 1/L)", "Adam (lr = 0.01)"], strict=True):
        coords = results["diagonal", oname][1]
        for i, d in enumerate(CURVATURES.tolist()):
            ax.semilogy(coords[:, i].clamp_min(1e-12), label=f"d = {d:g}")
        ax.set_title(f"{oname}: |x_i| per coordinate (diagonal)")
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    for key, (losses, _) in results.items():
        pname, oname = key
        axes[2].semilogy(losses, ls="-" if pname == "diagonal" else "--",
                         color={"S": "C3", "R": "C1", "A": "C0"}[oname[0]],
                         label=f"{oname.split(' (')[0]}, {pname}")
    axes[2].set_ylim(1e-16, 1e2)
    axes[2].set_title("loss: diagonal (solid) vs rotated (dashed)")
    axes[2].set_xlabel("step")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "adaptive_steps.png", dpi=80)
    plt.close(fig)
    return {"steps": steps,
            **{f"steps_to_shrink_{o.split(' (')[0].lower()}": v for o, v in reach.items()},
            **{f"loss_{o.split(' (')[0].lower()}_{p}": v for (p, o), v in final.items()}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="folder for the PNG")
    parser.add_argument("--quick", action="store_true", help="smaller run (for the tests)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    main(args.out, quick=args.quick)
