"""A small, readable SMO for the binary SVM dual: maximal violating pair, no cache.

For tests and teaching. It needs the whole kernel matrix; :func:`ravine.svm.smo.solve_smo` is the
fast solver, which must reach the same objective. The box may differ per sample,
``0 <= alpha_i <= C_i`` (libsvm's instance weights: ``C_i = C * class_weight[y_i] *
sample_weight_i``).

Each step picks the maximal violating pair (Keerthi et al., 2001)

    i = argmax_{t in I_up} F_t,   j = argmin_{t in I_low} F_t,   F = -y * G,

and moves along the only feasible direction that changes two multipliers and keeps
``sum(alpha * y) = 0``: ``alpha_i += y_i s``, ``alpha_j -= y_j s``. Along it the objective
``f = -D`` changes by ``-(F_i - F_j) s + a_ij s^2 / 2`` with ``a_ij = K_ii + K_jj - 2 K_ij``, so

    s = min((F_i - F_j) / a_ij, room left for alpha_i, room left for alpha_j)

(``room`` is ``C_i - alpha_i`` or ``alpha_i``, by the sign of the move), and the gradient is
updated with ``G += s * y * (K[:, i] - K[:, j])``. It stops when the KKT violation
``F_i - F_j <= tol``. The intercept is libsvm's: ``b = mean(F_t)`` over free multipliers
(``0 < alpha_t < C_t``), or the midpoint of the feasible interval if none is free.

References:
    Platt, J. (1998). Sequential minimal optimization: a fast algorithm for training support
    vector machines. Microsoft Research Technical Report MSR-TR-98-14.
    Keerthi, S. S. et al. (2001). Improvements to Platt's SMO algorithm for SVM classifier
    design. Neural Computation 13(3).
"""

from __future__ import annotations

import numpy as np

TAU = 1e-12  # libsvm's floor for a non-positive curvature a_ij (non-PSD kernels)


def upper_bounds(C, n: int) -> np.ndarray:
    """The per-sample box bounds ``C_i`` as an array of shape (n,), checked to be finite, > 0.

    Args:
        C: a float, or an array of shape (n,).
        n: number of samples.

    Returns:
        A new float64 array of shape (n,).

    Examples:
        >>> upper_bounds(2.0, 3)
        array([2., 2., 2.])
    """
    C = np.asarray(C, dtype=np.float64)
    if C.ndim not in (0, 1) or (C.ndim == 1 and C.shape[0] != n):
        raise ValueError(f"C must be a float or an array of shape ({n},), got shape {C.shape}.")
    low, high = (C, C) if C.ndim == 0 else (C.min(), C.max())  # NaN fails low > 0
    if not (low > 0 and high < np.inf):
        raise ValueError(f"C must be > 0 and finite (every C_i), got {low} to {high}.")
    return np.full(n, C) if C.ndim == 0 else C.copy()


def solve_smo_reference(K, y, C, tol: float = 1e-3, max_iter: int = 1_000_000):
    """Solve the binary SVM dual by SMO with the maximal violating pair.

    Args:
        K: kernel matrix, shape (n, n).
        y: labels in {-1, +1}, shape (n,).
        C: box bound, > 0: a float, or per-sample bounds ``C_i`` of shape (n,).
        tol: stop when ``m(alpha) - M(alpha) <= tol``.
        max_iter: maximal number of pair updates.

    Returns:
        ``(alpha, b, n_iter)``: multipliers, intercept (decision is ``K_x @ (alpha*y) + b``),
        and the number of pair updates made.

    Examples:
        >>> import numpy as np
        >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
        >>> y = np.array([-1.0, -1.0, 1.0, 1.0])
        >>> alpha, b, _ = solve_smo_reference(X @ X.T, y, C=10.0)  # margin: w = 1, b = -2
        >>> alpha.round(3), round(b, 3)
        (array([0. , 0.5, 0.5, 0. ]), -2.0)
    """
    K = np.asarray(K, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = y.shape[0]
    C = upper_bounds(C, n)
    alpha = np.zeros(n)
    G = -np.ones(n)  # gradient of f(alpha) = 1/2 (alpha y)^T K (alpha y) - sum(alpha)
    diag = np.diag(K).copy()
    n_iter = 0
    while n_iter < max_iter:
        F = -y * G
        up = ((y > 0) & (alpha < C)) | ((y < 0) & (alpha > 0))
        low = ((y < 0) & (alpha < C)) | ((y > 0) & (alpha > 0))
        i = np.flatnonzero(up)[np.argmax(F[up])]
        j = np.flatnonzero(low)[np.argmin(F[low])]
        if F[i] - F[j] <= tol:
            break
        a = diag[i] + diag[j] - 2.0 * K[i, j]
        room_i = C[i] - alpha[i] if y[i] > 0 else alpha[i]
        room_j = alpha[j] if y[j] > 0 else C[j] - alpha[j]
        s = min((F[i] - F[j]) / max(a, TAU), room_i, room_j)
        alpha[i] += y[i] * s
        alpha[j] -= y[j] * s
        if s == room_i:  # land exactly on the bound
            alpha[i] = C[i] if y[i] > 0 else 0.0
        if s == room_j:
            alpha[j] = 0.0 if y[j] > 0 else C[j]
        G += s * y * (K[:, i] - K[:, j])
        n_iter += 1
    return alpha, intercept_from_gradient(alpha, y, G, C), n_iter


def intercept_from_gradient(alpha, y, G, C) -> float:
    """libsvm's intercept ``b = -rho``: mean of ``-y G`` over free multipliers, else midpoint.

    Args:
        alpha: multipliers, shape (n,).
        y: labels in {-1, +1}.
        G: gradient of ``f = -D`` at ``alpha``.
        C: box bound, a float or per-sample bounds of shape (n,).

    Returns:
        The intercept ``b`` of the decision function ``sum_i alpha_i y_i k(x_i, x) + b``.
    """
    yG = y * G
    free = (alpha > 0) & (alpha < C)
    if free.any():
        return float(-yG[free].mean())
    at_upper = alpha >= C
    # rho lies in [lb, ub]; libsvm takes the midpoint
    ub_mask = (at_upper & (y < 0)) | (~at_upper & (y > 0))
    lb_mask = (at_upper & (y > 0)) | (~at_upper & (y < 0))
    ub = yG[ub_mask].min() if ub_mask.any() else np.inf
    lb = yG[lb_mask].max() if lb_mask.any() else -np.inf
    return float(-(ub + lb) / 2.0)
