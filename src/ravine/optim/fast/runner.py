"""Run one param group's step through a fused kernel, or decline so the reference path runs.

:func:`step_group` checks that the group qualifies (dense, contiguous, CPU, float32/float64
parameters, gradients and state of one dtype; a known chain; a C compiler), then does what the
reference path does around the chain (state init, ``step`` counting, schedule evaluation) and
calls the kernel once for the whole group with the tensors' data pointers. It returns ``False``
*before changing anything* when the group does not qualify.

The implementation is chosen by ``optimizer.fast_path`` (default from the environment variable
``RAVINE_FAST_PATH``): ``"auto"`` (kernel when possible, else the reference), ``"kernel"``
(same as auto; the name says what is wanted) or ``"reference"``.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

import torch

from . import compiler
from .algorithms import Algorithm
from .csource import render

__all__ = ["FAST_PATHS", "default_fast_path", "kernel", "step_group"]

FAST_PATHS = ("auto", "kernel", "reference")
_DTYPES = {torch.float32: "float32", torch.float64: "float64"}
_STEP_DTYPES = {torch.float32: 0, torch.float64: 1}
_kernels: dict[tuple, Any] = {}


def default_fast_path() -> str:
    """The implementation named by ``RAVINE_FAST_PATH`` (``auto`` when unset)."""
    value = os.environ.get("RAVINE_FAST_PATH", "auto").strip().lower() or "auto"
    if value not in FAST_PATHS:
        raise ValueError(f"RAVINE_FAST_PATH must be one of {FAST_PATHS}, got {value!r}")
    return value


def kernel(algorithm: Algorithm, dtype: str, flags: dict[str, int]):
    """The compiled ``ravine_step`` function for one variant, or ``None`` without a compiler."""
    key = (algorithm.name, dtype, tuple(sorted(flags.items())), compiler.find_compiler())
    fn = _kernels.get(key, False)
    if fn is False:
        fn = None
        source = render(algorithm.source(flags), dtype, flags)
        tag = "-".join(f"{k.lower()}{v}" for k, v in sorted(flags.items()))
        lib = compiler.load_library(source, f"{algorithm.name}-{dtype}-{tag}")
        if lib is not None:
            fn = lib.ravine_step
            fn.restype = None
            fn.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                           ctypes.c_int, ctypes.c_int]
        _kernels[key] = fn
    return fn


def step_group(opt: Any, algorithm: Algorithm, group: dict) -> bool:
    """One step of ``group`` through the kernel; ``False`` (nothing changed) if it can't."""
    params, grads = [], []
    for p in group["params"]:
        g = p.grad
        if g is not None:
            params.append(p)
            grads.append(g)
    if not params:
        return True
    dtype = params[0].dtype
    name = _DTYPES.get(dtype)
    if name is None or group.get("differentiable", False):
        return False
    for p, g in zip(params, grads, strict=True):
        if (g.layout is not torch.strided or p.dtype is not dtype or g.dtype is not dtype
                or not (p.is_cpu and g.is_cpu and p.is_contiguous() and g.is_contiguous())):
            return False
    flags = algorithm.flags(group)
    if flags is None:
        return False
    fn = kernel(algorithm, name, flags)
    if fn is None:
        return False
    states = [opt.state[p] for p in params]
    keys = algorithm.state_keys(flags)
    if not _states_qualify(states, params, keys, dtype):
        return False
    # from here on the step happens: do what the reference path does around the chain
    fresh = [i for i, s in enumerate(states) if not s]
    if fresh:
        new = opt.transform.init([params[i] for i in fresh], group)
        for i, s in zip(fresh, new, strict=True):
            states[i].update(s)
    step = 0
    if opt._uses_step(group):
        steps = []
        for s in states:
            if "step" not in s:
                s["step"] = torch.tensor(0.0, dtype=torch.get_default_dtype())
            steps.append(s["step"])
        step = int(steps[0].item())
        scalars = [s.get(k) for s in states for k in algorithm.scalar_keys]
        if algorithm.uses_step and not _steps_qualify(steps + scalars):
            return _reference_rest(opt, group, params, states, step)
        torch._foreach_add_(steps, 1.0)
    elif algorithm.uses_step:
        raise RuntimeError(f"{type(opt).__name__}: the chain reads step but _uses_step is False")
    hp = opt._hyperparameters(group, step)
    first = [algorithm.lazy_state(p, s, flags) for p, s in zip(params, states, strict=True)]
    values = algorithm.hyper(hp)
    step_is_double = 0
    if algorithm.uses_step:
        step_is_double = _STEP_DTYPES[states[0]["step"].dtype]
    if algorithm.first_flag and any(first):
        fn_first = kernel(algorithm, name, {**flags, "FIRST": 1})
        old = [i for i, f in enumerate(first) if not f]
        new = [i for i, f in enumerate(first) if f]
        _call(fn_first, [params[i] for i in new], [grads[i] for i in new],
              [states[i] for i in new], keys, values, step_is_double, algorithm)
        params, grads, states = ([x[i] for i in old] for x in (params, grads, states))
    if params:
        _call(fn, params, grads, states, keys, values, step_is_double, algorithm)
    return True


def _states_qualify(states: list[dict], params: list, keys: tuple, dtype: torch.dtype) -> bool:
    for s, p in zip(states, params, strict=True):
        for k in keys:
            t = s.get(k)
            if t is None:
                continue  # created by init or lazy_state below
            if (not isinstance(t, torch.Tensor) or t.dtype is not dtype or not t.is_cpu
                    or not t.is_contiguous() or t.numel() != p.numel()):
                return False
    return True


def _steps_qualify(steps: list) -> bool:
    dtype = steps[0].dtype
    return all(isinstance(t, torch.Tensor) and t.dtype is dtype and t.is_cpu and t.numel() == 1
               for t in steps) and dtype in _STEP_DTYPES


def _reference_rest(opt, group, params, states, step) -> bool:
    # unusual step tensors (e.g. loaded as ints): count as the reference does and let it run
    for s in states:
        s["step"] += 1
    opt._reference_update(group, params, states, step)
    return True


def _call(fn, params, grads, states, keys, values, step_is_double, algorithm) -> None:
    uses_step, scalar_keys = algorithm.uses_step, algorithm.scalar_keys
    n = len(params)
    ptrs: list[int | None] = []
    for p, g, s in zip(params, grads, states, strict=True):
        ptrs.append(p.data_ptr())
        ptrs.append(g.data_ptr())
        for k in keys:
            ptrs.append(s[k].data_ptr())
        ptrs.append(s["step"].data_ptr() if uses_step else None)
        for k in scalar_keys:
            ptrs.append(s[k].data_ptr())
    bufs = (ctypes.c_void_p * len(ptrs))(*ptrs)
    numel = (ctypes.c_int64 * n)(*[p.numel() for p in params])
    hp = (ctypes.c_double * len(values))(*values)
    fn(n, bufs, numel, hp, step_is_double, torch.get_num_threads())
