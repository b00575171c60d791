"""The ravine: gradient descent zig-zags; momentum cuts the iterations from ~kappa to ~sqrt(kappa).

On ``f(x) = (x - x*)^T A (x - x*) / 2`` with eigenvalues ``mu = 1`` and ``L = kappa = 100``
(``ravine.solvers.problems.make_quadratic``), each method is run with its optimal constant
parameters, known in closed form from ``mu`` and ``L``, with ``ravine.optim.SGD``:

* gradient descent, ``lr = 2 / (L + mu)``: error contracts by ``(kappa - 1) / (kappa + 1)``;
* heavy ball (Polyak), ``lr = 4 / (sqrt L + sqrt mu)^2``, ``momentum = ((sqrt kappa - 1) /
  (sqrt kappa + 1))^2``: rate ``(sqrt kappa - 1) / (sqrt kappa + 1)``;
* Nesterov, ``lr = 1 / L``, ``momentum = (sqrt kappa - 1) / (sqrt kappa + 1)``: rate
  ``sqrt(1 - 1 / sqrt kappa)`` (Lessard, Recht & Packard 2016, Prop. 1 for both).

So the iterations to shrink the error by ``1e-6`` go from ``~kappa/2 * ln(1e6)`` to
``~sqrt(kappa)/2 * ln(1e6)``. The script counts the iterations until
``||x_t - x*|| <= 1e-6 ||x_0 - x*||`` and prints them next to ``ln(1e-6) / ln(rate)``;
the figure shows the paths on the contour plot (left) and the error per iteration (right).

Run: ``python examples/tour/ravine_momentum.py --out docs/img/tour``

References:
    Polyak, "Some methods of speeding up the convergence of iteration methods", 1964;
    Nesterov, "A method of solving a convex programming problem with convergence rate
    O(1/k^2)", 1983; Lessard, Recht & Packard, "Analysis and design of optimization algorithms
    via integral quadratic constraints", SIAM J. Optim. 2016; Goh, "Why Momentum Really Works",
    Distill 2017.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from ravine.optim import SGD  # noqa: E402
from ravine.solvers.problems import make_quadratic  # noqa: E402

TOL = 1e-6


def settings(mu: float, L: float) -> dict[str, dict]:
    """The optimal constant parameters of each method and its contraction rate per iteration."""
    kappa = L / mu
    sk = math.sqrt(kappa)
    return {
        "gradient descent": {"lr": 2 / (L + mu), "momentum": 0.0, "nesterov": False,
                             "rate": (kappa - 1) / (kappa + 1)},
        "heavy ball": {"lr": 4 / (math.sqrt(L) + math.sqrt(mu)) ** 2,
                       "momentum": ((sk - 1) / (sk + 1)) ** 2, "nesterov": False,
                       "rate": (sk - 1) / (sk + 1)},
        "Nesterov": {"lr": 1 / L, "momentum": (sk - 1) / (sk + 1), "nesterov": True,
                     "rate": math.sqrt(1 - 1 / sk)},
    }


def iteration_matrix(lam: float, lr: float, momentum: float, nesterov: bool) -> torch.Tensor:
    """The 2x2 matrix taking ``(x_t, b_{t-1})`` to ``(x_{t+1}, b_t)`` along an eigenvector of
    eigenvalue ``lam``, for ``torch.optim.SGD``'s update ``b_t = beta b_{t-1} + g_t``,
    ``x_{t+1} = x_t - lr (g_t + beta b_t if nesterov else b_t)``, ``g_t = lam x_t``."""
    beta = momentum
    if nesterov:
        rows = [[1 - lr * lam * (1 + beta), -lr * beta * beta], [lam, beta]]
    else:
        rows = [[1 - lr * lam, -lr * beta], [lam, beta]]
    return torch.tensor(rows, dtype=torch.float64)


def spectral_radius(eigenvalues, lr: float, momentum: float, nesterov: bool) -> float:
    """The asymptotic rate on a quadratic: the largest spectral radius over its eigenvalues."""
    return max(float(torch.linalg.eigvals(iteration_matrix(float(lam), lr, momentum, nesterov))
                     .abs().max()) for lam in eigenvalues)


def run(problem, start: torch.Tensor, x_star: torch.Tensor, lr: float, momentum: float,
        nesterov: bool, max_iter: int) -> tuple[list[list[float]], list[float], int | None]:
    """Run SGD (full gradient) from ``start``; return the path, errors and iterations to TOL."""
    x = torch.nn.Parameter(start.clone())
    opt = SGD([x], lr=lr, momentum=momentum, nesterov=nesterov)
    e0 = float((x.detach() - x_star).norm())
    path, errors, reached = [x.detach().tolist()], [1.0], None
    for t in range(1, max_iter + 1):
        opt.zero_grad()
        problem.fun(x).backward()
        opt.step()
        path.append(x.detach().tolist())
        errors.append(float((x.detach() - x_star).norm()) / e0)
        if reached is None and errors[-1] <= TOL:
            reached = t
            break
    return path, errors, reached


def main(out_dir: str | Path, quick: bool = False) -> dict:
    """Run the three methods, save ``ravine_momentum.png`` in ``out_dir``, return key numbers.

    ``quick`` is accepted for a uniform interface; the full run already takes well under a second.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kappa = 100.0
    problem, A = make_quadratic(2, kappa, seed=0)
    eig, V = torch.linalg.eigh(A)
    mu, L = float(eig[0]), float(eig[-1])
    x_star = torch.ones(2, dtype=torch.float64)
    # start up the valley (along the flat eigenvector) and a little up its steep wall
    start = x_star - 2.0 * V[:, 0] + 0.2 * V[:, 1]
    results = {}
    print(f"quadratic in 2-D, eigenvalues mu = {mu:.3g}, L = {L:.3g}, kappa = {L / mu:.3g}")
    print("rate = worst case over all quadratics with spectrum in [mu, L] (closed form); "
          "rho = spectral radius on this problem's two eigenvalues (computed)")
    print(f"{'method':17s} {'lr':>7s} {'momentum':>8s} {'rate':>7s} {'iters':>6s} "
          f"{'rho':>7s} {'iters':>6s} {'measured':>8s}")
    for name, s in settings(mu, L).items():
        path, errors, reached = run(problem, start, x_star, s["lr"], s["momentum"], s["nesterov"],
                                    max_iter=5000)
        rho = spectral_radius(eig.tolist(), s["lr"], s["momentum"], s["nesterov"])
        theory = math.log(TOL) / math.log(s["rate"])
        predicted = math.log(TOL) / math.log(rho)
        results[name] = {"path": path, "errors": errors, "iterations": reached,
                         "theory": theory, "rate": s["rate"], "rho": rho,
                         "predicted": predicted}
        print(f"{name:17s} {s['lr']:7.4f} {s['momentum']:8.4f} {s['rate']:7.4f} {theory:6.0f} "
              f"{rho:7.4f} {predicted:6.0f} {reached!s:>8s}")
    gd = results["gradient descent"]["iterations"]
    hb = results["heavy ball"]["iterations"]
    nag = results["Nesterov"]["iterations"]
    print(f"iterations to 1e-6: gradient descent {gd}, heavy ball {hb} ({gd / hb:.1f}x fewer), "
          f"Nesterov {nag} ({gd / nag:.1f}x fewer); kappa = {L / mu:.0f}, "
          f"sqrt(kappa) = {math.sqrt(L / mu):.0f}")

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.4))
    corners = torch.stack([x_star - 2.3 * V[:, 0] + 0.3 * V[:, 1] * s for s in (-1, 1)]
                          + [x_star + 0.5 * V[:, 0] + 0.3 * V[:, 1] * s for s in (-1, 1)])
    lo, hi = corners.min(0).values, corners.max(0).values
    xs = torch.linspace(float(lo[0]), float(hi[0]), 200, dtype=torch.float64)
    ys = torch.linspace(float(lo[1]), float(hi[1]), 200, dtype=torch.float64)
    X, Y = torch.meshgrid(xs, ys, indexing="xy")
    E = torch.stack([X - 1, Y - 1], -1)
    Z = 0.5 * torch.einsum("...i,ij,...j->...", E, A, E)
    ax0.contour(X, Y, Z, levels=torch.logspace(-3, 1, 12).tolist(), colors="0.75",
                linewidths=0.7)
    colors = {"gradient descent": "C3", "heavy ball": "C0", "Nesterov": "C2"}
    for name, r in results.items():
        p = torch.tensor(r["path"][:40])
        ax0.plot(p[:, 0], p[:, 1], ".-", color=colors[name], ms=3, lw=0.8,
                 label=f"{name} (first {len(p) - 1} steps)")
        ax1.semilogy(r["errors"], color=colors[name],
                     label=f"{name}: {r['iterations']} iters (ρ predicts {r['predicted']:.0f})")
        ax1.semilogy([r["rho"] ** t for t in range(len(r["errors"]))], color=colors[name],
                     ls=":", lw=0.8)
    ax0.plot([1], [1], "k*", ms=10)
    ax0.set_title(f"paths on f = (x-1)ᵀA(x-1)/2, κ = {L / mu:.0f}")
    ax0.set_aspect("equal")
    ax0.set_xlim(float(lo[0]), float(hi[0]))
    ax0.set_ylim(float(lo[1]), float(hi[1]))
    ax0.legend(fontsize=8, loc="lower right")
    ax1.axhline(TOL, color="k", lw=0.5)
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("||x_t - x*|| / ||x_0 - x*||")
    ax1.set_title("error per iteration (dotted: ρ^t, ρ = spectral radius)")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "ravine_momentum.png", dpi=90)
    plt.close(fig)
    return {"kappa": L / mu,
            **{f"iterations_{k.split()[0].lower()}": r["iterations"] for k, r in results.items()},
            **{f"theory_{k.split()[0].lower()}": r["theory"] for k, r in results.items()},
            **{f"rho_{k.split()[0].lower()}": r["rho"] for k, r in results.items()}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="folder for the PNG")
    parser.add_argument("--quick", action="store_true", help="smaller run (for the tests)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    main(args.out, quick=args.quick)
