"""ravine.solvers.minimize vs scipy.optimize.minimize (same method) and torch.optim.LBFGS.

Per MGH problem and method: iterations, function and gradient evaluations and wall time, with
totals; then extended Rosenbrock at large n, ravine "lbfgs" vs scipy "L-BFGS-B" (same gtol,
ftol, memory 10; scipy gets the same torch function and autograd gradient via NumPy views).

Run: .venv/bin/python benchmarks/solvers.py [--large N] [--methods lbfgs,bfgs,cg,trust-ncg]
"""

from __future__ import annotations

import argparse
import time
import warnings

import scipy.optimize as so
import torch

from ravine.solvers import minimize
from ravine.solvers.problems import MGH_PROBLEMS, make_extended_rosenbrock

SCIPY = {"bfgs": "BFGS", "lbfgs": "L-BFGS-B", "cg": "CG", "trust-ncg": "trust-ncg"}
GTOL = 1e-5


def scipy_minimize(fun, x0: torch.Tensor, method: str):
    def value_and_grad(x):
        xt = torch.from_numpy(x).requires_grad_(True)
        value = fun(xt)
        (grad,) = torch.autograd.grad(value, xt)
        return value.item(), grad.numpy()

    def hessp(x, v):
        xt = torch.from_numpy(x).requires_grad_(True)
        (grad,) = torch.autograd.grad(fun(xt), xt, create_graph=True)
        return torch.autograd.grad(grad, xt, torch.from_numpy(v))[0].numpy()

    extra = {"hessp": hessp} if method in ("trust-ncg", "Newton-CG") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return so.minimize(value_and_grad, x0.numpy().copy(), jac=True, method=method,
                           options={} if method == "Newton-CG" else {"gtol": GTOL}, **extra)


def torch_lbfgs(fun, x0: torch.Tensor, max_steps: int = 200):
    x = torch.nn.Parameter(x0.clone())
    opt = torch.optim.LBFGS([x], max_iter=100, tolerance_grad=GTOL, history_size=10,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = fun(x)
        loss.backward()
        return loss

    for _ in range(max_steps):
        opt.step(closure)
        if float(x.grad.abs().max()) <= GTOL:
            break
    state = opt.state[x]
    f = float(fun(x.detach()))
    return f, state["n_iter"], state["func_evals"]


def timed(call):
    start = time.perf_counter()
    out = call()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--methods", default="lbfgs,bfgs,cg,trust-ncg")
    args = parser.parse_args()
    torch.set_num_threads(1)
    methods = args.methods.split(",")
    totals = {m: [0, 0, 0.0, 0, 0, 0.0, 0, 0] for m in methods}
    tl_total = [0, 0.0, 0]
    print(f"{'problem':30s} {'method':9s} | ravine nit nfev njev  time_s  ok | scipy nit nfev "
          f"njev time_s  ok")
    for p in MGH_PROBLEMS:
        for m in methods:
            r, tr = timed(lambda p=p, m=m: minimize(p.fun, p.x0(), method=m,
                                                    options={"gtol": GTOL}))
            s, ts = timed(lambda p=p, m=m: scipy_minimize(p.fun, p.x0(), SCIPY[m]))
            ok_r, ok_s = p.reached(r.fun, 1e-8) is not None, p.reached(s.fun, 1e-8) is not None
            t = totals[m]
            t[0] += r.nfev
            t[1] += r.njev
            t[2] += tr
            t[3] += s.nfev
            t[4] += s.get("njev", s.nfev)
            t[5] += ts
            t[6] += ok_r
            t[7] += ok_s
            print(f"{p.name:30s} {m:9s} | {r.nit:5d} {r.nfev:5d} {r.njev:5d} {tr:7.3f} "
                  f"{'y' if ok_r else 'n':>3s} | {s.nit:5d} {s.nfev:5d} {s.get('njev', 0):5d} "
                  f"{ts:7.3f} {'y' if ok_s else 'n':>3s}")
        (f, nit, fe), tt = timed(lambda p=p: torch_lbfgs(p.fun, p.x0()))
        ok_t = p.reached(f, 1e-8) is not None
        tl_total[0] += fe
        tl_total[1] += tt
        tl_total[2] += ok_t
        print(f"{p.name:30s} {'torch':9s} | {nit:5d} {fe:5d} {fe:5d} {tt:7.3f} "
              f"{'y' if ok_t else 'n':>3s} | torch.optim.LBFGS(strong_wolfe, history 10)")
    n = len(MGH_PROBLEMS)
    print(f"\nTotals over {n} problems (reached = published minimum reached, to 1e-8 abs):")
    for m, t in totals.items():
        print(f"  {m:9s} ravine nfev {t[0]:6d} njev {t[1]:6d} time {t[2]:7.2f}s reached {t[6]}"
              f" | scipy {SCIPY[m]:9s} nfev {t[3]:6d} njev {t[4]:6d} time {t[5]:7.2f}s "
              f"reached {t[7]} | nfev ratio {t[0] / t[3]:.3f} time ratio {t[2] / t[5]:.3f}")
    print(f"  torch.optim.LBFGS func_evals {tl_total[0]:6d} time {tl_total[1]:7.2f}s "
          f"reached {tl_total[2]}")
    big = make_extended_rosenbrock(args.large)
    x0 = big.x0()
    r, tr = timed(lambda: minimize(big.fun, x0, method="lbfgs", options={"gtol": GTOL}))
    s, ts = timed(lambda: scipy_minimize(big.fun, x0, "L-BFGS-B"))
    print(f"\nextended Rosenbrock n={args.large}: ravine lbfgs f={r.fun:.3e} nit={r.nit} "
          f"nfev={r.nfev} time={tr:.2f}s | scipy L-BFGS-B f={s.fun:.3e} nit={s.nit} "
          f"nfev={s.nfev} time={ts:.2f}s | time ratio ravine/scipy {tr / ts:.3f}")


if __name__ == "__main__":
    main()
