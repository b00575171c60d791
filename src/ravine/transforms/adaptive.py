"""Adam and its relatives: per-coordinate step sizes from running moments of the gradient."""

from __future__ import annotations

import math

import torch

from .base import Transform, betas_pair, non_negative


def flag(name, value):
    """Validator for boolean switches."""
    if not isinstance(value, bool):
        raise ValueError(f"Invalid {name}: {value!r} (expected True or False)")


def _zeros(p):
    return torch.zeros_like(p, memory_format=torch.preserve_format)


def _scalar_one():
    # like torch.optim.NAdam's mu_product: a scalar tensor of the default float dtype
    return torch.ones((), dtype=torch.get_default_dtype())


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
    validators = {"betas": betas_pair, "eps": non_negative, "amsgrad": flag}
    uses_step = True

    def init(self, params, group):
        states = []
        for p in params:
            s = {"exp_avg": _zeros(p), "exp_avg_sq": _zeros(p)}
            if group["amsgrad"]:
                s["max_exp_avg_sq"] = _zeros(p)
            states.append(s)
        return states

    def update(self, updates, states, params, group):
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        out = []
        for g, state in zip(updates, states, strict=True):
            t = float(state["step"])
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            if group["amsgrad"]:
                if "max_exp_avg_sq" not in state:  # amsgrad switched on after the first step
                    state["max_exp_avg_sq"] = _zeros(v)
                torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                v = state["max_exp_avg_sq"]
            bias1 = 1 - beta1**t
            bias2_sqrt = math.sqrt(1 - beta2**t)
            denom = (v.sqrt() / bias2_sqrt).add_(eps)
            out.append(torch.div(m, denom, out=g).div_(bias1))
        return out


class scale_by_adamax(Transform):
    """Adamax: Adam with the infinity norm in place of the second moment.

    Update rule (step t, ``b1, b2 = betas``)::

        m_t = b1 m_{t-1} + (1 - b1) g_t
        u_t = max(b2 u_{t-1}, |g_t| + eps)          (the running infinity norm)
        update = m_t / ((1 - b1^t) u_t)

    State: ``step``, ``exp_avg``, ``exp_inf`` (torch.optim.Adamax's keys).

    References:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", 2015 (section 7.1).
    """

    defaults = {"betas": (0.9, 0.999), "eps": 1e-8}
    validators = {"betas": betas_pair, "eps": non_negative}
    uses_step = True

    def init(self, params, group):
        return [{"exp_avg": _zeros(p), "exp_inf": _zeros(p)} for p in params]

    def update(self, updates, states, params, group):
        beta1, beta2 = group["betas"]
        out = []
        for g, state in zip(updates, states, strict=True):
            t = float(state["step"])
            m, u = state["exp_avg"], state["exp_inf"]
            m.lerp_(g, 1 - beta1)
            torch.maximum(u.mul_(beta2), g.abs().add_(group["eps"]), out=u)
            out.append(torch.div(m, u, out=g).div_(1 - beta1**t))
        return out


class scale_by_nadam(Transform):
    """NAdam: Adam with Nesterov momentum and Dozat's momentum-decay schedule.

    Update rule (step t, ``b1, b2 = betas``, ``psi = momentum_decay``)::

        mu_t = b1 (1 - 0.5 * 0.96^(t psi))          P_t = prod_{i<=t} mu_i
        m_t = b1 m_{t-1} + (1 - b1) g_t          v_t = b2 v_{t-1} + (1 - b2) g_t^2
        d_t = sqrt(v_t / (1 - b2^t)) + eps
        update = ((1 - mu_t) / (1 - P_t)) g_t / d_t + (mu_{t+1} / (1 - P_t mu_{t+1})) m_t / d_t

    State: ``step``, ``mu_product`` (a scalar tensor of the default dtype, as torch creates
    it), ``exp_avg``, ``exp_avg_sq`` (torch.optim.NAdam's keys).

    References:
        Dozat, "Incorporating Nesterov Momentum into Adam", ICLR workshop 2016.
    """

    defaults = {"betas": (0.9, 0.999), "eps": 1e-8, "momentum_decay": 4e-3}
    validators = {"betas": betas_pair, "eps": non_negative, "momentum_decay": non_negative}
    uses_step = True

    def init(self, params, group):
        return [{"mu_product": _scalar_one(), "exp_avg": _zeros(p), "exp_avg_sq": _zeros(p)}
                for p in params]

    def update(self, updates, states, params, group):
        beta1, beta2 = group["betas"]
        psi = group["momentum_decay"]
        out = []
        for g, state in zip(updates, states, strict=True):
            t = float(state["step"])
            m, v = state["exp_avg"], state["exp_avg_sq"]
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
            if state["mu_product"].dtype != torch.get_default_dtype():
                # load_state_dict casts it to the parameter dtype; the value is exact, and
                # going back keeps a resumed run bit-identical to an uninterrupted one
                state["mu_product"] = state["mu_product"].to(torch.get_default_dtype())
            state["mu_product"] *= mu
            mu_product = float(state["mu_product"])
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            denom = v.div(1 - beta2**t).sqrt_().add_(group["eps"])
            grad_part = g.div_(denom).mul_((1.0 - mu) / (1.0 - mu_product))
            momentum_part = m.div(denom).mul_(mu_next / (1.0 - mu_product * mu_next))
            out.append(grad_part.add_(momentum_part))
        return out


class scale_by_radam(Transform):
    """RAdam: Adam whose adaptive step is switched on and rectified by the variance of 1/v.

    Update rule (step t, ``b1, b2 = betas``)::

        m_t, v_t as in Adam;  m_hat = m_t / (1 - b1^t)
        rho_inf = 2 / (1 - b2) - 1;   rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
        if rho_t > 5:
            r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            update = m_hat * r_t * sqrt(1 - b2^t) / (sqrt(v_t) + eps)
        else:
            update = m_hat                                  (plain momentum SGD)

    State: ``step``, ``exp_avg``, ``exp_avg_sq`` (torch.optim.RAdam's keys).

    References:
        Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020.
    """

    defaults = {"betas": (0.9, 0.999), "eps": 1e-8}
    validators = {"betas": betas_pair, "eps": non_negative}
    uses_step = True

    def init(self, params, group):
        return [{"exp_avg": _zeros(p), "exp_avg_sq": _zeros(p)} for p in params]

    def update(self, updates, states, params, group):
        beta1, beta2 = group["betas"]
        out = []
        for g, state in zip(updates, states, strict=True):
            t = float(state["step"])
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            bias2 = 1 - beta2**t
            m_hat = torch.div(m, 1 - beta1**t, out=g)
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * t * beta2**t / bias2
            if rho_t > 5.0:
                rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                 / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                adaptive = v.sqrt().add_(group["eps"]).reciprocal_().mul_(math.sqrt(bias2))
                m_hat.mul_(adaptive).mul_(rect)
            out.append(m_hat)
        return out
