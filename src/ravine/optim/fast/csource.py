"""Generate the C source of one fused optimizer kernel: a driver plus an algorithm's loop body.

Every kernel has the same C signature::

    void ravine_step(int64_t n_tensors, void *const *bufs, const int64_t *numel,
                     const double *hp, int step_mode, int n_threads);

``bufs`` holds, per tensor, the data pointers ``param, grad, <state buffers...>, step,
<scalar state...>`` (``step`` may be ``NULL``); ``step_mode`` bit 0 says the step tensors are
float64, bit 1 adds one to each before the loops; ``hp`` holds the algorithm's runtime
hyperparameters as doubles, so schedules change them every step without a rebuild. Flags
that select code paths (``maximize``, ``amsgrad``, ...) are compile-time constants: each
combination is its own small library.

The driver splits the concatenation of all tensors into one contiguous range per thread (OpenMP,
the same runtime torch uses), so small tensors cost no thread start-up of their own and large
ones are shared; below ``GRAIN`` elements per thread it runs on the calling thread only.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KernelSource", "render"]

GRAIN = 32768  # elements per thread below which extra threads cost more than they save
CHUNK = 256  # elements per chunk of the kernels with a per-chunk step (gradient noise): small
# chunks interleave the generator with the memory stream (1024 measured 20% slower)

_TYPES = {
    "float32": ("float", "fmaf", "sqrtf", "fabsf"),
    "float64": ("double", "fma", "sqrt", "fabs"),
}

_TEMPLATE = """\
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <omp.h>

typedef {ctype} T;
#define T_IS_DOUBLE {is_double}
#define FMA {fma}
#define SQRT {sqrt}
#define ABS {fabs}
{flags}
#define NBUF {nbuf}
#define NACC {nacc}
#define HAS_GLOBAL {has_global}
#define STEP {step_index}
#define CHUNK {chunk_len}
{preamble}

static inline double read_step(const void *ptr, int is_double) {{
    if (!ptr) return 0.0;
    return (is_double & 1) ? *(const double *)ptr : (double)*(const float *)ptr;
}}

static void segment(void *const *b, int64_t lo, int64_t hi, const double *hp, int step_dbl,
                    int pass, double factor, double *acc) {{
{pointers}
{words}
    const double t = read_step(b[STEP], step_dbl);
    (void)t; (void)factor; (void)acc;
{scalars}
{hyper}
{prologue}
#if NACC > 0
    if (pass == 0) {{ /* per-tensor sums (norms) that the factor of pass 1 needs */
        double acc0 = 0.0, acc1 = 0.0;
        #pragma omp simd reduction(+:acc0, acc1)
        for (int64_t i = lo; i < hi; ++i) {{
{reduce}
        }}
        acc[0] += acc0;
        if (NACC > 1) acc[1] += acc1;
        return;
    }}
#endif
#if HAS_CHUNK
    for (int64_t c = lo, ce; c < hi; c = ce) {{ /* chunks of CHUNK elements: [c, ce) */
        ce = hi - c < CHUNK ? hi : c + CHUNK;
{chunk}
        for (int64_t i = c; i < ce; ++i) {{
{body8}
        }}
    }}
#else
    for (int64_t i = lo; i < hi; ++i) {{
{body}
    }}
#endif
}}

/* per-tensor scalar state (e.g. NAdam's mu_product), updated once per step before the loop */
static void prepare(void *const *b, const double *hp, int step_dbl) {{
    const double t = read_step(b[STEP], step_dbl);
    (void)t;
{hyper}
{prepare}
}}

/* the factor of each tensor from the sums of all threads, added in thread order */
static void finalize(int64_t n, const double *hp, const double *part, int nt, double *factors) {{
{hyper}
    double g0 = 0.0;
    (void)g0;
    for (int64_t k = 0; k < n; ++k) {{
        double sum0 = 0.0, sum1 = 0.0;
        for (int th = 0; th < nt; ++th) {{
            sum0 += part[(th * n + k) * NACC];
            if (NACC > 1) sum1 += part[(th * n + k) * NACC + 1];
        }}
        (void)sum1;
        double factor = 1.0;
{finalize}
        factors[k] = factor;
    }}
#if HAS_GLOBAL
    double factor = 1.0;
{finalize_global}
    for (int64_t k = 0; k < n; ++k) factors[k] = factor;
#endif
}}

static void run_range(int64_t n, void *const *bufs, const int64_t *numel, const double *hp,
                      int step_dbl, int64_t lo, int64_t hi, int pass, const double *factors,
                      double *part) {{
    int64_t base = 0;
    for (int64_t k = 0; k < n && base < hi; ++k) {{
        int64_t a = lo > base ? lo - base : 0;
        int64_t e = hi - base < numel[k] ? hi - base : numel[k];
        if (a < e)
            segment(bufs + k * NBUF, a, e, hp, step_dbl, pass, factors ? factors[k] : 1.0,
                    part ? part + k * (NACC > 0 ? NACC : 1) : 0);
        base += numel[k];
    }}
}}

void ravine_step(int64_t n, void *const *bufs, const int64_t *numel, const double *hp,
                 int step_dbl, int n_threads) {{
    int64_t total = 0;
    for (int64_t k = 0; k < n; ++k) total += numel[k];
    if (step_dbl & 2) /* count the step, as the reference's state["step"] += 1 */
        for (int64_t k = 0; k < n; ++k) {{
            void *ptr = bufs[k * NBUF + STEP];
            if (step_dbl & 1) *(double *)ptr += 1.0;
            else *(float *)ptr += 1.0f;
        }}
    if (HAS_PREPARE)
        for (int64_t k = 0; k < n; ++k) prepare(bufs + k * NBUF, hp, step_dbl);
    int64_t most = total / {grain};
    if (n_threads > most) n_threads = (int)most;
    if (n_threads < 1) n_threads = 1;
#if NACC > 0
    double *part = calloc((size_t)(n_threads * n * NACC + n), sizeof(double));
    double *factors = part + n_threads * n * NACC;
#else
    double *part = 0, *factors = 0;
#endif
    if (n_threads == 1) {{
        if (NACC > 0) {{
            run_range(n, bufs, numel, hp, step_dbl, 0, total, 0, 0, part);
            finalize(n, hp, part, 1, factors);
        }}
        run_range(n, bufs, numel, hp, step_dbl, 0, total, 1, factors, 0);
    }} else {{
        #pragma omp parallel num_threads(n_threads)
        {{
            int64_t id = omp_get_thread_num(), nt = omp_get_num_threads();
            /* boundaries on 16-element (cache-line) multiples: no false sharing */
            int64_t lo = (total * id / nt) & ~(int64_t)15;
            int64_t hi = id == nt - 1 ? total : (total * (id + 1) / nt) & ~(int64_t)15;
            if (NACC > 0) {{
                run_range(n, bufs, numel, hp, step_dbl, lo, hi, 0, 0, part + id * n * NACC);
                #pragma omp barrier
                #pragma omp single
                finalize(n, hp, part, n_threads, factors);
            }}
            run_range(n, bufs, numel, hp, step_dbl, lo, hi, 1, factors, 0);
        }}
    }}
    free(part);
}}
"""


@dataclass(frozen=True)
class KernelSource:
    """The algorithm-specific parts of a kernel.

    Attributes:
        buffers: names of the per-tensor state buffers after ``p`` and ``g`` (C identifiers).
        hyper: names of the runtime hyperparameters, in the order of the ``hp`` array.
        prologue: C statements run once per tensor segment (may use ``t``, the step count, and
            the hyperparameters as doubles); declare loop constants of type ``T`` here.
        words: names of per-tensor 64-bit integers (``uint64_t``) the runner places in the
            pointer table right after the state buffers (e.g. a noise key).
        preamble: C code at file scope, before the loops (helper functions).
        chunk: C statements run before the body on each chunk ``[c, ce)`` of at most ``CHUNK``
            elements of a tensor segment (e.g. to generate noise for the chunk); when given, the
            body runs chunk by chunk.
        body: C statements for element ``i`` (``p[i]``, ``g[i]``, ``<buffer>[i]``).
        scalars: names of per-tensor scalar state tensors (pointers after ``step``, same dtype
            as ``step``), read as doubles in the prologue.
        prepare: C statements run once per tensor, serially, before the loops (pointers
            ``<scalar>_ptr``; update scalar state here, never in the body).
        n_acc: 0, or the number (1-2) of per-tensor sums of a first pass (norms for LAMB,
            LARS, clipping); the kernel then runs ``reduce`` over all elements (adding to
            ``acc0``, ``acc1``, in double), ``finalize`` per tensor (from ``sum0``, ``sum1`` set
            ``factor``, may add to the global ``g0``), ``finalize_global`` if given (sets one
            ``factor`` for all), and ``body`` with ``factor`` (a double) in scope.
    """

    buffers: tuple[str, ...]
    hyper: tuple[str, ...]
    prologue: str
    body: str
    words: tuple[str, ...] = ()
    preamble: str = ""
    chunk: str = ""
    scalars: tuple[str, ...] = ()
    prepare: str = ""
    n_acc: int = 0
    reduce: str = ""
    finalize: str = ""
    finalize_global: str = ""


def render(src: KernelSource, dtype: str, flags: dict[str, int]) -> str:
    """Return the full C translation unit for ``src`` with element type ``dtype``."""
    ctype, fma, sqrt, fabs = _TYPES[dtype]
    names = ("p", "g", *src.buffers)
    pointers = "\n".join(f"    T *restrict {name} = (T *)b[{i}];" for i, name in enumerate(names))
    words = "\n".join(f"    const uint64_t {name} = (uint64_t)(uintptr_t)b[{len(names) + i}];"
                      for i, name in enumerate(src.words))
    names += src.words
    hyper = "\n".join(f"    const double {name} = hp[{i}];" for i, name in enumerate(src.hyper))
    step = len(names)
    ptrs = "\n".join(f"    void *{name}_ptr = b[{step + 1 + i}]; (void){name}_ptr;"
                     for i, name in enumerate(src.scalars))
    scalars = "\n".join(f"    const double {name} = read_step(b[{step + 1 + i}], step_dbl);"
                        for i, name in enumerate(src.scalars))
    return _TEMPLATE.format(
        ctype=ctype, fma=fma, sqrt=sqrt, fabs=fabs, grain=GRAIN, chunk_len=CHUNK,
        is_double=int(dtype == "float64"), preamble=src.preamble, words=words,
        chunk=_indent(src.chunk, 8), body8=_indent(src.body, 12),
        nbuf=step + 1 + len(src.scalars), step_index=step,
        flags="\n".join(f"#define {k} {int(v)}" for k, v in sorted(flags.items()))
        + f"\n#define HAS_PREPARE {int(bool(src.prepare.strip()))}"
        + f"\n#define HAS_CHUNK {int(bool(src.chunk.strip()))}",
        pointers=pointers, hyper=hyper, prologue=_indent(src.prologue, 4),
        scalars=scalars, prepare=ptrs + "\n" + _indent(src.prepare, 4),
        nacc=src.n_acc, has_global=int(bool(src.finalize_global.strip())),
        reduce=_indent(src.reduce, 12), finalize=_indent(src.finalize, 8),
        finalize_global=_indent(src.finalize_global, 4),
        body=_indent(src.body, 8))


def _indent(code: str, n: int) -> str:
    lines = [line.strip() for line in code.strip().splitlines()]
    return "\n".join(" " * n + line if line else "" for line in lines)
