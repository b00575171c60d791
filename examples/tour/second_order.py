"""Second order: Newton converges quadratically, BFGS and L-BFGS superlinearly, GD linearly.

On Rosenbrock's function ``100 (y - x^2)^2 + (1 - x)^2`` from ``(-1.2, 1)`` (Moré, Garbow &
Hillstrom's start), ``ravine.solvers.minimize`` runs gradient descent, Newton (exact Hessian),
BFGS and L-BFGS, each with its default line search. Near the minimum ``x*``, with
``e_k = ||x_k - x*||``:

* GD is linear: ``e_{k+1} / e_k -> r`` with ``r`` close to 1 (condition number ~2500 at ``x*``);
* BFGS / L-BFGS are superlinear: ``e_{k+1} / e_k -> 0``;
* Newton is quadratic: ``e_{k+1} / e_k^2`` stays bounded, and the order
  ``q_k = ln(e_{k+1} / e_k) / ln(e_k / e_{k-1})`` tends to 2.

The script prints iterations and function/gradient/Hessian evaluations, the last error ratios and
the estimated order, and plots ``log10 e_k`` per iteration and the paths.

Run: ``python examples/tour/second_order.py --out docs/img/tour``

References:
    Nocedal & Wright, Numerical Optimization, 2nd ed. (2006), Thm. 3.5, 3.6, 6.6 and ch. 7;
    Rosenbrock, "An automatic method for finding the greatest or least value of a function",
    1960; Liu & Nocedal, "On the limited memory BFGS method for large scale optimization", 1989.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from ravine.solvers import minimize, problems  # noqa: E402

METHODS = {"gd": "gradient descent", "newton": "Newton", "bfgs": "BFGS", "lbfgs": "L-BFGS"}


def run(method: str, maxiter: int):
    """Minimize Rosenbrock from its standard start; return the result and the iterates."""
    rosen = problems.get("rosenbrock")
    path = [rosen.x0()]
    # ftol=0: stop on the gradient only (L-BFGS's default also stops on a small relative decrease)
    res = minimize(rosen.fun, rosen.x0(), method=method,
                   options={"gtol": 1e-10, "ftol": 0.0, "maxiter": maxiter},
                   callback=lambda x: path.append(x.detach().clone()))
    return res, torch.stack(path)


def order_estimates(errors: list[float], floor: float = 1e-12) -> list[float]:
    """``q_k = ln(e_{k+1}/e_k) / ln(e_k/e_{k-1})`` over the iterates with ``e > floor``."""
    e = [v for v in errors if v > floor]
    return [math.log(e[k + 1] / e[k]) / math.log(e[k] / e[k - 1])
            for k in range(1, len(e) - 1) if e[k] < e[k - 1] and e[k + 1] < e[k]]


def main(out_dir: str | Path, quick: bool = False) -> dict:
    """Run the four methods on Rosenbrock; save ``second_order.png``; return the key numbers."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gd_iters = 1000 if quick else 3000
    x_star = torch.ones(2, dtype=torch.float64)
    out = {}
    print("Rosenbrock from (-1.2, 1), gtol 1e-10 (max |grad|)")
    print(f"{'method':17s} {'iters':>6s} {'nfev':>6s} {'njev':>6s} {'nhev':>5s} {'error':>9s} "
          f"{'last e_k+1/e_k':>15s}  last q_k    correct digits -log10 e_k, last 5 iterates")
    for method, name in METHODS.items():
        res, path = run(method, gd_iters if method == "gd" else 500)
        errors = (path - x_star).norm(dim=1).tolist()
        q = order_estimates(errors)
        tail = [errors[k + 1] / errors[k] for k in range(len(errors) - 1) if errors[k] > 1e-12]
        out[method] = {"nit": int(res.nit), "nfev": int(res.nfev), "njev": int(res.njev),
                       "nhev": int(res.get("nhev", 0)), "error": errors[-1], "errors": errors,
                       "order": q[-1] if q else float("nan"), "last_ratio": tail[-1],
                       "success": bool(res.success), "path": path}
        digits = [round(-math.log10(max(v, 1e-17)), 1) for v in errors[-5:]]
        shown_q = "-" if method == "gd" else f"{out[method]['order']:.2f}"
        print(f"{name:17s} {res.nit:6d} {res.nfev:6d} {res.njev:6d} {out[method]['nhev']:5d} "
              f"{errors[-1]:9.1e} {tail[-1]:15.3g}  {shown_q:>8s}    {digits}")
    print("q_k = ln(e_k+1/e_k) / ln(e_k/e_k-1) on the last iterates above 1e-12 (2 = quadratic; "
          "not shown for GD, whose ratio stays near 1)")
    print(f"GD after {out['gd']['nit']} iterations is still {out['gd']['error']:.1e} away, "
          f"error ratio per step {out['gd']['last_ratio']:.4f}")

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.3))
    colors = {"gd": "C3", "newton": "C2", "bfgs": "C0", "lbfgs": "C1"}
    for method, r in out.items():
        e = torch.tensor(r["errors"]).clamp_min(1e-17)
        ax0.semilogy(e, ".-", ms=3, color=colors[method],
                     label=f"{METHODS[method]}: {r['nit']} iters, {r['nfev']} f-evals")
    ax0.set_xlim(0, 1.3 * max(out[m]["nit"] for m in ("newton", "bfgs", "lbfgs")))
    ax0.set_xlabel("iteration")
    ax0.set_ylabel("||x_k - x*||")
    ax0.set_title(f"error per iteration (GD goes on to {out['gd']['nit']} iterations)")
    ax0.legend(fontsize=8)
    xs = torch.linspace(-1.5, 1.5, 200, dtype=torch.float64)
    ys = torch.linspace(-0.5, 1.5, 200, dtype=torch.float64)
    X, Y = torch.meshgrid(xs, ys, indexing="xy")
    Z = 100 * (Y - X**2) ** 2 + (1 - X) ** 2
    ax1.contour(X, Y, Z, levels=torch.logspace(-1, 3, 15).tolist(), colors="0.75",
                linewidths=0.7)
    for method, r in out.items():
        p = r["path"]
        ax1.plot(p[:, 0], p[:, 1], ".-", ms=3, lw=0.8, color=colors[method],
                 label=METHODS[method])
    ax1.plot([1], [1], "k*", ms=10)
    ax1.set_title("paths on Rosenbrock's valley")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "second_order.png", dpi=85)
    plt.close(fig)
    return {m: {k: v for k, v in r.items() if k not in ("path", "errors")} for m, r in out.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="folder for the PNG")
    parser.add_argument("--quick", action="store_true", help="smaller run (for the tests)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    main(args.out, quick=args.quick)
