"""Sign-based updates: Lion."""

from __future__ import annotations

import torch

from .base import Transform, betas_pair


class scale_by_lion(Transform):
    """Lion: the sign of an interpolation between the momentum and the gradient.

    Update rule (``b1, b2 = betas``)::

        update = sign(b1 m_{t-1} + (1 - b1) g_t)
        m_t = b2 m_{t-1} + (1 - b2) g_t

    Every coordinate moves by exactly ``lr`` (plus decoupled weight decay), so Lion wants a
    learning rate 3-10x smaller than AdamW's. State: ``exp_avg``.

    References:
        Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023.
    """

    defaults = {"betas": (0.9, 0.99)}
    validators = {"betas": betas_pair}

    def init(self, params, group):
        return [{"exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format)}
                for p in params]

    def update(self, updates, states, params, group):
        beta1, beta2 = group["betas"]
        out = []
        for g, state in zip(updates, states, strict=True):
            m = state["exp_avg"]
            direction = torch.lerp(m, g, 1 - beta1).sign_()
            m.lerp_(g, 1 - beta2)
            out.append(direction)
        return out
