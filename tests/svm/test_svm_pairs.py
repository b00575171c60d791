"""All one-vs-one pairs in one compiled call: bit for bit the per-pair solve_smo results."""

import contextlib
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from ravine.svm import SVC, make_kernel, solve_smo
from ravine.svm.pairs import solve_pairs


def _data(n=240, n_classes=4, seed=0):
    X, y = make_classification(n_samples=n, n_features=6, n_informative=4, n_classes=n_classes,
                               n_clusters_per_class=1, flip_y=0.05, random_state=seed)
    return X, y


@contextlib.contextmanager
def _no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        yield


def _per_pair(kern, X, bounds, y, n_classes, **kw):
    """The pairs solved one solve_smo call at a time, on copied rows (the old path)."""
    rows, coef, b, n_iter, gap = [], [], [], [], []
    for i in range(n_classes):
        for j in range(i + 1, n_classes):
            r = np.concatenate([np.flatnonzero((y == c) & (bounds > 0)) for c in (i, j)])
            y_pm = np.where(y[r] == i, 1.0, -1.0)
            res = solve_smo(kern, X[r], y_pm, bounds[r], **kw)
            rows.append(r)
            coef.append(res.alpha * y_pm)
            b.append(res.intercept)
            n_iter.append(res.n_iter)
            gap.append(res.violation)
    return np.concatenate(rows), np.concatenate(coef), np.array(b), np.array(n_iter), gap


@pytest.mark.parametrize(
    "kernel, kw",
    [
        ("linear", {}),
        ("rbf", {"cache_size": 0.01, "tol": 1e-5}),  # evictions and moved columns
        ("poly", {"shrinking": False}),
        ("sigmoid", {}),
        ("rbf", {"max_iter": 20}),
    ],
)
def test_svm_pairs_identical_to_solve_smo_per_pair(kernel, kw):
    X, y = _data()
    rng = np.random.default_rng(1)
    bounds = rng.uniform(0.2, 3.0, y.size)
    bounds[rng.random(y.size) < 0.1] = 0.0  # left out, as zero sample weights
    kern = make_kernel(kernel, X)
    with pytest.warns(ConvergenceWarning) if "max_iter" in kw else _no_warning():
        want = _per_pair(kern, X, bounds, y, 4, **kw)
    rows, coef, b, n_iter, gap, converged = solve_pairs(kern, X, bounds, y, 4, **kw)
    np.testing.assert_array_equal(rows, want[0])
    np.testing.assert_array_equal(coef, want[1])  # exact: the same arithmetic in the same order
    np.testing.assert_array_equal(b, want[2])
    np.testing.assert_array_equal(n_iter, want[3])
    np.testing.assert_array_equal(gap, want[4])
    assert converged.all() == ("max_iter" not in kw)
    assert np.count_nonzero(coef) > 0


def test_svm_pairs_estimator_warns_once_per_unconverged_pair():
    X, y = _data(n_classes=3)
    with pytest.warns(ConvergenceWarning, match="max_iter=2") as record:
        SVC(kernel="rbf", max_iter=2).fit(X, y)
    assert len([w for w in record if w.category is ConvergenceWarning]) == 3
    assert record[0].filename == __file__  # points at the caller of fit


def test_svm_pairs_callable_kernel_refused():
    X, y = _data()
    kern = make_kernel(lambda A, B: A @ B.T, X)
    with pytest.raises(ValueError, match="built-in kernel"):
        solve_pairs(kern, X, np.ones(y.size), y, 4)
