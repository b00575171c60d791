"""Use schedules with any torch optimizer, and the linear scaling rule for large batches."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch.optim.lr_scheduler import LRScheduler

from .base import Schedule
from .composite import Warmup
from .decay import Constant

__all__ = ["ScheduleLR", "as_lr_scheduler", "linear_scaling"]


class ScheduleLR(LRScheduler):
    """A ``torch.optim.lr_scheduler.LRScheduler`` that sets ``lr = schedule(last_epoch)``.

    The schedule gives the absolute lr (not a factor of the initial lr). ``state_dict`` holds the
    schedules, which load with ``torch.load(..., weights_only=True)``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer,
                 schedules: Schedule | Sequence[Schedule], last_epoch: int = -1) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        n = len(optimizer.param_groups)
        if isinstance(schedules, Schedule):
            schedules = [schedules] * n
        schedules = list(schedules)
        if len(schedules) != n or not all(isinstance(s, Schedule) for s in schedules):
            raise ValueError(f"schedule must be a Schedule or a list of {n} Schedules (one per "
                             f"param group), got {schedules!r}")
        for i, group in enumerate(optimizer.param_groups):
            if callable(group["lr"]):
                raise ValueError(f"param group {i} already has a schedule as lr "
                                 f"({group['lr']!r}); use either it or as_lr_scheduler")
        self.schedules = schedules
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [s(self.last_epoch) for s in self.schedules]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()


def as_lr_scheduler(optimizer: torch.optim.Optimizer,
                    schedule: Schedule | Sequence[Schedule]) -> ScheduleLR:
    """Drive any torch optimizer (torch.optim's own included) by a ravine schedule.

    Call ``scheduler.step()`` after each ``optimizer.step()``, as with any ``LRScheduler``; the
    ``k``-th optimizer step then uses ``schedule(k)``.

    Args:
        optimizer: a ``torch.optim.Optimizer`` whose groups hold plain float lrs.
        schedule: one Schedule for all param groups, or one per group.

    Returns:
        A :class:`ScheduleLR`.

    Example:
        >>> import torch
        >>> from ravine.schedules import as_lr_scheduler, step
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = as_lr_scheduler(opt, step(peak=0.1, step_size=2, gamma=0.5))
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(opt.param_groups[0]["lr"]); opt.step(); sched.step()
        >>> lrs
        [0.1, 0.1, 0.05, 0.05, 0.025]
    """
    return ScheduleLR(optimizer, schedule)


def linear_scaling(base_lr: float, batch_size: int, base_batch_size: int = 256,
                   warmup: int = 0, start: float | None = None) -> tuple[float, Schedule]:
    """The linear scaling rule: ``lr = base_lr * batch_size / base_batch_size``, with warmup.

    Goyal et al. multiply the lr by ``k`` when the minibatch grows ``k``-fold, and ramp it up
    linearly from ``base_lr`` over the first epochs ("gradual warmup", 5 epochs for ImageNet),
    since the large lr is unstable early in training.

    Args:
        base_lr: the lr tuned for ``base_batch_size`` (> 0).
        batch_size: the batch size used (integer >= 1).
        base_batch_size: the reference batch size (integer >= 1, 256 in the paper).
        warmup: warmup steps (integer >= 0); pass about 5 epochs' worth of steps.
        start: the lr at step 0, in [0, lr] (default ``base_lr`` as in the paper, or ``lr``
            when ``batch_size < base_batch_size``; 0 is also common).

    Returns:
        ``(lr, schedule)``: the scaled lr and ``warmup(constant(peak=lr), warmup, start)``
        (join it with a decay, e.g. ``join([schedule, cosine(peak=lr, ...)], [warmup])``).

    References:
        Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017.

    Example:
        >>> from ravine.schedules import linear_scaling
        >>> lr, sched = linear_scaling(0.1, batch_size=1024, warmup=100)
        >>> lr, sched(0), sched(50), sched(100)
        (0.4, 0.1, 0.25, 0.4)
    """
    if isinstance(base_lr, bool) or not isinstance(base_lr, numbers.Real) or not base_lr > 0:
        raise ValueError(f"base_lr must be a number > 0, got {base_lr!r}")
    for name, value in (("batch_size", batch_size), ("base_batch_size", base_batch_size)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    lr = float(base_lr) * batch_size / base_batch_size
    if start is None:  # base_lr as in the paper (lr itself when the batch is below the base)
        start = min(float(base_lr), lr)
    return lr, Warmup(Constant(peak=lr), warmup=warmup, start=start)
