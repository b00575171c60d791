"""Kernel columns and a least-recently-used column cache with a memory bound, compiled by numba.

SMO spends most of its time computing kernel columns ``K[:, i]``; libsvm keeps the recently used
ones in an LRU cache of ``cache_size`` megabytes (Chang & Lin, 2011, section 5.1). Here the cache
is a block of ``capacity`` full-length float64 columns. A column is filled only at the samples of
the active set (the solver's shrinking never needs the others); when shrunk samples come back, a
cached column is completed on them the next time it is used.

The kernels are libsvm's: linear ``x.z``, rbf ``exp(-gamma ||x - z||^2)``, poly
``(gamma x.z + coef0)^degree``, sigmoid ``tanh(gamma x.z + coef0)``, or a precomputed matrix.

References:
    Chang, C.-C. and Lin, C.-J. (2011). LIBSVM: a library for support vector machines.
    ACM Transactions on Intelligent Systems and Technology 2(3).
"""

from __future__ import annotations

import numpy as np
from numba import njit

LINEAR, RBF, POLY, SIGMOID, PRECOMPUTED = 0, 1, 2, 3, 4
KERNEL_CODES = {"linear": LINEAR, "rbf": RBF, "poly": POLY, "sigmoid": SIGMOID}


def cache_capacity(cache_size: float, n: int) -> int:
    """Number of kernel columns of length ``n`` that fit in ``cache_size`` MB (at least 2).

    SMO needs two columns at once, so two is the floor even for a tiny ``cache_size``.

    Examples:
        >>> cache_capacity(200.0, 20_000)
        1310
        >>> cache_capacity(0.001, 1000)
        2
    """
    if not np.isfinite(cache_size) or cache_size <= 0:
        raise ValueError(f"cache_size must be > 0 (megabytes), got {cache_size}.")
    return int(min(n, max(2, int(cache_size * 2**20) // (8 * n))))


class ColumnCache:
    """The cache's arrays: column data, owner of each slot, slot of each sample, LRU clock.

    Args:
        n: number of samples (length of a column).
        cache_size: memory bound in megabytes.

    Examples:
        >>> import numpy as np
        >>> X = np.arange(6.0).reshape(3, 2)
        >>> c = ColumnCache(3, cache_size=1.0)
        >>> active, dummy = np.arange(3), np.zeros((1, 1))
        >>> slot = get_column(2, c.data, c.slot_of, c.owner, c.last_used, c.valid_upto, c.stats,
        ...                   LINEAR, X, np.zeros(3), dummy, 1.0, 0.0, 3, active, 3, active)
        >>> c.data[slot]
        array([ 5., 23., 41.])
        >>> c.stats  # clock, hits, misses, epoch
        array([1, 0, 1, 0])
    """

    def __init__(self, n: int, cache_size: float):
        capacity = cache_capacity(cache_size, n)
        self.data = np.empty((capacity, n))
        self.slot_of = np.full(n, -1, dtype=np.int64)
        self.owner = np.full(capacity, -1, dtype=np.int64)
        self.last_used = np.zeros(capacity, dtype=np.int64)
        self.valid_upto = np.zeros((capacity, 2), dtype=np.int64)  # (epoch, n_active)
        self.stats = np.zeros(4, dtype=np.int64)  # clock, hits, misses, epoch
        self.previous_active = np.arange(n)

    def new_epoch(self, active: np.ndarray) -> None:
        """Shrunk samples become active again; ``active`` is the order they were shrunk in."""
        self.previous_active = active.copy()
        self.stats[3] += 1


# exp by Cody-Waite range reduction x = k ln2 + r, |r| <= ln2 / 2, a degree-13 Taylor polynomial
# for e^r (truncation < 1e-17 relative) and 2^k built in the exponent bits; written so that LLVM
# vectorises it (numba's np.exp is a scalar libm call, the main cost of an rbf column).
_LN2_HI, _LN2_LO, _LOG2E = 0.6931471803691238, 1.9082149292705877e-10, 1.4426950408889634
_C0 = 1.0
_C1 = 1.0
_C2 = 0.5
_C3 = 0.16666666666666666
_C4 = 0.041666666666666664
_C5 = 0.008333333333333333
_C6 = 0.001388888888888889
_C7 = 0.0001984126984126984
_C8 = 2.48015873015873e-05
_C9 = 2.7557319223985893e-06
_C10 = 2.755731922398589e-07
_C11 = 2.505210838544172e-08
_C12 = 2.08767569878681e-09
_C13 = 1.6059043836821613e-10


@njit(cache=True, nogil=True)
def exp_nonpositive(z):
    """``exp(z)`` in place for an array of arguments in ``[-inf, 1]`` (rbf kernels: ``z <= 0``).

    Arguments under -708 give 0 (``exp(-708) ~ 3e-308``). Relative error ~1e-15.
    """
    n = z.shape[0]
    scale = np.empty(n, dtype=np.int64)
    for t in range(n):
        x = max(z[t], -708.0)
        k = np.floor(x * _LOG2E + 0.5)
        r = (x - k * _LN2_HI) - k * _LN2_LO
        p = _C13 * r + _C12
        p = ((((p * r + _C11) * r + _C10) * r + _C9) * r + _C8) * r + _C7
        p = ((((((p * r + _C6) * r + _C5) * r + _C4) * r + _C3) * r + _C2) * r + _C1) * r + _C0
        z[t] = p if z[t] > -708.0 else 0.0
        scale[t] = (np.int64(k) + 1023) << 52
    powers = scale.view(np.float64)
    for t in range(n):
        z[t] *= powers[t]


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def fill_column(code, X, sq, Kpre, gamma, coef0, degree, i, active, n_active, out):
    """Write ``k(x_i, x_t)`` into ``out[t]`` for the first ``n_active`` samples of ``active``."""
    d = X.shape[1]
    if code == PRECOMPUTED:
        for k in range(n_active):
            t = active[k]
            out[t] = Kpre[i, t]
        return
    if code == RBF:
        z = np.empty(n_active)
        for k in range(n_active):
            t = active[k]
            dot = 0.0
            for f in range(d):
                dot += X[i, f] * X[t, f]
            z[k] = -gamma * (sq[i] + sq[t] - 2.0 * dot)
        exp_nonpositive(z)
        for k in range(n_active):
            out[active[k]] = z[k]
        return
    for k in range(n_active):
        t = active[k]
        dot = 0.0
        for f in range(d):
            dot += X[i, f] * X[t, f]
        if code == LINEAR:
            out[t] = dot
        elif code == POLY:
            out[t] = (gamma * dot + coef0) ** degree
        else:
            out[t] = np.tanh(gamma * dot + coef0)


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def kernel_entry(code, X, sq, Kpre, gamma, coef0, degree, i, t):
    """``k(x_i, x_t)``."""
    if code == PRECOMPUTED:
        return Kpre[i, t]
    dot = 0.0
    for f in range(X.shape[1]):
        dot += X[i, f] * X[t, f]
    if code == LINEAR:
        return dot
    if code == RBF:
        return np.exp(-gamma * (sq[i] + sq[t] - 2.0 * dot))
    if code == POLY:
        return (gamma * dot + coef0) ** degree
    return np.tanh(gamma * dot + coef0)


@njit(cache=True, nogil=True)
def get_column(
    i, data, slot_of, owner, last_used, valid_upto, stats, code, X, sq, Kpre, gamma, coef0,
    degree, active, n_active, previous_active,
):
    """Slot of ``data`` holding column ``i`` (valid on the active set), computing it on a miss.

    A miss evicts the least recently used slot; the slot just returned is the most recent, so
    two consecutive calls never evict each other's column. ``valid_upto[slot] = (epoch, m)``:
    the column was filled for ``active[:m]`` during shrinking epoch ``epoch`` (``stats[3]``).
    Within an epoch the active set only shrinks, so such a column stays valid; a column from
    the epoch just before is completed on the samples it lacked, ``previous_active[m:]``
    (libsvm likewise fills only the missing tail of a cached column).
    """
    stats[0] += 1
    epoch = stats[3]
    slot = slot_of[i]
    if slot >= 0:
        stats[1] += 1
        last_used[slot] = stats[0]
        if valid_upto[slot, 0] == epoch:
            return slot
        if valid_upto[slot, 0] == epoch - 1:
            m = valid_upto[slot, 1]
            fill_column(code, X, sq, Kpre, gamma, coef0, degree, i, previous_active[m:],
                        previous_active.shape[0] - m, data[slot])
            valid_upto[slot, 0], valid_upto[slot, 1] = epoch, active.shape[0]
            return slot
    else:
        stats[2] += 1
        slot = 0
        oldest = last_used[0]
        for s in range(1, last_used.shape[0]):
            if last_used[s] < oldest:
                oldest = last_used[s]
                slot = s
        if owner[slot] >= 0:
            slot_of[owner[slot]] = -1
        owner[slot] = i
        slot_of[i] = slot
        last_used[slot] = stats[0]
    fill_column(code, X, sq, Kpre, gamma, coef0, degree, i, active, n_active, data[slot])
    valid_upto[slot, 0], valid_upto[slot, 1] = epoch, n_active
    return slot
