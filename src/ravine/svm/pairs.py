"""Every one-vs-one binary problem of a multi-class SVC solved in one compiled call.

The pair of classes ``(i, j)``, ``i < j``, is the binary dual of :mod:`ravine.svm.smo` on the
samples of class ``i`` (label +1) followed by those of class ``j`` (label -1), each in index
order, with their own bounds ``C_s``; the pairs come in libsvm's order ((0, 1), (0, 2), ...,
(1, 2), ...). Solving them one Python call at a time costs, on small problems (digits: 45 pairs
of ~360 samples), about as much as a tenth of the whole fit in setup: copying the pair's rows,
allocating the column cache and the solver's state, dispatching to numba. Here one compiled
function runs them all: it gathers a pair's rows, squared norms and kernel diagonal from the
shared arrays into buffers allocated once for the largest pair, resets one column cache laid
over buffers of the largest size (same capacity per pair as a fresh
:class:`~ravine.svm.cache.ColumnCache`: ``min(n, max(2, cache_size MB / (8 n)))`` columns), and
runs the same solver (:func:`~ravine.svm.smo.drive`), so each pair's result is bit for bit that
of :func:`~ravine.svm.smo.solve_smo` on the copied rows.

References:
    Hsu, C.-W. and Lin, C.-J. (2002). A comparison of methods for multiclass support vector
    machines. IEEE Transactions on Neural Networks 13(2).
    Chang, C.-C. and Lin, C.-J. (2011). LIBSVM: a library for support vector machines. ACM TIST.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .cache import HISTORY, KERNEL_CODES, OWNER, cache_capacity
from .kernels import Kernel
from .smo import CONVERGED, drive, intercept_at_positions


@njit(cache=True, nogil=True)
def _solve_pairs(
    code, X, sq, diag, gamma, coef0, degree, grouped, starts, bounds, tol, limit, shrinking,
    cache_bytes, x_buf, data_buf, rows_out, coef_out, intercept, n_iter, violation, converged,
):  # pragma: no cover - compiled
    """Solve every pair ``(i, j)`` of classes; write its rows, ``alpha * y``, intercept,
    iterations, violation and convergence at the pair's place in the outputs.

    ``grouped``: the samples of positive bound, grouped by class (``starts``: where each class
    begins, and the end); ``X``, ``sq``, ``diag``, ``bounds``: indexed by sample;
    ``x_buf``, ``data_buf``: room for the largest pair's rows of ``X`` and cache columns.
    """
    n_classes = starts.shape[0] - 1
    size = np.diff(starts)
    n_max = 0  # the largest pair, for the shared buffers
    for i in range(n_classes):
        for j in range(i + 1, n_classes):
            n_max = max(n_max, size[i] + size[j])
    d = X.shape[1]
    meta_buf = np.empty(4 * n_max, dtype=np.int64)  # a capacity is at most n
    layouts_buf = np.empty(HISTORY * n_max, dtype=np.int64)
    slot_of_b, mark_b = np.empty(n_max, dtype=np.int64), np.empty(n_max, dtype=np.int64)
    y_b, C_b, alpha_b, F_b = np.empty(n_max), np.empty(n_max), np.empty(n_max), np.empty(n_max)
    up_b, low_b, diag_b, sq_b = np.empty(n_max), np.empty(n_max), np.empty(n_max), np.empty(n_max)
    upper_b, buffer_b = np.empty(n_max), np.empty(n_max)
    perm_b, pos_b = np.empty(n_max, dtype=np.int64), np.empty(n_max, dtype=np.int64)
    layout_version, stats = np.empty(HISTORY, dtype=np.int64), np.empty(4, dtype=np.int64)
    res = np.zeros(2)
    Kpre = np.zeros((1, 1))
    p, offset = 0, 0
    for i in range(n_classes):
        for j in range(i + 1, n_classes):
            n_i, n = size[i], size[i] + size[j]
            rows = rows_out[offset : offset + n]
            rows[:n_i] = grouped[starts[i] : starts[i + 1]]
            rows[n_i:] = grouped[starts[j] : starts[j + 1]]
            Xp = x_buf[: n * d].reshape((n, d))
            y, C, alpha, F = y_b[:n], C_b[:n], alpha_b[:n], F_b[:n]
            up, low, dg, sq_p = up_b[:n], low_b[:n], diag_b[:n], sq_b[:n]
            upper_part, perm, pos = upper_b[:n], perm_b[:n], pos_b[:n]
            for k in range(n):
                s = rows[k]
                Xp[k, :] = X[s, :]
                sq_p[k], dg[k], C[k] = sq[s], diag[s], bounds[s]
                y[k] = 1.0 if k < n_i else -1.0
                perm[k], pos[k] = k, k
            alpha[:] = 0.0
            F[:] = y  # F = -y G, and G = -1 at alpha = 0
            for k in range(n):
                up[k] = 0.0 if y[k] > 0 else -np.inf
                low[k] = 0.0 if y[k] < 0 else np.inf
            upper_part[:] = 0.0
            # a fresh cache of the same capacity as ColumnCache(n, cache_size)
            capacity = min(n, max(2, cache_bytes // (8 * n)))
            meta = meta_buf[: 4 * capacity].reshape((capacity, 4))
            meta[:, :] = 0
            meta[:, OWNER] = -1
            slot_of, mark = slot_of_b[:n], mark_b[:n]
            slot_of[:] = -1
            mark[:] = 0
            layouts = layouts_buf[: HISTORY * n].reshape((HISTORY, n))
            layouts[0, :] = perm
            layout_version[:] = -1
            layout_version[0] = 0
            stats[:] = 0
            cache = (data_buf[: capacity * n].reshape((capacity, n)), meta, slot_of, layouts,
                     layout_version, stats, buffer_b[:n], mark)
            kern = (code, Xp, sq_p, Kpre, gamma, coef0, degree)
            status = drive(kern, cache, y, C, tol, limit, shrinking, alpha, F, up, low, dg,
                           upper_part, perm, pos, res)
            intercept[p] = intercept_at_positions(alpha, y, F, C)
            n_iter[p], violation[p], converged[p] = res[0], res[1], status == CONVERGED
            coef = coef_out[offset : offset + n]
            for k in range(n):  # back from positions to the pair's sample order
                coef[perm[k]] = alpha[k] * y[k]
            p += 1
            offset += n


def solve_pairs(kernel: Kernel, X, bounds, y_index, n_classes, tol=1e-3, max_iter=-1,
                cache_size=200.0, shrinking=True):
    """Solve the one-vs-one binary duals of all pairs of classes (built-in kernels).

    Args:
        kernel: a built-in :class:`~ravine.svm.kernels.Kernel` (not ``'callable'``).
        X: training samples, float64 C-contiguous, shape (n_samples, n_features).
        bounds: per-sample box bounds ``C_s``, shape (n_samples,); samples with
            ``C_s <= 0`` take no part.
        y_index: class index of each sample in ``[0, n_classes)``, shape (n_samples,).
        n_classes: number of classes, >= 2 (each with a sample of positive bound).
        tol, max_iter, cache_size, shrinking: as in :func:`~ravine.svm.smo.solve_smo`, per pair.

    Returns:
        ``(rows, coef, intercept, n_iter, violation, converged)``: ``rows`` the pairs' samples
        one pair after the other (class ``i``'s then class ``j``'s, in index order), ``coef``
        their ``alpha_s y_s`` (``y = +1`` for class ``i``), and per pair (libsvm's order) the
        intercept ``b``, the SMO iterations, the final KKT violation and whether it converged.

    Examples:
        >>> import numpy as np
        >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
        >>> rows, coef, b, *_ = solve_pairs(Kernel("linear"), X, np.full(4, 10.0),
        ...                                 np.array([0, 0, 1, 1]), 2)
        >>> rows, coef.round(3) + 0.0, b.round(3)  # alpha * y, class 0 as +1
        (array([0, 1, 2, 3]), array([ 0. ,  0.5, -0.5,  0. ]), array([2.]))
    """
    if kernel.name not in KERNEL_CODES:
        raise ValueError(f"solve_pairs needs a built-in kernel, got {kernel.name!r}.")
    X = np.ascontiguousarray(X, dtype=np.float64)
    bounds = np.asarray(bounds, dtype=np.float64)
    kept = np.flatnonzero(bounds > 0)
    grouped = kept[np.argsort(y_index[kept], kind="stable")]
    starts = np.concatenate(([0], np.cumsum(np.bincount(y_index[kept], minlength=n_classes))))
    sq = np.einsum("ij,ij->i", X, X)
    diag = sq.copy() if kernel.name == "linear" else kernel.diagonal(X)
    first, second = np.triu_indices(n_classes, 1)
    pair_sizes = np.diff(starts)[first] + np.diff(starts)[second]
    total = int(pair_sizes.sum())
    cache_bytes = int(cache_size * 2**20)
    # the large buffers (pair rows, cache columns) allocated by numpy, which asks for
    # transparent huge pages (fewer TLB misses; numba's allocator does not: 20% slower SMO on
    # the generated 5000 x 20 linear problem)
    columns = max(cache_capacity(cache_size, int(n)) * int(n) for n in pair_sizes)
    x_buf, data_buf = np.empty(pair_sizes.max() * X.shape[1]), np.empty(columns)
    n_pairs = n_classes * (n_classes - 1) // 2
    rows, coef = np.empty(total, dtype=np.int64), np.empty(total)
    intercept, n_iter, violation = np.empty(n_pairs), np.empty(n_pairs, np.int64), np.empty(n_pairs)
    converged = np.empty(n_pairs, dtype=np.bool_)
    limit = np.iinfo(np.int64).max if max_iter is None or max_iter < 0 else int(max_iter)
    _solve_pairs(
        KERNEL_CODES[kernel.name], X, sq, diag, float(kernel.gamma), float(kernel.coef0),
        int(kernel.degree), grouped, starts, bounds, float(tol), limit, bool(shrinking),
        cache_bytes, x_buf, data_buf, rows, coef, intercept, n_iter, violation, converged,
    )
    return rows, coef, intercept, n_iter, violation, converged
