"""Fused kernels for a gradient transform in front of a known chain: clipping, gradient noise.

A chain ``chain(<prefix>, *rest)`` whose ``rest`` has a fused kernel without a norm pass (any
elementwise algorithm, or plain ``scale_by_lr``) runs as that kernel with its gradient read
replaced by the prefix applied to it, in the reference's order (``maximize`` first, then the
prefix, then the rest of the chain):

- ``clip_by_value``: ``clamp(g, -c, c)``;
- ``clip_by_global_norm``: a first pass sums ``g^2`` per tensor (in double), the group's factor
  ``min(1, max_norm / (N + 1e-6))`` is formed as the reference forms it (each tensor's norm in
  its dtype), and the second pass runs the rest of the chain on ``g * factor``;
- ``add_gradient_noise``: the kernel generates each tensor's noise itself, chunk by chunk in
  the update loop, from the counter-based stream of :mod:`ravine.transforms.philox` (the
  tensor's ``noise_key`` and step; the same Philox words as the reference), and adds
  ``std * noise`` in the same pass: no noise buffer, no extra memory traffic.

A leading ``add_l2`` of the rest may also be left out of the chain (e.g.
``chain(clip_by_global_norm(), scale_by_adam(), add_decayed_weights(), scale_by_lr())``): the
kernel then runs with the L2 term off, as the reference would.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from ... import transforms as _t
from .algorithms import Algorithm
from .algorithms_per_tensor import GLOBAL_NORM_PASS
from .csource import KernelSource
from .philox_source import NOISE_C

__all__ = ["PlainAlgorithm", "PrefixedAlgorithm", "WithoutL2", "prefixed_for"]

_GRAD = re.compile(r"MAXIMIZE \? -g\[i\] : g\[i\]")
_NOISE = getattr(_t, "add_gradient_noise", None)
_CLIP_NORM = getattr(_t, "clip_by_global_norm", None)
_CLIP_VALUE = getattr(_t, "clip_by_value", None)


class PlainAlgorithm(Algorithm):
    """``chain(scale_by_lr())``: plain gradient descent, ``p <- p - lr * g``."""

    name = "plain"
    transforms = (_t.scale_by_lr,)

    def hyper(self, group):
        return [float(group["lr"])]

    def source(self, flags):
        return KernelSource(
            buffers=(), hyper=("lr",), prologue="const T nlr = (T)(-lr);",
            body="""
                const T gi = MAXIMIZE ? -g[i] : g[i];
                p[i] = p[i] + gi * nlr;
            """)


class WithoutL2(Algorithm):
    """An algorithm whose chain starts with ``add_l2``, matched by the chain without it."""

    def __init__(self, base: Algorithm) -> None:
        self.base = base
        self.name = f"{base.name}-nol2"
        self.transforms = base.transforms[1:]
        self.uses_step, self.first_flag = base.uses_step, base.first_flag
        self.scalar_keys = base.scalar_keys
        self._decoupled = _t.add_decayed_weights in base.transforms

    def _effective(self, group: dict) -> dict:
        # without add_l2 the only decay is add_decayed_weights, when the chain has it and
        # the group does not switch it off
        if self._decoupled and group.get("decoupled_weight_decay", True):
            return {**group, "decoupled_weight_decay": True}
        return {**group, "weight_decay": 0.0}

    def flags(self, group):
        return self.base.flags(self._effective(group))

    def state_keys(self, flags):
        return self.base.state_keys(flags)

    def hyper(self, group):
        return self.base.hyper(self._effective(group))

    def source(self, flags):
        return self.base.source(flags)

    def lazy_state(self, param, state, flags):
        return self.base.lazy_state(param, state, flags)


class PrefixedAlgorithm(Algorithm):
    """``chain(prefix, *base.transforms)`` for a prefix in clip_by_value, clip_by_global_norm,
    add_gradient_noise and an elementwise ``base`` (no norm pass of its own)."""

    def __init__(self, prefix: type, base: Algorithm) -> None:
        self.prefix, self.base = prefix, base
        kind = {_CLIP_VALUE: "clipv", _CLIP_NORM: "clipn", _NOISE: "noise"}[prefix]
        self.kind = kind
        self.name = f"{kind}-{base.name}"
        self.transforms = (prefix, *base.transforms)
        self.uses_step = base.uses_step or prefix is _NOISE
        self.first_flag, self.scalar_keys = base.first_flag, base.scalar_keys
        self.word_keys = ("noise_key",) if prefix is _NOISE else ()

    def flags(self, group):
        return self.base.flags(group)

    def state_keys(self, flags):
        return self.base.state_keys(flags)

    def hyper(self, group):
        values = self.base.hyper(group)
        if self.kind == "clipv":
            return [*values, float(group["clip_value"])]
        if self.kind == "clipn":
            return [*values, float(group["max_norm"])]
        return [*values, float(group["noise_eta"]), float(group["noise_gamma"])]

    def lazy_state(self, param, state, flags):
        return self.base.lazy_state(param, state, flags)

    def source(self, flags):
        src = self.base.source(flags)
        raw = "#define GRAD_RAW (MAXIMIZE ? -g[i] : g[i])"
        extra: dict[str, Any] = {}
        if self.kind == "clipv":
            hyper, prologue = ("clip_value",), f"""
                const T clip_hi = (T)clip_value, clip_lo = (T)(-clip_value);
                {raw}
                #define GRAD_IN ((GRAD_RAW) < clip_lo ? clip_lo \\
                    : ((GRAD_RAW) > clip_hi ? clip_hi : (GRAD_RAW)))
            """
        elif self.kind == "clipn":
            hyper, prologue = ("max_norm",), f"""
                const T clip_coef = (T)factor;
                {raw}
                #define GRAD_IN ((GRAD_RAW) * clip_coef)
            """
            extra = GLOBAL_NORM_PASS
        else:
            # t counts this step (1-based): the reference's sqrt(eta / (1 + t0)^gamma), t0 = t - 1
            hyper, prologue = ("noise_eta", "noise_gamma"), f"""
                const double noise_sd = sqrt(noise_eta / pow(t, noise_gamma));
                const T noise_scale = (T)noise_sd;
                const uint64_t noise_t = (uint64_t)t - 1;
                #if T_IS_DOUBLE
                #define NOISE_PER_BLOCK (2 * PHILOX_LANES)
                #define NOISE_BLOCKS noise_blocks_f64
                #else
                #define NOISE_PER_BLOCK (4 * PHILOX_LANES)
                #define NOISE_BLOCKS noise_blocks_f32
                #endif
                T noise_buf[LOOP_CHUNK + 2 * NOISE_PER_BLOCK];
                int64_t noise_base = 0;
                {raw}
                /* u.add_(n, alpha=std); nothing at all when std == 0, as the reference */
                #define GRAD_IN (noise_sd != 0.0 \\
                    ? FMA(noise_buf[i - noise_base], noise_scale, GRAD_RAW) : (GRAD_RAW))
            """
            extra = dict(words=("noise_key",), preamble=NOISE_C, chunk="""
                if (noise_sd != 0.0) {
                    const int64_t first = c / NOISE_PER_BLOCK;
                    const int64_t last = (ce + NOISE_PER_BLOCK - 1) / NOISE_PER_BLOCK;
                    NOISE_BLOCKS(noise_buf, (uint64_t)first, last - first, noise_key, noise_t);
                    noise_base = first * NOISE_PER_BLOCK;
                }
            """)
        if src.n_acc:
            raise ValueError(f"{self.base.name} has its own norm pass; it takes no prefix")
        return replace(
            src, hyper=src.hyper + hyper, prologue=prologue + src.prologue,
            body=_GRAD.sub("GRAD_IN", src.body), **extra)


def prefixed_for(kinds: tuple[type, ...], algorithms: list[Algorithm]) -> Algorithm | None:
    """The prefixed (or ``add_l2``-less) algorithm for a chain of transform types, if any."""
    prefix = kinds[0] if kinds and kinds[0] in (_CLIP_VALUE, _CLIP_NORM, _NOISE) else None
    rest = kinds[1:] if prefix is not None else kinds
    for base in algorithms:
        if base.norm_pass or not base.prefixable:
            continue
        candidates = [base]
        if base.transforms[:1] == (_t.add_l2,):
            candidates.append(WithoutL2(base))
        for candidate in candidates:
            if candidate.transforms != rest:
                continue
            if prefix is None:
                return candidate if candidate is not base else None
            return PrefixedAlgorithm(prefix, candidate)
    return None
