"""C source of the counter-based Gaussian noise the gradient-noise kernels generate in place.

The same stream as :mod:`ravine.transforms.philox` (Philox4x32-10, then Box-Muller; see there for
the definition): ``noise_blocks`` fills whole blocks of 64 (float32) or 32 (float64) elements,
each a loop over :data:`~ravine.transforms.philox.LANES` counters that the compiler vectorizes.
The words are bit for bit the reference's; ``log``, ``cos`` and ``sin`` are the C library's
(glibc's vector versions where available), which differ from torch's by a few ulps.

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
extern float logf(float);
#pragma omp declare simd notinbranch
extern float cosf(float);
#pragma omp declare simd notinbranch
extern float sinf(float);
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

/* normals of blocks first .. first + count - 1 of stream (key, t) into out, in element order */
static void noise_blocks_f32(float *restrict out, uint64_t first, int64_t count, uint64_t key,
                             uint64_t t) {
    const float two_pi_24 = (float)(6.283185307179586 * 0x1p-24);
    for (int64_t b = 0; b < count; ++b) {
        float *restrict o0 = out + b * 4 * PHILOX_LANES, *restrict o1 = o0 + PHILOX_LANES;
        float *restrict o2 = o1 + PHILOX_LANES, *restrict o3 = o2 + PHILOX_LANES;
        const uint64_t j0 = (first + (uint64_t)b) * PHILOX_LANES;
        #pragma omp simd
        for (int l = 0; l < PHILOX_LANES; ++l) {
            const uint64_t j = j0 + (uint64_t)l;
            uint64_t c0 = j & M32, c1 = j >> 32, c2 = t & M32, c3 = t >> 32;
            uint64_t k0 = key & M32, k1 = key >> 32;
            PHILOX_10
            const float u1 = (float)(int32_t)((c0 >> 8) + 1) * 0x1p-24f;
            const float a1 = (float)(int32_t)(c1 >> 8) * two_pi_24;
            const float u2 = (float)(int32_t)((c2 >> 8) + 1) * 0x1p-24f;
            const float a2 = (float)(int32_t)(c3 >> 8) * two_pi_24;
            const float r1 = sqrtf(logf(u1) * -2.0f), r2 = sqrtf(logf(u2) * -2.0f);
            o0[l] = r1 * cosf(a1); o1[l] = r1 * sinf(a1);
            o2[l] = r2 * cosf(a2); o3[l] = r2 * sinf(a2);
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
            const uint64_t j = j0 + (uint64_t)l;
            uint64_t c0 = j & M32, c1 = j >> 32, c2 = t & M32, c3 = t >> 32;
            uint64_t k0 = key & M32, k1 = key >> 32;
            PHILOX_10
            const double u = (double)(int64_t)(((c0 << 21) | (c1 >> 11)) + 1) * 0x1p-53;
            const double a = (double)(int64_t)((c2 << 21) | (c3 >> 11)) * two_pi_53;
            const double r = sqrt(log(u) * -2.0);
            o0[l] = r * cos(a); o1[l] = r * sin(a);
        }
    }
}
""".replace("@LANES@", str(LANES))
