"""Noise helps escape saddles: gradient descent stalls at a strict saddle, noisy GD walks away.

``f(x, y) = x^2 / 2 + y^4 / 4 - y^2 / 2`` has a strict saddle at the origin (Hessian
``diag(1, -1)``) and two minima ``(0, +-1)`` with ``f = -1/4``. Started on the saddle's stable
manifold ``y = 0``, gradient descent converges to the saddle: ``y`` stays 0 forever. Started at
``y_0 = delta``, the unstable coordinate grows as ``y_t ~ delta (1 + lr |lambda_min|)^t``, so the
escape takes ``~ ln(1/delta) / ln(1 + lr |lambda_min|)`` steps -- the smaller the perturbation,
the longer the plateau. Gradient noise (``add_gradient_noise``, Gaussian) kicks the iterate off
the stable manifold, after which the negative curvature does the rest; and at the stuck point,
``ravine.analysis.classify_critical_point`` reads the Hessian's eigenvalues and
``escape_saddle`` steps along the eigenvector of the negative one.

Run: ``python examples/tour/saddle_escape.py --out docs/img/tour``

References:
    Dauphin et al., "Identifying and attacking the saddle point problem in high-dimensional
    non-convex optimization", NeurIPS 2014; Ge, Huang, Jin & Yuan, "Escaping from saddle
    points -- online stochastic gradient for tensor decomposition", COLT 2015; Jin, Ge,
    Netrapalli, Kakade & Jordan, "How to escape saddle points efficiently", ICML 2017;
    Lee, Simchowitz, Jordan & Recht, "Gradient descent only converges to minimizers", COLT 2016.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from ravine.analysis import classify_critical_point, escape_saddle  # noqa: E402
from ravine.optim import SGD, ChainOptimizer  # noqa: E402
from ravine.transforms import add_gradient_noise, chain, scale_by_lr  # noqa: E402

LR = 0.1
ESCAPED = 0.5  # |y| at which we call the saddle escaped (halfway to a minimum)


def f(p: torch.Tensor) -> torch.Tensor:
    """``x^2/2 + y^4/4 - y^2/2``: strict saddle at 0, minima at ``(0, +-1)``."""
    x, y = p[0], p[1]
    return 0.5 * x**2 + 0.25 * y**4 - 0.5 * y**2


def descend(start, steps: int, noise: float = 0.0, seed: int = 0) -> list[list[float]]:
    """Gradient descent (``noise = 0``, ravine's SGD) or noisy GD (``chain(add_gradient_noise,
    scale_by_lr)`` with constant noise variance ``noise``) from ``start``; return the path."""
    torch.manual_seed(seed)  # the noise keys are drawn from torch's global generator
    p = torch.nn.Parameter(torch.as_tensor(start, dtype=torch.float64).clone())
    if noise:
        opt = ChainOptimizer([p], chain(add_gradient_noise(), scale_by_lr()), lr=LR,
                             noise_eta=noise, noise_gamma=0.0)
    else:
        opt = SGD([p], lr=LR)
    path = [p.detach().tolist()]
    for _ in range(steps):
        opt.zero_grad()
        f(p).backward()
        opt.step()
        path.append(p.detach().tolist())
    return path


def escape_step(path: list[list[float]]) -> int | None:
    """The first step with ``|y| >= ESCAPED`` (None if never)."""
    return next((t for t, (_, y) in enumerate(path) if abs(y) >= ESCAPED), None)


def main(out_dir: str | Path, quick: bool = False) -> dict:
    """Run GD, perturbed starts, noisy GD and the curvature step; save ``saddle_escape.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = 300 if quick else 400
    stuck_path = descend([1.0, 0.0], steps)
    stuck = torch.tensor(stuck_path[-1], dtype=torch.float64)
    cp = classify_critical_point(f, stuck)
    lam_min = float(cp.eigenvalues[0])
    print(f"GD from (1, 0), lr {LR}, {steps} steps: ends at ({stuck[0]:.2e}, {stuck[1]:.2e}), "
          f"|grad| = {cp.grad_norm:.1e}, f = {float(f(stuck)):.4f}")
    print(f"classify_critical_point: {cp.kind} of index {cp.index}, Hessian eigenvalues "
          f"{[round(v, 6) for v in cp.eigenvalues.tolist()]}")

    deltas = [1e-3, 1e-6, 1e-9]
    perturbed = {}
    print(f"GD from (1, delta): steps until |y| >= {ESCAPED} vs the linear prediction "
          f"ln({ESCAPED}/delta) / ln(1 + lr |lambda_min|) (the gradient's y^3 term slows the "
          "last stretch a little)")
    for delta in deltas:
        path = descend([1.0, delta], steps)
        predicted = math.log(ESCAPED / delta) / math.log(1 + LR * abs(lam_min))
        perturbed[delta] = (path, escape_step(path), predicted)
        print(f"  delta = {delta:.0e}: escaped at step {escape_step(path)}, "
              f"predicted ~{predicted:.0f}")

    noisy = [descend([1.0, 0.0], steps, noise=1e-4, seed=s) for s in range(3)]
    noisy_steps = [escape_step(p) for p in noisy]
    noisy_final = [float(f(torch.tensor(p[-1]))) for p in noisy]
    print(f"noisy GD from (1, 0) (Gaussian gradient noise, variance 1e-4), 3 seeds: escaped at "
          f"steps {noisy_steps}, final f = {[round(v, 4) for v in noisy_final]}")

    esc = escape_saddle(f, stuck)
    after = descend(esc.x.tolist(), 100)
    print(f"escape_saddle at the stuck point: {esc.how}, direction "
          f"{[round(v, 3) for v in esc.direction.tolist()]}, curvature {esc.curvature:.3f}, "
          f"step {esc.step:g}, f {esc.loss_before:.4f} -> {esc.loss_after:.4f}; "
          f"100 GD steps later f = {float(f(torch.tensor(after[-1]))):.6f}")

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.3))
    xs = torch.linspace(-1.2, 1.2, 160, dtype=torch.float64)
    ys = torch.linspace(-1.4, 1.4, 160, dtype=torch.float64)
    X, Y = torch.meshgrid(xs, ys, indexing="xy")
    ax0.contour(X, Y, f(torch.stack([X, Y])), levels=20, colors="0.75", linewidths=0.7)
    lines = [("GD from (1, 0): stuck", stuck_path, "C3")]
    lines += [(f"GD from (1, {d:.0e})", perturbed[d][0], c)
              for d, c in zip(deltas, ["C1", "C4", "C5"], strict=True)]
    lines += [(f"noisy GD, seed {s}", p, "C0") for s, p in enumerate(noisy[:2])]
    for label, path, color in lines:
        p = torch.tensor(path)
        ax0.plot(p[:, 0], p[:, 1], ".-", ms=2, lw=0.8, color=color, label=label)
        ax1.plot(p[:, 1].abs(), color=color, label=label)
    ax0.plot([0], [0], "kx", ms=8)
    ax0.set_title("f = x²/2 + y⁴/4 − y²/2: saddle at 0, minima at (0, ±1)")
    ax0.legend(fontsize=7, loc="lower left")
    ax1.set_yscale("log")
    ax1.set_ylim(1e-12, 2)
    ax1.axhline(ESCAPED, color="k", lw=0.5)
    ax1.set_xlabel("step")
    ax1.set_ylabel("|y_t| (the unstable direction)")
    ax1.set_title(f"escape time grows like ln(1/δ); λ_min = {lam_min:.2f}")
    fig.tight_layout()
    fig.savefig(out_dir / "saddle_escape.png", dpi=85)
    plt.close(fig)
    return {"kind": cp.kind, "eigenvalues": cp.eigenvalues.tolist(), "stuck_grad_norm":
            cp.grad_norm, "stuck_y": float(stuck[1]),
            "escape_steps": {d: perturbed[d][1] for d in deltas},
            "predicted_steps": {d: perturbed[d][2] for d in deltas},
            "noisy_escape_steps": noisy_steps,
            "noisy_final_f": noisy_final,
            "escape_saddle_how": esc.how, "escape_saddle_loss_after": esc.loss_after,
            "after_escape_f": float(f(torch.tensor(after[-1])))}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="folder for the PNG")
    parser.add_argument("--quick", action="store_true", help="smaller run (for the tests)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    main(args.out, quick=args.quick)
