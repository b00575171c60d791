"""Run one param group's step through a fused kernel, or decline so the reference path runs.

:func:`step_group` checks that the group qualifies (dense, contiguous, CPU, float32/float64
parameters, gradients and state of one dtype; a known chain; a C compiler), then does what the
reference path does around the chain (state init, ``step`` counting, schedule evaluation) and
calls the kernel once for the whole group with the tensors' data pointers. It returns ``False``
*before changing anything* when the group does not qualify.

The per-step Python work is kept small for small models: after the first step a group's layout
(its parameters, state tensors, pointer table) is cached on the optimizer and only re-checked
by identity; each step then reads the gradients' pointers and calls the kernel, which also
counts ``state["step"]``.

The implementation is chosen by ``optimizer.fast_path`` (default from the environment variable
``RAVINE_FAST_PATH``): ``"auto"`` (kernel when possible, else the reference), ``"kernel"``
(same as auto; the name says what is wanted) or ``"reference"``.
"""

from __future__ import annotations

import ctypes
import itertools
import operator
import os
import warnings
from typing import Any

import numpy as np
import torch

from ...transforms.base import scheduled_keys
from . import compiler
from .algorithms import Algorithm
from .csource import render

__all__ = ["FAST_PATHS", "default_fast_path", "kernel", "step_group"]

FAST_PATHS = ("auto", "kernel", "reference")
_DTYPES = {torch.float32: "float32", torch.float64: "float64"}
_STEP_DTYPES = {torch.float32: 0, torch.float64: 1}
_kernels: dict[tuple, Any] = {}
_GRAD = operator.attrgetter("grad")
_GRAD_KIND = operator.attrgetter("layout", "dtype", "is_cpu")
_DTYPE = operator.attrgetter("dtype")
_DATA_PTR = torch.Tensor.data_ptr
_CONTIGUOUS = torch.Tensor.is_contiguous
_NONES = itertools.repeat(None)


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
        if lib is None and compiler.find_compiler() is not None:
            warnings.warn(f"ravine: building the {algorithm.name} kernel failed, using the "
                          f"reference path: {compiler.last_error}", RuntimeWarning, stacklevel=3)
        if lib is not None:
            fn = lib.ravine_step
            fn.restype = None
            fn.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                           ctypes.c_int, ctypes.c_int]
        _kernels[key] = fn
    return fn


def step_group(opt: Any, algorithm: Algorithm, group: dict, step: int = 0) -> bool:
    """One step of ``group`` through the kernel; ``False`` (nothing changed) if it can't.

    ``step`` is the number of steps the group's schedules have taken (``group_step``).
    """
    params = group["params"]
    grads = list(map(_GRAD, params))  # C-level loops: the per-step cost of a small model
    if not all(map(operator.is_not, grads, _NONES)):  # (`None in grads` would call __eq__)
        params = [p for p, g in zip(params, grads, strict=True) if g is not None]
        grads = [g for g in grads if g is not None]
    if not params:
        return True
    if any(key != "lr" for key in scheduled_keys(group)):
        return False  # compile-time flags may depend on a scheduled value (momentum != 0, ...)
    flags = algorithm.flags(group)
    if flags is None:
        return False
    counted = bool(opt._uses_step(group))
    layouts = opt.__dict__.setdefault("_fast_layouts", {})
    layout = layouts.get(id(group))
    if layout is not None and layout.matches(opt, group, params, flags, counted):
        if not _grads_qualify(params, grads, layout.dtype):
            return False
        layout.run(opt, group, params, grads, step)
        return True
    layouts.pop(id(group), None)
    return _first_step(opt, algorithm, group, params, grads, flags, counted, layouts, step)


class _Layout:
    """A group's cached kernel call: parameters, state tensors and the pointer table."""

    def __init__(self, opt, algorithm, group, fn, flags, counted, params, states, keys):
        self.group, self.algorithm, self.fn, self.flags = group, algorithm, fn, flags
        # copies: `params` may be the group's own list, which a user can extend in place
        self.counted, self.params, self.dicts = counted, list(params), list(states)
        self.container = opt.state
        self.dtype = params[0].dtype
        self.keys = keys + (("step",) if counted else ()) + algorithm.scalar_keys
        self.tensors = [tuple(s[k] for k in self.keys) for s in states]
        self.by_key = list(zip(*self.tensors, strict=True)) if self.keys else []
        self.word_column = 2 + len(keys)
        step_index = self.word_column + len(algorithm.word_keys)
        self.table = np.zeros((len(params), step_index + 1 + len(algorithm.scalar_keys)),
                              dtype=np.uint64)
        columns = list(range(2, 2 + len(keys))) + ([step_index] if counted else [])
        columns += list(range(step_index + 1, self.table.shape[1]))
        for row, tensors in zip(self.table, self.tensors, strict=True):
            row[columns] = [t.data_ptr() for t in tensors]
        self.numel = np.array([p.numel() for p in params], dtype=np.int64)
        self.step_mode = 0
        if counted:
            self.step_mode = 2 | _STEP_DTYPES[states[0]["step"].dtype]

    def matches(self, opt, group, params, flags, counted) -> bool:
        """Whether the group, its parameters and their state tensors are the cached ones."""
        if (group is not self.group or flags != self.flags or counted != self.counted
                or opt.state is not self.container or len(params) != len(self.params)):
            return False
        if not all(map(operator.is_, params, self.params)):
            return False
        if not all(map(operator.is_, map(self.container.get, params), self.dicts)):
            return False
        for key, tensors in zip(self.keys, self.by_key, strict=True):
            if not all(map(operator.is_, map(operator.methodcaller("get", key), self.dicts),
                           tensors)):
                return False
        return True

    def run(self, opt, group, params, grads, step) -> None:
        values = self.algorithm.hyper(opt._hyperparameters(group, step))
        table = self.table
        table[:, 0] = list(map(_DATA_PTR, params))
        table[:, 1] = list(map(_DATA_PTR, grads))
        for column, key in enumerate(self.algorithm.word_keys, self.word_column):
            table[:, column] = [s[key] for s in self.dicts]  # e.g. noise keys: by value
        _invoke(self.fn, len(params), table, self.numel, values, self.step_mode)


def _grads_qualify(params, grads, dtype) -> bool:
    """Dense contiguous CPU gradients and parameters, all of ``dtype``."""
    if set(map(_GRAD_KIND, grads)) != {(torch.strided, dtype, True)}:
        return False
    if set(map(_DTYPE, params)) != {dtype}:
        return False
    return all(map(_CONTIGUOUS, grads)) and all(map(_CONTIGUOUS, params))


def _first_step(opt, algorithm, group, params, grads, flags, counted, layouts, step) -> bool:
    """Validate everything, create state as the reference does, step, and cache the layout."""
    dtype = params[0].dtype
    name = _DTYPES.get(dtype)
    if name is None or group.get("differentiable", False):
        return False
    if not all(p.is_cpu for p in params) or not _grads_qualify(params, grads, dtype):
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
    step_mode = 0
    if counted:
        steps = []
        for s in states:
            if "step" not in s:
                s["step"] = torch.tensor(0.0, dtype=torch.get_default_dtype())
            steps.append(s["step"])
        scalars = [s.get(k) for s in states for k in algorithm.scalar_keys]
        if not _steps_qualify(steps + scalars):
            return _reference_rest(opt, group, params, states, step)
        step_mode = 2 | _STEP_DTYPES[steps[0].dtype]
    elif algorithm.uses_step:
        raise RuntimeError(f"{type(opt).__name__}: the chain reads step but _uses_step is False")
    values = algorithm.hyper(opt._hyperparameters(group, step))
    first = [algorithm.lazy_state(p, s, flags) for p, s in zip(params, states, strict=True)]
    call = _Call(algorithm, group, keys, counted, values, step_mode)
    if algorithm.first_flag and any(first):
        flags_first = {**flags, "FIRST": 1}
        fn_first = kernel(algorithm, name, flags_first)
        for fn_, flags_, part in ((fn_first, flags_first, True), (fn, flags, False)):
            idx = [i for i, f in enumerate(first) if f is part]
            if idx:
                call(fn_, flags_, [params[i] for i in idx], [grads[i] for i in idx],
                     [states[i] for i in idx])
        return True  # the next step builds the layout, with every buffer in place
    call(fn, flags, params, grads, states)
    layouts[id(group)] = _Layout(opt, algorithm, group, fn, flags, counted, params, states, keys)
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
    dtype = steps[0].dtype if isinstance(steps[0], torch.Tensor) else None
    return dtype in _STEP_DTYPES and all(
        isinstance(t, torch.Tensor) and t.dtype is dtype and t.is_cpu and t.numel() == 1
        for t in steps)


def _reference_rest(opt, group, params, states, step) -> bool:
    # unusual step tensors (e.g. loaded as ints): count as the reference does and let it run
    for s in states:
        s["step"] += 1
    opt._reference_update(group, params, states, step)
    return True


class _Call:
    """One kernel call without a cached layout (first steps)."""

    def __init__(self, algorithm, group, keys, counted, values, step_mode):
        self.algorithm, self.group, self.keys, self.counted = algorithm, group, keys, counted
        self.values, self.step_mode = values, step_mode

    def __call__(self, fn, flags, params, grads, states) -> None:
        algorithm = self.algorithm
        rows = []
        for p, g, s in zip(params, grads, states, strict=True):
            rows.append([p.data_ptr(), g.data_ptr(), *(s[k].data_ptr() for k in self.keys),
                         *(s[k] for k in algorithm.word_keys),
                         s["step"].data_ptr() if self.counted else 0,
                         *(s[k].data_ptr() for k in algorithm.scalar_keys)])
        table = np.array(rows, dtype=np.uint64)
        numel = np.array([p.numel() for p in params], dtype=np.int64)
        _invoke(fn, len(params), table, numel, self.values, self.step_mode)


def _invoke(fn, n, table, numel, values, step_mode) -> None:
    """Call a kernel on ``n`` tensors (pointer ``table`` rows, ``numel``), ``values`` as hp."""
    hp = (ctypes.c_double * len(values))(*values)
    fn(n, table.ctypes.data, numel.ctypes.data, hp, step_mode, torch.get_num_threads())
