"""The fast SMO solver for the binary SVM dual: second-order pairs, column cache, shrinking.

The problem is libsvm's (see :mod:`ravine.svm.objective`): minimise
``f(alpha) = 1/2 (alpha y)^T K (alpha y) - sum(alpha)`` over ``0 <= alpha_i <= C_i``,
``sum(alpha y) = 0``, where the bounds ``C_i`` may differ per sample (instance weights);
with ``G`` the gradient of ``f`` and ``F = -y G`` it stops when the KKT violation
``m(alpha) - M(alpha) = max_{I_up} F - min_{I_low} F <= tol``.

Each iteration (compiled with numba) works, like libsvm, on *positions*: the active samples are
the first ``n_active`` positions, so every pass reads contiguous memory.

- **Working set by second-order information** (Fan, Chen & Lin, 2005, WSS 2):
  ``i = argmax_{t in I_up} F_t`` and
  ``j = argmin_{t in I_low, F_t < F_i} -(F_i - F_t)^2 / a_it`` with
  ``a_it = K_ii + K_tt - 2 K_it`` (``tau = 1e-12`` where it is not positive); ties go to the
  last position, as in libsvm. Membership of I_up / I_low is kept as additive penalties
  (0 or -inf / +inf) so the passes have no data-dependent branches but the rare improvements.
- **Analytic pair step** (as in :mod:`ravine.svm.smo_reference`): ``alpha_i += y_i s``,
  ``alpha_j -= y_j s``, ``s = min((F_i - F_j) / a_ij, room_i, room_j)`` (rooms from the
  samples' own bounds ``C_i``, ``C_j``), then
  ``G += s * y * (K[:, i] - K[:, j])``, kept as ``F -= s (K[:, i] - K[:, j])``, over the
  active set, in the same pass that finds the next ``i``.
- **Kernel columns** come from an LRU :class:`~ravine.svm.cache.ColumnCache` bounded by
  ``cache_size`` MB, filled on the positions that are needed. The loop reads them as rows of
  the cache's 2-D array by slot (``data[slot, t]``, no view) and checks a hit itself (``_hit``,
  on the cache's arrays alone) before calling ``get_column``: passing a tuple of arrays to a
  compiled function, or making a view, costs numba an atomic reference count per array, and
  those counts were half of an iteration on a few hundred samples.
- **Shrinking** (Joachims, 1999; libsvm's rule), every ``min(n, 1000)`` iterations: a multiplier
  at a bound that cannot be picked (in ``I_up`` only with ``F_t < M``, or in ``I_low`` only with
  ``F_t > m``) moves behind the active positions (when at least 1/32 of them go: each move
  makes the cached columns move too, lazily). When the active set has converged, the gradient
  of the shrunk samples is rebuilt (libsvm's ``G_bar``, the part of the multipliers at their
  bound ``C_t``, kept up to date whenever one reaches or leaves it, plus the free ones' kernel
  values) and every sample becomes active again; SMO goes on until all of them satisfy the rule.
  As in libsvm, the samples are also brought back once when the violation first falls under
  ``10 tol`` (it undoes early shrinking mistakes: on the generated 5,000 x 20 linear problem it
  cut the iterations from 100k to 71k), and shrinking resumes after one step on all of them.

References:
    Platt, J. (1998). Sequential minimal optimization. MSR-TR-98-14.
    Joachims, T. (1999). Making large-scale SVM learning practical. In Advances in Kernel Methods.
    Fan, R.-E., Chen, P.-H. and Lin, C.-J. (2005). Working set selection using second order
    information for training support vector machines. JMLR 6, 1889-1918.
    Chang, C.-C. and Lin, C.-J. (2011). LIBSVM: a library for support vector machines. ACM TIST.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numba import njit
from sklearn.exceptions import ConvergenceWarning

from .cache import (
    KERNEL_CODES,
    LAST_USED,
    LENGTH,
    PRECOMPUTED,
    VERSION,
    ColumnCache,
    get_column,
    kernel_values,
    new_layout,
)
from .kernels import Kernel
from .smo_reference import TAU, upper_bounds

CONVERGED, SHRUNK_CONVERGED, UNSHRINK, MAX_ITER = 0, 1, 2, 3
MIN_SHRINK = 32  # re-layout only when at least 1/32 of the active samples leave


@dataclass
class SMOResult:
    """Solution of one binary dual: multipliers, intercept and what it took to get there."""

    alpha: np.ndarray
    intercept: float
    n_iter: int
    violation: float
    converged: bool
    cache_hits: int = 0
    cache_misses: int = 0
    layouts: int = 0  # shrinking steps that moved samples out of the active positions


@njit(cache=True, nogil=True)
def _set_flags(t, y, alpha, C, up, low):
    """Membership of ``t`` as additive penalties: ``up[t]`` is 0 in I_up, else -inf;
    ``low[t]`` is 0 in I_low, else +inf (so ``F + up`` and ``F + low`` select without branches).
    ``C`` holds the bounds per position.
    """
    in_up = (y[t] > 0 and alpha[t] < C[t]) or (y[t] < 0 and alpha[t] > 0)
    in_low = (y[t] < 0 and alpha[t] < C[t]) or (y[t] > 0 and alpha[t] > 0)
    up[t] = 0.0 if in_up else -np.inf
    low[t] = 0.0 if in_low else np.inf


@njit(cache=True, nogil=True)
def _select_i(F, up, n_active):
    """``(F_max, i)``: the largest ``F`` over the active part of ``I_up`` (last one on ties)."""
    F_max, i = -np.inf, -1
    for t in range(n_active - 1, -1, -1):
        if F[t] + up[t] > F_max:
            F_max, i = F[t] + up[t], t
    return F_max, i


@njit(cache=True, nogil=True)
def _extremes(F, up, low, n_active):
    """``(m, M)``: max of ``F`` over the active part of I_up, min over that of I_low."""
    m, M = -np.inf, np.inf
    for t in range(n_active):
        m = max(m, F[t] + up[t])
        M = min(M, F[t] + low[t])
    return m, M


@njit(cache=True, nogil=True)
def _unpickable(t, m, M, F, up, low):
    """libsvm's ``be_shrunk``: in I_up only with ``F < M``, or in I_low only with ``F > m``."""
    in_up, in_low = up[t] == 0.0, low[t] == 0.0
    return (in_up and not in_low and F[t] < M) or (in_low and not in_up and F[t] > m)


@njit(cache=True, nogil=True)
def _shrink(m, M, n_active, y, C, alpha, F, up, low, diag, upper_part, perm, pos, cache):
    """Move the unpickable bounded samples behind the active ones; return the new ``n_active``.

    A sample leaves when it is in I_up only with ``F < M`` or in I_low only with ``F > m``
    (libsvm's ``be_shrunk``). The kept samples keep their order (a stable partition), which
    gives a new layout version of the cache.
    """
    leaving = 0
    for t in range(n_active):
        leaving += _unpickable(t, m, M, F, up, low)
    if leaving == 0 or MIN_SHRINK * leaving < n_active:
        return n_active
    order = np.empty(n_active, dtype=np.int64)
    a, b = 0, n_active - leaving
    for t in range(n_active):
        if _unpickable(t, m, M, F, up, low):
            order[b] = t
            b += 1
        else:
            order[a] = t
            a += 1
    y[:n_active] = y[order]
    C[:n_active] = C[order]
    alpha[:n_active] = alpha[order]
    F[:n_active] = F[order]
    up[:n_active] = up[order]
    low[:n_active] = low[order]
    diag[:n_active] = diag[order]
    upper_part[:n_active] = upper_part[order]
    perm[:n_active] = perm[order]
    for p in range(n_active):
        pos[perm[p]] = p
    new_layout(cache, perm)
    return n_active - leaving


@njit(cache=True, nogil=True)
def _hit(meta, slot_of, stats, i, need):
    """Slot of sample ``i``'s column if it is cached, of the current layout and long enough
    (``[0, need)``), with ``get_column``'s bookkeeping for a hit; else -1 (call ``get_column``).

    The solver loop checks this first: ``get_column`` takes the cache and kernel tuples, and
    passing them costs atomic reference counts per array (about 80 ns per call), the largest
    share of an iteration on a few hundred samples.
    """
    slot = slot_of[i]
    if slot >= 0 and meta[slot, VERSION] == stats[3] and meta[slot, LENGTH] >= need:
        stats[0] += 1
        stats[1] += 1
        meta[slot, LAST_USED] = stats[0]
        return slot
    return -1


@njit(cache=True, nogil=True)
def smo_loop(
    kern, cache, y, C, tol, max_iter, shrinking, alpha, F, up, low, diag, upper_part, perm,
    pos, n_active, out, flags,
):  # pragma: no cover - compiled
    """Run SMO until a status: converged, converged on a shrunk set, unshrink, or max_iter.

    Works on positions (see :mod:`ravine.svm.cache`): the bounds ``C``, ``F = -y G``, the
    membership penalties ``up``/``low`` (see ``_set_flags``) and
    ``upper_part[p] = sum_{s: alpha_s = C_s} C_s y_s K(s, perm[p])`` (libsvm's ``G_bar``, for
    bringing shrunk samples back), all updated in place. ``out`` receives
    (n_iter, n_active, violation). ``flags[0]``: the one unshrink at ``10 tol`` happened;
    ``flags[1]``: iterations before the first shrinking (0: the default ``min(n, 1000)``).
    """
    data, meta, slot_of, stats = cache[0], cache[1], cache[2], cache[5]
    n = y.shape[0]
    n_iter = 0
    si = sj = -1
    counter = flags[1] if flags[1] > 0 else min(n, 1000)
    status = MAX_ITER
    gap = np.inf
    F_max, i = _select_i(F, up, n_active)
    while n_iter < max_iter:
        counter -= 1
        if counter == 0:
            counter = min(n, 1000)
            if shrinking:
                m, M = _extremes(F, up, low, n_active)
                if flags[0] == 0 and m - M <= 10 * tol:
                    flags[0] = 1  # libsvm: unshrink once, near the end, to fix early mistakes
                    if n_active < n:
                        status = UNSHRINK
                        break
                n_active = _shrink(m, M, n_active, y, C, alpha, F, up, low, diag, upper_part,
                                   perm, pos, cache)
                F_max, i = _select_i(F, up, n_active)
        F_min, j, best_b2, best_a = np.inf, -1, 0.0, 1.0
        if i >= 0:
            si = _hit(meta, slot_of, stats, perm[i], n_active)
            if si < 0:
                si = get_column(kern, cache, perm[i], n_active, perm, pos)
            d_i = diag[i]
            for t in range(n_active - 1, -1, -1):
                # no branch on membership (a coin toss for the predictor): F + low is +inf
                # outside I_low, which makes b = -inf; the rare improvements of the running
                # minima are the only branches taken. The decrease b^2 / a is compared by
                # cross-multiplying (b^2 best_a > best_b2 a): no division per t. The loop runs
                # backwards so that ties go to the last index, as in libsvm.
                Fl = F[t] + low[t]
                if Fl < F_min:
                    F_min = Fl
                b = F_max - Fl
                a = d_i + diag[t] - 2.0 * data[si, t]
                a = a if a > 0 else TAU
                b2 = b * b
                gain = b2 * best_a - best_b2 * a if b > 0 else -1.0
                if gain > 0:
                    best_b2, best_a, j = b2, a, t
        gap = F_max - F_min
        if j < 0 or gap <= tol:
            status = SHRUNK_CONVERGED if n_active < n else CONVERGED
            break
        sj = _hit(meta, slot_of, stats, perm[j], n_active)
        if sj < 0:
            sj = get_column(kern, cache, perm[j], n_active, perm, pos)
        a = diag[i] + diag[j] - 2.0 * data[si, j]
        C_i, C_j = C[i], C[j]
        room_i = C_i - alpha[i] if y[i] > 0 else alpha[i]
        room_j = alpha[j] if y[j] > 0 else C_j - alpha[j]
        s = min((F_max - F[j]) / (a if a > 0 else TAU), room_i, room_j)
        was_upper_i, was_upper_j = alpha[i] >= C_i, alpha[j] >= C_j
        alpha[i] = min(max(alpha[i] + y[i] * s, 0.0), C_i)
        alpha[j] = min(max(alpha[j] - y[j] * s, 0.0), C_j)
        if s == room_i:  # land exactly on the bound
            alpha[i] = C_i if y[i] > 0 else 0.0
        if s == room_j:
            alpha[j] = 0.0 if y[j] > 0 else C_j
        _set_flags(i, y, alpha, C, up, low)
        _set_flags(j, y, alpha, C, up, low)
        # F update (G += s y (K_i - K_j) means F -= s (K_i - K_j)) fused with the next
        # i = argmax_{I_up} F: one pass instead of two
        i_old = i
        F_max, i = -np.inf, -1
        for t in range(n_active - 1, -1, -1):
            Ft = F[t] - s * (data[si, t] - data[sj, t])
            F[t] = Ft
            if Ft + up[t] > F_max:
                F_max, i = Ft + up[t], t
        if shrinking:  # upper_part follows the samples that reach or leave C_t (full columns)
            for t, was_upper in ((i_old, was_upper_i), (j, was_upper_j)):
                if was_upper != (alpha[t] >= C[t]):
                    sc = _hit(meta, slot_of, stats, perm[t], n)
                    if sc < 0:
                        sc = get_column(kern, cache, perm[t], n, perm, pos)
                    c = C[t] * y[t] if alpha[t] >= C[t] else -C[t] * y[t]
                    for p in range(n):
                        upper_part[p] += c * data[sc, p]
        n_iter += 1
    out[0], out[1], out[2] = n_iter, n_active, gap
    return status


@njit(cache=True, nogil=True)
def rebuild_gradient(kern, cache, y, alpha, F, upper_part, perm, pos, n_active, C):
    """Recompute ``F[p] = y_p - sum_s alpha_s y_s K(s, perm[p])`` at the shrunk positions.

    The multipliers at their bound ``C_t`` contribute ``upper_part`` (kept up to date by the
    solver), the free ones (all active: shrinking never moves a free sample) through kernel
    values: as in libsvm's ``reconstruct_gradient``, by rows of the shrunk samples against the
    free ones when there are many free ones, else by the free samples' full columns from the
    cache.
    """
    n = y.shape[0]
    for p in range(n_active, n):
        F[p] = y[p] - upper_part[p]
    free = np.flatnonzero((alpha[:n_active] > 0) & (alpha[:n_active] < C[:n_active]))
    if free.size == 0:
        return
    if free.size * n > 2 * n_active * (n - n_active):
        samples, coef, z = perm[free], alpha[free] * y[free], np.empty(free.size)
        for p in range(n_active, n):
            kernel_values(kern, perm[p], samples, z)
            F[p] -= np.dot(coef, z)
    else:
        for f in free:
            column = cache[0][get_column(kern, cache, perm[f], n, perm, pos)]
            c = alpha[f] * y[f]
            for p in range(n_active, n):
                F[p] -= c * column[p]


@njit(cache=True, nogil=True)
def intercept_at_positions(alpha, y, F, C):
    """libsvm's ``calculate_rho`` on the solver's arrays: ``b = -rho`` from ``F = -y G``.

    ``b`` is the mean of ``F`` over the free multipliers (``0 < alpha_t < C_t``, summed in
    order, as libsvm does), else the midpoint of the feasible interval: the same value as
    :func:`~ravine.svm.smo_reference.intercept_from_gradient` (up to the summation order),
    without un-permuting the positions first.
    """
    total, free = 0.0, 0
    ub, lb = np.inf, -np.inf  # bounds on rho = mean(y G) = -mean(F)
    for t in range(y.shape[0]):
        yG = -F[t]
        if alpha[t] >= C[t]:
            if y[t] < 0:
                ub = min(ub, yG)
            else:
                lb = max(lb, yG)
        elif alpha[t] <= 0.0:
            if y[t] > 0:
                ub = min(ub, yG)
            else:
                lb = max(lb, yG)
        else:
            free += 1
            total += F[t]
    if free > 0:
        return total / free
    return -(ub + lb) / 2.0


@njit(cache=True, nogil=True)
def drive(kern, cache, y, C, tol, limit, shrinking, alpha, F, up, low, diag, upper_part, perm,
          pos, res):  # pragma: no cover - compiled
    """Run ``smo_loop`` to the end from a fresh state: the status (CONVERGED or MAX_ITER).

    Between the loop's stops it rebuilds the gradient of the shrunk samples and brings them
    back (after the unshrink at ``10 tol``, shrinking again at once; after convergence on the
    shrunk set, one step on every sample first, as libsvm), until SMO converges on all samples
    or has run ``limit`` iterations. ``res`` receives (n_iter, violation).
    """
    n = y.shape[0]
    n_active, n_iter, gap = n, 0, np.inf
    out, flags = np.zeros(3), np.zeros(2, dtype=np.int64)
    while True:
        status = smo_loop(kern, cache, y, C, tol, limit - n_iter, shrinking, alpha, F, up, low,
                          diag, upper_part, perm, pos, n_active, out, flags)
        flags[1] = 0
        n_iter += np.int64(out[0])
        n_active, gap = np.int64(out[1]), out[2]
        if n_active < n:
            rebuild_gradient(kern, cache, y, alpha, F, upper_part, perm, pos, n_active, C)
            n_active = n
            if status == UNSHRINK:
                flags[1] = 1  # shrink again at once, on the exact gradient
                continue
            if status != MAX_ITER:
                flags[1] = 2  # one step on every sample, then shrink (as libsvm)
                continue  # check optimality again on every sample
        if status == CONVERGED or status == MAX_ITER:
            break
    res[0], res[1] = n_iter, gap
    return status


def warn_not_converged(max_iter, tol, violation, stacklevel):
    """Warn (``ConvergenceWarning``) that SMO stopped at ``max_iter`` above ``tol``."""
    warnings.warn(
        f"Solver terminated early (max_iter={max_iter}); KKT violation {violation:.3g} > "
        f"tol={tol}. Consider raising max_iter or scaling the data (StandardScaler).",
        ConvergenceWarning,
        stacklevel=stacklevel,
    )


def solve_smo(
    kernel: Kernel,
    X: np.ndarray,
    y: np.ndarray,
    C,
    tol: float = 1e-3,
    max_iter: int = -1,
    cache_size: float = 200.0,
    shrinking: bool = True,
) -> SMOResult:
    """Solve the binary SVM dual by SMO (WSS 2, LRU column cache, shrinking).

    Args:
        kernel: the kernel (:func:`~ravine.svm.kernels.make_kernel`).
        X: training samples, shape (n, d).
        y: labels in {-1, +1}, shape (n,).
        C: box bound, > 0: a float, or per-sample bounds ``C_i`` of shape (n,) (libsvm's
            instance weights).
        tol: stop when the KKT violation ``m(alpha) - M(alpha) <= tol``.
        max_iter: maximal number of pair updates, -1 for no limit. Reaching it warns with
            ``ConvergenceWarning`` and returns the last iterate, which is the best one seen
            (each SMO step decreases ``f``).
        cache_size: memory bound of the kernel column cache, in MB.
        shrinking: whether to shrink the active set.

    Returns:
        An :class:`SMOResult`.

    Examples:
        >>> import numpy as np
        >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
        >>> r = solve_smo(Kernel("linear"), X, np.array([-1.0, -1.0, 1.0, 1.0]), C=10.0)
        >>> r.alpha.round(3), round(r.intercept, 3), r.converged
        (array([0. , 0.5, 0.5, 0. ]), -2.0, True)
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    n = y.shape[0]
    C = upper_bounds(C, n)
    limit = np.iinfo(np.int64).max if max_iter is None or max_iter < 0 else int(max_iter)
    sq = np.einsum("ij,ij->i", X, X)
    if kernel.name == "callable":  # as scikit-learn does: the callable's full Gram matrix
        code, Kpre = PRECOMPUTED, np.ascontiguousarray(kernel(X, X))
        diag = np.diag(Kpre).copy()
    else:
        code, Kpre = KERNEL_CODES[kernel.name], np.zeros((1, 1))
        diag = sq.copy() if kernel.name == "linear" else kernel.diagonal(X)
    kern = (code, X, sq, Kpre, float(kernel.gamma), float(kernel.coef0), int(kernel.degree))
    cache = ColumnCache(n, cache_size)
    # per position p (sample perm[p]); the active samples are the first n_active positions
    perm, pos = np.arange(n), np.arange(n)
    y_p, C_p = y.copy(), C.copy()
    alpha, F = np.zeros(n), y.copy()  # F = -y G, and G = -1 at alpha = 0
    up, low = np.where(y > 0, 0.0, -np.inf), np.where(y < 0, 0.0, np.inf)
    upper_part = np.zeros(n)
    res = np.zeros(2)
    status = drive(kern, cache.arrays, y_p, C_p, float(tol), limit, bool(shrinking), alpha, F,
                   up, low, diag, upper_part, perm, pos, res)
    n_iter, gap = int(res[0]), float(res[1])
    converged = status == CONVERGED
    if not converged:
        warn_not_converged(max_iter, tol, gap, stacklevel=4)
    alpha_s = np.empty(n)
    alpha_s[perm] = alpha
    return SMOResult(
        alpha=alpha_s,
        intercept=float(intercept_at_positions(alpha, y_p, F, C_p)),
        n_iter=n_iter,
        violation=gap,
        converged=converged,
        cache_hits=int(cache.stats[1]),
        cache_misses=int(cache.stats[2]),
        layouts=int(cache.stats[3]),
    )
