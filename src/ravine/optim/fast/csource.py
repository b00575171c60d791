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

Kernels with a norm pass (``n_acc > 0``) sum each tensor in fixed chunks of ``CHUNK`` elements
counted from the tensor's start, one double per chunk, and add a tensor's chunk sums in chunk
order; thread ranges start on chunk boundaries. So a tensor's norms, and everything computed
from them, are bit-identical for any thread count and any blocking. Per-tensor norms (LAMB,
LARS) are cache-blocked without barriers: tensors of at most ``PRIVATE`` elements (and at most
an eighth of a thread's share) are dealt to the threads whole, and each thread runs its tensors
in blocks of about ``BLOCK`` elements, pass 0 then pass 1, so pass 1 re-reads from its own cache
what pass 0 has just read, and may read back values pass 0 kept in a per-thread scratch of one
block (``KEEP(x)`` in ``reduce``, ``KEPT``/``keep[i - lo]`` in ``body``: LAMB keeps its update).
Larger tensors are shared by all threads: pass 0 split, one barrier, pass 1 with the same split.
A norm over the whole group (clipping) needs every tensor's sums first: all tensors are shared.
(A barrier per block was measured 4x slower when other processes compete for the cores: the
thread that waits spins on the core the other one needs.)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KernelSource", "render"]

GRAIN = 32768  # elements per thread below which extra threads cost more than they save
CHUNK = 4096  # elements per partial sum of a norm pass (a multiple of 16: whole cache lines)
BLOCK = 1 << 18  # elements per cache block of a per-tensor norm pass (chosen by measurement)
PRIVATE = 1 << 21  # largest tensor one thread takes whole (a block of its own); above: shared
LOOP_CHUNK = 256  # elements per chunk of the kernels with a per-chunk step (gradient noise):
# small chunks interleave the generator with the memory stream (1024 measured 20% slower)

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
#define CHUNK {chunk}
#define BLOCK {block}
#define PRIVATE {private}
#define HAS_KEEP {has_keep}
#define LOOP_CHUNK {loop_chunk}
{preamble}

static inline double read_step(const void *ptr, int is_double) {{
    if (!ptr) return 0.0;
    return (is_double & 1) ? *(const double *)ptr : (double)*(const float *)ptr;
}}

/* pass 0 (chunk sums) or 1 (update) over [lo, hi) of one tensor; with HAS_KEEP, a non-null
   `keep` holds hi - lo values that pass 0 stores with KEEP(x) and pass 1 reads (KEPT is 1) */
static void segment(void *const *b, int64_t lo, int64_t hi, const double *hp, int step_dbl,
                    int pass, double factor, double *acc, T *restrict keep) {{
{pointers}
{words}
    const double t = read_step(b[STEP], step_dbl);
    (void)t; (void)factor; (void)acc; (void)keep;
{scalars}
{hyper}
{prologue}
#if NACC > 0
    if (pass == 0) {{ /* per-chunk sums (norms); lo is a chunk boundary of this tensor */
        for (int64_t chunk_lo = lo; chunk_lo < hi; chunk_lo += CHUNK) {{
            const int64_t chunk_hi = hi - chunk_lo < CHUNK ? hi : chunk_lo + CHUNK;
            double acc0 = 0.0, acc1 = 0.0;
#if HAS_KEEP
            if (keep) {{
#define KEEP(x) (keep[i - lo] = (x))
                #pragma omp simd reduction(+:acc0, acc1)
                for (int64_t i = chunk_lo; i < chunk_hi; ++i) {{
{reduce}
                }}
#undef KEEP
            }} else
#endif
            {{
#define KEEP(x) ((void)0)
                #pragma omp simd reduction(+:acc0, acc1)
                for (int64_t i = chunk_lo; i < chunk_hi; ++i) {{
{reduce}
                }}
#undef KEEP
            }}
            acc[chunk_lo / CHUNK * NACC] = acc0;
            if (NACC > 1) acc[chunk_lo / CHUNK * NACC + 1] = acc1;
        }}
        return;
    }}
#endif
#if HAS_CHUNK_STEP
#define KEPT 0
    for (int64_t c = lo, ce; c < hi; c = ce) {{ /* chunks of LOOP_CHUNK elements: [c, ce) */
        ce = hi - c < LOOP_CHUNK ? hi : c + LOOP_CHUNK;
{chunk_code}
        for (int64_t i = c; i < ce; ++i) {{
{body8}
        }}
    }}
#undef KEPT
#else
#if HAS_KEEP
    if (keep) {{
#define KEPT 1
        for (int64_t i = lo; i < hi; ++i) {{
{body}
        }}
#undef KEPT
        return;
    }}
#endif
#define KEPT 0
    for (int64_t i = lo; i < hi; ++i) {{
{body}
    }}
#undef KEPT
#endif
}}

/* per-tensor scalar state (e.g. NAdam's mu_product), updated once per step before the loop */
static void prepare(void *const *b, const double *hp, int step_dbl) {{
    const double t = read_step(b[STEP], step_dbl);
    (void)t;
{hyper}
{prepare}
}}

/* per-tensor scalar state updated once per step after the loops (e.g. ASGD's eta, mu, which the
   loops read first) */
static void finish(void *const *b, const double *hp, int step_dbl) {{
    const double t = read_step(b[STEP], step_dbl);
    (void)t;
{hyper}
{finish}
}}

#if NACC > 0
/* one tensor's factor from its chunk sums, added in chunk order (the same for any thread split);
   adds to *global what the algorithm's finalize adds to g0 */
static double tensor_factor(const double *hp, const double *chunks, int64_t n_chunks,
                            double *global) {{
{hyper}
    double g0 = 0.0, sum0 = 0.0, sum1 = 0.0;
    for (int64_t c = 0; c < n_chunks; ++c) {{
        sum0 += chunks[c * NACC];
        if (NACC > 1) sum1 += chunks[c * NACC + 1];
    }}
    (void)sum1;
    double factor = 1.0;
{finalize}
    *global += g0;
    return factor;
}}

#if HAS_GLOBAL
/* the one factor of a group-global norm (clipping) from every tensor's sums, in tensor order */
static double global_factor(int64_t n, const double *hp, const double *chunks,
                            const int64_t *first) {{
{hyper}
    double g0 = 0.0;
    for (int64_t k = 0; k < n; ++k)
        tensor_factor(hp, chunks + first[k] * NACC, first[k + 1] - first[k], &g0);
    double factor = 1.0;
{finalize_global}
    return factor;
}}
#endif

/* the thread that owns a tensor of m elements at offset `position` of the concatenation of the
   unshared tensors (`own` elements): the one whose even share holds the tensor's middle */
static inline int64_t owner(int64_t position, int64_t m, int nt, int64_t own) {{
    const int64_t o = own > 0 ? (position + m / 2) * nt / own : 0;
    return o < nt ? o : nt - 1;
}}

/* pass 0 (chunk sums) or pass 1 (update with the tensor's factor) over elements [a, e) of
   tensor k; a is a chunk boundary of the tensor */
static void run_tensor(int64_t k, int64_t a, int64_t e, int pass, void *const *bufs,
                       const double *hp, int step_dbl, double *chunks, const int64_t *first,
                       const double *global, T *keep) {{
    double factor = 1.0, unused = 0.0, *acc = 0;
    (void)global;
    if (pass == 0) acc = chunks + first[k] * NACC;
    else factor = HAS_GLOBAL ? *global
                  : tensor_factor(hp, chunks + first[k] * NACC, first[k + 1] - first[k], &unused);
    segment(bufs + k * NBUF, a, e, hp, step_dbl, pass, factor, acc, keep);
}}

/* the first chunk boundary at or after offset x of the concatenation of the tensors larger
   than `big` */
static int64_t shared_boundary(int64_t x, int64_t n, const int64_t *numel, int64_t big) {{
    int64_t base = 0;
    for (int64_t k = 0; k < n; ++k) {{
        if (numel[k] <= big) continue;
        if (x < base + numel[k]) {{
            const int64_t r = (x - base + CHUNK - 1) / CHUNK * CHUNK;
            return r < numel[k] ? base + r : base + numel[k];
        }}
        base += numel[k];
    }}
    return base;
}}

/* one pass over [lo, hi) of the concatenation of the tensors larger than `big` */
static void run_shared(int64_t n, void *const *bufs, const int64_t *numel, const double *hp,
                       int step_dbl, int64_t big, int64_t lo, int64_t hi, int pass,
                       double *chunks, const int64_t *first, const double *global) {{
    int64_t base = 0;
    for (int64_t k = 0; k < n && base < hi; ++k) {{
        if (numel[k] <= big) continue;
        const int64_t a = lo > base ? lo - base : 0;
        const int64_t e = hi - base < numel[k] ? hi - base : numel[k];
        if (a < e) run_tensor(k, a, e, pass, bufs, hp, step_dbl, chunks, first, global, 0);
        base += numel[k];
    }}
}}

/* the norm passes of thread id of nt. Tensors larger than `big` (PRIVATE, or an eighth of a
   thread's share; every tensor for a global norm) are shared: pass 0 split across the threads,
   one barrier, pass 1 with the same split. The others are dealt to the threads whole (by the
   position of their middle) and run in blocks of consecutive tensors of at most BLOCK elements
   (a larger tensor alone), pass 0 then pass 1, so pass 1 re-reads from this thread's cache (and
   scratch), and no thread waits for another. */
static void run_norms(int id, int nt, int64_t n, void *const *bufs, const int64_t *numel,
                      const double *hp, int step_dbl, double *chunks, const int64_t *first,
                      double *global, T *keep) {{
    int64_t total = 0, shared = 0, own = 0;
    for (int64_t k = 0; k < n; ++k) total += numel[k];
    int64_t big = HAS_GLOBAL ? -1 : PRIVATE;
    if (!HAS_GLOBAL && nt > 1 && total / (8 * nt) < big) big = total / (8 * nt);
    for (int64_t k = 0; k < n; ++k) {{
        if (numel[k] > big) shared += numel[k];
        else own += numel[k];
    }}
    if (shared > 0) {{
        const int64_t lo = shared_boundary(shared * id / nt, n, numel, big);
        const int64_t hi = shared_boundary(shared * (id + 1) / nt, n, numel, big);
        run_shared(n, bufs, numel, hp, step_dbl, big, lo, hi, 0, chunks, first, global);
        #pragma omp barrier
#if HAS_GLOBAL
        #pragma omp single
        *global = global_factor(n, hp, chunks, first);
#endif
        run_shared(n, bufs, numel, hp, step_dbl, big, lo, hi, 1, chunks, first, global);
    }}
    int64_t position = 0, start = 0, start_position = 0, size = 0;
    for (int64_t k = 0; k <= n; ++k) {{
        const int small = k < n && numel[k] <= big;
        const int mine = small && owner(position, numel[k], nt, own) == id;
        if (k == n || (mine && size + numel[k] > BLOCK)) {{ /* run the block [start, k) */
            for (int pass = 0; pass < 2 && size > 0; ++pass) {{
                int64_t at = start_position, used = 0;
                for (int64_t j = start; j < k; ++j) {{
                    if (numel[j] > big) continue;
                    if (owner(at, numel[j], nt, own) == id) {{
                        run_tensor(j, 0, numel[j], pass, bufs, hp, step_dbl, chunks, first,
                                   global, keep ? keep + used : 0);
                        used += numel[j];
                    }}
                    at += numel[j];
                }}
            }}
            start = k;
            start_position = position;
            size = 0;
        }}
        if (mine) size += numel[k];
        if (small) position += numel[k];
    }}
}}
#endif

#if NACC == 0
/* the update over [lo, hi) of the concatenation of all tensors */
static void run_range(int64_t n, void *const *bufs, const int64_t *numel, const double *hp,
                      int step_dbl, int64_t lo, int64_t hi) {{
    int64_t base = 0;
    for (int64_t k = 0; k < n && base < hi; ++k) {{
        int64_t a = lo > base ? lo - base : 0;
        int64_t e = hi - base < numel[k] ? hi - base : numel[k];
        if (a < e) segment(bufs + k * NBUF, a, e, hp, step_dbl, 1, 1.0, 0, 0);
        base += numel[k];
    }}
}}
#endif

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
    /* first[k]: index of tensor k's first chunk; then one sum slot per chunk, the global factor */
    int64_t *first = malloc((size_t)(n + 1) * sizeof(int64_t));
    first[0] = 0;
    for (int64_t k = 0; k < n; ++k) first[k + 1] = first[k] + (numel[k] + CHUNK - 1) / CHUNK;
    double *chunks = malloc((size_t)(first[n] * NACC + 1) * sizeof(double));
    double *global = chunks + first[n] * NACC;
    /* with HAS_KEEP, scratch for the largest block per thread (none if malloc fails: the kernel
       recomputes); a block is at most BLOCK elements or one tensor of at most PRIVATE */
    int64_t keep_len = total < BLOCK ? total : BLOCK;
    for (int64_t k = 0; k < n; ++k)
        if (numel[k] <= PRIVATE && numel[k] > keep_len) keep_len = numel[k];
    T *keep = HAS_KEEP && keep_len > 0 ? malloc((size_t)(n_threads * keep_len) * sizeof(T)) : 0;
    if (n_threads == 1)
        run_norms(0, 1, n, bufs, numel, hp, step_dbl, chunks, first, global, keep);
    else {{
        #pragma omp parallel num_threads(n_threads)
        {{
            const int id = omp_get_thread_num();
            run_norms(id, omp_get_num_threads(), n, bufs, numel, hp, step_dbl, chunks, first,
                      global, keep ? keep + id * keep_len : 0);
        }}
    }}
    free(keep);
    free(chunks);
    free(first);
#else
    if (n_threads == 1)
        run_range(n, bufs, numel, hp, step_dbl, 0, total);
    else {{
        #pragma omp parallel num_threads(n_threads)
        {{
            int64_t id = omp_get_thread_num(), nt = omp_get_num_threads();
            /* boundaries on 16-element (cache-line) multiples: no false sharing */
            int64_t lo = (total * id / nt) & ~(int64_t)15;
            int64_t hi = id == nt - 1 ? total : (total * (id + 1) / nt) & ~(int64_t)15;
            run_range(n, bufs, numel, hp, step_dbl, lo, hi);
        }}
    }}
#endif
    if (HAS_FINISH)
        for (int64_t k = 0; k < n; ++k) finish(bufs + k * NBUF, hp, step_dbl);
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
        chunk: C statements run before the body on each chunk ``[c, ce)`` of at most ``LOOP_CHUNK``
            elements of a tensor segment (e.g. to generate noise for the chunk); when given, the
            body runs chunk by chunk.
        body: C statements for element ``i`` (``p[i]``, ``g[i]``, ``<buffer>[i]``).
        scalars: names of per-tensor scalar state tensors (pointers after ``step``, same dtype
            as ``step``), read as doubles in the prologue.
        prepare: C statements run once per tensor, serially, before the loops (pointers
            ``<scalar>_ptr``; update scalar state here, never in the body).
        finish: as ``prepare``, after the loops (scalar state the loops read first).
        n_acc: 0, or the number (1-2) of per-tensor sums of a first pass (norms for LAMB,
            LARS, clipping); the kernel then runs ``reduce`` over all elements (adding to
            ``acc0``, ``acc1``, in double), ``finalize`` per tensor (from ``sum0``, ``sum1`` set
            ``factor``, may add to the global ``g0``), ``finalize_global`` if given (sets one
            ``factor`` for all), and ``body`` with ``factor`` (a double) in scope. Per-tensor
            kernels may store one ``T`` per element in ``reduce`` with ``KEEP(x)`` and read it
            in ``body`` as ``keep[i - lo]`` where ``KEPT`` is 1 (else recompute it).
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
    finish: str = ""
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
        ctype=ctype, fma=fma, sqrt=sqrt, fabs=fabs, grain=GRAIN, chunk=CHUNK, block=BLOCK,
        private=PRIVATE, loop_chunk=LOOP_CHUNK,
        is_double=int(dtype == "float64"), preamble=src.preamble, words=words,
        chunk_code=_indent(src.chunk, 8), body8=_indent(src.body, 12),
        nbuf=step + 1 + len(src.scalars), step_index=step,
        flags="\n".join(f"#define {k} {int(v)}" for k, v in sorted(flags.items()))
        + f"\n#define HAS_PREPARE {int(bool(src.prepare.strip()))}"
        + f"\n#define HAS_FINISH {int(bool(src.finish.strip()))}"
        + f"\n#define HAS_CHUNK_STEP {int(bool(src.chunk.strip()))}",
        pointers=pointers, hyper=hyper, prologue=_indent(src.prologue, 4),
        scalars=scalars, prepare=ptrs + "\n" + _indent(src.prepare, 4),
        finish=ptrs + "\n" + _indent(src.finish, 4),
        nacc=src.n_acc, has_global=int(bool(src.finalize_global.strip())),
        has_keep=int("KEEP(" in src.reduce and not src.finalize_global.strip()),
        reduce=_indent(src.reduce, 12), finalize=_indent(src.finalize, 8),
        finalize_global=_indent(src.finalize_global, 4),
        body=_indent(src.body, 8))


def _indent(code: str, n: int) -> str:
    lines = [line.strip() for line in code.strip().splitlines()]
    return "\n".join(" " * n + line if line else "" for line in lines)
