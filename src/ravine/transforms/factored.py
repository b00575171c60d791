"""Adafactor's pieces: a factored second moment, update clipping and a relative step size.

``chain(scale_by_factored_rms(), clip_by_block_rms(), scale_by_param_block_rms(),
scale_by_relative_step(), add_lr_decayed_weights())`` is torch.optim.Adafactor (torch's variant
of Shazeer & Stern's algorithm: ``lr`` caps the relative step and scales the decoupled weight
decay; ``eps1`` floors the variance estimate instead of being added to the squared gradient).
"""

from __future__ import annotations

import math

import torch

from .base import Transform, _require_real, learning_rate, non_negative

__all__ = ["add_lr_decayed_weights", "clip_by_block_rms", "scale_by_factored_rms",
           "scale_by_param_block_rms", "scale_by_relative_step"]


def non_positive(name, value):
    """value <= 0 (-inf allowed, nan rejected), as torch's ``if not 0.0 >= value`` checks."""
    _require_real(name, value, "<= 0")
    if not value <= 0.0:
        raise ValueError(f"Invalid {name}: {value!r} (expected a number <= 0)")


def at_least_one(name, value):
    """value >= 1 (inf allowed, nan rejected), torch.optim.Adafactor's check of ``d``."""
    _require_real(name, value, ">= 1")
    if not value >= 1.0:
        raise ValueError(f"Invalid {name}: {value!r} (expected a number >= 1)")


def adafactor_eps(name, value):
    """A pair ``(eps1, eps2)``: ``eps1`` None (the dtype's machine epsilon) or >= 0, eps2 >= 0."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__getitem__"):
        raise TypeError(f"Invalid {name}: {value!r} (expected a pair (eps1, eps2))")
    if len(value) != 2:
        raise ValueError(f"Invalid {name}: {value!r} (expected a pair (eps1, eps2))")
    if value[0] is not None:
        non_negative(f"epsilon1 ({name}[0])", value[0])
    non_negative(f"epsilon2 ({name}[1])", value[1])


def _rms(x):
    """Root mean square of a tensor as a Python float, ``||x||_2 / sqrt(numel)``."""
    return torch.linalg.vector_norm(x).item() / math.sqrt(x.numel())


class scale_by_factored_rms(Transform):
    """Adafactor's second moment: per-row and per-column averages for matrices, full for vectors.

    Update rule (step t, ``tau = beta2_decay``, ``eps1 = eps[0]``, or the dtype's machine
    epsilon when None), for a tensor of shape ``(..., n, m)``::

        beta2_t = 1 - t^tau
        R_t = beta2_t R_{t-1} + (1 - beta2_t) mean_j(g_t^2)      (shape (..., n, 1))
        C_t = beta2_t C_{t-1} + (1 - beta2_t) mean_i(g_t^2)      (shape (..., 1, m))
        V_t = R_t C_t / max(mean_i(R_t), eps1)                   (an outer product)
        update = g_t / sqrt(max(V_t, eps1^2))

    Tensors with fewer than two dimensions keep the full ``V_t = beta2_t V_{t-1} + (1 -
    beta2_t) g_t^2``. Memory is ``n + m`` per matrix instead of ``n m``. State: ``step``,
    ``row_var`` and ``col_var`` (>= 2-D) or ``variance`` (torch.optim.Adafactor's keys).

    References:
        Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost",
        ICML 2018.
    """

    defaults = {"beta2_decay": -0.8, "eps": (None, 1e-3)}
    validators = {"beta2_decay": non_positive, "eps": adafactor_eps}
    uses_step = True

    def init(self, params, group):
        states = []
        for p in params:
            if torch.is_complex(p):
                raise RuntimeError("Adafactor does not support complex parameters")
            if p.dim() > 1:
                states.append({"row_var": p.new_zeros((*p.shape[:-1], 1)),
                               "col_var": p.new_zeros((*p.shape[:-2], 1, p.shape[-1]))})
            else:
                states.append({"variance": torch.zeros_like(
                    p, memory_format=torch.preserve_format)})
        return states

    def update(self, updates, states, params, group):
        decay, eps1 = group["beta2_decay"], group["eps"][0]
        out = []
        for g, state in zip(updates, states, strict=True):
            floor = torch.finfo(g.dtype).eps if eps1 is None else eps1
            weight = float(state["step"]) ** decay  # 1 - beta2_t
            if g.dim() > 1:
                row, col = state["row_var"], state["col_var"]
                row.lerp_(g.square().mean(dim=-1, keepdim=True), weight)
                col.lerp_(g.square().mean(dim=-2, keepdim=True), weight)
                variance = (row @ col).div_(row.mean(dim=-2, keepdim=True).clamp_(min=floor))
            else:
                state["variance"].lerp_(g.square(), weight)
                variance = state["variance"].clone()
            out.append(g.mul_(variance.clamp_(min=floor * floor).rsqrt_()))
        return out


class clip_by_block_rms(Transform):
    """Update clipping: shrink each tensor's update whose root mean square exceeds ``d``.

    Update rule, per tensor: ``update = u / max(1, RMS(u) / d)``, ``RMS(u) = ||u||_2 /
    sqrt(numel)``.

    References:
        Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost",
        ICML 2018 (section 6).
    """

    defaults = {"d": 1.0}
    validators = {"d": at_least_one}

    def update(self, updates, states, params, group):
        for u in updates:
            u.div_(max(1.0, _rms(u) / group["d"]))
        return updates


class scale_by_param_block_rms(Transform):
    """Parameter-relative scale: multiply each tensor's update by ``max(eps2, RMS(w))``.

    Update rule, per tensor ``w`` (before this step's change), ``eps2 = eps[1]``::

        update = max(eps2, ||w||_2 / sqrt(numel)) u

    References:
        Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost",
        ICML 2018 (section 8, relative step size).
    """

    defaults = {"eps": (None, 1e-3)}
    validators = {"eps": adafactor_eps}

    def update(self, updates, states, params, group):
        eps2 = group["eps"][1]
        for u, p in zip(updates, params, strict=True):
            u.mul_(max(eps2, _rms(p)))
        return updates


class scale_by_relative_step(Transform):
    """Adafactor's decreasing step, capped by ``lr``: a last link like ``scale_by_lr``.

    Update rule (step t): ``update = -min(lr, 1 / sqrt(t)) u`` (torch.optim.Adafactor's
    ``rho_t``; Shazeer & Stern use the constant 0.01 where torch uses ``lr``).

    References:
        Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost",
        ICML 2018 (section 8).
    """

    defaults = {"lr": 1e-2}
    validators = {"lr": learning_rate}
    uses_step = True

    def update(self, updates, states, params, group):
        lr = float(group["lr"])
        for u, state in zip(updates, states, strict=True):
            u.mul_(-min(lr, 1.0 / float(state["step"]) ** 0.5))
        return updates


class add_lr_decayed_weights(Transform):
    """Decoupled weight decay applied after the final scaling: ``u <- u - lr * wd * w``.

    With ``u`` the parameter change, the step is ``w <- (1 - lr wd) w + u``, as in
    torch.optim.Adafactor, whose change ``u`` is not proportional to ``lr``.

    References:
        Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """

    defaults = {"lr": 1e-2, "weight_decay": 0.0}
    validators = {"weight_decay": non_negative}

    def update(self, updates, states, params, group):
        decay = float(group["lr"]) * group["weight_decay"]
        if decay != 0:
            for u, p in zip(updates, params, strict=True):
                u.add_(p.detach(), alpha=-decay)
        return updates
