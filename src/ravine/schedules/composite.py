"""Schedules built from others, and warm restarts: warmup, warmup_cosine, join, sgdr."""

from __future__ import annotations

import math
import numbers
from bisect import bisect_right

from .base import (
    Schedule,
    check_floor_peak,
    check_int,
    check_number,
    check_schedule,
    register,
)

__all__ = ["Warmup", "WarmupCosine", "Join", "SGDR"]


@register
class Warmup(Schedule):
    """Linear warmup from ``start`` to ``schedule(0)`` in front of any schedule.

    ``lr(t) = start + (schedule(0) - start) * t / warmup`` for ``t < warmup``, then
    ``lr(t) = schedule(t - warmup)``: the wrapped schedule starts at the boundary, so the lr
    reaches its peak ``schedule(0)`` exactly at ``t = warmup``.

    Args:
        schedule: the schedule that follows the warmup.
        warmup: warmup steps (integer >= 0; 0 is no warmup).
        start: the lr at step 0, in [0, schedule(0)].

    References:
        Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017.

    Example:
        >>> from ravine.schedules import warmup, constant
        >>> s = warmup(constant(peak=1.0), warmup=4)
        >>> [s(t) for t in range(6)]
        [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    spec_name = "warmup"
    schedule: Schedule
    warmup: int
    start: float = 0.0

    def __post_init__(self):
        check_schedule(self, "schedule")
        check_int(self, "warmup", low=0)
        check_number(self, "start", high=self.schedule(0))

    def lr(self, step):
        if step < self.warmup:
            target = self.schedule(0)
            return self.start + (target - self.start) * step / self.warmup
        return self.schedule(step - self.warmup)


@register
class WarmupCosine(Schedule):
    """Linear warmup to ``peak`` over ``warmup`` steps, then cosine decay to ``floor`` at ``total``.

    The common recipe in one call: ``warmup(cosine(peak, total - warmup, floor), warmup, start)``.
    ``total`` counts all steps, warmup included; after ``total`` the lr stays at ``floor``.

    Args:
        peak: the top learning rate (>= 0), reached at ``t = warmup``.
        warmup: warmup steps (integer >= 0, < total).
        total: total steps (integer >= 1).
        floor: the final learning rate, in [0, peak].
        start: the lr at step 0, in [0, peak].

    References:
        Loshchilov & Hutter, SGDR, ICLR 2017; Goyal et al., 2017 (warmup).

    Example:
        >>> from ravine.schedules import warmup_cosine
        >>> s = warmup_cosine(peak=0.1, warmup=500, total=10000)
        >>> s
        warmup_cosine(peak=0.1, warmup=500, total=10000)
        >>> s(250), s(500), s(10000)
        (0.05, 0.1, 0.0)
    """

    spec_name = "warmup_cosine"
    peak: float
    warmup: int
    total: int
    floor: float = 0.0
    start: float = 0.0

    def __post_init__(self):
        check_floor_peak(self)
        check_int(self, "total")
        check_int(self, "warmup", low=0)
        if self.warmup >= self.total:
            raise ValueError(
                f"warmup_cosine(): warmup must be in [0, total={self.total}), got {self.warmup}"
            )
        check_number(self, "start", high=self.peak)

    def lr(self, step):
        if step < self.warmup:
            return self.start + (self.peak - self.start) * step / self.warmup
        decay = self.total - self.warmup
        t = min(step - self.warmup, decay)
        return self.floor + (self.peak - self.floor) * (1 + math.cos(math.pi * t / decay)) / 2


@register
class Join(Schedule):
    """Chain schedules: each one runs from its boundary, restarting its own step count at 0.

    With boundaries ``b_1 < ... < b_k`` and ``b_0 = 0``: for ``b_i <= t < b_{i+1}``,
    ``lr(t) = schedules[i](t - b_i)`` (``torch.optim.lr_scheduler.SequentialLR`` semantics).

    Args:
        schedules: k + 1 schedules.
        boundaries: k strictly increasing steps (integers >= 1).

    Example:
        >>> from ravine.schedules import join, constant, linear
        >>> s = join([constant(peak=1.0), linear(peak=1.0, total=4)], boundaries=[2])
        >>> [s(t) for t in range(7)]
        [1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]
    """

    spec_name = "join"
    schedules: tuple
    boundaries: tuple

    def __post_init__(self):
        sch, bds = self.schedules, self.boundaries
        if not isinstance(sch, (list, tuple)) or not all(isinstance(s, Schedule) for s in sch):
            raise TypeError(f"join(): schedules must be a list of Schedules, got {sch!r}")
        ok = isinstance(bds, (list, tuple)) and all(
            isinstance(b, numbers.Integral) and not isinstance(b, bool) and b >= 1 for b in bds
        )
        if not ok or any(b <= a for a, b in zip(bds[:-1], bds[1:], strict=True)):
            raise ValueError(
                f"join(): boundaries must be a strictly increasing list of integers >= 1, "
                f"got {bds!r}"
            )
        if len(sch) != len(bds) + 1:
            raise ValueError(
                f"join(): needs one more schedule than boundaries, got {len(sch)} schedules "
                f"and {len(bds)} boundaries"
            )
        object.__setattr__(self, "schedules", tuple(sch))
        object.__setattr__(self, "boundaries", tuple(int(b) for b in bds))

    def lr(self, step):
        i = bisect_right(self.boundaries, step)
        offset = self.boundaries[i - 1] if i > 0 else 0
        return self.schedules[i](step - offset)


@register
class SGDR(Schedule):
    """Cosine annealing with warm restarts (``CosineAnnealingWarmRestarts`` when ``gamma=1``).

    Cycle ``i`` lasts ``T_i = T_0 * T_mult**i`` steps; its amplitude above the floor is
    ``(peak - floor) * gamma**i``. With ``T_cur`` the steps since the last restart:
    ``lr(t) = floor + (peak - floor) * gamma**i * (1 + cos(pi * T_cur / T_i)) / 2``.

    Args:
        peak: the lr at the start of the first cycle (>= 0).
        T_0: length of the first cycle (integer >= 1).
        T_mult: growth factor of the cycle length (integer >= 1).
        floor: the lowest lr, in [0, peak].
        gamma: the factor applied to the amplitude ``peak - floor`` at each restart, in (0, 1].

    References:
        Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017.

    Example:
        >>> from ravine.schedules import sgdr
        >>> s = sgdr(peak=1.0, T_0=10, T_mult=2)
        >>> s(0), s(5), s(10), s(20), s(30)
        (1.0, 0.5, 1.0, 0.5, 1.0)
        >>> s.cycle_ends(70)
        [10, 30, 70]
    """

    spec_name = "sgdr"
    peak: float
    T_0: int
    T_mult: int = 1
    floor: float = 0.0
    gamma: float = 1.0

    def __post_init__(self):
        check_floor_peak(self)
        check_int(self, "T_0")
        check_int(self, "T_mult")
        check_number(self, "gamma", low_open=True, high=1.0)

    def cycle(self, step: int) -> tuple[int, int, int]:
        """Return ``(i, T_cur, T_i)``: the cycle index, the steps into it and its length."""
        if self.T_mult == 1:
            return step // self.T_0, step % self.T_0, self.T_0
        i, t_cur, t_i = 0, step, self.T_0
        while t_cur >= t_i:
            t_cur -= t_i
            t_i *= self.T_mult
            i += 1
        return i, t_cur, t_i

    def cycle_ends(self, total: int) -> list[int]:
        """The steps ``<= total`` at which a cycle ends (a restart happens), e.g. for snapshots."""
        ends, end, length = [], self.T_0, self.T_0
        while end <= total:
            ends.append(end)
            length *= self.T_mult
            end += length
        return ends

    def lr(self, step):
        i, t_cur, t_i = self.cycle(step)
        amplitude = (self.peak - self.floor) * self.gamma**i
        return self.floor + amplitude * (1 + math.cos(math.pi * t_cur / t_i)) / 2
