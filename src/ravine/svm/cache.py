"""Kernel columns and a least-recently-used column cache with a memory bound, compiled by numba.

SMO spends most of its time on kernel columns ``K[:, i]``; libsvm keeps the recently used ones in
an LRU cache of ``cache_size`` megabytes (Chang & Lin, 2011, section 5.1). As in libsvm, the
solver keeps its samples in *positions*: the active (unshrunk) samples are the first
``n_active`` positions, so that every pass of SMO reads contiguous memory, and a column holds
``k(x_i, x_{perm[p]})`` at position ``p``. A column stores the entries of its leading
``length`` positions, filled on demand (a column is first needed on the active positions only).

When shrinking moves samples to the tail, the layout gets a new version. Instead of swapping
entries in every cached column at once (libsvm's ``Cache::swap_index``), a column computed under
an older layout is moved to the new positions the next time it is used (one pass, entries the
old layout lacked are computed); the last ``HISTORY`` layouts are remembered for that.

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
OWNER, LAST_USED, LENGTH, VERSION = 0, 1, 2, 3  # columns of ColumnCache.meta
HISTORY = 8  # layouts remembered for moving old columns to new positions


def cache_capacity(cache_size: float, n: int, itemsize: int = 8) -> int:
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
    return int(min(n, max(2, int(cache_size * 2**20) // (itemsize * n))))


class ColumnCache:
    """The cache's arrays (``arrays`` is the tuple the compiled code takes).

    ``data``: the columns; ``meta[slot]``: owner sample, LRU time, valid length, layout
    version; ``slot_of[s]``: slot of sample ``s`` or -1; ``layouts[v % HISTORY]``: the
    position-to-sample map of layout version ``v`` (``layout_version`` says which ``v``);
    ``stats``: clock, hits, misses, current layout version.

    Args:
        n: number of samples (length of a column).
        cache_size: memory bound of ``data`` in megabytes.

    Examples:
        >>> import numpy as np
        >>> X = np.arange(6.0).reshape(3, 2)
        >>> c = ColumnCache(3, cache_size=1.0)
        >>> kern = (LINEAR, X, np.zeros(3), np.zeros((1, 1)), 1.0, 0.0, 3)
        >>> perm = np.arange(3)
        >>> slot = get_column(kern, c.arrays, 2, 3, perm, perm)
        >>> c.data[slot]
        array([ 5., 23., 41.])
        >>> c.stats  # clock, hits, misses, layout version
        array([1, 0, 1, 0])
    """

    def __init__(self, n: int, cache_size: float):
        capacity = cache_capacity(cache_size, n)
        self.data = np.empty((capacity, n))
        self.meta = np.zeros((capacity, 4), dtype=np.int64)
        self.meta[:, OWNER] = -1
        self.slot_of = np.full(n, -1, dtype=np.int64)
        self.layouts = np.empty((HISTORY, n), dtype=np.int64)
        self.layouts[0] = np.arange(n)
        self.layout_version = np.full(HISTORY, -1, dtype=np.int64)
        self.layout_version[0] = 0
        self.stats = np.zeros(4, dtype=np.int64)
        self.buffer = np.empty(n)
        self.mark = np.zeros(n, dtype=np.int64)
        self.arrays = (self.data, self.meta, self.slot_of, self.layouts, self.layout_version,
                       self.stats, self.buffer, self.mark)


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
def kernel_values(kern, i, samples, z):
    """Write ``k(x_i, x_s)`` into ``z[k]`` for each sample ``s = samples[k]``.

    ``kern = (code, X, sq, Kpre, gamma, coef0, degree)``, ``sq`` the squared row norms.
    """
    code, X, sq, Kpre, gamma, coef0, degree = kern
    m, d = samples.shape[0], X.shape[1]
    if code == PRECOMPUTED:
        for k in range(m):
            z[k] = Kpre[i, samples[k]]
        return
    for k in range(m):
        t = samples[k]
        dot = 0.0
        for f in range(d):
            dot += X[i, f] * X[t, f]
        z[k] = dot
    if code == RBF:
        for k in range(m):
            z[k] = -gamma * max(sq[i] + sq[samples[k]] - 2.0 * z[k], 0.0)
        exp_nonpositive(z[:m])
    elif code == POLY:
        for k in range(m):
            z[k] = (gamma * z[k] + coef0) ** degree
    elif code == SIGMOID:
        for k in range(m):
            z[k] = np.tanh(gamma * z[k] + coef0)


@njit(cache=True, nogil=True)
def new_layout(cache, perm):
    """Record ``perm`` (position -> sample) as the next layout version; return the version."""
    layouts, layout_version, stats = cache[3], cache[4], cache[5]
    stats[3] += 1
    h = stats[3] % layouts.shape[0]
    layouts[h, :] = perm
    layout_version[h] = stats[3]
    return stats[3]


@njit(cache=True, nogil=True)
def get_column(kern, cache, i, need, perm, pos):
    """Slot of ``cache`` holding sample ``i``'s column, valid at positions ``[0, need)``.

    ``perm``/``pos``: the current position -> sample map and its inverse. A miss evicts the
    least recently used slot (never the one returned just before: it is the most recent); a
    column of the current layout that is too short is completed, one of an older layout is
    moved to the current positions first.
    """
    data, meta, slot_of, layouts, layout_version, stats, buffer, mark = cache
    stats[0] += 1
    version = stats[3]
    slot = slot_of[i]
    start = 0
    if slot < 0:
        stats[2] += 1
        slot = 0
        for s in range(1, meta.shape[0]):
            if meta[s, LAST_USED] < meta[slot, LAST_USED]:
                slot = s
        if meta[slot, OWNER] >= 0:
            slot_of[meta[slot, OWNER]] = -1
        meta[slot, OWNER] = i
        meta[slot, LENGTH] = 0
        slot_of[i] = slot
    else:
        stats[1] += 1
        old = meta[slot, VERSION]
        if old == version:
            start = meta[slot, LENGTH]
        elif layout_version[old % layouts.shape[0]] == old:
            _move_column(kern, i, data[slot], layouts[old % layouts.shape[0]],
                         meta[slot, LENGTH], need, perm, pos, buffer, mark, stats[0])
            meta[slot, LENGTH] = start = need
    meta[slot, LAST_USED] = stats[0]
    meta[slot, VERSION] = version
    column = data[slot]
    if start < need:
        z = buffer[: need - start]
        kernel_values(kern, i, perm[start:need], z)
        column[start:need] = z
        meta[slot, LENGTH] = need
    return slot


@njit(cache=True, nogil=True)
def _move_column(kern, i, column, old_perm, length, need, perm, pos, buffer, mark, stamp):
    """Move a column from an older layout to positions ``[0, need)`` of the current one."""
    for p in range(length):
        q = pos[old_perm[p]]
        if q < need:
            buffer[q] = column[p]
            mark[q] = stamp
    missing = np.empty(need, dtype=np.int64)
    m = 0
    for q in range(need):
        if mark[q] == stamp:
            column[q] = buffer[q]
        else:
            missing[m] = q
            m += 1
    if m > 0:
        samples = np.empty(m, dtype=np.int64)
        for k in range(m):
            samples[k] = perm[missing[k]]
        z = np.empty(m)
        kernel_values(kern, i, samples, z)
        for k in range(m):
            column[missing[k]] = z[k]
