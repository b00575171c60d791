"""The classic per-coordinate methods torch.optim keeps: Adadelta, Rprop and averaged SGD (ASGD).

Each transform mirrors torch.optim 2.13's single-tensor implementation operation for
operation, with torch's state keys, so ``state_dict()`` is interchangeable. Rprop and ASGD
end their chains: their output is already the parameter change (Rprop's step sizes carry the
learning rate; ASGD's step size ``eta`` is its own schedule of ``lr``), so no ``scale_by_lr``
follows them.
"""

from __future__ import annotations

import numbers

import torch

from .base import (
    Transform,
    any_real,
    closed_unit_interval,
    learning_rate,
    non_negative,
)


def _zeros(p):
    return torch.zeros_like(p, memory_format=torch.preserve_format)


def _default_dtype_scalar(value: float) -> torch.Tensor:
    # like torch.optim's state scalars: a 0-d tensor of the default float dtype
    return torch.tensor(value, dtype=torch.get_default_dtype())


class scale_by_adadelta(Transform):
    """Adadelta: the step is the ratio of two running RMS, of past updates and of gradients.

    Update rule (``rho`` the decay, step t)::

        v_t = rho v_{t-1} + (1 - rho) g_t^2
        d_t = sqrt(a_{t-1} + eps) / sqrt(v_t + eps) * g_t
        a_t = rho a_{t-1} + (1 - rho) d_t^2
        update = d_t                  (then ``scale_by_lr``: w <- w - lr d_t)

    The units of ``d_t`` are those of the parameters, so ``lr = 1`` (torch's default) is the
    paper's method. State: ``step``, ``square_avg`` (v), ``acc_delta`` (a) — torch's keys.

    References:
        Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.
    """

    defaults = {"rho": 0.9, "eps": 1e-6}
    validators = {"rho": closed_unit_interval, "eps": non_negative}
    uses_step = True  # torch.optim.Adadelta counts steps; the update does not read them

    def init(self, params, group):
        return [{"square_avg": _zeros(p), "acc_delta": _zeros(p)} for p in params]

    def update(self, updates, states, params, group):
        rho, eps = group["rho"], group["eps"]
        out = []
        for g, state in zip(updates, states, strict=True):
            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            square_avg.mul_(rho).addcmul_(g, g, value=1 - rho)
            std = square_avg.add(eps).sqrt_()
            delta = acc_delta.add(eps).sqrt_().div_(std).mul_(g)
            acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
            out.append(delta)
        return out


def rprop_etas(name, value):
    """torch.optim.Rprop's check: a pair with ``0 < etaminus < 1 < etaplus``."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"Invalid {name}: {value!r} (expected a pair (etaminus, etaplus))")
    for i, eta in enumerate(value):
        if isinstance(eta, bool) or not isinstance(eta, numbers.Real):
            raise TypeError(f"Invalid {name}: {value!r} (entry {i} is not a number)")
    if not 0.0 < value[0] < 1.0 < value[1]:
        raise ValueError(f"Invalid {name}: {value!r} (expected 0 < etaminus < 1 < etaplus)")


def rprop_step_sizes(name, value):
    """A pair of numbers ``(min, max)``; torch.optim.Rprop takes any numbers (it only clamps)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"Invalid {name}: {value!r} (expected a pair (min, max))")
    for i, size in enumerate(value):
        any_real(f"{name}[{i}]", size)


class scale_by_rprop(Transform):
    """Rprop: per-coordinate step sizes grown while the gradient keeps its sign, cut when it flips.

    Update rule (torch's variant, ``etaminus, etaplus = etas``, ``lo, hi = step_sizes``)::

        s = sign(g_t * g_{t-1})                      (g_{t-1}: the stored ``prev``)
        f = etaplus if s > 0;  etaminus if s < 0;  1 if s == 0
        step_t = clamp(step_{t-1} * f, lo, hi)      (step_0 = lr)
        g_t <- 0 where s < 0                          (no move, and no flip test next step)
        update = -sign(g_t) * step_t;  prev = g_t

    Only the signs of the gradients are used, so Rprop suits full-batch training. ``lr`` is
    read once, when the state is created (the initial step size): a learning-rate scheduler
    changes nothing afterwards, as in torch. The output is the parameter change itself (the
    last link of the chain). ``sign(nan)`` is 0 in torch, so a nan gradient leaves the
    coordinate where it is. State: ``step``, ``prev``, ``step_size`` — torch's keys.

    References:
        Riedmiller & Braun, "A Direct Adaptive Method for Faster Backpropagation Learning:
        The RPROP Algorithm", IEEE ICNN 1993.
    """

    defaults = {"lr": 1e-2, "etas": (0.5, 1.2), "step_sizes": (1e-6, 50)}
    validators = {"lr": learning_rate, "etas": rprop_etas, "step_sizes": rprop_step_sizes}
    fixed_keys = ("lr",)  # read by init
    uses_step = True

    def init(self, params, group):
        lr = float(group["lr"])
        return [{"prev": _zeros(p), "step_size": torch.full_like(p, lr)} for p in params]

    def update(self, updates, states, params, group):
        etaminus, etaplus = group["etas"]
        lo, hi = group["step_sizes"]
        out = []
        for g, state in zip(updates, states, strict=True):
            prev, step_size = state["prev"], state["step_size"]
            factor = g.mul(prev).sign_()
            factor[factor.gt(0)] = etaplus
            factor[factor.lt(0)] = etaminus
            factor[factor.eq(0)] = 1
            step_size.mul_(factor).clamp_(lo, hi)
            g[factor.eq(etaminus)] = 0
            prev.copy_(g)
            out.append(g.sign_().mul_(step_size).neg_())
        return out


class scale_by_asgd(Transform):
    """Averaged SGD: SGD steps of decaying size ``eta``, and the running average of the iterates.

    Update rule (torch's variant, step t; ``eta_1 = lr``, ``mu_1 = 1``)::

        w_t = (1 - lambd eta_t) w_{t-1} - eta_t g_t
        ax_t = w_t                                   if mu_t == 1
             = ax_{t-1} + mu_t (w_t - ax_{t-1})      otherwise
        eta_{t+1} = lr / (1 + lambd lr t)^alpha
        mu_{t+1} = 1 / max(1, t - t0)

    so ``ax`` is the plain average of the iterates from step ``t0 + 2`` on. ``eta`` and ``mu`` are
    0-d tensors of the default float dtype, as torch keeps them; ``load_state_dict`` casts
    them to the parameter's dtype, and they go back (exactly) at the next step, so a resumed
    run is bit-identical to an uninterrupted one (torch goes on in the parameter's dtype:
    a run resumed from torch's state differs from torch's by the rounding of ``eta``). The output is
    the parameter change ``w_t - w_{t-1}`` (the last link of the chain); the average is read
    from ``state["ax"]``. State: ``step``, ``eta``, ``mu``, ``ax`` — torch's keys.

    References:
        Polyak & Juditsky, "Acceleration of Stochastic Approximation by Averaging",
        SIAM J. Control and Optimization, 1992.
        Bottou, "Large-Scale Machine Learning with Stochastic Gradient Descent", COMPSTAT 2010.
    """

    defaults = {"lr": 1e-2, "lambd": 1e-4, "alpha": 0.75, "t0": 1e6}
    validators = {"lr": learning_rate, "lambd": any_real, "alpha": any_real, "t0": any_real}
    fixed_keys = ("lr",)  # read by init
    uses_step = True

    def init(self, params, group):
        lr = float(group["lr"])
        return [{"eta": _default_dtype_scalar(lr), "mu": _default_dtype_scalar(1.0),
                 "ax": _zeros(p)} for p in params]

    def update(self, updates, states, params, group):
        lr, lambd = float(group["lr"]), group["lambd"]
        alpha, t0 = group["alpha"], group["t0"]
        out = []
        for g, state, p in zip(updates, states, params, strict=True):
            t = float(state["step"])
            for key in ("eta", "mu"):
                if state[key].dtype != torch.get_default_dtype():
                    state[key] = state[key].to(torch.get_default_dtype())
            eta, mu, ax = state["eta"], state["mu"], state["ax"]
            eta_value = float(eta)
            new = p.mul(1 - lambd * eta_value).add_(g, alpha=-eta_value)
            # the change, 0 where nothing moves (an infinite parameter stays: inf - inf is nan)
            change = new.sub(p).masked_fill_(new == p, 0)
            torch.add(p, change, out=new)  # exactly what the optimizer's param += change gives
            if float(mu) != 1:
                ax.add_(new.sub_(ax).mul_(mu))
            else:
                ax.copy_(new)
            eta.copy_(torch.as_tensor(lr / ((1 + lambd * lr * t) ** alpha)))
            mu.copy_(torch.as_tensor(1 / max(1, t - t0)))
            out.append(change)
        return out
