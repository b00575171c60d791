"""The :class:`Schedule` base class: a pure, picklable function ``step -> lr`` with a SPEC repr.

Every schedule is a frozen dataclass whose fields are its keyword arguments. ``repr`` prints the
canonical SPEC string (fields left at their default are omitted), which
:func:`ravine.schedules.parse` reads back. Schedules pickle as ``(class, field values)`` and are
registered with ``torch.serialization.add_safe_globals``, so an optimizer ``state_dict`` that holds
one loads with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, ClassVar

import torch

__all__ = ["Schedule", "REGISTRY", "register"]

REGISTRY: dict[str, type[Schedule]] = {}


class Schedule:
    """A learning rate as a pure function of the step count (0 = the first optimizer step).

    Subclasses are frozen dataclasses; they implement :meth:`lr` and validate their fields in
    ``__post_init__``. Calling a schedule with a negative or non-integer step is a ``ValueError``.
    """

    spec_name: ClassVar[str] = ""

    def __call__(self, step: int) -> float:
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            raise TypeError(f"step must be an int, got {type(step).__name__}")
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        return self.lr(int(step))

    def lr(self, step: int) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.default is not dataclasses.MISSING and value == f.default:
                continue
            parts.append(f"{f.name}={_spec_value(value)}")
        return f"{self.spec_name}({', '.join(parts)})"

    def __reduce__(self):
        values = tuple(getattr(self, f.name) for f in dataclasses.fields(self))
        return (type(self), values)


def _spec_value(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_spec_value(v) for v in value) + "]"
    return repr(value)


def register(cls: type[Schedule]) -> type[Schedule]:
    """Class decorator: make ``cls`` a frozen dataclass, known to ``parse`` and ``torch.load``."""
    cls = dataclasses.dataclass(frozen=True, repr=False)(cls)
    if not cls.spec_name:
        raise TypeError(f"{cls.__name__} needs a spec_name")
    REGISTRY[cls.spec_name] = cls
    torch.serialization.add_safe_globals([cls])
    return cls


# ---- validation helpers (each raises ValueError/TypeError naming the argument) ----------


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


def check_number(obj: Any, name: str, *, low: float = 0.0, low_open: bool = False,
                 high: float | None = None, high_open: bool = False) -> float:
    """Check that ``obj.<name>`` is a real number in the range; store it as a float."""
    value = getattr(obj, name)
    where = f"{obj.spec_name}(): {name}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where} must be a number, got {value!r}")
    value = float(value)
    lo = "(" if low_open else "["
    if high is None:
        hi = "inf)"
    else:
        hi = f"{high})" if high_open else f"{high}]"
    accepted = f"{lo}{low}, {hi}"
    bad = (
        not math.isfinite(value)
        or (value <= low if low_open else value < low)
        or (high is not None and (value >= high if high_open else value > high))
    )
    if bad:
        raise ValueError(f"{where} must be in {accepted}, got {value!r}")
    _set(obj, name, value)
    return value


def check_int(obj: Any, name: str, *, low: int = 1) -> int:
    """Check that ``obj.<name>`` is an integer >= ``low``."""
    value = getattr(obj, name)
    where = f"{obj.spec_name}(): {name}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{where} must be an integer >= {low}, got {value!r}")
    _set(obj, name, int(value))
    return int(value)


def check_choice(obj: Any, name: str, choices: tuple[str, ...]) -> str:
    value = getattr(obj, name)
    if value not in choices:
        raise ValueError(f"{obj.spec_name}(): {name} must be one of {list(choices)}, got {value!r}")
    return value


def check_schedule(obj: Any, name: str) -> Schedule:
    value = getattr(obj, name)
    if not isinstance(value, Schedule):
        raise TypeError(f"{obj.spec_name}(): {name} must be a Schedule, got {value!r}")
    return value


def check_floor_peak(obj: Any) -> None:
    """``peak >= 0`` and ``0 <= floor <= peak``."""
    check_number(obj, "peak")
    check_number(obj, "floor")
    if obj.floor > obj.peak:
        raise ValueError(
            f"{obj.spec_name}(): floor must be in [0, peak={obj.peak}], got {obj.floor!r}"
        )
