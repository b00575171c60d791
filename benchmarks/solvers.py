"""ravine.solvers.minimize vs scipy.optimize.minimize (same method) and torch.optim.LBFGS.

Per MGH problem and method: iterations, function and gradient evaluations and wall time, with
totals; then extended Rosenbrock at large n, ravine "lbfgs" vs scipy "L-BFGS-B". scipy gets the
same torch function and autograd gradient (and Hessian-vector products) via NumPy.

Fairness: every method runs with its defaults and gtol = 1e-5 on max|g| (trust-ncg: on |g|_2,
scipy's trust-ncg rule, which ravine's trust-ncg follows by default). ravine "lbfgs" and
scipy "L-BFGS-B" then share both stopping rules (max|g| <= gtol, or a relative reduction of f
<= ftol = 2.2e-9 in one iteration) and memory 10. scipy's Newton-CG has no gradient test (it
stops when |step|_1 <= n 1e-5, "successfully" even far from a minimum); ravine's newton-cg
stops on gtol. After the table, per method: the problems only one side solves, and the
evaluations over the problems both solve. torch.optim.LBFGS runs one
step() with max_iter = max_eval = 15000, history 10, strong Wolfe, tolerance_grad = gtol and
its own absolute tolerance_change 1e-9; its count is its state's func_evals.

Run: .venv/bin/python benchmarks/solvers.py [--large N] [--methods lbfgs,bfgs,cg,...]
"""

from __future__ import annotations

import argparse
import time
import warnings

import scipy.optimize as so
import torch

from ravine.solvers import minimize
from ravine.solvers.problems import MGH_PROBLEMS, make_extended_rosenbrock

SCIPY = {"bfgs": "BFGS", "lbfgs": "L-BFGS-B", "cg": "CG", "newton-cg": "Newton-CG",
         "trust-ncg": "trust-ncg"}
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


def torch_lbfgs(fun, x0: torch.Tensor):
    """One ``step`` that runs until torch.optim.LBFGS stops by itself (no extra calls)."""
    x = torch.nn.Parameter(x0.clone())
    opt = torch.optim.LBFGS([x], lr=1, max_iter=15000, max_eval=15000, tolerance_grad=GTOL,
                            history_size=10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = fun(x)
        loss.backward()
        return loss

    opt.step(closure)
    state = opt.state[x]
    with torch.no_grad():
        f = float(fun(x))
    return f, state["n_iter"], state["func_evals"]


def timed(call):
    start = time.perf_counter()
    out = call()
    return out, time.perf_counter() - start


def _verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--methods", default="lbfgs,bfgs,cg,newton-cg,trust-ncg")
    args = parser.parse_args()
    torch.set_num_threads(1)
    methods = args.methods.split(",")
    keys = ("nfev", "njev", "time", "reached")
    totals = {m: {side: dict.fromkeys(keys, 0) for side in ("ravine", "scipy")} for m in methods}
    solved = {m: {"ravine": set(), "scipy": set()} for m in methods}
    nfev = {m: {"ravine": {}, "scipy": {}} for m in methods}
    tl_total = {"nfev": 0, "time": 0.0, "reached": 0}
    print(f"gtol = {GTOL} (max|g|; trust-ncg |g|_2 on both sides) for all; lbfgs and L-BFGS-B "
          "also ftol = 2.2e-9 (relative reduction of f); scipy Newton-CG: xtol 1e-5 (no gtol)")
    print(f"{'problem':30s} {'method':9s} | ravine  nit  nfev  njev  time_s ok | scipy   nit  "
          f"nfev  njev  time_s ok")
    for p in MGH_PROBLEMS:
        for m in methods:
            r, tr = timed(lambda p=p, m=m: minimize(p.fun, p.x0(), method=m,
                                                    options={"gtol": GTOL}))
            s, ts = timed(lambda p=p, m=m: scipy_minimize(p.fun, p.x0(), SCIPY[m]))
            for side, res, t in (("ravine", r, tr), ("scipy", s, ts)):
                ok = p.reached(float(res.fun), 1e-8) is not None
                tot = totals[m][side]
                tot["nfev"] += res.nfev
                tot["njev"] += res.get("njev", res.nfev)
                tot["time"] += t
                tot["reached"] += ok
                nfev[m][side][p.name] = res.nfev
                if ok:
                    solved[m][side].add(p.name)
            print(f"{p.name:30s} {m:9s} |       {r.nit:5d} {r.nfev:5d} {r.njev:5d} {tr:7.3f} "
                  f"{'y' if p.name in solved[m]['ravine'] else 'n':>2s} |       {s.nit:5d} "
                  f"{s.nfev:5d} {s.get('njev', 0):5d} {ts:7.3f} "
                  f"{'y' if p.name in solved[m]['scipy'] else 'n':>2s}")
        if "lbfgs" in methods:
            (f, nit, fe), tt = timed(lambda p=p: torch_lbfgs(p.fun, p.x0()))
            ok_t = p.reached(f, 1e-8) is not None
            tl_total["nfev"] += fe
            tl_total["time"] += tt
            tl_total["reached"] += ok_t
            print(f"{p.name:30s} {'torch':9s} |       {nit:5d} {fe:5d} {fe:5d} {tt:7.3f} "
                  f"{'y' if ok_t else 'n':>2s} | torch.optim.LBFGS (strong_wolfe, history 10)")
    n = len(MGH_PROBLEMS)
    print(f"\nTotals over {n} problems (reached = a published minimum, to 1e-8 abs):")
    for m in methods:
        r, s = totals[m]["ravine"], totals[m]["scipy"]
        print(f"  {m:9s} ravine nfev {r['nfev']:6d} njev {r['njev']:6d} time {r['time']:7.2f}s "
              f"reached {r['reached']:2d} | scipy {SCIPY[m]:9s} nfev {s['nfev']:6d} njev "
              f"{s['njev']:6d} time {s['time']:7.2f}s reached {s['reached']:2d} | nfev ratio "
              f"{r['nfev'] / s['nfev']:.3f} time ratio {r['time'] / s['time']:.3f}")
    if "lbfgs" in methods:
        r = totals["lbfgs"]["ravine"]
        print(f"  torch.optim.LBFGS func_evals {tl_total['nfev']:6d} time "
              f"{tl_total['time']:7.2f}s reached {tl_total['reached']:2d} | ravine lbfgs / torch "
              f"nfev ratio {r['nfev'] / tl_total['nfev']:.3f} time ratio "
              f"{r['time'] / tl_total['time']:.3f}")
        ours, theirs = solved["lbfgs"]["ravine"], solved["lbfgs"]["scipy"]
        missing = sorted(theirs - ours)
        print(f"\nTARGET lbfgs solves every problem L-BFGS-B solves: {_verdict(not missing)} "
              f"(ravine {len(ours)}, scipy {len(theirs)}; ravine only: {sorted(ours - theirs)}; "
              f"scipy only: {missing})")
        r_all, s_all = totals["lbfgs"]["ravine"]["nfev"], totals["lbfgs"]["scipy"]["nfev"]
        print(f"TARGET lbfgs total evaluations <= L-BFGS-B's, all {n} problems: "
              f"{_verdict(r_all <= s_all)} ({r_all} vs {s_all}, ratio {r_all / s_all:.3f})")
        both = ours & theirs
        r_both = sum(nfev["lbfgs"]["ravine"][k] for k in both)
        s_both = sum(nfev["lbfgs"]["scipy"][k] for k in both)
        same = sum(nfev["lbfgs"]["ravine"][k] == nfev["lbfgs"]["scipy"][k] for k in nfev["lbfgs"]
                   ["scipy"])
        print(f"       same, over the {len(both)} problems both solve: "
              f"{_verdict(r_both <= s_both)} ({r_both} vs {s_both}); identical nfev on {same} of "
              f"{n}")
    print("\nSolved by one side only, and evaluations over the problems both solve:")
    for m in methods:
        ours, theirs = solved[m]["ravine"], solved[m]["scipy"]
        both = ours & theirs
        r_both = sum(nfev[m]["ravine"][k] for k in both)
        s_both = sum(nfev[m]["scipy"][k] for k in both)
        print(f"  {m:9s} ravine {len(ours)} scipy {len(theirs)}; ravine only "
              f"{sorted(ours - theirs)}; scipy only {sorted(theirs - ours)}; nfev on the "
              f"{len(both)} both solve {r_both} vs {s_both}")
    for m in ("newton-cg", "trust-ncg"):
        if m in methods:
            missing = sorted(solved[m]["scipy"] - solved[m]["ravine"])
            print(f"TARGET {m} solves every problem scipy's {SCIPY[m]} solves: "
                  f"{_verdict(not missing)} (scipy only: {missing})")
    if args.large:
        big = make_extended_rosenbrock(args.large)
        x0 = big.x0()
        r, tr = timed(lambda: minimize(big.fun, x0, method="lbfgs", options={"gtol": GTOL}))
        s, ts = timed(lambda: scipy_minimize(big.fun, x0, "L-BFGS-B"))
        print(f"\nextended Rosenbrock n={args.large}: ravine lbfgs f={r.fun:.3e} nit={r.nit} "
              f"nfev={r.nfev} time={tr:.2f}s | scipy L-BFGS-B f={s.fun:.3e} nit={s.nit} "
              f"nfev={s.nfev} time={ts:.2f}s | time ratio ravine/scipy {tr / ts:.3f}")
        print(f"TARGET lbfgs wall time <= L-BFGS-B's at n={args.large}: {_verdict(tr <= ts)} "
              f"({tr:.2f}s vs {ts:.2f}s)")


if __name__ == "__main__":
    main()
