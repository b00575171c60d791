"""Decaying schedules in closed form: constant, step, multistep, exponential, cosine, linear,
polynomial and inverse square root.

Each is a pure function of the step ``t`` (0 = the first optimizer step). Where
``torch.optim.lr_scheduler`` has the same schedule, the formula is written in the same arithmetic
order as torch's closed form, so the two agree to rounding.
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_right

from .base import Schedule, check_floor_peak, check_int, check_number, register

__all__ = [
    "Constant", "StepDecay", "MultiStep", "Exponential", "Cosine", "Linear", "Polynomial",
    "InverseSqrt",
]


@register
class Constant(Schedule):
    """A constant learning rate: ``lr(t) = peak``.

    Args:
        peak: the learning rate (>= 0).

    Example:
        >>> from ravine.schedules import constant
        >>> constant(peak=0.1)(1000)
        0.1
    """

    spec_name = "constant"
    peak: float

    def __post_init__(self):
        check_number(self, "peak")

    def lr(self, step):
        return self.peak


@register
class StepDecay(Schedule):
    """Multiply the lr by ``gamma`` every ``step_size`` steps (``torch.optim.lr_scheduler.StepLR``).

    ``lr(t) = peak * gamma ** (t // step_size)``

    Args:
        peak: the initial learning rate (>= 0).
        step_size: steps between decays (integer >= 1).
        gamma: the factor applied at each decay, in [0, 1].

    Example:
        >>> from ravine.schedules import step
        >>> s = step(peak=1.0, step_size=10, gamma=0.5)
        >>> s(9), s(10), s(25)
        (1.0, 0.5, 0.25)
    """

    spec_name = "step"
    peak: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        check_number(self, "peak")
        check_int(self, "step_size")
        check_number(self, "gamma", high=1.0)

    def lr(self, step):
        return self.peak * self.gamma ** (step // self.step_size)


@register
class MultiStep(Schedule):
    """Multiply the lr by ``gamma`` at each milestone (``torch.optim.lr_scheduler.MultiStepLR``).

    ``lr(t) = peak * gamma ** #{m in milestones : m <= t}``; e.g. x0.1 at epochs 30/60/90
    for ResNets on ImageNet (He et al., 2016).

    Args:
        peak: the initial learning rate (>= 0).
        milestones: strictly increasing steps (integers >= 1) at which the lr is multiplied.
        gamma: the factor, in [0, 1].

    Example:
        >>> from ravine.schedules import multistep
        >>> s = multistep(peak=1.0, milestones=[30, 60, 90], gamma=0.1)
        >>> [round(s(t), 6) for t in (29, 30, 60, 95)]
        [1.0, 0.1, 0.01, 0.001]
    """

    spec_name = "multistep"
    peak: float
    milestones: tuple
    gamma: float = 0.1

    def __post_init__(self):
        check_number(self, "peak")
        check_number(self, "gamma", high=1.0)
        ms = self.milestones
        ok = isinstance(ms, (list, tuple)) and len(ms) > 0 and all(
            isinstance(m, numbers.Integral) and not isinstance(m, bool) and m >= 1 for m in ms
        )
        if not ok or any(b <= a for a, b in zip(ms[:-1], ms[1:], strict=True)):
            raise ValueError(
                f"multistep(): milestones must be a non-empty, strictly increasing list of "
                f"integers >= 1, got {ms!r}"
            )
        object.__setattr__(self, "milestones", tuple(int(m) for m in ms))

    def lr(self, step):
        return self.peak * self.gamma ** bisect_right(self.milestones, step)


@register
class Exponential(Schedule):
    """Multiply the lr by ``gamma`` every step (``torch.optim.lr_scheduler.ExponentialLR``).

    ``lr(t) = peak * gamma ** t``

    Args:
        peak: the initial learning rate (>= 0).
        gamma: the factor per step, in [0, 1].

    Example:
        >>> from ravine.schedules import exponential
        >>> exponential(peak=1.0, gamma=0.5)(3)
        0.125
    """

    spec_name = "exponential"
    peak: float
    gamma: float

    def __post_init__(self):
        check_number(self, "peak")
        check_number(self, "gamma", high=1.0)

    def lr(self, step):
        return self.peak * self.gamma**step


@register
class Cosine(Schedule):
    """Cosine annealing from ``peak`` to ``floor`` over ``total`` steps, then ``floor``.

    ``lr(t) = floor + (peak - floor) * (1 + cos(pi * t / total)) / 2`` for ``t <= total``,
    ``floor`` after (torch's ``CosineAnnealingLR`` closed form is the same up to ``T_max``, but
    rises again after it).

    Args:
        peak: the initial learning rate (>= 0).
        total: the number of annealing steps (integer >= 1).
        floor: the final learning rate, in [0, peak].

    References:
        Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017.

    Example:
        >>> from ravine.schedules import cosine
        >>> s = cosine(peak=1.0, total=100, floor=0.1)
        >>> s(0), round(s(50), 12), s(100), s(500)
        (1.0, 0.55, 0.1, 0.1)
    """

    spec_name = "cosine"
    peak: float
    total: int
    floor: float = 0.0

    def __post_init__(self):
        check_floor_peak(self)
        check_int(self, "total")

    def lr(self, step):
        if step >= self.total:
            return self.floor
        cos = math.cos(math.pi * step / self.total)
        return self.floor + (self.peak - self.floor) * (1 + cos) / 2


@register
class Linear(Schedule):
    """Linear decay from ``peak`` to ``floor`` over ``total`` steps, then ``floor``.

    ``lr(t) = floor + (peak - floor) * (1 - min(t, total) / total)``
    (``torch.optim.lr_scheduler.LinearLR`` with ``start_factor=1, end_factor=floor/peak``).

    Args:
        peak: the initial learning rate (>= 0).
        total: the number of decay steps (integer >= 1).
        floor: the final learning rate, in [0, peak].

    Example:
        >>> from ravine.schedules import linear
        >>> s = linear(peak=1.0, total=10)
        >>> s(0), s(5), s(10), s(20)
        (1.0, 0.5, 0.0, 0.0)
    """

    spec_name = "linear"
    peak: float
    total: int
    floor: float = 0.0

    def __post_init__(self):
        check_floor_peak(self)
        check_int(self, "total")

    def lr(self, step):
        return self.floor + (self.peak - self.floor) * (1.0 - min(step, self.total) / self.total)


@register
class Polynomial(Schedule):
    """Polynomial decay from ``peak`` to ``floor`` over ``total`` steps, then ``floor``.

    ``lr(t) = floor + (peak - floor) * (1 - min(t, total) / total) ** power``
    (``torch.optim.lr_scheduler.PolynomialLR`` when ``floor = 0``).

    Args:
        peak: the initial learning rate (>= 0).
        total: the number of decay steps (integer >= 1).
        power: the exponent (> 0); 1 is linear decay.
        floor: the final learning rate, in [0, peak].

    Example:
        >>> from ravine.schedules import polynomial
        >>> polynomial(peak=1.0, total=10, power=2.0)(5)
        0.25
    """

    spec_name = "polynomial"
    peak: float
    total: int
    power: float = 1.0
    floor: float = 0.0

    def __post_init__(self):
        check_floor_peak(self)
        check_int(self, "total")
        check_number(self, "power", low_open=True)

    def lr(self, step):
        frac = 1.0 - min(step, self.total) / self.total
        return self.floor + (self.peak - self.floor) * frac**self.power


@register
class InverseSqrt(Schedule):
    """Inverse square-root decay ``alpha0 / sqrt(t)``, with an optional linear warmup.

    With ``w = max(warmup, 1)``: ``lr(t) = peak * t / warmup`` for ``t < warmup``, and
    ``lr(t) = peak * sqrt(w / max(t, w))`` after, so the lr is ``peak`` at ``t = warmup``
    and ``peak * sqrt(warmup / t)`` from there on (the Transformer recipe).

    Args:
        peak: the learning rate at the end of the warmup (>= 0).
        warmup: warmup steps (integer >= 0).

    References:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017.

    Example:
        >>> from ravine.schedules import inverse_sqrt
        >>> s = inverse_sqrt(peak=1.0, warmup=100)
        >>> s(50), s(100), s(400)
        (0.5, 1.0, 0.5)
    """

    spec_name = "inverse_sqrt"
    peak: float
    warmup: int = 0

    def __post_init__(self):
        check_number(self, "peak")
        check_int(self, "warmup", low=0)

    def lr(self, step):
        if step < self.warmup:
            return self.peak * step / self.warmup
        w = max(self.warmup, 1)
        return self.peak * math.sqrt(w / max(step, w))
