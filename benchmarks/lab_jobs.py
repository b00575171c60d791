"""Wall time of a small `ravine compare` study with --jobs 1 against --jobs N, in one run.

Prints the seconds of each and the speed-up ratio (jobs 1 / jobs N); both runs start from an
empty store and include process start-up and report writing. Usage:

    .venv/bin/python benchmarks/lab_jobs.py [--jobs 2] [--trials 4] [--seeds 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

from ravine.cli import main


def one(jobs: int, trials: int, seeds: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        code = main(["compare", "--problems", "ravine,rosenbrock,quadratic_deep,mlp_digits",
                     "--optimizers", "sgd,momentum,adam", "--trials", str(trials), "--seeds",
                     str(seeds), "--store", os.path.join(tmp, "s.db"), "--out",
                     os.path.join(tmp, "out"), "--jobs", str(jobs), "--quiet"])
        assert code == 0
        return time.perf_counter() - t0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=2)
    a = ap.parse_args()
    one(1, 1, 1)  # warm imports and caches
    serial = one(1, a.trials, a.seeds)
    parallel = one(a.jobs, a.trials, a.seeds)
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    print(f"cpus visible: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    print(f"jobs 1: {serial:.1f} s   jobs {a.jobs}: {parallel:.1f} s   "
          f"speed-up (jobs 1 / jobs {a.jobs}): {serial / parallel:.2f}x   "
          f"(main-process CPU {cpu:.0f} s)")
