"""Adafactor and Muon step time: ravine against torch.optim, measured in the same run.

Model-like sets of float32 matrices: the hidden matrices of a transformer stack (per layer the
four ``d x d`` attention projections and the ``4d x d`` / ``d x 4d`` MLP pair), once wide and
shallow, once narrow and deep (many small matrices, where per-matrix overhead shows). Rows:

- Adafactor: ravine's reference chain vs torch's for-loop and foreach implementations;
- Muon, bfloat16 Newton–Schulz: ravine (one matrix at a time, torch's exact iterates) vs torch;
- Muon, ``ns_dtype=torch.float32``: ravine's batched iteration (matrices of one shape stacked
  into ``baddbmm``), beside torch's bfloat16 step (on CPUs without bfloat16 arithmetic float32
  is the fast choice; its update is within 1e-5 of the exact map, bfloat16's within 2-4%).

Run: ``.venv/bin/python benchmarks/matrix_optim.py [--rounds 5] [--steps 3] [--threads 2]``.
Medians of interleaved rounds; compare ratios within one run (the machine is shared).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import ravine.optim as ro

MODELS = {"wide: d=256, 4 layers": (256, 4), "deep: d=64, 16 layers": (64, 16)}


def model_matrices(width: int, layers: int) -> list[torch.Tensor]:
    shapes = [(width, width)] * 4 + [(4 * width, width), (width, 4 * width)]
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(s, generator=gen) * s[1] ** -0.5 for _ in range(layers) for s in shapes]


def candidates() -> dict[str, object]:
    """name -> params -> optimizer; the anchor of each group is the first torch entry."""
    return {
        "Adafactor torch (for-loop)": lambda p: torch.optim.Adafactor(p, lr=1e-2),
        "Adafactor torch (foreach)": lambda p: torch.optim.Adafactor(p, lr=1e-2, foreach=True),
        "Adafactor ravine": lambda p: ro.Adafactor(p, lr=1e-2),
        "Muon torch (bfloat16)": lambda p: torch.optim.Muon(p, lr=2e-2),
        "Muon ravine (bfloat16)": lambda p: ro.Muon(p, lr=2e-2),
        "Muon ravine (float32, batched)": lambda p: ro.Muon(p, lr=2e-2, ns_dtype=torch.float32),
    }


def time_steps(make, matrices, steps: int) -> float:
    params = [m.clone().requires_grad_() for m in matrices]
    gen = torch.Generator().manual_seed(1)
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen)
    opt = make(params)
    opt.step()  # state allocation outside the timing
    start = time.perf_counter()
    for _ in range(steps):
        opt.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, medians of {args.rounds} rounds "
          f"x {args.steps} steps")
    for model, (width, layers) in MODELS.items():
        matrices = model_matrices(width, layers)
        numel = sum(m.numel() for m in matrices)
        print(f"\n{model}: {len(matrices)} matrices, {numel / 1e6:.2f}M parameters")
        times: dict[str, list[float]] = {name: [] for name in candidates()}
        for _ in range(args.rounds):
            for name, make in candidates().items():
                times[name].append(time_steps(make, matrices, args.steps))
        anchors = {"Adafactor": "Adafactor torch (for-loop)", "Muon": "Muon torch (bfloat16)"}
        print(f"{'optimizer':34s} {'ms/step':>9s} {'vs torch':>9s}")
        for name, values in times.items():
            ms = statistics.median(values) * 1e3
            anchor = statistics.median(times[anchors[name.split()[0]]]) * 1e3
            print(f"{name:34s} {ms:9.2f} {ms / anchor:9.2f}")


if __name__ == "__main__":
    main()
