"""Schedule-free SGD and AdamW: no learning-rate schedule, an averaged iterate instead.

The parameters hold ``y`` (where gradients are taken) while training; call ``optimizer.eval()``
before evaluating or saving the model (the parameters then hold the average ``x``) and
``optimizer.train()`` before training again. See :mod:`ravine.transforms.schedule_free` for the
method. The classes take the arguments, defaults and param-group keys of the reference
implementation (the ``schedulefree`` package's ``SGDScheduleFree`` / ``AdamWScheduleFree``),
and keep the same per-parameter state (``z``, and ``exp_avg_sq`` for AdamW), so code and
checkpoints written for it work unchanged. Differences: the optimizer starts in train mode (the
reference raises on a first ``step()`` without ``train()``; here that ``train()`` is optional),
``p.grad`` is left as it was (the reference divides it in place), and ``maximize``,
``skip_nonfinite`` and ravine's schedules for ``lr`` are available.

Example:
    >>> import torch
    >>> w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    >>> opt = SGDScheduleFree([w], lr=0.5)
    >>> for _ in range(200):
    ...     opt.zero_grad()
    ...     (w ** 2).sum().backward()
    ...     opt.step()
    >>> opt.eval()            # the parameters now hold the average x
    >>> bool(w.abs().max() < 0.1)
    True
    >>> opt.train()           # back to y before the next step

References:
    Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, "The Road Less Scheduled", NeurIPS 2024.
"""

from __future__ import annotations

from typing import Any

import torch

from ..transforms import add_decayed_weights, chain
from ..transforms.schedule_free import (
    average_schedule_free,
    average_schedule_free_adam,
    scale_by_debiased_rms,
    schedule_free_weight,
    warmed_up_lr,
)
from .base import ChainOptimizer

__all__ = ["AdamWScheduleFree", "SGDScheduleFree", "ScheduleFreeOptimizer"]

# the reference's per-group bookkeeping, with its initial values
_BOOKKEEPING = {"k": 0, "train_mode": True, "weight_sum": 0.0, "lr_max": -1.0,
                "scheduled_lr": 0.0}


def _last_link(transform):
    return getattr(transform, "transforms", (transform,))[-1]


class ScheduleFreeOptimizer(ChainOptimizer):
    """A chain ending in :class:`~ravine.transforms.schedule_free.average_schedule_free`.

    Keeps the per-group bookkeeping (``k``, ``scheduled_lr``, ``lr_max``, ``weight_sum``,
    ``train_mode``) and moves the parameters between ``y`` (train mode) and the average ``x``
    (eval mode).
    """

    def __init__(self, params, transform, **hyperparameters: Any) -> None:
        if not isinstance(_last_link(transform), average_schedule_free):
            raise TypeError("a schedule-free optimizer's chain must end in "
                            "average_schedule_free (or its Adam variant)")
        super().__init__(params, transform, **_BOOKKEEPING, **hyperparameters)

    def _beta(self, group: dict) -> float:
        return _last_link(self.transform).beta(group)

    @torch.no_grad()
    def _move(self, to_train: bool) -> None:
        for group in self.param_groups:
            if group["train_mode"] == to_train:
                continue
            beta = self._beta(group)
            weight = 1 - beta if to_train else 1 - 1 / beta
            for p in group["params"]:
                z = self.state[p].get("z")
                if z is not None:
                    p.lerp_(z.to(p.device), weight)
            group["train_mode"] = to_train

    def eval(self) -> None:
        """Set the parameters to the average ``x`` (for evaluation and checkpoints)."""
        self._move(False)

    def train(self) -> None:
        """Set the parameters back to ``y``, where the next gradients are taken."""
        self._move(True)

    @torch.no_grad()
    def step(self, closure=None):
        """One step; raises ``RuntimeError`` in eval mode (call ``train()`` first)."""
        if not all(group["train_mode"] for group in self.param_groups):
            raise RuntimeError(f"{type(self).__name__}.step() in eval mode: the parameters hold "
                               "the average x; call optimizer.train() before training")
        return super().step(closure)

    def _step_group(self, group: dict, step: int = 0) -> None:
        k = group["k"]
        lr = float(self._hyperparameters(group, step)["lr"])
        group["scheduled_lr"] = warmed_up_lr(lr, k, group["warmup_steps"])
        group["lr_max"] = max(group["scheduled_lr"], group["lr_max"])
        group["weight_sum"] = group["weight_sum"] + schedule_free_weight(group)
        super()._step_group(group, step)
        group["k"] = k + 1


class SGDScheduleFree(ScheduleFreeOptimizer):
    """Schedule-free SGD: ``chain(add_decayed_weights(), average_schedule_free())``.

    ``d = g + weight_decay y``; ``z <- z - lr d``; the parameters ``y`` follow
    ``(1 - momentum) z + momentum x`` with ``x`` the weighted average of the ``z``'s.

    Args:
        lr: step size of ``z`` (default 1.0, the reference's), linearly warmed up over
            ``warmup_steps``.
        momentum: the interpolation ``beta`` in (0, 1).
        weight_decay: added to the gradient at ``y``, times ``y``.
        warmup_steps, r, weight_lr_power: the averaging weights ``(t^r) lr_max^p``.
        foreach: accepted for compatibility (the reference's switch); unused.
    """

    def __init__(self, params, lr=1.0, momentum=0.9, weight_decay=0, warmup_steps=0, r=0.0,
                 weight_lr_power=2, foreach=True, *, maximize=False, skip_nonfinite=False):
        super().__init__(
            params, chain(add_decayed_weights(), average_schedule_free()),
            skip_nonfinite=skip_nonfinite, lr=lr, momentum=momentum, weight_decay=weight_decay,
            warmup_steps=warmup_steps, r=r, weight_lr_power=weight_lr_power, foreach=foreach,
            maximize=maximize)


class AdamWScheduleFree(ScheduleFreeOptimizer):
    """Schedule-free AdamW: ``chain(scale_by_debiased_rms(), add_decayed_weights(), ...)``.

    ``d = g / (sqrt(v / (1 - b2^t)) + eps) + weight_decay y``, then the schedule-free step with
    ``beta = betas[0]`` (no first moment: the averaging plays its part).

    Args:
        lr: step size of ``z`` (default 0.0025, the reference's), warmed up over
            ``warmup_steps``.
        betas: ``(beta, b2)``: the interpolation in (0, 1) and the second-moment decay.
        eps: added to the root mean square.
        weight_decay, warmup_steps, r, weight_lr_power, foreach: as in :class:`SGDScheduleFree`.
    """

    def __init__(self, params, lr=0.0025, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 warmup_steps=0, r=0.0, weight_lr_power=2.0, foreach=True, *, maximize=False,
                 skip_nonfinite=False):
        super().__init__(
            params,
            chain(scale_by_debiased_rms(), add_decayed_weights(), average_schedule_free_adam()),
            skip_nonfinite=skip_nonfinite, lr=lr, betas=betas, eps=eps,
            weight_decay=weight_decay, warmup_steps=warmup_steps, r=r,
            weight_lr_power=weight_lr_power, foreach=foreach, maximize=maximize)
