"""Optimizer step speed against memory bandwidth and torch.optim, all measured in one run.

For each ravine optimizer with a fused kernel, on model-like sets of float32 parameters (about 200
tensors of varied shapes), prints ms per step, effective GB/s (the bytes the algorithm must move
divided by the time) and the fraction of the machine's in-place triad bandwidth, beside
torch.optim's for-loop, foreach and fused variants of the same algorithm; plus the one-time
kernel build cost (empty cache) and load cost (cached), and the peak extra memory of a step.

Run: ``.venv/bin/python benchmarks/step_speed.py [--sizes 10e6 50e6] [--rounds 5]``.
Medians over interleaved rounds; compare ratios within one run (the machine is shared).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time

import torch

import ravine.optim as ro
from ravine.optim.fast import algorithm_for, compiler, runner

# name: (ravine class, kwargs, torch class, bytes moved per parameter in float32)
OPTIMIZERS = {
    "SGD momentum": (ro.SGD, dict(lr=1e-3, momentum=0.9), torch.optim.SGD, 20),
    "Adam": (ro.Adam, dict(lr=1e-3), torch.optim.Adam, 28),
    "AdamW": (ro.AdamW, dict(lr=1e-3), torch.optim.AdamW, 28),
    "Adam amsgrad": (ro.Adam, dict(lr=1e-3, amsgrad=True), torch.optim.Adam, 36),
    "Adagrad": (ro.Adagrad, dict(lr=1e-2), torch.optim.Adagrad, 20),
    "RMSprop": (ro.RMSprop, dict(lr=1e-3), torch.optim.RMSprop, 20),
    "RMSprop centered momentum": (ro.RMSprop, dict(lr=1e-3, centered=True, momentum=0.9),
                                  torch.optim.RMSprop, 36),
    "Adamax": (ro.Adamax, dict(lr=1e-3), torch.optim.Adamax, 28),
    "NAdam": (ro.NAdam, dict(lr=1e-3), torch.optim.NAdam, 28),
    "RAdam": (ro.RAdam, dict(lr=1e-3), torch.optim.RAdam, 28),
    "Lion": (ro.Lion, dict(lr=1e-4), None, 20),
}


def model_like_shapes(total: int, n_tensors: int = 200, seed: int = 0) -> list[tuple[int, ...]]:
    """About ``n_tensors`` weight/bias shapes, varied in size, summing to about ``total``."""
    gen = torch.Generator().manual_seed(seed)
    layers = n_tensors // 2
    weights = torch.rand(layers, generator=gen) * 1.5 + 0.25
    sizes = (weights / weights.sum() * total).long()
    shapes = []
    for size in sizes.tolist():
        cols = int(torch.randint(64, 1024, (1,), generator=gen))
        rows = max(1, size // cols)
        shapes += [(rows, cols), (rows,)]
    return shapes


def triad_bandwidth(n: int, rounds: int) -> float:
    """GB/s of ``a += s * b`` (read a, b; write a) on float32 vectors of ``n`` elements."""
    a, b = torch.rand(n), torch.rand(n)
    times = []
    for _ in range(rounds * 4):
        t0 = time.perf_counter()
        a.add_(b, alpha=1e-3)
        times.append(time.perf_counter() - t0)
    return 12 * n / statistics.median(times) / 1e9


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def peak_extra_mib(step) -> float:
    """Peak resident memory above the starting point during ``step()`` (Linux clear_refs)."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
    except OSError:
        return float("nan")
    before = _rss_kib("VmRSS")
    step()
    return (_rss_kib("VmHWM") - before) / 1024


def build_costs(cls, kwargs) -> tuple[float, float]:
    """Seconds to build the kernels of one optimizer with an empty cache, then to load them."""
    p = torch.zeros(8, requires_grad=True)
    opt = cls([p], **kwargs)
    algorithm = algorithm_for(opt.transform)
    flags = algorithm.flags(opt.param_groups[0])
    old = os.environ.get("RAVINE_CACHE_DIR")
    costs = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RAVINE_CACHE_DIR"] = tmp
        for _ in range(2):
            runner._kernels.clear()
            compiler._loaded.clear()
            t0 = time.perf_counter()
            runner.kernel(algorithm, "float32", flags)
            if algorithm.first_flag:
                runner.kernel(algorithm, "float32", {**flags, "FIRST": 1})
            costs.append(time.perf_counter() - t0)
    if old is None:
        del os.environ["RAVINE_CACHE_DIR"]
    else:
        os.environ["RAVINE_CACHE_DIR"] = old
    return costs[0], costs[1]


def make_stepper(kind, cls, kwargs, tcls, shapes):
    gen = torch.Generator().manual_seed(1)
    params = [torch.randn(s, generator=gen).requires_grad_() for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen) * 1e-2
    if kind == "ravine":
        opt = cls(params, **kwargs)
    else:
        opt = tcls(params, **kwargs, **{"for-loop": dict(foreach=False), "foreach":
                                        dict(foreach=True), "fused": dict(fused=True)}[kind])
    opt.step()  # state creation and kernel build happen outside the timing
    return opt


def time_steps(opt, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.step()
    return (time.perf_counter() - t0) / steps


def bench(name, total, rounds, bandwidth):
    cls, kwargs, tcls, nbytes = OPTIMIZERS[name]
    shapes = model_like_shapes(total)
    numel = sum(torch.Size(s).numel() for s in shapes)
    kinds = ["ravine", "for-loop", "foreach", "fused"] if tcls is not None else ["ravine"]
    memory = {}
    steps = max(2, int(2e8 // (numel * nbytes)))
    for kind in list(kinds):  # one at a time in memory; rounds interleave below
        try:
            opt = make_stepper(kind, cls, kwargs, tcls, shapes)
        except (RuntimeError, TypeError, ValueError):  # torch has no such variant
            kinds.remove(kind)
            continue
        memory[kind] = peak_extra_mib(opt.step)
        del opt
    times = {k: [] for k in kinds}
    for _ in range(rounds):
        for kind in kinds:
            opt = make_stepper(kind, cls, kwargs, tcls, shapes)
            times[kind].append(time_steps(opt, steps))
            del opt
            gc.collect()
    build, load = build_costs(cls, kwargs)
    param_mib = numel * 4 / 2**20
    loops = [statistics.median(times[k]) for k in ("for-loop", "foreach") if k in times]
    fastest_torch_loop = min(loops) if loops else float("nan")
    rows = []
    for kind in kinds:
        t = statistics.median(times[kind])
        gbs = nbytes * numel / t / 1e9
        rows.append((kind, t * 1e3, gbs, gbs / bandwidth, fastest_torch_loop / t, memory[kind]))
    ours = statistics.median(times["ravine"])
    print(f"\n{name}: {numel / 1e6:.1f}M float32 params in {len(shapes)} tensors, "
          f"{nbytes} B/param, {steps} steps x {rounds} rounds; param size {param_mib:.0f} MiB")
    print(f"  ravine kernel build {build:.2f} s (empty cache), load {load * 1e3:.1f} ms (cached)")
    print("  | impl | ms/step | GB/s | of triad | speed vs best torch loop | peak extra MiB |")
    print("  |---|---|---|---|---|---|")
    for kind, ms, gbs, frac, speed, mib in rows:
        print(f"  | {kind} | {ms:.2f} | {gbs:.1f} | {frac:.0%} | {speed:.2f}x | {mib:.0f} |")
    if "fused" in times:
        print(f"  ravine / torch fused speed: {statistics.median(times['fused']) / ours:.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[10e6, 50e6])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, compiler "
          f"{compiler.find_compiler()}, python {sys.version.split()[0]}")
    bandwidth = triad_bandwidth(50_000_000, args.rounds)
    print(f"in-place triad bandwidth (a += s*b, float32, 50M): {bandwidth:.1f} GB/s")
    for total in args.sizes:
        for name in args.optimizers:
            bench(name, int(total), args.rounds, bandwidth)


if __name__ == "__main__":
    main()
