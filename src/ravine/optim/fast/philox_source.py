"""C source of the counter-based Gaussian noise the gradient-noise kernels generate in place.

The same stream as :mod:`ravine.transforms.philox` (Philox4x32-10, then Box-Muller; see there for
the definition): ``noise_blocks`` fills whole blocks of 64 (float32) or 32 (float64) elements,
each a loop over :data:`~ravine.transforms.philox.LANES` counters that the compiler vectorizes.
The words are bit for bit the reference's. The float32 Box-Muller repeats the reference's float32
operations one for one (``-ffp-contract=off``: no fused multiply-adds), so float32 noise is bit
for bit the reference's; the float64 one calls the C library's ``log``, ``cos`` and ``sin``
(glibc's vector versions where available), within a few ulps of NumPy's.

The counters are kept in 64-bit variables holding 32-bit words, so each product is one widening
multiply per lane (AVX2 ``vpmuludq``); this measured twice as fast as 32-bit lanes here.
"""

from __future__ import annotations

from ...transforms.philox import LANES

__all__ = ["NOISE_C"]

NOISE_C = r"""
#if defined(__x86_64__) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 22))
/* glibc's libmvec has vector versions of these (linked through libm) */
#pragma omp declare simd notinbranch
extern double log(double);
#pragma omp declare simd notinbranch
extern double cos(double);
#pragma omp declare simd notinbranch
extern double sin(double);
#endif

#define PHILOX_LANES @LANES@
#define M32 0xFFFFFFFFull
#define PHILOX_ROUND { \
    const uint64_t p0 = 0xD2511F53ull * c0, p1 = 0xCD9E8D57ull * c2; \
    const uint64_t n0 = (p1 >> 32) ^ c1 ^ k0, n2 = (p0 >> 32) ^ c3 ^ k1; \
    c1 = p1 & M32; c3 = p0 & M32; c0 = n0; c2 = n2; \
    k0 = (k0 + 0x9E3779B9ull) & M32; k1 = (k1 + 0xBB67AE85ull) & M32; }
#define PHILOX_10 { PHILOX_ROUND PHILOX_ROUND PHILOX_ROUND PHILOX_ROUND PHILOX_ROUND \
                    PHILOX_ROUND PHILOX_ROUND PHILOX_ROUND PHILOX_ROUND PHILOX_ROUND }
/* the words c0..c3 of counter j (step t, key) after ten rounds, as 64-bit variables */
#define PHILOX_WORDS(j) \
    uint64_t c0 = (j) & M32, c1 = (j) >> 32, c2 = t & M32, c3 = t >> 32; \
    uint64_t k0 = key & M32, k1 = key >> 32; \
    PHILOX_10

/* ravine.transforms.philox._radius_f32: sqrt(-2 log((m + 1) 2^-24)), operation for operation */
static inline float radius_f32(int32_t m) {
    const float v = (float)(m + 1);
    union { float f; uint32_t u; } bits = { v }, mant;
    int32_t e = (int32_t)(bits.u >> 23) - 127;
    mant.u = (bits.u & 0x7FFFFFu) | 0x3F800000u;
    float f = mant.f;
    const int big = f > 0x1.6a09e6p+0f;
    f = big ? f * 0.5f : f;
    e += big;
    const float s = (f - 1.0f) / (f + 1.0f), z = s * s;
    const float log_f = s * (0x1p+1f + z * (0x1.555588p-1f + z * (0x1.9957a6p-2f
                                                                 + z * 0x1.326d9ap-2f)));
    const float k = (float)(24 - e);
    const float w = k * 0x1.62e4p-1f + (k * 0x1.7f7d1cp-20f - log_f);
    return sqrtf(w * 2.0f);
}

/* ravine.transforms.philox._cos_sin_f32: cos and sin of 2 pi m 2^-24, operation for operation */
static inline void cos_sin_f32(int32_t m, float *c, float *s) {
    const int32_t q = (m + (1 << 21)) >> 22, d = m - (q << 22);
    const float p = (float)d * 0x1.921fb6p-22f, x = p * p;
    const float sn = p * (1.0f + x * (-0x1.55554p-3f + x * (0x1.110604p-7f
                                                            + x * -0x1.98fb46p-13f)));
    const float cn = 1.0f + x * (-0.5f + x * (0x1.555538p-5f + x * (-0x1.6c06eap-10f
                                                                   + x * 0x1.98e7a2p-16f)));
    /* quadrant q: (cos, sin) = (cn, sn), (-sn, cn), (-cn, -sn), (sn, -cn); the negations as
       sign-bit flips (the same bits as a negation) */
    const int swap = q & 1;
    union { float f; uint32_t u; } cv = { swap ? sn : cn }, sv = { swap ? cn : sn };
    cv.u ^= (uint32_t)(((q + 1) >> 1) & 1) << 31;
    sv.u ^= (uint32_t)((q >> 1) & 1) << 31;
    *c = cv.f; *s = sv.f;
}

/* normals of blocks first .. first + count - 1 of stream (key, t) into out, in element order */
static void noise_blocks_f32(float *restrict out, uint64_t first, int64_t count, uint64_t key,
                             uint64_t t) {
    for (int64_t b = 0; b < count; ++b) {
        float *restrict o0 = out + b * 4 * PHILOX_LANES, *restrict o1 = o0 + PHILOX_LANES;
        float *restrict o2 = o1 + PHILOX_LANES, *restrict o3 = o2 + PHILOX_LANES;
        const uint64_t j0 = (first + (uint64_t)b) * PHILOX_LANES;
        #pragma omp simd
        for (int l = 0; l < PHILOX_LANES; ++l) {
            PHILOX_WORDS(j0 + (uint64_t)l)
            const float r1 = radius_f32((int32_t)(c0 >> 8)), r2 = radius_f32((int32_t)(c2 >> 8));
            float cos1, sin1, cos2, sin2;
            cos_sin_f32((int32_t)(c1 >> 8), &cos1, &sin1);
            cos_sin_f32((int32_t)(c3 >> 8), &cos2, &sin2);
            o0[l] = r1 * cos1; o1[l] = r1 * sin1;
            o2[l] = r2 * cos2; o3[l] = r2 * sin2;
        }
    }
}

static void noise_blocks_f64(double *restrict out, uint64_t first, int64_t count, uint64_t key,
                             uint64_t t) {
    const double two_pi_53 = 6.283185307179586 * 0x1p-53;
    for (int64_t b = 0; b < count; ++b) {
        double *restrict o0 = out + b * 2 * PHILOX_LANES, *restrict o1 = o0 + PHILOX_LANES;
        const uint64_t j0 = (first + (uint64_t)b) * PHILOX_LANES;
        #pragma omp simd
        for (int l = 0; l < PHILOX_LANES; ++l) {
            PHILOX_WORDS(j0 + (uint64_t)l)
            const double u = (double)(int64_t)(((c0 << 21) | (c1 >> 11)) + 1) * 0x1p-53;
            const double a = (double)(int64_t)((c2 << 21) | (c3 >> 11)) * two_pi_53;
            const double r = sqrt(log(u) * -2.0);
            o0[l] = r * cos(a); o1[l] = r * sin(a);
        }
    }
}
""".replace("@LANES@", str(LANES))
