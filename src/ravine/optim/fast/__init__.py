"""The fast path: each known optimizer chain as one fused, multithreaded C kernel per step.

A kernel is generated per (algorithm, dtype, flag combination) as plain C with OpenMP, compiled
once with the system C compiler into ``~/.cache/ravine/kernels`` (keyed by a hash of source and
flags, so later processes only load it) and called through :mod:`ctypes` with the data pointers
of the parameters, gradients and torch.optim-layout state tensors, which it updates in place.
Hyperparameters are passed as doubles every step, so schedules keep working. Without a compiler,
or for groups that do not qualify, the reference transforms run instead (same results).
"""

from .algorithms import ALGORITHMS, Algorithm, algorithm_for
from .compiler import find_compiler
from .runner import FAST_PATHS, default_fast_path, kernel, step_group

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "FAST_PATHS",
    "algorithm_for",
    "default_fast_path",
    "find_compiler",
    "kernel",
    "step_group",
]
