"""Transforms that scale updates by the learning rate (the last link of most chains)."""

from __future__ import annotations

from .base import Transform, learning_rate


class scale_by_lr(Transform):
    """Multiply updates by ``-lr``: turn a descent direction into a parameter change.

    Update rule: ``u <- -lr * u``. ``lr`` is read from the param group at each step (the optimizer
    has already evaluated it if it is a schedule). It may be a number >= 0 or, as in torch.optim,
    a 1-element tensor (read with ``float(...)`` each step, so a scheduler may change it in place).
    """

    defaults = {"lr": 1e-3}
    validators = {"lr": learning_rate}

    def update(self, updates, states, params, group):
        lr = float(group["lr"])
        for u in updates:
            u.mul_(-lr)
        return updates
