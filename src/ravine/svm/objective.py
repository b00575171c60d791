"""The SVM dual problem: its objective and its KKT violation, to inspect a solution.

The C-SVM dual (Cortes & Vapnik, 1995), with labels ``y_i in {-1, +1}`` and kernel ``K``:

    maximize    D(alpha) = sum_i alpha_i - 1/2 sum_ij alpha_i alpha_j y_i y_j K_ij
    subject to  0 <= alpha_i <= C_i,  sum_i alpha_i y_i = 0,

where ``C_i = C`` or, with libsvm's instance weights, ``C_i = C * class_weight[y_i] *
sample_weight_i`` (samples with ``sample_weight_i <= 0`` are not part of the problem).

libsvm minimises ``f(alpha) = -D(alpha)``, whose gradient is ``G = y * (K @ (alpha * y)) - 1``.
With ``F_t = -y_t G_t`` and the index sets

    I_up  = {t : alpha_t < C_t, y_t = +1} | {t : alpha_t > 0, y_t = -1}
    I_low = {t : alpha_t < C_t, y_t = -1} | {t : alpha_t > 0, y_t = +1}

a feasible ``alpha`` is optimal iff ``m(alpha) = max_{I_up} F <= M(alpha) = min_{I_low} F``; the
KKT violation is ``m(alpha) - M(alpha)`` and solvers stop when it is ``<= tol``.

References:
    Keerthi, S. S., Shevade, S. K., Bhattacharyya, C. and Murthy, K. R. K. (2001). Improvements
    to Platt's SMO algorithm for SVM classifier design. Neural Computation 13(3).
    Fan, R.-E., Chen, P.-H. and Lin, C.-J. (2005). Working set selection using second order
    information for training support vector machines. JMLR 6.
"""

from __future__ import annotations

import numpy as np

from .kernels import Kernel
from .smo_reference import upper_bounds


def dual_objective(alpha, y, K) -> float:
    """Value of the SVM dual ``D(alpha) = sum(alpha) - 1/2 (alpha y)^T K (alpha y)``.

    Args:
        alpha: Lagrange multipliers, shape (n,).
        y: labels in {-1, +1}, shape (n,).
        K: kernel matrix, shape (n, n).

    Returns:
        The dual objective (to be maximised), a float.

    Examples:
        >>> import numpy as np
        >>> K = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> dual_objective(np.array([1.0, 1.0]), np.array([1.0, -1.0]), K)
        1.0
    """
    alpha, y, K = _check_dual_args(alpha, y, K)
    ay = alpha * y
    return float(alpha.sum() - 0.5 * ay @ K @ ay)


def kkt_violation(alpha, y, K, C) -> float:
    """Maximal KKT violation ``m(alpha) - M(alpha)`` of a dual solution (0 or less at optimum).

    Args:
        alpha: Lagrange multipliers in [0, C_i], shape (n,).
        y: labels in {-1, +1}, shape (n,).
        K: kernel matrix, shape (n, n).
        C: the box bound, > 0: a float or per-sample bounds ``C_i`` of shape (n,).

    Returns:
        ``max_{I_up} -y G - min_{I_low} -y G`` with ``G = y * (K @ (alpha * y)) - 1``
        (``-inf`` when one of the index sets is empty).

    Examples:
        >>> import numpy as np
        >>> K = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> kkt_violation(np.array([1.0, 1.0]), np.array([1.0, -1.0]), K, C=10.0)
        0.0
    """
    alpha, y, K = _check_dual_args(alpha, y, K)
    C = upper_bounds(C, alpha.shape[0])
    G = y * (K @ (alpha * y)) - 1.0
    return violation_from_gradient(alpha, y, G, C)


def violation_from_gradient(alpha, y, G, C) -> float:
    """``m(alpha) - M(alpha)`` given the gradient ``G`` of ``f = -D`` (see module docstring)."""
    F = -y * G
    up = ((y > 0) & (alpha < C)) | ((y < 0) & (alpha > 0))
    low = ((y < 0) & (alpha < C)) | ((y > 0) & (alpha > 0))
    if not up.any() or not low.any():
        return -np.inf
    return float(F[up].max() - F[low].min())


def _check_dual_args(alpha, y, K):
    alpha = np.asarray(alpha, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    n = alpha.shape[0]
    if alpha.ndim != 1 or y.shape != (n,) or K.shape != (n, n):
        raise ValueError(
            f"alpha must have shape (n,), y shape (n,) and K shape (n, n); got {alpha.shape},"
            f" {y.shape} and {K.shape}."
        )
    if not np.all(np.abs(y) == 1):
        raise ValueError("y must contain only -1 and +1.")
    return alpha, y, K


def binary_problems(model, X, y, sample_weight=None):
    """Yield the binary dual problems of a fitted one-vs-one SVC and their solutions.

    Works for ravine's :class:`~ravine.svm.SVC` and for ``sklearn.svm.SVC`` (same layout of
    ``support_``, ``dual_coef_``, ``n_support_`` and ``class_weight_``). ``support_`` must
    index ``X``; scikit-learn's (up to 1.9 at least) indexes the samples of positive weight
    instead when some weights are <= 0 (scikit-learn issue #25380): pass it those samples only.

    Args:
        model: a fitted SVC.
        X: the training samples it was fitted on.
        y: the training labels.
        sample_weight: the weights it was fitted with (None: all ones). Samples of weight
            <= 0 are left out of the problems, as libsvm does.

    Yields:
        ``(alpha, y_pm, X_pair, kernel, C)`` for each class pair (i < j): the multipliers and
        +-1 labels (class i is +1) of the pair's training samples ``X_pair``, the
        :class:`~ravine.svm.kernels.Kernel` and the per-sample box bounds
        ``C_t = C * class_weight_[y_t] * sample_weight_t``, shape (len(X_pair),).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    weight = np.ones(y.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    classes = model.classes_
    class_weight = np.asarray(getattr(model, "class_weight_", np.ones(len(classes))))
    kernel = model.kernel
    if callable(kernel):
        kern = Kernel("callable", function=kernel)
    else:
        kern = Kernel(kernel, gamma=model._gamma, degree=model.degree, coef0=model.coef0)
    starts = np.concatenate([[0], np.cumsum(model.n_support_)])
    coef = np.asarray(model.dual_coef_)
    for i in range(len(classes)):
        for j in range(i + 1, len(classes)):
            rows = np.flatnonzero(((y == classes[i]) | (y == classes[j])) & (weight > 0))
            y_pm = np.where(y[rows] == classes[i], 1.0, -1.0)
            alpha = np.zeros(rows.size)
            position = np.full(y.shape[0], -1)
            position[rows] = np.arange(rows.size)
            for cls, row in ((i, j - 1), (j, i)):
                sv = slice(starts[cls], starts[cls + 1])
                at, value = position[model.support_[sv]], np.abs(coef[row, sv])
                if np.any((at < 0) & (value > 0)):
                    raise ValueError(
                        "support_ names a sample that is not in this pair's problem: it does"
                        " not index X (or the sample's weight is <= 0)."
                    )
                alpha[at[value > 0]] = value[value > 0]
            bound = weight[rows] * (float(model.C) * class_weight[np.where(y_pm > 0, i, j)])
            yield alpha, y_pm, X[rows], kern, bound


def _pair_terms(alpha, y_pm, X_pair, kern):
    sv = np.flatnonzero(alpha > 0)
    ay = alpha[sv] * y_pm[sv]
    K_sv = kern(X_pair, X_pair[sv])  # (n_pair, n_sv): all that D and G need
    return sv, ay, K_sv


def dual_objectives(model, X, y, sample_weight=None) -> np.ndarray:
    """Dual objective ``D`` of each one-vs-one problem of a fitted SVC (see binary_problems)."""
    values = []
    for alpha, y_pm, X_pair, kern, _ in binary_problems(model, X, y, sample_weight):
        sv, ay, K_sv = _pair_terms(alpha, y_pm, X_pair, kern)
        values.append(alpha.sum() - 0.5 * ay @ K_sv[sv] @ ay)
    return np.array(values)


def kkt_violations(model, X, y, sample_weight=None) -> np.ndarray:
    """KKT violation ``m - M`` of each one-vs-one problem of a fitted SVC (see binary_problems)."""
    values = []
    for alpha, y_pm, X_pair, kern, C in binary_problems(model, X, y, sample_weight):
        _, ay, K_sv = _pair_terms(alpha, y_pm, X_pair, kern)
        values.append(violation_from_gradient(alpha, y_pm, y_pm * (K_sv @ ay) - 1.0, C))
    return np.array(values)
