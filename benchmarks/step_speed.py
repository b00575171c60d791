"""Optimizer step speed against memory bandwidth and torch.optim, all measured in one run.

For each ravine optimizer with a fused kernel, on model-like sets of float32 parameters (about 200
tensors of varied shapes), prints ms per step, effective GB/s (the bytes the algorithm must move
divided by the time) and the fraction of the machine's in-place triad bandwidth, beside
torch.optim's for-loop, foreach and fused variants of the same algorithm (for the clipping
chains: ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` then the torch optimizer, in
the same timed step); optimizers torch lacks are shown beside ravine's reference path. Also the
one-time kernel build cost (empty cache) and load cost (cached), and the peak extra memory of a
step.

The triad ``a += s * b`` is measured in every round, interleaved with the optimizers, and each
optimizer's fraction uses the median triad of its own rounds. The gradient-noise kernels
generate their noise in the update loop (Philox4x32-10 + Box-Muller, the reference's counter-based
stream); as a yardstick, drawing the same amount of noise with torch's generator alone (one seeded
``normal_`` per tensor, what a torch implementation must at least do) is timed too
("torch normal_ only").

Run: ``.venv/bin/python benchmarks/step_speed.py [--sizes 10e6 50e6] [--rounds 5] [--threads 2]``.
Medians over interleaved rounds; compare ratios within one run (the machine is shared).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass

import torch

import ravine.optim as ro
from ravine.optim import ChainOptimizer
from ravine.optim.fast import algorithm_for, compiler, runner
from ravine.transforms import (
    add_decayed_weights,
    add_gradient_noise,
    chain,
    clip_by_global_norm,
    clip_by_value,
    scale_by_adam,
    scale_by_lr,
)

try:  # the reference implementation of the schedule-free optimizers (a dev dependency)
    import schedulefree
except ImportError:
    schedulefree = None


@dataclass
class Entry:
    """One benchmarked optimizer: ravine's factory, torch's step factories, bytes per param."""

    make: object                   # params -> ravine optimizer
    torch_cls: type | None = None  # torch.optim class of the same algorithm
    kwargs: dict | None = None     # torch's hyperparameters
    clip: str | None = None        # "norm" / "value": torch.nn.utils clipping before the step
    nbytes: int = 0                # bytes the algorithm must move per float32 parameter


def _cls(cls, **kwargs):
    return lambda params: cls(params, **kwargs)


def _chain(make_transform, **kwargs):
    return lambda params: ChainOptimizer(params, make_transform(), **kwargs)


ADAMW = dict(lr=1e-3, weight_decay=1e-2)
OPTIMIZERS = {
    "SGD momentum": Entry(_cls(ro.SGD, lr=1e-3, momentum=0.9), torch.optim.SGD,
                          dict(lr=1e-3, momentum=0.9), nbytes=20),
    "Adam": Entry(_cls(ro.Adam, lr=1e-3), torch.optim.Adam, dict(lr=1e-3), nbytes=28),
    "AdamW": Entry(_cls(ro.AdamW, **ADAMW), torch.optim.AdamW, ADAMW, nbytes=28),
    "Adam amsgrad": Entry(_cls(ro.Adam, lr=1e-3, amsgrad=True), torch.optim.Adam,
                          dict(lr=1e-3, amsgrad=True), nbytes=36),
    "Adagrad": Entry(_cls(ro.Adagrad, lr=1e-2), torch.optim.Adagrad, dict(lr=1e-2), nbytes=20),
    "RMSprop": Entry(_cls(ro.RMSprop, lr=1e-3), torch.optim.RMSprop, dict(lr=1e-3), nbytes=20),
    "RMSprop centered momentum": Entry(
        _cls(ro.RMSprop, lr=1e-3, centered=True, momentum=0.9), torch.optim.RMSprop,
        dict(lr=1e-3, centered=True, momentum=0.9), nbytes=36),
    "Adamax": Entry(_cls(ro.Adamax, lr=1e-3), torch.optim.Adamax, dict(lr=1e-3), nbytes=28),
    "NAdam": Entry(_cls(ro.NAdam, lr=1e-3), torch.optim.NAdam, dict(lr=1e-3), nbytes=28),
    "RAdam": Entry(_cls(ro.RAdam, lr=1e-3), torch.optim.RAdam, dict(lr=1e-3), nbytes=28),
    "Lion": Entry(_cls(ro.Lion, lr=1e-4), nbytes=20),
    # what must move: read p, g, m, v; write p, m, v. The per-tensor norms need a pass before
    # the update; the kernel runs both on cache-sized blocks, so the second reads from cache
    "LAMB": Entry(_cls(ro.LAMB, lr=1e-3, weight_decay=1e-2), nbytes=28),
    # what must move: read p, g, buf; write p, buf (the norm pass is cache-blocked as LAMB's)
    "LARS": Entry(_cls(ro.LARS, lr=1e-1, momentum=0.9, weight_decay=1e-4), nbytes=20),
    # the global norm needs a first pass over g (4 B/param) before AdamW's 28
    "AdamW clip-norm": Entry(
        _chain(lambda: chain(clip_by_global_norm(max_norm=1.0), scale_by_adam(),
                             add_decayed_weights(), scale_by_lr()), **ADAMW),
        torch.optim.AdamW, ADAMW, clip="norm", nbytes=32),
    "AdamW clip-value": Entry(
        _chain(lambda: chain(clip_by_value(clip_value=1e-4), scale_by_adam(),
                             add_decayed_weights(), scale_by_lr()), **ADAMW),
        torch.optim.AdamW, ADAMW, clip="value", nbytes=28),
    # the bytes of the update alone (read p, g; write p): the noise itself is drawn, not moved
    "SGD noise": Entry(_chain(lambda: chain(add_gradient_noise(), scale_by_lr()), lr=1e-3,
                              noise_eta=1e-2), nbytes=12),
    "AdamW noise": Entry(
        _chain(lambda: chain(add_gradient_noise(), scale_by_adam(), add_decayed_weights(),
                             scale_by_lr()), **ADAMW), nbytes=28),
    # read p, g, square_avg, acc_delta; write p and both
    "Adadelta": Entry(_cls(ro.Adadelta, lr=1.0), torch.optim.Adadelta, dict(lr=1.0), nbytes=28),
    # read p, g, prev, step_size; write p and both
    "Rprop": Entry(_cls(ro.Rprop, lr=1e-3), torch.optim.Rprop, dict(lr=1e-3), nbytes=28),
    # read p, g; write p, ax (before step t0 the average is a copy: ax is not read)
    "ASGD": Entry(_cls(ro.ASGD, lr=1e-3), torch.optim.ASGD, dict(lr=1e-3), nbytes=16),
    # read p, g, z (and v); write p, z (and v). The anchors are the schedulefree package's
    # for-loop and foreach paths (it has no fused one)
    "SGD schedule-free": Entry(
        _cls(ro.SGDScheduleFree, lr=1e-3), getattr(schedulefree, "SGDScheduleFree", None),
        dict(lr=1e-3), nbytes=20),
    "AdamW schedule-free": Entry(
        _cls(ro.AdamWScheduleFree, lr=1e-3), getattr(schedulefree, "AdamWScheduleFree", None),
        dict(lr=1e-3), nbytes=28),
}
TORCH_KINDS = {"for-loop": dict(foreach=False), "foreach": dict(foreach=True),
               "fused": dict(fused=True)}


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


class Triad:
    """GB/s of ``a += s * b`` (read a, b; write a) on float32 vectors of ``n`` elements."""

    def __init__(self, n: int = 50_000_000):
        self.a, self.b = torch.rand(n), torch.rand(n)

    def measure(self, repeats: int = 4) -> float:
        """Mean over ``repeats`` back-to-back triads, as the optimizers are timed."""
        t0 = time.perf_counter()
        for _ in range(repeats):
            self.a.add_(self.b, alpha=1e-9)
        return 12 * self.a.numel() * repeats / (time.perf_counter() - t0) / 1e9


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


def build_costs(entry: Entry) -> tuple[float, float]:
    """Seconds to build an optimizer's float32 kernels with an empty cache, then to load them."""
    opt = entry.make([torch.zeros(8, requires_grad=True)])
    algorithm = algorithm_for(opt.transform)
    flags = algorithm.flags(opt.param_groups[0])
    variants = [flags] + ([{**flags, "FIRST": 1}] if algorithm.first_flag else [])
    old = os.environ.get("RAVINE_CACHE_DIR")
    costs = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RAVINE_CACHE_DIR"] = tmp
        for _ in range(2):
            runner._kernels.clear()
            compiler._loaded.clear()
            t0 = time.perf_counter()
            for variant in variants:
                runner.kernel(algorithm, "float32", variant)
            costs.append(time.perf_counter() - t0)
    if old is None:
        del os.environ["RAVINE_CACHE_DIR"]
    else:
        os.environ["RAVINE_CACHE_DIR"] = old
    return costs[0], costs[1]


class NoiseDraw:
    """A yardstick for the gradient-noise chains: each tensor's seeded torch ``normal_``."""

    def __init__(self, params):
        self.shapes = [p.shape for p in params]
        self.buffer = torch.empty(max(p.numel() for p in params))
        self.generator = torch.Generator()
        self.t = 0

    def step(self):
        for k, shape in enumerate(self.shapes):
            self.generator.manual_seed(k * 7919 + self.t)
            self.buffer[:math.prod(shape)].view(shape).normal_(generator=self.generator)
        self.t += 1


def make_stepper(kind: str, entry: Entry, params):
    """An object with ``step()`` for one implementation, after one untimed step."""
    if kind == "ravine":
        opt = entry.make(params)
    elif kind == "reference":
        opt = entry.make(params)
        opt.fast_path = "reference"
    elif kind == "torch normal_ only":
        return NoiseDraw(params)
    else:
        opt = entry.torch_cls(params, **entry.kwargs, **TORCH_KINDS[kind])
        if hasattr(opt, "train"):  # the schedulefree package starts in eval mode
            opt.train()
        if entry.clip is not None:
            opt = _Clipped(opt, params, entry.clip, foreach=kind != "for-loop")
    opt.step()  # state creation and kernel build happen outside the timing
    return opt


class _Clipped:
    """torch's clipping utility, then the torch optimizer: one timed step."""

    def __init__(self, opt, params, clip, foreach):
        self.opt, self.params, self.clip, self.foreach = opt, params, clip, foreach

    def step(self):
        if self.clip == "norm":
            torch.nn.utils.clip_grad_norm_(self.params, 1.0, foreach=self.foreach)
        else:
            torch.nn.utils.clip_grad_value_(self.params, 1e-4, foreach=self.foreach)
        self.opt.step()


def time_steps(opt, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.step()
    return (time.perf_counter() - t0) / steps


def kinds_of(name: str, entry: Entry) -> list[str]:
    if entry.torch_cls is None:
        kinds = ["ravine", "reference"]
        return kinds + (["torch normal_ only"] if "noise" in name else [])
    return ["ravine", "for-loop", "foreach", "fused"]


def bench(name: str, params, rounds: int, triad: Triad, summary: list) -> None:
    entry = OPTIMIZERS[name]
    numel = sum(p.numel() for p in params)
    kinds = kinds_of(name, entry)
    steps = max(4, math.ceil(2e9 / (numel * entry.nbytes)))
    memory = {}
    for kind in list(kinds):  # one at a time in memory; rounds interleave below
        if kind == "torch normal_ only":
            continue
        try:
            opt = make_stepper(kind, entry, params)
        except (RuntimeError, TypeError, ValueError):  # torch has no such variant
            kinds.remove(kind)
            continue
        memory[kind] = peak_extra_mib(opt.step)
        del opt
        gc.collect()
    times = {k: [] for k in kinds}
    bandwidths = []
    for r in range(rounds):
        bandwidths.append(triad.measure())
        for kind in kinds[r % len(kinds):] + kinds[:r % len(kinds)]:  # rotate: no fixed order
            opt = make_stepper(kind, entry, params)
            # the noise references draw ~50x slower than the kernel: fewer steps
            slow = "noise" in name and kind != "ravine"
            times[kind].append(time_steps(opt, 2 if slow else steps))
            del opt
            gc.collect()
    bandwidth = statistics.median(bandwidths)
    build, load = build_costs(entry)
    med = {k: statistics.median(v) for k, v in times.items()}
    loops = [med[k] for k in ("for-loop", "foreach") if k in med]
    best_loop = min(loops) if loops else float("nan")
    ours = med["ravine"]
    print(f"\n{name}: {numel / 1e6:.1f}M float32 params in {len(params)} tensors, "
          f"{entry.nbytes} B/param, {steps} steps x {rounds} rounds; triad {bandwidth:.1f} GB/s "
          f"(median of its rounds, {min(bandwidths):.1f}-{max(bandwidths):.1f})")
    print(f"  ravine kernel build {build:.2f} s (empty cache), load {load * 1e3:.1f} ms (cached)")
    print("  | impl | ms/step | GB/s | of triad | ravine speedup | peak extra MiB |")
    print("  |---|---|---|---|---|---|")
    for kind in kinds:
        t = med[kind]
        gbs = entry.nbytes * numel / t / 1e9
        mib = memory.get(kind, float("nan"))
        print(f"  | {kind} | {t * 1e3:.2f} | {gbs:.1f} | {gbs / bandwidth:.0%} | "
              f"{t / ours:.2f}x | {mib:.0f} |")
    frac = entry.nbytes * numel / ours / 1e9 / bandwidth
    loop_frac = entry.nbytes * numel / best_loop / 1e9 / bandwidth
    summary.append((name, numel, ours * 1e3, frac, med.get("fused", float("nan")) / ours,
                    best_loop / ours, loop_frac, med.get("reference", float("nan")) / ours,
                    med.get("torch normal_ only", float("nan")) / ours, memory["ravine"], build))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[10e6, 50e6])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, compiler "
          f"{compiler.find_compiler()}, python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.2f}")
    triad = Triad()
    print(f"in-place triad bandwidth (a += s*b, float32, 50M) at start: {triad.measure():.1f} "
          "GB/s; measured again in every round")
    summary = []
    for total in args.sizes:
        gen = torch.Generator().manual_seed(1)
        params = [torch.randn(s, generator=gen).requires_grad_()
                  for s in model_like_shapes(int(total))]
        # gradient norm 0.5: under the clipping chains' max_norm=1.0, so torch's in-place
        # clip_grad_norm_ multiplies by exactly 1 and the shared gradients never shrink
        # (shrinking them step after step would end in slow denormal arithmetic for everyone)
        scale = 0.5 / math.sqrt(sum(p.numel() for p in params))
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen) * scale
        for name in args.optimizers:
            bench(name, params, args.rounds, triad, summary)
        del params
        gc.collect()
    print(f"\nSummary ({args.threads} threads; medians; speedups are time ratios in this run; "
          f"load average now {os.getloadavg()[0]:.2f})")
    # "torch loop of triad": the best torch loop's own fraction; 1 / it bounds any speedup over it
    print("| optimizer | params | ms/step | of triad | vs torch fused | vs best torch loop "
          "| torch loop of triad | vs ravine reference | vs torch normal_ only | peak extra MiB "
          "| build s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, numel, ms, frac, fused, loop, loop_frac, ref, noise, mib, build in summary:
        cells = [f"{x:.2f}x" if x == x else "-" for x in (fused, loop)]
        cells.append(f"{loop_frac:.0%}" if loop_frac == loop_frac else "-")
        cells += [f"{x:.2f}x" if x == x else "-" for x in (ref, noise)]
        print(f"| {name} | {numel / 1e6:.0f}M | {ms:.2f} | {frac:.0%} | {' | '.join(cells)} "
              f"| {mib:.0f} | {build:.2f} |")


if __name__ == "__main__":
    main()
