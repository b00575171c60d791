"""Adam and its relatives: per-coordinate step sizes from running moments of the gradient."""

from __future__ import annotations

import math

import torch

from .base import Transform, betas_pair, non_negative


def _flag(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"Invalid {name}: {value!r} (expected True or False)")


class scale_by_adam(Transform):
    """Adam's bias-corrected moment ratio, optionally AMSGrad.

    Update rule (step t, ``b1, b2 = betas``)::

        m_t = b1 m_{t-1} + (1 - b1) g_t          v_t = b2 v_{t-1} + (1 - b2) g_t^2
        (AMSGrad: vmax_t = max(vmax_{t-1}, v_t), used in place of v_t)
        u_t = (m_t / (1 - b1^t)) / (sqrt(v_t / (1 - b2^t)) + eps)

    State: ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (torch.optim.Adam's keys).

    References:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", 2015.
        Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond", 2018 (AMSGrad).
    """

    defaults = {"betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False}
    validators = {"betas": betas_pair, "eps": non_negative, "amsgrad": _flag}
    uses_step = True

    def init(self, params, group):
        states = []
        for p in params:
            s = {"exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                 "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
            if group["amsgrad"]:
                s["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            states.append(s)
        return states

    def update(self, updates, states, params, group):
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        out = []
        for g, state in zip(updates, states):
            t = float(state["step"])
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            if group["amsgrad"]:
                torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                v = state["max_exp_avg_sq"]
            bias1 = 1 - beta1**t
            bias2_sqrt = math.sqrt(1 - beta2**t)
            denom = (v.sqrt() / bias2_sqrt).add_(eps)
            out.append(torch.div(m, denom, out=g).div_(bias1))
        return out
