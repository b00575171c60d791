"""The fast path: each known optimizer chain as one fused, multithreaded C kernel per step.

A kernel is generated per (algorithm, dtype, flag combination) as plain C with OpenMP, compiled
once with the system C compiler into ``~/.cache/ravine/kernels`` (keyed by a hash of source and
flags, so later processes only load it) and called through :mod:`ctypes` with the data pointers
of the parameters, gradients and torch.optim-layout state tensors, which it updates in place.
Hyperparameters are passed as doubles every step, so schedules keep working. Without a compiler,
or for groups that do not qualify, the reference transforms run instead (same results).

Example:
    >>> import torch
    >>> import ravine.optim as ro
    >>> w = torch.zeros(3, requires_grad=True)
    >>> opt = ro.Adam([w], lr=0.1)          # fast_path="auto": the fused kernel when it can
    >>> w.grad = torch.tensor([1.0, -2.0, 0.0])
    >>> opt.step()
    >>> [round(x, 6) for x in w.tolist()]   # Adam's first step: -lr * sign(g)
    [-0.1, 0.1, 0.0]
    >>> algorithm_for(opt.transform).name
    'adam'
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
