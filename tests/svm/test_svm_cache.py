"""The kernel column cache: values, LRU eviction, memory bound and shrinking epochs."""

import numpy as np
import pytest

from ravine.svm.cache import (
    KERNEL_CODES,
    ColumnCache,
    cache_capacity,
    get_column,
    kernel_entry,
)
from ravine.svm.kernels import Kernel

RBF = Kernel("rbf", gamma=0.3)


def _setup(n=50, d=4, cache_size=1.0, kernel=RBF):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    return X, np.einsum("ij,ij->i", X, X), kernel, ColumnCache(n, cache_size)


def _get(i, X, sq, kern, c, active, n_active):
    return get_column(
        i, c.data, c.slot_of, c.owner, c.last_used, c.valid_upto, c.stats,
        KERNEL_CODES[kern.name], X, sq, np.zeros((1, 1)), kern.gamma, kern.coef0, kern.degree,
        active, n_active, c.previous_active,
    )


@pytest.mark.parametrize("name", ["linear", "rbf", "poly", "sigmoid"])
def test_svm_cache_columns_match_kernel_blocks(name):
    kern = Kernel(name, gamma=0.3, degree=3, coef0=0.5)
    X, sq, kern, c = _setup(kernel=kern)
    K = kern(X, X)
    active = np.arange(50)
    for i in (3, 17, 3):
        np.testing.assert_allclose(c.data[_get(i, X, sq, kern, c, active, 50)], K[:, i],
                                   rtol=1e-12)
        code = KERNEL_CODES[name]
        e = kernel_entry(code, X, sq, np.zeros((1, 1)), kern.gamma, kern.coef0, kern.degree, i, 7)
        assert e == pytest.approx(K[7, i], rel=1e-12)
    assert c.stats[1:3].tolist() == [1, 2]  # hits, misses


def test_svm_cache_memory_bound_and_lru():
    assert cache_capacity(1.0, 50_000) == 2  # floor: SMO needs two columns
    assert cache_capacity(200.0, 20_000) == 200 * 2**20 // (8 * 20_000)
    with pytest.raises(ValueError, match="cache_size must be > 0"):
        cache_capacity(0.0, 10)
    X, sq, kern, c = _setup(n=4000, cache_size=0.1)  # 0.1 MB: 3 columns of 4,000 float64
    assert c.data.nbytes <= 0.1 * 2**20 and c.data.shape[0] == 3
    active = np.arange(4000)
    for i in (0, 1, 2, 0, 3):  # 3 evicts the least recently used column: 1
        _get(i, X, sq, kern, c, active, 4000)
    assert c.slot_of[1] == -1 and min(c.slot_of[[0, 2, 3]]) >= 0


def test_svm_cache_completes_columns_after_unshrink():
    X, sq, kern, c = _setup()
    K = kern(X, X)
    active = np.arange(50)
    active[[5, 49]] = active[[49, 5]]  # sample 5 shrunk first (last position), then 48
    slot = _get(10, X, sq, kern, c, active, 48)
    col = c.data[slot]
    assert np.allclose(col[active[:48]], K[active[:48], 10])
    c.new_epoch(active)  # shrunk samples come back
    slot = _get(10, X, sq, kern, c, np.arange(50), 50)
    np.testing.assert_allclose(c.data[slot], K[:, 10], rtol=1e-12)
    assert c.stats[2] == 1  # completed, not recomputed


def test_svm_vectorised_exp_matches_numpy():
    from ravine.svm.cache import exp_nonpositive

    z = np.concatenate([-np.logspace(-14, 2.8, 20_000), [0.0, 1e-13, 0.5, 1.0, -700.0]])
    out = z.copy()
    exp_nonpositive(out)
    np.testing.assert_allclose(out, np.exp(z), rtol=1e-15, atol=0)
    tail = np.array([-708.5, -1e4, -np.inf])
    exp_nonpositive(tail)
    assert tail.tolist() == [0.0, 0.0, 0.0]  # below exp(-708) ~ 3e-308: zero, never garbage
