"""Counter-based Gaussian noise: Philox4x32-10 and Box-Muller, written with exact integer math.

The noise of element ``i`` of a tensor at step ``t`` is a pure function of ``(key, t, i)``, so any
element can be produced on its own, in any order, by any thread: the fused C kernels of
:mod:`ravine.optim.fast` generate it inside the update loop with the same definition, and a run
resumed from a ``state_dict`` draws exactly the noise of an uninterrupted one.

The stream:

- ``philox4x32(j, t, key)`` is Philox4x32-10 (Salmon et al. 2011) with counter
  ``(j mod 2^32, j div 2^32, t mod 2^32, t div 2^32)`` and key ``(key mod 2^32, key div 2^32)``;
  it returns four 32-bit words ``x0..x3``.
- float32 (and half types, drawn in float32): counter ``j`` gives four normals by Box-Muller,
  ``r1 = sqrt(-2 log u1)``, ``(r1 cos a1, r1 sin a1, r2 cos a2, r2 sin a2)`` with
  ``u = ((x0 >> 8) + 1) 2^-24`` in ``(0, 1]`` and ``a = (x1 >> 8) 2^-24 2 pi`` (``u2, a2`` from
  ``x2, x3``). Element ``i`` takes word ``(i mod 64) div 16`` of counter
  ``16 (i div 64) + i mod 16`` (blocks of 16 counters, so the C kernels vectorize over them).
  ``log``, ``cos`` and ``sin`` are defined by a fixed sequence of float32 operations
  (:func:`_radius_f32`, :func:`_cos_sin_f32`: exact reduction of the integer angle to an
  octant, then short polynomials), which the C kernels repeat operation for operation: float32
  noise is bit for bit the same in both. Their errors, checked over all 2^24 inputs: ``r``
  within 1.8 ulp, ``cos``/``sin`` within 1.03e-7.
- float64: counter ``j`` gives two normals ``(r cos a, r sin a)`` from 53-bit uniforms
  ``u = (((x0 << 21) | (x1 >> 11)) + 1) 2^-53`` and ``a = ((x2 << 21) | (x3 >> 11)) 2^-53 2 pi``;
  element ``i`` takes word ``(i mod 32) div 16`` of counter ``16 (i div 32) + i mod 16``.

The tails are cut where the uniforms end: ``|z| <= sqrt(-2 log 2^-24) = 5.77`` in float32 (as
for any 24-bit Box-Muller) and ``8.57`` in float64.

The words are computed with NumPy's unsigned 64-bit integers holding 32-bit words, so every
product is exact (below ``2^64``) and the words are bit for bit those of the C code. The float64
stream's ``log``, ``cos`` and ``sin`` are NumPy's, within a few ulps of the C library's.

Example:
    >>> words = philox4x32(np.array([0], dtype=np.uint64), 0, 0)
    >>> [f"{int(w[0]):08x}" for w in words]   # the Random123 known-answer test
    ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']
    >>> z = normal(100_000, key=7, step=3, dtype=torch.float32)
    >>> abs(z.mean().item()) < 0.02, round(z.std().item(), 2)
    (True, 1.0)

References:
    Salmon, Moraes, Dror, Shaw, "Parallel Random Numbers: As Easy as 1, 2, 3", SC 2011.
    Box, Muller, "A Note on the Generation of Random Normal Deviates", 1958.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["LANES", "normal", "philox4x32"]

LANES = 16  # counters per block: element i's counter is LANES * (i // per_block) + i % LANES
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_MUL = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))  # Philox4x32 multipliers
_WEYL = (0x9E3779B9, 0xBB67AE85)  # key increments per round
_ROUNDS = 10
_CHUNK = 1 << 16  # counters per slice: bounds the temporaries of a large tensor


def philox4x32(j: np.ndarray, t: int, key: int) -> tuple[np.ndarray, ...]:
    """The four output words of Philox4x32-10 for counters ``(j, t)`` under ``key``.

    Args:
        j: uint64 array of counter indices (low word ``c0``, high word ``c1``).
        t: the step (``0 <= t < 2^64``): counter words ``c2`` (low) and ``c3`` (high).
        key: the 64-bit key (``0 <= key < 2^64``).

    Returns:
        four uint64 arrays shaped like ``j``, each holding 32-bit words.
    """
    if not 0 <= t < 2**64 or not 0 <= key < 2**64:
        raise ValueError(f"t and key must be in [0, 2^64), got t={t}, key={key}")
    j = np.asarray(j, dtype=np.uint64)
    c0, c1 = j & _M32, j >> _S32
    c2 = np.full_like(j, t & 0xFFFFFFFF)
    c3 = np.full_like(j, t >> 32)
    k0, k1 = key & 0xFFFFFFFF, key >> 32
    for _ in range(_ROUNDS):
        p0 = c0 * _MUL[0]  # 32 x 32 bits: exact in 64
        p1 = c2 * _MUL[1]
        hi1 = p1 >> _S32
        hi1 ^= c1
        hi1 ^= np.uint64(k0)
        hi0 = p0 >> _S32
        hi0 ^= c3
        hi0 ^= np.uint64(k1)
        p0 &= _M32
        p1 &= _M32
        c0, c1, c2, c3 = hi1, p1, hi0, p0
        k0, k1 = (k0 + _WEYL[0]) & 0xFFFFFFFF, (k1 + _WEYL[1]) & 0xFFFFFFFF
    return c0, c1, c2, c3


_F = np.float32
# minimax-fitted coefficients (float32): sin(p) = p S(p^2), cos(p) = C(p^2) on |p| <= pi/4,
# log(f) = s L(s^2) with s = (f - 1) / (f + 1) on sqrt(1/2) <= f < sqrt(2)
_SIN = tuple(map(_F, (1.0, -0.16666650772094727, 0.008332015946507454, -0.00019501759379636496)))
_COS = tuple(map(_F, (1.0, -0.5, 0.04166661202907562, -0.0013886528322473168,
                      2.4372626285185106e-05)))
_LOG = tuple(map(_F, (2.0, 0.666668176651001, 0.39974841475486755, 0.299246221780777)))
_LN2_HI, _LN2_LO = _F(0.693145751953125), _F(1.428606765330187e-06)  # hi has 16 bits: k*hi exact
_SQRT2 = _F(1.4142135)
_ANGLE = _F(2 * math.pi * 2.0**-24)  # one unit of the 24-bit angle, rounded to float32


def _radius_f32(m: np.ndarray) -> np.ndarray:
    """``sqrt(-2 log u)`` for ``u = (m + 1) 2^-24`` (24-bit ``m``), in float32 operations.

    ``m + 1 = f 2^e`` exactly (``f`` in ``[sqrt(1/2), sqrt(2))``), so
    ``-log u = (24 - e) log 2 - log f``: no rounding before the polynomial.
    """
    v = (m.astype(np.int64) + 1).astype(np.float32)  # exact: at most 2^24
    bits = v.view(np.uint32)
    e = (bits >> np.uint32(23)).astype(np.int32) - 127
    f = ((bits & np.uint32(0x7FFFFF)) | np.uint32(0x3F800000)).view(np.float32)
    big = f > _SQRT2
    f = np.where(big, f * _F(0.5), f)
    e = e + big
    s = (f - _F(1.0)) / (f + _F(1.0))
    z = s * s
    log_f = s * (_LOG[0] + z * (_LOG[1] + z * (_LOG[2] + z * _LOG[3])))
    k = (24 - e).astype(np.float32)
    w = k * _LN2_HI + (k * _LN2_LO - log_f)
    return np.sqrt(w * _F(2.0))


def _cos_sin_f32(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``cos a, sin a`` for ``a = 2 pi m 2^-24`` (24-bit ``m``), in float32 operations.

    The integer angle is split exactly into a quadrant ``q`` and a remainder ``d`` with
    ``|d| <= 2^21`` (an eighth of a turn), whose sine and cosine are polynomials.
    """
    m = m.astype(np.int64)
    q = (m + (1 << 21)) >> 22
    d = m - (q << 22)
    p = d.astype(np.float32) * _ANGLE
    x = p * p
    sn = p * (_SIN[0] + x * (_SIN[1] + x * (_SIN[2] + x * _SIN[3])))
    cn = _COS[0] + x * (_COS[1] + x * (_COS[2] + x * (_COS[3] + x * _COS[4])))
    # quadrant q: (cos, sin) = (cn, sn), (-sn, cn), (-cn, -sn), (sn, -cn): a swap on odd q, then
    # sign flips (bit for bit a negation)
    swap = (q & 1).astype(bool)
    cos = np.where(swap, sn, cn).view(np.uint32)
    sin = np.where(swap, cn, sn).view(np.uint32)
    cos ^= (((q + 1) >> 1) & 1).astype(np.uint32) << np.uint32(31)
    sin ^= ((q >> 1) & 1).astype(np.uint32) << np.uint32(31)
    return cos.view(np.float32), sin.view(np.float32)


def _box_muller_f32(x_u: np.ndarray, x_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = _radius_f32(x_u >> np.uint64(8))
    cos, sin = _cos_sin_f32(x_a >> np.uint64(8))
    return r * cos, r * sin


def _box_muller_f64(x0, x1, x2, x3) -> tuple[np.ndarray, np.ndarray]:
    s21, s11 = np.uint64(21), np.uint64(11)
    u = (((x0 << s21) | (x1 >> s11)) + np.uint64(1)).astype(np.float64) * 2.0**-53
    a = ((x2 << s21) | (x3 >> s11)).astype(np.float64) * (2 * math.pi * 2.0**-53)
    r = np.sqrt(np.log(u) * -2.0)
    return r * np.cos(a), r * np.sin(a)


def _block_normals(start: int, stop: int, t: int, key: int, wide: bool) -> np.ndarray:
    """The normals of blocks ``start .. stop - 1``, in element order."""
    blocks = np.arange(start, stop, dtype=np.uint64)
    j = blocks[:, None] * np.uint64(LANES) + np.arange(LANES, dtype=np.uint64)
    x = philox4x32(j, t, key)
    if wide:
        parts = _box_muller_f64(*x)
    else:
        parts = (*_box_muller_f32(x[0], x[1]), *_box_muller_f32(x[2], x[3]))
    return np.stack(parts, axis=1).reshape(-1)


def normal(numel: int, key: int, step: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The ``numel`` standard normals of the stream ``(key, step)``, as a flat tensor.

    Args:
        numel: how many (elements ``0 .. numel - 1``).
        key: the tensor's 64-bit noise key.
        step: the step ``t`` (0-based).
        dtype: float64 uses the 53-bit stream; every other floating dtype the float32 one,
            cast to ``dtype``.

    Returns:
        a CPU tensor of ``numel`` values of ``dtype``.
    """
    if not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    wide = dtype == torch.float64
    per_block = LANES * (2 if wide else 4)
    n_blocks = -(-numel // per_block)
    out = np.empty(n_blocks * per_block, dtype=np.float64 if wide else np.float32)
    step_blocks = _CHUNK // LANES
    for start in range(0, n_blocks, step_blocks):
        stop = min(n_blocks, start + step_blocks)
        out[start * per_block:stop * per_block] = _block_normals(start, stop, step, key, wide)
    return torch.from_numpy(out[:numel]).to(dtype)
