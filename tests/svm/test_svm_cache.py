"""The kernel column cache: values, LRU eviction, memory bound, partial and moved columns."""

import numpy as np
import pytest

from ravine.svm.cache import (
    HISTORY,
    KERNEL_CODES,
    LENGTH,
    ColumnCache,
    cache_capacity,
    get_column,
    kernel_values,
    new_layout,
)
from ravine.svm.kernels import Kernel

RBF = Kernel("rbf", gamma=0.3)


def _setup(n=50, d=4, cache_size=1.0, kernel=RBF):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    kern = (KERNEL_CODES[kernel.name], X, np.einsum("ij,ij->i", X, X), np.zeros((1, 1)),
            kernel.gamma, kernel.coef0, kernel.degree)
    return X, kern, ColumnCache(n, cache_size)


def _get(c, kern, i, need, perm):
    pos = np.empty_like(perm)
    pos[perm] = np.arange(perm.size)
    return c.data[get_column(kern, c.arrays, i, need, perm, pos)]


@pytest.mark.parametrize("name", ["linear", "rbf", "poly", "sigmoid"])
def test_svm_cache_columns_match_kernel_blocks(name):
    kernel = Kernel(name, gamma=0.3, degree=3, coef0=0.5)
    X, kern, c = _setup(kernel=kernel)
    K = kernel(X, X)
    perm = np.arange(50)
    for i in (3, 17, 3):
        np.testing.assert_allclose(_get(c, kern, i, 50, perm), K[:, i], rtol=1e-12)
    assert c.stats[1:3].tolist() == [1, 2]  # hits, misses
    z = np.empty(5)
    kernel_values(kern, 7, np.array([0, 9, 7, 3, 49]), z)
    np.testing.assert_allclose(z, K[7, [0, 9, 7, 3, 49]], rtol=1e-12)


def test_svm_cache_memory_bound_and_lru():
    assert cache_capacity(1.0, 50_000) == 2  # floor: SMO needs two columns
    assert cache_capacity(200.0, 20_000) == 200 * 2**20 // (8 * 20_000)
    with pytest.raises(ValueError, match="cache_size must be > 0"):
        cache_capacity(0.0, 10)
    X, kern, c = _setup(n=4000, cache_size=0.1)  # 0.1 MB: 3 columns of 4,000 float64
    assert c.data.nbytes <= 0.1 * 2**20 and c.data.shape[0] == 3
    perm = np.arange(4000)
    for i in (0, 1, 2, 0, 3):  # 3 evicts the least recently used column: 1
        _get(c, kern, i, 4000, perm)
    assert c.slot_of[1] == -1 and min(c.slot_of[[0, 2, 3]]) >= 0


def test_svm_cache_partial_column_is_completed():
    X, kern, c = _setup()
    K = RBF(X, X)
    perm = np.random.default_rng(1).permutation(50)
    column = _get(c, kern, 10, 20, perm)  # only the 20 active positions are computed
    assert c.meta[c.slot_of[10], LENGTH] == 20
    np.testing.assert_allclose(column[:20], K[perm[:20], 10], rtol=1e-12)
    column = _get(c, kern, 10, 50, perm)  # every sample active again: the tail is added
    np.testing.assert_allclose(column, K[perm, 10], rtol=1e-12)
    assert c.stats[2] == 1  # completed, not recomputed


def test_svm_cache_moves_columns_to_a_new_layout():
    X, kern, c = _setup()
    K = RBF(X, X)
    perm = np.arange(50)
    _get(c, kern, 4, 40, perm)
    _get(c, kern, 9, 50, perm)
    rng = np.random.default_rng(2)
    perm = rng.permutation(50)  # a new layout: the columns are moved on their next use
    new_layout(c.arrays, perm)
    for i, need in ((4, 45), (9, 30)):
        np.testing.assert_allclose(_get(c, kern, i, need, perm)[:need], K[perm[:need], i],
                                   rtol=1e-12)
    assert c.stats[2] == 2  # no recomputation from scratch
    for _ in range(HISTORY):  # a layout older than the history: recomputed, still right
        new_layout(c.arrays, perm)
    np.testing.assert_allclose(_get(c, kern, 4, 50, perm), K[perm, 4], rtol=1e-12)


def test_svm_vectorised_exp_matches_numpy():
    from ravine.svm.cache import exp_nonpositive

    z = np.concatenate([-np.logspace(-14, 2.8, 20_000), [0.0, 1e-13, 0.5, 1.0, -700.0]])
    out = z.copy()
    exp_nonpositive(out)
    np.testing.assert_allclose(out, np.exp(z), rtol=1e-15, atol=0)
    tail = np.array([-708.5, -1e4, -np.inf])
    exp_nonpositive(tail)
    assert tail.tolist() == [0.0, 0.0, 0.0]  # below exp(-708) ~ 3e-308: zero, never garbage
