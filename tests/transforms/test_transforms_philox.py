"""The counter-based noise stream: Philox4x32-10 known answers, exact integer math, Gaussianity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from ravine.transforms.philox import LANES, normal, philox4x32

M32 = 0xFFFFFFFF


def _philox_python(counter, key, rounds=10):
    """Philox4x32 in plain Python integers (Salmon et al. 2011, Random123's philox.h)."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for _ in range(rounds):
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c3 ^ k1) & M32, \
            p0 & M32
        k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
    return c0, c1, c2, c3


# Random123 kat_vectors, philox4x32 10 rounds: (counter, key, expected words)
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((M32, M32, M32, M32), (M32, M32), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


def _as_args(counter, key):
    c0, c1, c2, c3 = counter
    j = np.array([(c1 << 32) | c0], dtype=np.uint64)
    return j, (c3 << 32) | c2, (key[1] << 32) | key[0]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_known_answers(counter, key, expected):
    assert _philox_python(counter, key) == expected
    words = philox4x32(*_as_args(counter, key))
    assert tuple(int(w[0]) for w in words) == expected


def test_uint64_arithmetic_equals_python_integers_on_random_counters():
    rng = np.random.default_rng(0)
    for _ in range(20):
        counter = tuple(int(x) for x in rng.integers(0, 2**32, 4))
        key = tuple(int(x) for x in rng.integers(0, 2**32, 2))
        words = philox4x32(*_as_args(counter, key))
        assert tuple(int(w[0]) for w in words) == _philox_python(counter, key)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_elements_are_a_function_of_key_step_and_index(dtype):
    full = normal(1000, key=5, step=2, dtype=dtype)
    assert full.dtype == dtype
    assert torch.equal(normal(77, key=5, step=2, dtype=dtype), full[:77])  # no dependence on n
    assert not torch.equal(normal(1000, key=5, step=3, dtype=dtype), full)
    assert not torch.equal(normal(1000, key=6, step=2, dtype=dtype), full)
    # the documented layout: element i is word (i % per) // LANES of counter LANES*(i//per)+i%LANES
    per = LANES * (2 if dtype == torch.float64 else 4)
    i = 3 * per + 2 * LANES + 5 if dtype == torch.float32 else 3 * per + LANES + 5
    j = np.array([LANES * 3 + 5], dtype=np.uint64)
    x = [int(w[0]) for w in philox4x32(j, 2, 5)]
    if dtype == torch.float32:
        u = float(np.float32((x[2] >> 8) + 1) * np.float32(2.0**-24))
        a = float(np.float32(x[3] >> 8) * np.float32(2 * math.pi * 2.0**-24))
        expected = math.sqrt(-2 * math.log(u)) * math.cos(a)  # word 2: r2 cos a2
        assert abs(full[i].item() - expected) < 1e-5
    else:
        u = (((x[0] << 21) | (x[1] >> 11)) + 1) * 2.0**-53
        a = ((x[2] << 21) | (x[3] >> 11)) * 2.0**-53 * 2 * math.pi
        expected = math.sqrt(-2 * math.log(u)) * math.sin(a)  # word 1: r sin a
        assert abs(full[i].item() - expected) < 1e-13


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_stream_is_standard_normal(dtype):
    z = normal(400_000, key=123456789, step=7, dtype=dtype).double().numpy()
    assert abs(z.mean()) < 5 / math.sqrt(z.size)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / z.size)
    assert abs(stats.kurtosis(z)) < 0.05
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # neighbours (same counter, other word; next counter) are uncorrelated
    for lag in (1, LANES, 2 * LANES):
        r = np.corrcoef(z[:-lag], z[lag:])[0, 1]
        assert abs(r) < 5 / math.sqrt(z.size), lag


def test_streams_of_other_keys_and_steps_are_uncorrelated():
    a = normal(200_000, key=1, step=0).double()
    for other in (normal(200_000, key=2, step=0), normal(200_000, key=1, step=1)):
        r = torch.corrcoef(torch.stack([a, other.double()]))[0, 1].item()
        assert abs(r) < 5 / math.sqrt(a.numel())


def test_bad_arguments():
    with pytest.raises(ValueError, match="key"):
        philox4x32(np.array([0], dtype=np.uint64), 0, -1)
    with pytest.raises(TypeError, match="dtype"):
        normal(3, 0, 0, torch.int64)
    assert normal(5, 0, 0, torch.bfloat16).dtype == torch.bfloat16


def test_float32_box_muller_pieces_are_accurate_over_all_inputs():
    from ravine.transforms.philox import _cos_sin_f32, _radius_f32
    m = np.arange(1 << 24, dtype=np.uint64)
    r = _radius_f32(m).astype(np.float64)
    exact = np.sqrt(-2 * np.log((m.astype(np.float64) + 1) * 2.0**-24))
    ulp = np.spacing(np.maximum(exact, 1e-3).astype(np.float32)).astype(np.float64)
    assert (np.abs(r - exact) / ulp).max() < 1.8
    cos, sin = _cos_sin_f32(m)
    angle = 2 * np.pi * m.astype(np.float64) * 2.0**-24
    assert np.abs(cos - np.cos(angle)).max() < 1.03e-7
    assert np.abs(sin - np.sin(angle)).max() < 1.03e-7
