"""What the gradient-noise kernels' generator costs, against the memory floor of the update.

The noise chains (``add_gradient_noise`` in front of SGD or AdamW) generate one normal per
parameter per step: Philox4x32-10 (one 32-bit word per normal), then the float32 Box-Muller of
:mod:`ravine.transforms.philox`. This script compiles the kernels' own generator code
(:data:`ravine.optim.fast.philox_source.NOISE_C`, with the kernels' compiler flags) into a small
harness and times, per 10M normals on 1 and 2 threads (minimum of the repeats):

- ``philox``: the Philox words alone (each word converted and stored, no Box-Muller);
- ``philox + box-muller``: the full generator, as the kernels run it (chunks of 256 in a
  thread-private buffer, which stays in L1).

It prints them beside the in-place triad's bandwidth measured in the same run, and the time an
update must take to reach 80% of that bandwidth (SGD + noise: 12 bytes per parameter; AdamW +
noise: 28). When the generator alone takes longer than that, the chain cannot reach 80% with
this generator, whatever the update loop does.

Run: ``.venv/bin/python benchmarks/noise_generator.py``.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from ravine.optim.fast import compiler
from ravine.optim.fast.philox_source import NOISE_C

HARNESS = r"""
#include <math.h>
#include <stdint.h>
#include <omp.h>
@NOISE_C@

static void philox_only(float *restrict out, uint64_t first, int64_t count, uint64_t key,
                        uint64_t t) {
    for (int64_t b = 0; b < count; ++b) {
        float *restrict o0 = out + b * 4 * PHILOX_LANES, *restrict o1 = o0 + PHILOX_LANES;
        float *restrict o2 = o1 + PHILOX_LANES, *restrict o3 = o2 + PHILOX_LANES;
        const uint64_t j0 = (first + (uint64_t)b) * PHILOX_LANES;
        #pragma omp simd
        for (int l = 0; l < PHILOX_LANES; ++l) {
            PHILOX_WORDS(j0 + (uint64_t)l)
            o0[l] = (float)(int32_t)c0; o1[l] = (float)(int32_t)c1;
            o2[l] = (float)(int32_t)c2; o3[l] = (float)(int32_t)c3;
        }
    }
}

/* seconds for `total` normals (kind 0: words only, 1: full generator), minimum of `reps` */
double time_generator(int kind, int64_t total, int threads, int reps) {
    const int64_t chunk = 256, blocks = chunk / (4 * PHILOX_LANES);
    double best = 1e30;
    volatile float sink = 0.0f;
    for (int r = 0; r < reps; ++r) {
        const double t0 = omp_get_wtime();
        float local = 0.0f;
        #pragma omp parallel num_threads(threads) reduction(+:local)
        {
            float buf[256] __attribute__((aligned(64)));
            #pragma omp for schedule(static)
            for (int64_t i = 0; i < total / chunk; ++i) {
                if (kind == 0) philox_only(buf, (uint64_t)(i * blocks), blocks, 12345, 7);
                else noise_blocks_f32(buf, (uint64_t)(i * blocks), blocks, 12345, 7);
                local += buf[i & 255];
            }
        }
        sink += local;
        const double dt = omp_get_wtime() - t0;
        best = dt < best ? dt : best;
    }
    return best;
}
"""


def build(tmp: Path) -> ctypes.CDLL:
    cc = compiler.find_compiler()
    if cc is None:
        sys.exit("no C compiler: nothing to measure")
    src, lib = tmp / "noise_harness.c", tmp / "noise_harness.so"
    src.write_text(HARNESS.replace("@NOISE_C@", NOISE_C))
    subprocess.run([cc, *compiler.CFLAGS, str(src), "-o", str(lib), "-lm"], check=True)
    dll = ctypes.CDLL(str(lib))
    dll.time_generator.restype = ctypes.c_double
    dll.time_generator.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int, ctypes.c_int]
    return dll


def triad_gbs(threads: int, n: int = 50_000_000, repeats: int = 5) -> float:
    """Median GB/s of ``a += s * b`` (read a, b; write a), float32."""
    torch.set_num_threads(threads)
    a, b = torch.rand(n), torch.rand(n)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a.add_(b, alpha=1e-9)
        rates.append(12 * n / (time.perf_counter() - t0) / 1e9)
    return statistics.median(rates)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--normals", type=float, default=10e6)
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args(argv)
    total = int(args.normals) // 256 * 256
    with tempfile.TemporaryDirectory() as tmp:
        dll = build(Path(tmp))
        print(f"per {total / 1e6:.0f}M float32 normals (minimum of {args.reps}); the update's "
              "time for 80% of the triad beside it")
        print("| threads | philox ms | philox + box-muller ms | triad GB/s "
              "| SGD+noise 80% needs ms | AdamW+noise 80% needs ms |")
        print("|---|---|---|---|---|---|")
        for threads in (1, 2):
            words = dll.time_generator(0, total, threads, args.reps)
            full = dll.time_generator(1, total, threads, args.reps)
            triad = triad_gbs(threads)
            need_sgd = 12 * total / (0.8 * triad * 1e9)
            need_adamw = 28 * total / (0.8 * triad * 1e9)
            print(f"| {threads} | {words * 1e3:.2f} | {full * 1e3:.2f} | {triad:.1f} "
                  f"| {need_sgd * 1e3:.2f} | {need_adamw * 1e3:.2f} |")


if __name__ == "__main__":
    main()
