"""The fused kernels: for each known transform chain, its C loop body and how to feed it.

Each :class:`Algorithm` mirrors one reference chain operation for operation (same order, same
casts of the scalars to the tensor's dtype, ``FMA`` exactly where torch's vectorized CPU ops use
``fmadd``: ``add(alpha=)``, ``lerp``), so float64 agrees with the reference to rounding and
float32 to a few ulps. A chain is recognised by the exact types of its transforms; the
hyperparameters are always read from the param group.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ...transforms import (
    add_decayed_weights,
    add_l2,
    scale_by_adam,
    scale_by_lr,
    scale_by_momentum,
)
from .csource import KernelSource

__all__ = ["ALGORITHMS", "Algorithm", "algorithm_for"]


class Algorithm:
    """How one chain runs as a fused kernel.

    Attributes:
        name: short name (file names, benchmarks).
        transforms: the chain's transform types, in order.
        uses_step: whether the kernel reads ``state["step"]``.
        scalar_keys: per-tensor scalar state tensors (``step``'s dtype) the kernel updates.
        first_flag: whether the kernel has a ``FIRST`` variant for tensors whose lazily created
            state (e.g. SGD's momentum buffer) starts this step.
        norm_pass: whether the kernel sums over the group first (it then takes no prefix).
        prefixable: whether a clipping or noise prefix may be fused in front of it.
        word_keys: per-tensor integer state entries (e.g. ``noise_key``) the runner places in
            the pointer table after the state buffers' pointers, as the kernel's ``words``.
    """

    name = ""
    transforms: tuple[type, ...] = ()
    uses_step = False
    first_flag = False
    scalar_keys: tuple[str, ...] = ()
    norm_pass = False  # a first pass over the group (norms) before the update
    prefixable = True  # whether a clip or noise prefix may be fused in front (norm_pass: never)
    word_keys: tuple[str, ...] = ()  # integer state passed by value (gradient noise's key)

    def flags(self, group: dict) -> dict[str, int] | None:
        """Compile-time flags for this group, or ``None`` when the group needs the reference."""
        return {"MAXIMIZE": int(bool(group["maximize"]))}

    def state_keys(self, flags: dict[str, int]) -> tuple[str, ...]:
        """The state tensors the kernel reads and writes, in pointer order."""
        return ()

    def hyper(self, group: dict) -> list[float]:
        """The runtime hyperparameters (as in :attr:`KernelSource.hyper`)."""
        raise NotImplementedError

    def source(self, flags: dict[str, int]) -> KernelSource:
        raise NotImplementedError

    def lazy_state(self, param: Tensor, state: dict, flags: dict[str, int]) -> bool:
        """Create state the reference creates on first use; return True if created now."""
        return False


def _wd_mode(group: dict) -> int | None:
    """0: no decay, 1: coupled L2 (add_l2), 2: decoupled (add_decayed_weights)."""
    coupled = not group.get("decoupled_weight_decay", False)
    decoupled = group.get("decoupled_weight_decay", True)
    if group["weight_decay"] == 0:
        return 0
    if coupled and decoupled:  # a chain with both links and no flag: leave it to the reference
        return None
    return 1 if coupled else 2


class MomentumBufferState:
    """State of the kernels with an SGD momentum buffer (flag ``MOMENTUM``): torch's key."""

    def state_keys(self, flags):
        return ("momentum_buffer",) if flags["MOMENTUM"] else ()

    def lazy_state(self, param, state, flags):
        if flags["MOMENTUM"] and "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.empty_like(
                param, memory_format=torch.contiguous_format)
            return True
        return False


class SGDAlgorithm(MomentumBufferState, Algorithm):
    """``chain(add_l2(), scale_by_momentum(), scale_by_lr())``: torch.optim.SGD."""

    name = "sgd"
    transforms = (add_l2, scale_by_momentum, scale_by_lr)
    first_flag = True

    def flags(self, group):
        momentum = group["momentum"]
        return {**super().flags(group), "WD": int(group["weight_decay"] != 0),
                "MOMENTUM": int(momentum != 0), "NESTEROV": int(bool(group["nesterov"])),
                "FIRST": 0}

    def hyper(self, group):
        return [float(group["lr"]), float(group["momentum"]), float(group["dampening"]),
                float(group["weight_decay"])]

    def source(self, flags):
        buffers = ("buf",) if flags["MOMENTUM"] else ()
        return KernelSource(
            buffers=buffers, hyper=("lr", "momentum", "dampening", "weight_decay"),
            prologue="""
                const T nlr = (T)(-lr), mu = (T)momentum, damp = (T)(1.0 - dampening);
                const T wd = (T)weight_decay;
                (void)mu; (void)damp; (void)wd;
            """,
            body="""
                T gi = MAXIMIZE ? -g[i] : g[i];
                const T pi = p[i];
                if (WD) gi = FMA(pi, wd, gi);
                T u = gi;
                #if MOMENTUM
                T bi = FIRST ? gi : FMA(gi, damp, buf[i] * mu);
                buf[i] = bi;
                u = NESTEROV ? FMA(bi, mu, gi) : bi;
                #endif
                p[i] = pi + u * nlr;
            """)


class AdamAlgorithm(Algorithm):
    """``chain(add_l2(), scale_by_adam(), add_decayed_weights(), scale_by_lr())``: Adam, AdamW."""

    name = "adam"
    transforms = (add_l2, scale_by_adam, add_decayed_weights, scale_by_lr)
    uses_step = True

    def flags(self, group):
        wd = _wd_mode(group)
        if wd is None:
            return None
        return {**super().flags(group), "WD_MODE": wd, "AMSGRAD": int(bool(group["amsgrad"]))}

    def state_keys(self, flags):
        keys = ("exp_avg", "exp_avg_sq")
        return keys + ("max_exp_avg_sq",) if flags["AMSGRAD"] else keys

    def hyper(self, group):
        beta1, beta2 = group["betas"]
        return [float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
                float(group["weight_decay"])]

    def lazy_state(self, param, state, flags):
        if flags["AMSGRAD"] and "max_exp_avg_sq" not in state:  # amsgrad switched on later
            state["max_exp_avg_sq"] = torch.zeros_like(
                param, memory_format=torch.contiguous_format)
        return False

    def source(self, flags):
        buffers = ("m", "v", "vmax") if flags["AMSGRAD"] else ("m", "v")
        return KernelSource(
            buffers=buffers, hyper=("lr", "beta1", "beta2", "eps", "weight_decay"),
            prologue="""
                const double bias1 = 1.0 - pow(beta1, t);
                const double bias2_sqrt = sqrt(1.0 - pow(beta2, t));
                const T w1 = (T)(1.0 - beta1), b2 = (T)beta2, w2 = (T)(1.0 - beta2);
                /* torch's lerp: fma(w, end - start, start) for |w| < 0.5, else from the end */
                const int small = ABS(w1) < (T)0.5;
                const T lc = small ? w1 : w1 - (T)1;
                const T c1 = (T)bias1, c2 = (T)bias2_sqrt, e = (T)eps, wd = (T)weight_decay;
                const T nlr = (T)(-lr);
                (void)wd;
            """,
            body="""
                T gi = MAXIMIZE ? -g[i] : g[i];
                const T pi = p[i];
                if (WD_MODE == 1) gi = FMA(pi, wd, gi);
                const T mo = m[i];
                const T mi = FMA(lc, gi - mo, small ? mo : gi);
                T vi = v[i] * b2;
                vi = FMA(w2 * gi, gi, vi); /* torch's vectorized addcmul */
                m[i] = mi;
                v[i] = vi;
                #if AMSGRAD
                const T vo = vmax[i];
                vi = (vi > vo || vi != vi) ? vi : vo;
                vmax[i] = vi;
                #endif
                const T denom = SQRT(vi) / c2 + e;
                T u = mi / denom / c1;
                if (WD_MODE == 2) u = FMA(pi, wd, u);
                p[i] = pi + u * nlr;
            """)


from .algorithms_adaptive import ADAPTIVE  # noqa: E402  (they subclass Algorithm)
from .algorithms_chains import CHAINS  # noqa: E402
from .algorithms_classic import CLASSIC  # noqa: E402
from .algorithms_nadam_radam import NADAM_RADAM  # noqa: E402
from .algorithms_per_tensor import PER_TENSOR  # noqa: E402
from .algorithms_prefixed import PlainAlgorithm, prefixed_for  # noqa: E402
from .algorithms_schedule_free import SCHEDULE_FREE  # noqa: E402

ALGORITHMS: list[Algorithm] = [SGDAlgorithm(), AdamAlgorithm(), *ADAPTIVE, *NADAM_RADAM,
                               *PER_TENSOR, *CHAINS, *CLASSIC, *SCHEDULE_FREE, PlainAlgorithm()]
_composed: dict[tuple, Algorithm | None] = {}


def algorithm_for(transform: Any) -> Algorithm | None:
    """The fused algorithm for a chain, matched by the exact types of its transforms.

    Besides the chains of :data:`ALGORITHMS`, a chain may start with ``clip_by_value``,
    ``clip_by_global_norm`` or ``add_gradient_noise`` in front of an elementwise one, and may
    leave out its leading ``add_l2`` (see :mod:`.algorithms_prefixed`).
    """
    links = getattr(transform, "transforms", (transform,))
    kinds = tuple(type(t) for t in links)
    for algorithm in ALGORITHMS:
        if kinds == algorithm.transforms:
            return algorithm
    if kinds not in _composed:
        _composed[kinds] = prefixed_for(kinds, ALGORITHMS)
    return _composed[kinds]
