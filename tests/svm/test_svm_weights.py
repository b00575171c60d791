"""Per-sample box bounds: the reference SMO against scipy, the fast SMO against the reference,
and the exact identities of SVC's sample_weight / class_weight; bad weights get clear errors."""

import functools

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.svm import SVC as SkSVC

from ravine.svm import SVC, dual_objective, kkt_violation, make_kernel, solve_smo
from ravine.svm import solve_smo_reference as reference


def _problem(n=40, d=3, seed=0, overlap=1.5):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    return rng.standard_normal((n, d)) * overlap + y[:, None], y


def test_svm_reference_with_sample_bounds_matches_scipy_qp():
    X, y = _problem(n=30, seed=1)
    C = np.random.default_rng(1).uniform(0.05, 2.0, 30)
    K = make_kernel("rbf", X, gamma=0.5)(X, X)
    alpha, _, _ = reference(K, y, C=C, tol=1e-9)
    Q = (y[:, None] * y[None, :]) * K
    res = minimize(
        lambda a: 0.5 * a @ Q @ a - a.sum(), np.zeros(30), jac=lambda a: Q @ a - 1.0,
        bounds=list(zip(np.zeros(30), C, strict=True)), method="SLSQP",
        constraints=[{"type": "eq", "fun": lambda a: a @ y, "jac": lambda a: y}],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    assert res.success
    assert dual_objective(alpha, y, K) == pytest.approx(-res.fun, rel=1e-7)
    assert kkt_violation(alpha, y, K, C) <= 1e-9
    assert np.all(alpha <= C) and np.any(alpha == C)  # some bounds are active, each its own
    assert kkt_violation(alpha, y, K, C.max()) > 1e-3  # one shared C is a different problem


@functools.cache
def _bounded_problem(kernel):
    # 1,500 samples: shrinking runs (every 1,000 iterations) with bounds from 0.05 to 20
    X, y = _problem(n=1500, d=4, seed=2, overlap=3.0)
    C = np.exp(np.random.default_rng(2).uniform(np.log(0.05), np.log(20.0), 1500))
    kern = make_kernel(kernel, X, gamma=0.3, coef0=1.0, degree=2)
    K = kern(X, X)
    return X, y, C, kern, K, reference(K, y, C=C, tol=1e-6)


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly"])
@pytest.mark.parametrize("shrinking", [True, False])
def test_svm_fast_solver_with_sample_bounds_reaches_reference(kernel, shrinking):
    X, y, C, kern, K, (alpha_ref, b_ref, _) = _bounded_problem(kernel)
    r = solve_smo(kern, X, y, C, tol=1e-6, shrinking=shrinking, cache_size=1.0)
    assert r.converged and (r.layouts > 0) == shrinking
    assert kkt_violation(r.alpha, y, K, C) <= 1e-6
    assert np.all((r.alpha >= 0) & (r.alpha <= C)) and abs(r.alpha @ y) < 1e-9
    assert dual_objective(r.alpha, y, K) == pytest.approx(dual_objective(alpha_ref, y, K),
                                                          rel=1e-7)
    assert r.intercept == pytest.approx(b_ref, abs=1e-4)


def test_svm_uniform_bounds_equal_scalar_C_exactly():
    X, y = _problem(n=300, seed=3)
    kern = make_kernel("rbf", X, gamma=0.5)
    a, b = solve_smo(kern, X, y, 0.7), solve_smo(kern, X, y, np.full(300, 0.7))
    np.testing.assert_array_equal(a.alpha, b.alpha)
    assert a.intercept == b.intercept and a.n_iter == b.n_iter


def _digits_subset():
    from sklearn.datasets import load_digits

    X, y = load_digits(n_class=4, return_X_y=True)
    return X[:400], y[:400]


def _same_fit(a, b):
    for name in ("support_", "n_support_", "dual_coef_", "intercept_", "n_iter_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_svm_weights_of_one_are_no_weights_exactly():
    X, y = _digits_subset()
    plain = SVC().fit(X, y)
    _same_fit(plain, SVC().fit(X, y, sample_weight=np.ones(len(y))))
    _same_fit(plain, SVC(class_weight={c: 1.0 for c in range(4)}).fit(X, y))
    _same_fit(plain, SVC().fit(X, y, sample_weight=1.0))  # a scalar weighs all alike


def test_svm_class_weight_is_a_per_class_sample_weight_exactly():
    X, y = _digits_subset()
    weights = {0: 0.5, 1: 2.0, 2: 1.0, 3: 3.0}
    by_class = SVC(class_weight=weights).fit(X, y)
    by_sample = SVC().fit(X, y, sample_weight=np.array([weights[c] for c in y]))
    _same_fit(by_class, by_sample)
    _same_fit(SVC(C=2.0).fit(X, y), SVC(class_weight=dict.fromkeys(range(4), 2.0)).fit(X, y))


def test_svm_zero_and_negative_weights_remove_samples_exactly():
    X, y = _digits_subset()
    w = np.random.default_rng(4).uniform(0.5, 2.0, len(y))
    w[::7], w[3::11] = 0.0, -1.0
    kept = np.flatnonzero(w > 0)
    # a fixed gamma: 'scale' reads the variance of all of X, dropped samples included
    weighted = SVC(gamma=0.001, class_weight="balanced").fit(X, y, sample_weight=w)
    same_class_weight = dict(enumerate(weighted.class_weight_))  # 'balanced' over all of y
    removed = SVC(gamma=0.001, class_weight=same_class_weight).fit(
        X[kept], y[kept], sample_weight=w[kept])
    np.testing.assert_array_equal(weighted.support_, kept[removed.support_])  # indexes X
    for name in ("n_support_", "dual_coef_", "intercept_", "n_iter_"):
        np.testing.assert_array_equal(getattr(weighted, name), getattr(removed, name))
    # 'balanced' counts every sample of y, whatever its weight (as scikit-learn does)
    ref = SkSVC(gamma=0.001, class_weight="balanced").fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(weighted.class_weight_, ref.class_weight_)


X4 = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0], [4.0, 4.0], [5.0, 3.0]])
Y4 = np.array([0, 0, 1, 1, 2, 2])


@pytest.mark.parametrize("weight,match", [
    (np.ones(5), "incompatible shapes"),
    (np.ones((6, 2)), "must be 1-D"),
    ([1.0, np.nan, 1, 1, 1, 1], "finite"),
    ([1.0, np.inf, 1, 1, 1, 1], "finite"),
    (np.zeros(6), "all samples have zero or negative weights"),
    ([1.0, 1, 0, -1, 0, 0], "positive weights belong to the same class"),
    ([1.0, 1, 0, 0, 1, 1], r"class\(es\) \[1\] have none"),
])
def test_svm_bad_sample_weight(weight, match):
    with pytest.raises(ValueError, match=match):
        SVC().fit(X4, Y4, sample_weight=weight)


@pytest.mark.parametrize("class_weight,error,match", [
    ("bal", ValueError, "'class_weight' parameter of SVC must be a str among"),
    ([1, 2, 3], TypeError, "'class_weight' parameter of SVC must be a str among"),
    (np.ones(3), TypeError, "'class_weight' parameter of SVC must be a str among"),
    ({0: 0.0}, ValueError, "weights > 0"),
    ({0: -1.0}, ValueError, "weights > 0"),
    ({0: np.inf}, ValueError, "weights > 0"),
    ({0: 2.0, 7: 1.0}, ValueError, r"The classes, \[1, 2\], are not in class_weight"),
])
def test_svm_bad_class_weight(class_weight, error, match):
    clf = SVC(class_weight=class_weight)
    assert clf.get_params()["class_weight"] is class_weight  # __init__ only stores
    with pytest.raises(error, match=match):
        clf.fit(X4, Y4)
