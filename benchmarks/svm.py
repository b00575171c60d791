"""Fit time of ravine.svm.SVC against sklearn.svm.SVC (libsvm, compiled C++) in the same run.

Same hyperparameters on both sides (C=1, gamma='scale', tol=1e-3, cache_size=200, shrinking);
each fit is repeated and the fastest wall time of each side is kept, the two sides alternating
so that both see the same machine load. BLAS runs on one thread (libsvm is single-threaded,
and idle BLAS threads spinning after ``dual_objectives`` would slow the next fit, whichever
side). Prints iteration counts (summed over one-vs-one pairs), support-vector counts, the
relative gap of the dual objectives and the time ratio.

    .venv/bin/python benchmarks/svm.py            # all datasets
    .venv/bin/python benchmarks/svm.py --quick    # skip the 20,000-sample problem
    .venv/bin/python benchmarks/svm.py --seeds 3  # three generated instances of each size

The last rows fit with weights on both sides: ``class_weight='balanced'`` and a
``sample_weight`` drawn from [0.5, 2) with 10% zeros (per-sample box bounds ``C_s``).

Target (issue 7): no slower than 1.5x sklearn at 5,000 samples, faster at 20,000.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC as SkSVC
from threadpoolctl import threadpool_limits

from ravine.svm import SVC, dual_objectives


def generated(n, seed=0):
    X, y = make_classification(
        n_samples=n, n_features=20, n_informative=10, flip_y=0.02, random_state=seed
    )
    return StandardScaler().fit_transform(X), y


def weights(n, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 2.0, n)
    w[rng.random(n) < 0.1] = 0.0
    return w


def datasets(quick, seeds):
    X, y = load_breast_cancer(return_X_y=True)
    yield "breast_cancer 569x30", StandardScaler().fit_transform(X), y, ("linear", "rbf"), 5, {}
    X, y = load_digits(return_X_y=True)
    yield "digits 1797x64 (10 classes)", X, y, ("linear", "rbf"), 3, {}
    for seed in range(seeds):
        yield f"generated 5000x20 seed {seed}", *generated(5000, seed), ("linear", "rbf"), 3, {}
    for seed in range(0 if quick else seeds):
        yield f"generated 20000x20 seed {seed}", *generated(20000, seed), ("rbf",), 2, {}
    X, y = load_digits(return_X_y=True)
    yield "digits weighted", X, y, ("linear", "rbf"), 3, {"sample_weight": weights(len(y))}
    X, y = generated(5000)
    yield "generated 5000x20 weighted", X, y, ("linear", "rbf"), 3, {"sample_weight": weights(5000)}


def best_time(make, X, y, repeats, sample_weight=None):
    best, model = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        model = make().fit(X, y, sample_weight=sample_weight)
        best = min(best, time.perf_counter() - start)
    return best, model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 20,000-sample problem")
    parser.add_argument("--seeds", type=int, default=1, help="generated instances of each size")
    args = parser.parse_args()
    threadpool_limits(limits=1)
    start = time.perf_counter()
    SVC().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])  # load (or compile) the numba code
    print(f"first fit (numba load/compile): {time.perf_counter() - start:.2f} s\n")
    header = (
        f"{'dataset':31} {'kernel':6} {'ravine s':>9} {'sklearn s':>9} {'ratio':>6}"
        f" {'iter r/s':>15} {'SV r/s':>11} {'dual rel gap':>12}"
    )
    print(header)
    print("-" * len(header))
    for name, X, y, kernels, repeats, fit in datasets(args.quick, args.seeds):
        w = fit.get("sample_weight")
        cw = None if w is None else "balanced"
        for kernel in kernels:
            t_ours = t_ref = np.inf
            for _ in range(repeats):  # alternate the two sides under the same load
                t, ours = best_time(lambda k=kernel, c=cw: SVC(kernel=k, class_weight=c),
                                    X, y, 1, w)
                t_ours = min(t_ours, t)
                t, ref = best_time(lambda k=kernel, c=cw: SkSVC(kernel=k, class_weight=c),
                                   X, y, 1, w)
                t_ref = min(t_ref, t)
            kept = np.arange(len(y)) if w is None else np.flatnonzero(w > 0)
            D_ours = dual_objectives(ours, X, y, w)
            # scikit-learn's support_ indexes the samples of positive weight (its issue #25380)
            D_ref = dual_objectives(ref, X[kept], y[kept], None if w is None else w[kept])
            gap = np.max(np.abs(D_ours - D_ref) / np.abs(D_ref))
            iters = f"{ours.n_iter_.sum()}/{ref.n_iter_.sum()}"
            svs = f"{ours.support_.size}/{ref.support_.size}"
            print(
                f"{name:31} {kernel:6} {t_ours:9.3f} {t_ref:9.3f} {t_ours / t_ref:6.2f}"
                f" {iters:>15} {svs:>11} {gap:12.1e}",
                flush=True,
            )
    print("\nratio = ravine / sklearn fit time (best of the repeats); below 1 means faster.")


if __name__ == "__main__":
    main()
