"""Accumulated and averaged squared gradients: AdaGrad and RMSProp."""

from __future__ import annotations

import torch

from .adaptive import flag
from .base import Transform, closed_unit_interval, non_negative


class scale_by_adagrad(Transform):
    """AdaGrad: divide by the root of the sum of all past squared gradients.

    Update rule (step t)::

        s_t = s_{t-1} + g_t^2        (s_0 = initial_accumulator_value)
        update = g_t / (sqrt(s_t) + eps) / (1 + (t - 1) lr_decay)

    The ``lr_decay`` factor is torch.optim.Adagrad's learning-rate decay. State: ``step``,
    ``sum`` (torch's keys).

    References:
        Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic
        Optimization", JMLR 2011.
    """

    defaults = {"lr_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10}
    fixed_keys = ("initial_accumulator_value",)  # read by init
    validators = {"lr_decay": non_negative, "initial_accumulator_value": non_negative,
                  "eps": non_negative}
    uses_step = True

    def init(self, params, group):
        value = group["initial_accumulator_value"]
        return [{"sum": torch.full_like(p, value, memory_format=torch.preserve_format)}
                for p in params]

    def update(self, updates, states, params, group):
        out = []
        for g, state in zip(updates, states, strict=True):
            t = float(state["step"])
            total = state["sum"]
            total.addcmul_(g, g, value=1)
            std = total.sqrt().add_(group["eps"])
            out.append(g.div_(std).div_(1 + (t - 1) * group["lr_decay"]))
        return out


class scale_by_rms(Transform):
    """RMSProp: divide by the root of an exponential average of squared gradients.

    Update rule (``a = alpha``)::

        v_t = a v_{t-1} + (1 - a) g_t^2
        plain:     update = g_t / (sqrt(v_t) + eps)
        centered:  m_t = a m_{t-1} + (1 - a) g_t;  update = g_t / (sqrt(v_t - m_t^2) + eps)

    Momentum (torch.optim.RMSprop's ``momentum``) is a separate
    :class:`~ravine.transforms.scale_by_momentum` after this one. State: ``square_avg``,
    ``grad_avg`` (centered) — torch's keys.

    References:
        Tieleman & Hinton, "Lecture 6.5 - RMSProp", COURSERA: Neural Networks for ML, 2012.
        Graves, "Generating Sequences With Recurrent Neural Networks", 2013 (centered).
    """

    defaults = {"alpha": 0.99, "eps": 1e-8, "centered": False}
    validators = {"alpha": closed_unit_interval, "eps": non_negative, "centered": flag}
    uses_step = True  # torch.optim.RMSprop keeps a step count too

    def init(self, params, group):
        states = []
        for p in params:
            s = {"square_avg": torch.zeros_like(p, memory_format=torch.preserve_format)}
            if group["centered"]:
                s["grad_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            states.append(s)
        return states

    def update(self, updates, states, params, group):
        alpha = group["alpha"]
        out = []
        for g, state in zip(updates, states, strict=True):
            v = state["square_avg"]
            v.mul_(alpha).addcmul_(g, g, value=1 - alpha)
            if group["centered"]:
                if "grad_avg" not in state:
                    state["grad_avg"] = torch.zeros_like(g)
                m = state["grad_avg"]
                m.lerp_(g, 1 - alpha)
                avg = v.addcmul(m, m, value=-1).sqrt_()
            else:
                avg = v.sqrt()
            out.append(g.div_(avg.add_(group["eps"])))
        return out
