"""Hessian-vector products needed for the top Hessian eigenvalues: Lanczos vs power iteration.

Baseline: power iteration with deflation, as PyHessian computes the top eigenvalues (Yao et al.
2020, ``hessian.eigenvalues``): for the i-th eigenvalue, iterate ``v <- H v / ||H v||`` after
orthogonalizing ``v`` against the eigenvectors already found, with the Rayleigh quotient
``v^T H v`` as the estimate; PyHessian stops when it changes by less than ``tol`` (relative).

Measured, in one run and on the same Hessian:

1. products until the top eigenvalue is within 1e-3 relative of the exact one (from the dense
   Hessian), for Lanczos (ravine.analysis.lanczos, full reorthogonalization) and for power
   iteration, averaged over random starting vectors;
2. the top-k eigenvalues with each method's own stopping rule (PyHessian: tol=1e-3 on the
   change, maxIter=100 per eigenvalue; Lanczos: residual <= 1e-3 * |theta|), and the largest
   relative error each reaches.

Problems (both with a clustered top of the spectrum, where power iteration is slow because
``lambda_2 / lambda_1`` is close to 1):

- ``digits-mlp``: a 64-16-10 tanh MLP on load_digits after 200 steps of full-batch gradient
  descent (cross-entropy; the Hessian has ~10 outliers close together);
- ``clustered-lsq``: least squares whose feature covariance has 8 eigenvalues in [0.9, 1] above
  a bulk in [0, 0.1] (Hessian = covariance, exactly known).

Run: ``python benchmarks/curvature.py`` (about a minute on one core).
"""

from __future__ import annotations

import time

import torch
from sklearn.datasets import load_digits
from torch import nn

from ravine.analysis import as_objective, lanczos

TARGET = 1e-3


def digits_mlp() -> tuple:
    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float64)
    y = torch.tensor(y)
    model = nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 10)).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(200):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    return as_objective(model, loss_fn=nn.functional.cross_entropy, data=(X, y))


def clustered_lsq(n_features: int = 400, n_samples: int = 2000) -> tuple:
    gen = torch.Generator().manual_seed(0)
    bulk = torch.rand(n_features - 8, generator=gen) * 0.1
    spectrum = torch.cat([torch.linspace(0.9, 1.0, 8), bulk])
    Q, _ = torch.linalg.qr(torch.randn(n_features, n_features, generator=gen, dtype=torch.float64))
    Z = torch.randn(n_samples, n_features, generator=gen, dtype=torch.float64)
    Z = Z @ torch.linalg.inv(torch.linalg.cholesky(Z.T @ Z / n_samples)).T  # exact whitening
    X = Z @ torch.diag(spectrum.double().sqrt()) @ Q.T
    y = X @ torch.randn(n_features, generator=gen, dtype=torch.float64)
    model = nn.Linear(n_features, 1, bias=False).double()

    def loss_fn(out, target):
        return 0.5 * ((out.squeeze(1) - target) ** 2).mean()

    return as_objective(model, loss_fn=loss_fn, data=(X, y))


def power_iteration(matvec, n, k, tol, max_iter, gen, exact=None, target=None):
    """PyHessian's top-k power iteration with deflation; returns eigenvalues and products.

    With ``exact``/``target``, the first eigenvalue's iteration instead stops as soon as it is
    within ``target`` relative of ``exact`` (an oracle stopping rule, to count products).
    """
    eigenvalues, eigenvectors, products = [], [], 0
    for _ in range(k):
        v = torch.randn(n, dtype=torch.float64, generator=gen)
        v = v / v.norm()
        estimate = None
        for _ in range(max_iter):
            for u in eigenvectors:  # deflation: orthogonalize against found eigenvectors
                v = v - (u @ v) * u
            v = v / v.norm()
            hv = matvec(v)
            products += 1
            current = float(hv @ v)
            v = hv / hv.norm()
            if exact is not None:
                if abs(current - exact) <= target * abs(exact):
                    estimate = current
                    break
            elif estimate is not None and abs(estimate - current) / (abs(estimate) + 1e-6) < tol:
                estimate = current
                break
            estimate = current
        eigenvalues.append(estimate)
        eigenvectors.append(v)
    return eigenvalues, products


def lanczos_until(matvec, n, exact_top, gen):
    """Lanczos steps until the top Ritz value is within TARGET of the exact top eigenvalue."""
    def stop(alphas, betas, beta_next):
        T = torch.diag(alphas) + torch.diag(betas, 1) + torch.diag(betas, -1)
        top = float(torch.linalg.eigvalsh(T)[-1])
        return abs(top - exact_top) <= TARGET * abs(exact_top)

    v0 = torch.randn(n, dtype=torch.float64, generator=gen)
    return lanczos(matvec, v0, n, stop=stop, generator=gen).num_products


def lanczos_top_k(matvec, n, k, gen):
    """Lanczos with its residual stopping rule (|beta s_i| <= TARGET |theta_i|) for the top k."""
    def stop(alphas, betas, beta_next):
        if len(alphas) < k:
            return False
        T = torch.diag(alphas) + torch.diag(betas, 1) + torch.diag(betas, -1)
        theta, S = torch.linalg.eigh(T)
        res = (beta_next * S[-1, -k:]).abs()
        return bool((res <= TARGET * theta[-k:].abs()).all())

    v0 = torch.randn(n, dtype=torch.float64, generator=gen)
    out = lanczos(matvec, v0, n, stop=stop, generator=gen)
    theta = torch.linalg.eigvalsh(out.tridiagonal())
    return theta.flip(0)[:k].tolist(), out.num_products


def run(name: str, obj, trials: int = 5, k: int = 5) -> dict:
    x0 = obj.x0
    n = obj.n
    start = time.perf_counter()
    exact = torch.linalg.eigvalsh(obj.hessian(x0)).flip(0)
    t_dense = time.perf_counter() - start

    def matvec(v):
        return obj.hvp(x0, v)

    gen = torch.Generator().manual_seed(1)
    lz, pw = [], []
    for _ in range(trials):
        lz.append(lanczos_until(matvec, n, float(exact[0]), gen))
        pw.append(power_iteration(matvec, n, 1, 0.0, 5000, gen, float(exact[0]), TARGET)[1])
    lz_mean, pw_mean = sum(lz) / trials, sum(pw) / trials
    top = [round(v, 4) for v in exact[:k].tolist()]
    print(f"\n== {name}: n = {n} parameters; top eigenvalues {top}"
          f" (lambda2/lambda1 = {float(exact[1] / exact[0]):.4f}; dense Hessian {t_dense:.1f} s)")
    print(f"top-1 to {TARGET:g} relative, products over {trials} starts:")
    print(f"  Lanczos          {lz}  mean {lz_mean:.1f}")
    print(f"  power iteration  {pw}  mean {pw_mean:.1f}")
    print(f"  ratio Lanczos / power = {lz_mean / pw_mean:.3f}")

    ph_vals, ph_products = power_iteration(matvec, n, k, TARGET, 100, gen)
    lz_vals, lz_products = lanczos_top_k(matvec, n, k, gen)
    ph_err = max(abs(a - b) / abs(b) for a, b in zip(ph_vals, exact[:k].tolist(), strict=True))
    lz_err = max(abs(a - b) / abs(b) for a, b in zip(lz_vals, exact[:k].tolist(), strict=True))
    print(f"top-{k}, each method's own stopping rule:")
    print(f"  Lanczos (residual <= {TARGET:g})        products {lz_products:5d}  "
          f"max rel error {lz_err:.2e}")
    print(f"  PyHessian power+deflation (tol {TARGET:g}, maxIter 100) products {ph_products:5d}  "
          f"max rel error {ph_err:.2e}")
    return {"name": name, "n": n, "lanczos": lz_mean, "power": pw_mean,
            "ratio": lz_mean / pw_mean, "lz_k": lz_products, "lz_err": lz_err,
            "ph_k": ph_products, "ph_err": ph_err}


def main() -> None:
    torch.set_num_threads(1)
    rows = [run("digits-mlp", digits_mlp()), run("clustered-lsq", clustered_lsq())]
    print("\n| problem | n | HVPs to 1e-3, Lanczos | HVPs to 1e-3, power | ratio | "
          "top-5 Lanczos: HVPs (max rel err) | top-5 PyHessian: HVPs (max rel err) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['n']} | {r['lanczos']:.1f} | {r['power']:.1f} | "
              f"{r['ratio']:.3f} | {r['lz_k']} ({r['lz_err']:.1e}) | "
              f"{r['ph_k']} ({r['ph_err']:.1e}) |")


if __name__ == "__main__":
    main()
