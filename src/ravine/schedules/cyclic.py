"""Cyclical schedules: the 1cycle policy and cyclical learning rates (triangular, exp_range)."""

from __future__ import annotations

import math

from .base import Schedule, check_choice, check_int, check_number, register

__all__ = ["OneCycle", "OneCycleMomentum", "Cyclic"]


@register
class OneCycle(Schedule):
    """The 1cycle policy (``torch.optim.lr_scheduler.OneCycleLR``, learning rate only).

    With ``initial = peak / div_factor`` and ``min_lr = initial / final_div_factor``: anneal
    ``initial -> peak`` over the first ``pct_start * total - 1`` steps, then ``peak -> min_lr``
    until step ``total - 1`` (``three_phase``: ``initial -> peak -> initial -> min_lr``), each
    phase by half a cosine or linearly. After ``total - 1`` the lr stays at its last value (torch
    raises instead). The momentum cycle that torch couples to this scheduler is
    :class:`OneCycleMomentum`, given as the optimizer's ``momentum`` (or ``beta1``) schedule.

    Args:
        peak: the maximum learning rate (>= 0).
        total: total steps (integer >= 2).
        pct_start: the fraction of ``total`` spent increasing the lr, in [0, 1].
        anneal_strategy: ``"cos"`` or ``"linear"``.
        div_factor: ``initial = peak / div_factor`` (> 0).
        final_div_factor: ``min_lr = initial / final_div_factor`` (> 0).
        three_phase: use the three-phase variant (fast.ai's).

    References:
        Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large
        Learning Rates", 2017/2019.

    Example:
        >>> from ravine.schedules import one_cycle
        >>> s = one_cycle(peak=1.0, total=1000)
        >>> round(s(0), 12), s(299), s(999)
        (0.04, 1.0, 4e-06)
    """

    spec_name = "one_cycle"
    peak: float
    total: int
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False

    def __post_init__(self):
        check_number(self, "peak")
        check_int(self, "total", low=2)
        check_number(self, "pct_start", high=1.0)
        check_choice(self, "anneal_strategy", ("cos", "linear"))
        check_number(self, "div_factor", low_open=True)
        check_number(self, "final_div_factor", low_open=True)
        if not isinstance(self.three_phase, bool):
            raise TypeError(f"one_cycle(): three_phase must be a bool, got {self.three_phase!r}")
        ends = [p[0] for p in self._phases()]
        if ends[0] <= 0 or any(b <= a for a, b in zip(ends[:-1], ends[1:], strict=True)):
            raise ValueError(
                f"one_cycle(): pct_start={self.pct_start} with total={self.total} leaves an empty "
                f"phase (phase ends at steps {ends}); pct_start * total must exceed 1"
                + (" and be < total / 2" if self.three_phase else " and be < total")
            )

    def _phases(self) -> list[tuple[float, float, float]]:
        """``(end_step, start_lr, end_lr)`` of each phase, as torch computes them."""
        initial = self.peak / self.div_factor
        min_lr = initial / self.final_div_factor
        up_end = float(self.pct_start * self.total) - 1
        if self.three_phase:
            return [
                (up_end, initial, self.peak),
                (float(2 * self.pct_start * self.total) - 2, self.peak, initial),
                (self.total - 1, initial, min_lr),
            ]
        return [(up_end, initial, self.peak), (self.total - 1, self.peak, min_lr)]

    def lr(self, step):
        return _walk(self._phases(), min(step, self.total - 1), self.anneal_strategy)


def _walk(phases: list[tuple[float, float, float]], step: int, strategy: str) -> float:
    """The value at ``step`` of consecutive annealing phases ``(end_step, start, end)``."""
    start_step = 0.0
    for i, (end_step, lo, hi) in enumerate(phases):
        if step <= end_step or i == len(phases) - 1:
            pct = (step - start_step) / (end_step - start_step)
            if strategy == "cos":
                return hi + (lo - hi) / 2.0 * (math.cos(math.pi * pct) + 1)
            return (hi - lo) * pct + lo
        start_step = end_step
    raise AssertionError("unreachable")


@register
class OneCycleMomentum(Schedule):
    """The momentum half of the 1cycle policy (``OneCycleLR(cycle_momentum=True)``).

    Momentum moves opposite to the learning rate: ``peak -> base`` while the lr rises, then
    ``base -> peak`` (``three_phase``: ``peak -> base -> peak``, then constant at ``peak``), on
    the phase boundaries of :class:`OneCycle` with the same ``total`` and ``pct_start``. Give
    it as a hyperparameter schedule: ``SGD(params, lr=one_cycle(...),
    momentum=one_cycle_momentum(...))``, or ``betas=(one_cycle_momentum(...), 0.999)`` for the
    Adam family (torch cycles ``beta1`` there).

    Args:
        total: total steps (integer >= 2).
        base: the lowest momentum, reached at the lr peak (torch's ``base_momentum``).
        peak: the highest momentum, at the start and end (torch's ``max_momentum``).
        pct_start, anneal_strategy, three_phase: as in :class:`OneCycle`.

    Example:
        >>> from ravine.schedules import one_cycle_momentum
        >>> m = one_cycle_momentum(total=1000)
        >>> m(0), m(299), m(999)
        (0.95, 0.85, 0.95)
    """

    spec_name = "one_cycle_momentum"
    total: int
    base: float = 0.85
    peak: float = 0.95
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    three_phase: bool = False

    def __post_init__(self):
        check_int(self, "total", low=2)
        check_number(self, "base")
        check_number(self, "peak")
        check_number(self, "pct_start", high=1.0)
        check_choice(self, "anneal_strategy", ("cos", "linear"))
        if not isinstance(self.three_phase, bool):
            raise TypeError(
                f"one_cycle_momentum(): three_phase must be a bool, got {self.three_phase!r}")
        if not self.base <= self.peak:
            raise ValueError(f"one_cycle_momentum(): base={self.base} must be <= peak={self.peak}")
        OneCycle(peak=1.0, total=self.total, pct_start=self.pct_start,
                 three_phase=self.three_phase)  # the same phase checks as the lr's

    def lr(self, step):
        return _walk(self._phases(), min(step, self.total - 1), self.anneal_strategy)

    def _phases(self) -> list[tuple[float, float, float]]:
        up_end = float(self.pct_start * self.total) - 1
        if self.three_phase:
            return [
                (up_end, self.peak, self.base),
                (float(2 * self.pct_start * self.total) - 2, self.base, self.peak),
                (self.total - 1, self.peak, self.peak),
            ]
        return [(up_end, self.peak, self.base), (self.total - 1, self.base, self.peak)]


@register
class Cyclic(Schedule):
    """Cyclical learning rate between ``floor`` and ``peak`` (``lr_scheduler.CyclicLR``).

    A cycle rises linearly for ``step_size_up`` steps and falls for ``step_size_down``. With
    ``c = floor(1 + t / (up + down))``, ``x = 1 + t / (up + down) - c`` and
    ``r = up / (up + down)``:
    ``lr(t) = floor + (peak - floor) * h(x) * scale``, where ``h(x) = x / r`` on the way up and
    ``(x - 1) / (r - 1)`` on the way down; ``scale`` is 1 (``triangular``), ``1 / 2**(c - 1)``
    (``triangular2``) or ``gamma**t`` (``exp_range``).

    Args:
        floor: the lower bound (torch's ``base_lr``), in [0, peak].
        peak: the upper bound (torch's ``max_lr``), >= 0.
        step_size_up: steps in the rising half (integer >= 1).
        step_size_down: steps in the falling half (integer >= 1; ``None``: same as up).
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: the per-step factor of ``exp_range``, in (0, 1].

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017.

    Example:
        >>> from ravine.schedules import cyclic
        >>> s = cyclic(floor=0.0, peak=1.0, step_size_up=2)
        >>> [s(t) for t in range(6)]
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.5]
    """

    spec_name = "cyclic"
    floor: float
    peak: float
    step_size_up: int = 2000
    step_size_down: int | None = None
    mode: str = "triangular"
    gamma: float = 1.0

    def __post_init__(self):
        check_number(self, "peak")
        check_number(self, "floor", high=self.peak)
        check_int(self, "step_size_up")
        if self.step_size_down is not None:
            check_int(self, "step_size_down")
        check_choice(self, "mode", ("triangular", "triangular2", "exp_range"))
        check_number(self, "gamma", low_open=True, high=1.0)

    def lr(self, step):
        up = float(self.step_size_up)
        down = float(self.step_size_down) if self.step_size_down is not None else up
        total_size = up + down
        step_ratio = up / total_size
        cycle = math.floor(1 + step / total_size)
        x = 1.0 + step / total_size - cycle
        if x <= step_ratio:
            scale_factor = x / step_ratio
        else:
            scale_factor = (x - 1) / (step_ratio - 1)
        base_height = (self.peak - self.floor) * scale_factor
        if self.mode == "triangular":
            scale = 1.0
        elif self.mode == "triangular2":
            scale = 2.0 ** (1 - cycle)  # = 1 / 2**(cycle - 1), exact; no overflow
        else:
            scale = self.gamma**step
        return self.floor + base_height * scale
