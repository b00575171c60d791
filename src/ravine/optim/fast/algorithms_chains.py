"""Fused kernels for small elementwise chains: value clipping, and momentum SGD with an L1 prox.

``chain(clip_by_value(), scale_by_lr())`` and ``chain(scale_by_momentum(), scale_by_lr(),
prox_l1())``, each mirroring its reference transforms operation for operation.
"""

from __future__ import annotations

from ... import transforms as _t
from .algorithms import Algorithm, MomentumBufferState
from .csource import KernelSource

__all__ = ["CHAINS"]


class ClipValueAlgorithm(Algorithm):
    """``chain(clip_by_value(), scale_by_lr())``: ``p -= lr * clamp(g, -c, c)``."""

    name = "clip_value"
    transforms = (getattr(_t, "clip_by_value", None), _t.scale_by_lr)

    def hyper(self, group):
        return [float(group["lr"]), float(group["clip_value"])]

    def source(self, flags):
        return KernelSource(
            buffers=(), hyper=("lr", "clip_value"),
            prologue="const T nlr = (T)(-lr), top = (T)clip_value, bottom = (T)(-clip_value);",
            body="""
                T u = MAXIMIZE ? -g[i] : g[i];
                u = u < bottom ? bottom : u;   /* clamp_(-c, c); nan stays nan */
                u = u > top ? top : u;
                p[i] = p[i] + u * nlr;
            """)


class MomentumL1ProxAlgorithm(MomentumBufferState, Algorithm):
    """``chain(scale_by_momentum(), scale_by_lr(), prox_l1())``: proximal SGD for an L1 term."""

    name = "momentum_l1_prox"
    transforms = (_t.scale_by_momentum, _t.scale_by_lr, getattr(_t, "prox_l1", None))
    first_flag = True

    def flags(self, group):
        return {**super().flags(group), "MOMENTUM": int(group["momentum"] != 0),
                "NESTEROV": int(bool(group["nesterov"])), "FIRST": 0,
                "PROX": int(float(group["lr"]) * group["l1"] != 0)}

    def hyper(self, group):
        return [float(group["lr"]), float(group["momentum"]), float(group["dampening"]),
                float(group["lr"]) * group["l1"]]

    def source(self, flags):
        return KernelSource(
            buffers=("buf",) if flags["MOMENTUM"] else (),
            hyper=("lr", "momentum", "dampening", "threshold"),
            prologue="""
                const T nlr = (T)(-lr), mu = (T)momentum, damp = (T)(1.0 - dampening);
                const T thr = (T)threshold;
                (void)mu; (void)damp; (void)thr;
            """,
            body="""
                T u = MAXIMIZE ? -g[i] : g[i];
                const T pi = p[i];
                #if MOMENTUM
                const T bi = FIRST ? u : FMA(u, damp, buf[i] * mu);
                buf[i] = bi;
                u = NESTEROV ? FMA(bi, mu, u) : bi;
                #endif
                u = u * nlr;
                #if PROX
                const T half = u + pi;
                T shrunk = ABS(half) - thr;
                shrunk = (shrunk < (T)0) ? (T)0 : shrunk;   /* clamp_(min=0) */
                shrunk = shrunk * (T)((half > (T)0) - (half < (T)0));
                if (half != half) shrunk = half;
                u = shrunk - pi;
                #endif
                p[i] = pi + u;
            """)


CHAINS: list[Algorithm] = [a for a in (ClipValueAlgorithm(), MomentumL1ProxAlgorithm())
                           if None not in a.transforms]
