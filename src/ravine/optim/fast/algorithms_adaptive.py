"""Fused kernels for the adaptive chains: Adagrad, RMSprop (plain/centered, momentum), Adamax, Lion.

Each mirrors its reference transforms operation for operation (see :mod:`.algorithms`). A chain
whose transforms are not importable yet (the transform families land independently) is skipped.
"""

from __future__ import annotations

import torch

from ... import transforms as _t
from .algorithms import Algorithm
from .csource import KernelSource

__all__ = ["ADAPTIVE"]

_GRAD = """
    T gi = MAXIMIZE ? -g[i] : g[i];
    const T pi = p[i];
    if (WD) gi = FMA(pi, wd, gi);
"""
_LERP = """
    /* torch's lerp(start, end, w): fma(w, end - start, start) for |w| < 0.5, else from end */
    #define LERP_CONSTS(name, weight) const T name##_w = (T)(weight); \\
        const int name##_small = ABS(name##_w) < (T)0.5; \\
        const T name##_c = name##_small ? name##_w : name##_w - (T)1;
    #define LERP(name, start, end) FMA(name##_c, (end) - (start), name##_small ? (start) : (end))
"""


def _transform(name):
    return getattr(_t, name, None)


class AdagradAlgorithm(Algorithm):
    """``chain(add_l2(), scale_by_adagrad(), scale_by_lr())``: torch.optim.Adagrad."""

    name = "adagrad"
    transforms = (_t.add_l2, _transform("scale_by_adagrad"), _t.scale_by_lr)
    uses_step = True

    def flags(self, group):
        return {**super().flags(group), "WD": int(group["weight_decay"] != 0)}

    def state_keys(self, flags):
        return ("sum",)

    def hyper(self, group):
        return [float(group["lr"]), float(group["lr_decay"]), float(group["eps"]),
                float(group["weight_decay"])]

    def source(self, flags):
        return KernelSource(
            buffers=("sum",), hyper=("lr", "lr_decay", "eps", "weight_decay"),
            prologue="""
                const T e = (T)eps, wd = (T)weight_decay, nlr = (T)(-lr);
                const T decay = (T)(1.0 + (t - 1.0) * lr_decay);
                (void)wd;
            """,
            body=_GRAD + """
                const T s = FMA(gi, gi, sum[i]);   /* addcmul_(g, g, value=1) */
                sum[i] = s;
                const T u = gi / (SQRT(s) + e) / decay;
                p[i] = pi + u * nlr;
            """)


class RMSpropAlgorithm(Algorithm):
    """``chain(add_l2(), scale_by_rms(), scale_by_momentum(), scale_by_lr())``: RMSprop."""

    name = "rmsprop"
    transforms = (_t.add_l2, _transform("scale_by_rms"), _t.scale_by_momentum, _t.scale_by_lr)
    uses_step = False  # the reference counts steps; the update does not read them
    first_flag = True

    def flags(self, group):
        return {**super().flags(group), "WD": int(group["weight_decay"] != 0),
                "CENTERED": int(bool(group["centered"])),
                "MOMENTUM": int(group["momentum"] != 0),
                "NESTEROV": int(bool(group["nesterov"])), "FIRST": 0}

    def state_keys(self, flags):
        keys = ("square_avg",) + (("grad_avg",) if flags["CENTERED"] else ())
        return keys + (("momentum_buffer",) if flags["MOMENTUM"] else ())

    def hyper(self, group):
        return [float(group["lr"]), float(group["alpha"]), float(group["eps"]),
                float(group["weight_decay"]), float(group["momentum"]),
                float(group["dampening"])]

    def lazy_state(self, param, state, flags):
        if flags["CENTERED"] and "grad_avg" not in state:
            state["grad_avg"] = torch.zeros_like(param, memory_format=torch.contiguous_format)
        if flags["MOMENTUM"] and "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.empty_like(
                param, memory_format=torch.contiguous_format)
            return True
        return False

    def source(self, flags):
        buffers = ("v",) + (("ga",) if flags["CENTERED"] else ())
        buffers += ("buf",) if flags["MOMENTUM"] else ()
        return KernelSource(
            buffers=buffers, hyper=("lr", "alpha", "eps", "weight_decay", "momentum",
                                    "dampening"),
            prologue=_LERP + """
                LERP_CONSTS(avg, 1.0 - alpha)
                const T a = (T)alpha, w2 = (T)(1.0 - alpha), e = (T)eps, wd = (T)weight_decay;
                const T mu = (T)momentum, damp = (T)(1.0 - dampening), nlr = (T)(-lr);
                (void)wd; (void)mu; (void)damp; (void)avg_c; (void)avg_small;
            """,
            body=_GRAD + """
                const T vi = FMA(w2 * gi, gi, v[i] * a);
                v[i] = vi;
                #if CENTERED
                const T mi = LERP(avg, ga[i], gi);
                ga[i] = mi;
                const T root = SQRT(FMA(-mi, mi, vi));  /* v.addcmul(m, m, value=-1) */
                #else
                const T root = SQRT(vi);
                #endif
                T u = gi / (root + e);
                #if MOMENTUM
                const T bi = FIRST ? u : FMA(u, damp, buf[i] * mu);
                buf[i] = bi;
                u = NESTEROV ? FMA(bi, mu, u) : bi;
                #endif
                p[i] = pi + u * nlr;
            """)


class AdamaxAlgorithm(Algorithm):
    """``chain(add_l2(), scale_by_adamax(), scale_by_lr())``: torch.optim.Adamax."""

    name = "adamax"
    transforms = (_t.add_l2, _transform("scale_by_adamax"), _t.scale_by_lr)
    uses_step = True

    def flags(self, group):
        return {**super().flags(group), "WD": int(group["weight_decay"] != 0)}

    def state_keys(self, flags):
        return ("exp_avg", "exp_inf")

    def hyper(self, group):
        beta1, beta2 = group["betas"]
        return [float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
                float(group["weight_decay"])]

    def source(self, flags):
        return KernelSource(
            buffers=("m", "u"), hyper=("lr", "beta1", "beta2", "eps", "weight_decay"),
            prologue=_LERP + """
                LERP_CONSTS(mom, 1.0 - beta1)
                const T b2 = (T)beta2, e = (T)eps, wd = (T)weight_decay, nlr = (T)(-lr);
                const T bias1 = (T)(1.0 - pow(beta1, t));
                (void)wd;
            """,
            body=_GRAD + """
                const T mi = LERP(mom, m[i], gi);
                m[i] = mi;
                const T decayed = u[i] * b2, fresh = ABS(gi) + e;
                const T ui = (decayed > fresh || decayed != decayed) ? decayed : fresh;
                u[i] = ui;
                p[i] = pi + mi / ui / bias1 * nlr;
            """)


class LionAlgorithm(Algorithm):
    """``chain(scale_by_lion(), add_decayed_weights(), scale_by_lr())``: Lion."""

    name = "lion"
    transforms = (_transform("scale_by_lion"), _t.add_decayed_weights, _t.scale_by_lr)

    def flags(self, group):
        decays = group["weight_decay"] != 0 and group.get("decoupled_weight_decay", True)
        return {**super().flags(group), "WD": int(bool(decays))}

    def state_keys(self, flags):
        return ("exp_avg",)

    def hyper(self, group):
        beta1, beta2 = group["betas"]
        return [float(group["lr"]), float(beta1), float(beta2), float(group["weight_decay"])]

    def source(self, flags):
        return KernelSource(
            buffers=("m",), hyper=("lr", "beta1", "beta2", "weight_decay"),
            prologue=_LERP + """
                LERP_CONSTS(dir, 1.0 - beta1)
                LERP_CONSTS(mom, 1.0 - beta2)
                const T wd = (T)weight_decay, nlr = (T)(-lr);
                (void)wd;
            """,
            body="""
                const T gi = MAXIMIZE ? -g[i] : g[i];
                const T pi = p[i], mo = m[i];
                const T x = LERP(dir, mo, gi);
                T d = (T)((x > (T)0) - (x < (T)0));
                if (x != x) d = x;  /* sign(nan) is nan */
                m[i] = LERP(mom, mo, gi);
                if (WD) d = FMA(pi, wd, d);
                p[i] = pi + d * nlr;
            """)


ADAPTIVE: list[Algorithm] = [
    a for a in (AdagradAlgorithm(), RMSpropAlgorithm(), AdamaxAlgorithm(), LionAlgorithm())
    if None not in a.transforms
]
