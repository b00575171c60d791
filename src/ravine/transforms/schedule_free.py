"""Schedule-free learning: an averaged iterate that replaces the learning-rate schedule.

Schedule-free SGD keeps three sequences: ``z`` (plain steps of size ``lr``), ``x`` (a weighted
average of the ``z``'s, the point to evaluate) and ``y = (1 - beta) z + beta x`` (the point where
gradients are taken, which the model's parameters hold while training)::

    z_{t+1} = z_t - lr_t d_t            d_t: the direction at y_t (gradient, or Adam-scaled)
    x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}
    y_{t+1} = (1 - beta) z_{t+1} + beta x_{t+1}

with ``c_{t+1} = w_{t+1} / sum_{i <= t+1} w_i`` and weights ``w_t = t^r max_{i <= t}(lr_i)^p``
(``p = weight_lr_power``), so ``x`` is the uniform average for ``r = 0`` after warmup. Only ``y``
(the parameters) and ``z`` (the state) are stored: ``x`` is recovered from them
(``x = (y - (1 - beta) z) / beta``), and the optimizer's ``eval()`` / ``train()`` move the
parameters from ``y`` to ``x`` and back.

The per-group bookkeeping (``k``, ``scheduled_lr``, ``lr_max``, ``weight_sum``) is kept in the
param group, under the keys of the reference implementation (Defazio et al.'s ``schedulefree``
package), by :class:`ravine.optim.ScheduleFreeOptimizer`; the transforms here read it.

References:
    Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, "The Road Less Scheduled", NeurIPS 2024.
"""

from __future__ import annotations

import torch

from .base import Transform, betas_pair, learning_rate, non_negative

__all__ = ["average_schedule_free", "average_schedule_free_adam", "scale_by_debiased_rms",
           "schedule_free_coefficient", "schedule_free_weight", "warmed_up_lr"]


def _interpolation(name: str, value) -> None:
    """``beta`` of the interpolation ``y = (1 - beta) z + beta x``: strictly inside (0, 1)."""
    non_negative(name, value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"Invalid {name}: {value!r} (expected 0 < {name} < 1: eval() divides "
                         "by it)")


def _sf_betas(name: str, value) -> None:
    betas_pair(name, value)
    _interpolation(f"{name}[0]", value[0])


def _warmup_steps(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= 0)")


def schedule_free_weight(group: dict) -> float:
    """``w_{t+1} = (k + 1)^r lr_max^p``, this step's weight in the average (``k`` steps before)."""
    return (group["k"] + 1) ** group["r"] * group["lr_max"] ** group["weight_lr_power"]


def schedule_free_coefficient(group: dict) -> float:
    """``c_{t+1} = w_{t+1} / sum w``, the averaging weight of this step.

    Reads the group's ``k`` (steps taken before this one), ``r``, ``weight_lr_power``, ``lr_max``
    and ``weight_sum`` (already including this step's weight); 0 when every weight so far is 0
    (``lr = 0``), as the reference does.
    """
    weight_sum = group["weight_sum"]
    return schedule_free_weight(group) / weight_sum if weight_sum != 0 else 0.0


class scale_by_debiased_rms(Transform):
    """Divide by the bias-corrected root mean square of past gradients (no first moment).

    Update rule (``t = k + 1``, the group's step count; ``b2 = betas[1]``)::

        v_t = b2 v_{t-1} + (1 - b2) g_t^2          u_t = g_t / (sqrt(v_t / (1 - b2^t)) + eps)

    Schedule-free AdamW's direction: its momentum comes from the averaging, not from ``m``.
    State: ``exp_avg_sq``.
    """

    defaults = {"betas": (0.9, 0.999), "eps": 1e-8}
    validators = {"betas": betas_pair, "eps": non_negative}

    def init(self, params, group):
        return [{"exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
                for p in params]

    def update(self, updates, states, params, group):
        beta2, eps = group["betas"][1], group["eps"]
        bias2 = 1 - beta2 ** (group["k"] + 1)
        out = []
        for g, state in zip(updates, states, strict=True):
            v = state["exp_avg_sq"]
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            denom = v.div(bias2).sqrt_().add_(eps)
            out.append(g.div_(denom))
        return out


class average_schedule_free(Transform):
    """The schedule-free step: direction ``d`` at ``y`` -> change of ``y``; ``z`` steps by ``d``.

    Update rule (``c = c_{t+1}``, ``lr`` the warmed-up rate ``scheduled_lr``, ``beta`` =
    ``momentum``)::

        y' = lerp(y, z, c) + lr (beta (1 - c) - 1) d        z <- z - lr d
        u  = y' - y

    which is ``y' = (1 - beta) z' + beta x'`` for the sequences of the module docstring. Ends a
    chain in place of :class:`~ravine.transforms.scale_by_lr`. State: ``z``.
    """

    defaults = {"lr": 1.0, "momentum": 0.9, "warmup_steps": 0, "r": 0.0,
                "weight_lr_power": 2.0}
    validators = {"lr": learning_rate, "momentum": _interpolation, "warmup_steps": _warmup_steps,
                  "r": non_negative, "weight_lr_power": non_negative}
    # beta also maps y to x and back (eval/train): a schedule of it would break that map
    fixed_keys = ("momentum", "betas", "warmup_steps", "r", "weight_lr_power")

    @staticmethod
    def beta(group: dict) -> float:
        """The interpolation weight ``beta`` of ``y`` between ``z`` and ``x``."""
        return group["momentum"]

    def init(self, params, group):
        return [{"z": p.detach().clone(memory_format=torch.preserve_format)} for p in params]

    def update(self, updates, states, params, group):
        c = schedule_free_coefficient(group)
        lr = group["scheduled_lr"]
        alpha = lr * (self.beta(group) * (1 - c) - 1)
        out = []
        for d, state, y in zip(updates, states, params, strict=True):
            z = state["z"]
            y_next = torch.lerp(y.detach(), z, c).add_(d, alpha=alpha)
            z.sub_(d, alpha=lr)
            out.append(y_next.sub_(y.detach()))
        return out


class average_schedule_free_adam(average_schedule_free):
    """:class:`average_schedule_free` with ``beta = betas[0]`` (schedule-free AdamW)."""

    defaults = {"lr": 0.0025, "betas": (0.9, 0.999), "warmup_steps": 0, "r": 0.0,
                "weight_lr_power": 2.0}
    validators = {**{k: v for k, v in average_schedule_free.validators.items()
                     if k != "momentum"}, "betas": _sf_betas}

    @staticmethod
    def beta(group: dict) -> float:
        return group["betas"][0]


def warmed_up_lr(lr: float, k: int, warmup_steps: int) -> float:
    """The reference's linear warmup: ``lr (k + 1) / warmup_steps`` for ``k < warmup_steps``."""
    return lr * ((k + 1) / warmup_steps) if k < warmup_steps else lr

