"""Fused kernels whose update needs norms first: LAMB, LARS, clipping by the global norm.

These run as two passes in one call: pass 0 accumulates the sums of squares the reference's
norms need (in double, one partial sum per fixed chunk of a tensor, added in chunk order, so
results depend neither on the thread count nor on scheduling), these turn into the tensor's
factor (LAMB/LARS trust ratio, computed in the tensor's dtype as the reference does) or one
factor for the whole group (global-norm clipping), and pass 1 applies it. Per-tensor semantics
are kept: each tensor's ratio comes from that tensor's norms only. LAMB and LARS run both passes
block by block (consecutive tensors of at most ``csource.BLOCK`` elements), so pass 1 re-reads
from cache what pass 0 has just read: LAMB moves 28 bytes per float32 parameter from memory
(read g, p, m, v; write m, v, p), LARS 20. Clipping needs all norms before any update and
streams the group twice. LAMB's pass 0 also advances the Adam moments and keeps each update
(a square root and two divisions, the costliest part) in a per-thread scratch of one block, which
pass 1 reads back from cache; tensors too large for a block recompute it from the moments.
"""

from __future__ import annotations

import torch

from ... import transforms as _t
from .algorithms import Algorithm, MomentumBufferState
from .csource import KernelSource

__all__ = ["GLOBAL_NORM_PASS", "PER_TENSOR"]

# clip_by_global_norm's norm pass, as the reference forms it: each tensor's norm in its dtype,
# then min(1, max_norm / (N + 1e-6)) for the whole group (``factor``)
GLOBAL_NORM_PASS = dict(
    n_acc=1,
    reduce="""
        const T gi = MAXIMIZE ? -g[i] : g[i];
        acc0 += (double)gi * (double)gi;
    """,
    finalize="""
        const T norm = (T)sqrt(sum0);   /* each tensor's norm, in its dtype */
        g0 += (double)norm * (double)norm;
    """,
    finalize_global="""
        const T total = (T)sqrt(g0);
        T coef = (T)max_norm / (total + (T)1e-6);
        if (coef > (T)1) coef = (T)1;
        factor = (double)coef;
    """)

_ADAM_PROLOGUE = """
    const double bias1 = 1.0 - pow(beta1, t);
    const double bias2_sqrt = sqrt(1.0 - pow(beta2, t));
    const T w1 = (T)(1.0 - beta1), b2 = (T)beta2, w2 = (T)(1.0 - beta2);
    const int small = ABS(w1) < (T)0.5;
    const T lc = small ? w1 : w1 - (T)1;
    const T c1 = (T)bias1, c2 = (T)bias2_sqrt, e = (T)eps, wd = (T)weight_decay;
    const T nlr = (T)(-lr), ratio = (T)factor;
    (void)wd; (void)lc; (void)w2; (void)b2;
"""


def _decoupled(group):
    return group["weight_decay"] != 0 and group.get("decoupled_weight_decay", True)


class LAMBAlgorithm(Algorithm):
    """``chain(scale_by_adam(), add_decayed_weights(), scale_by_trust_ratio(), scale_by_lr())``."""

    name = "lamb"
    norm_pass = True
    transforms = (_t.scale_by_adam, _t.add_decayed_weights,
                  getattr(_t, "scale_by_trust_ratio", None), _t.scale_by_lr)
    uses_step = True

    def flags(self, group):
        return {**super().flags(group), "WD": int(bool(_decoupled(group))),
                "AMSGRAD": int(bool(group["amsgrad"]))}

    def state_keys(self, flags):
        keys = ("exp_avg", "exp_avg_sq")
        return keys + ("max_exp_avg_sq",) if flags["AMSGRAD"] else keys

    def lazy_state(self, param, state, flags):
        if flags["AMSGRAD"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = torch.zeros_like(
                param, memory_format=torch.contiguous_format)
        return False

    def hyper(self, group):
        beta1, beta2 = group["betas"]
        return [float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
                float(group["weight_decay"])]

    def source(self, flags):
        buffers = ("m", "v", "vmax") if flags["AMSGRAD"] else ("m", "v")
        return KernelSource(
            buffers=buffers, hyper=("lr", "beta1", "beta2", "eps", "weight_decay"), n_acc=2,
            prologue=_ADAM_PROLOGUE,
            reduce="""
                const T gi = MAXIMIZE ? -g[i] : g[i];
                const T pi = p[i], mo = m[i];
                const T mi = FMA(lc, gi - mo, small ? mo : gi);
                T vi = FMA(w2 * gi, gi, v[i] * b2);
                m[i] = mi;
                v[i] = vi;
                #if AMSGRAD
                const T vo = vmax[i];
                vi = (vi > vo || vi != vi) ? vi : vo;
                vmax[i] = vi;
                #endif
                T u = mi / (SQRT(vi) / c2 + e) / c1;
                if (WD) u = FMA(pi, wd, u);
                KEEP(u);
                acc0 += (double)pi * (double)pi;
                acc1 += (double)u * (double)u;
            """,
            finalize="""
                const T wn = (T)sqrt(sum0), un = (T)sqrt(sum1);
                factor = (wn > (T)0 && un > (T)0) ? (double)(wn / un) : 1.0;
            """,
            body="""
                const T pi = p[i];
                #if KEPT
                const T u = keep[i - lo];
                #else
                #if AMSGRAD
                const T vi = vmax[i];
                #else
                const T vi = v[i];
                #endif
                T u = m[i] / (SQRT(vi) / c2 + e) / c1;
                if (WD) u = FMA(pi, wd, u);
                #endif
                p[i] = pi + u * ratio * nlr;
            """)


class LARSAlgorithm(MomentumBufferState, Algorithm):
    """``chain(scale_by_lars(), scale_by_momentum(), scale_by_lr())``."""

    name = "lars"
    norm_pass = True
    transforms = (getattr(_t, "scale_by_lars", None), _t.scale_by_momentum, _t.scale_by_lr)
    first_flag = True

    def flags(self, group):
        return {**super().flags(group), "MOMENTUM": int(group["momentum"] != 0),
                "NESTEROV": int(bool(group["nesterov"])), "FIRST": 0}

    def hyper(self, group):
        return [float(group["lr"]), float(group["momentum"]), float(group["dampening"]),
                float(group["weight_decay"]), float(group["trust_coefficient"]),
                float(group["eps"])]

    def source(self, flags):
        return KernelSource(
            buffers=("buf",) if flags["MOMENTUM"] else (), n_acc=2,
            hyper=("lr", "momentum", "dampening", "weight_decay", "trust_coefficient", "eps"),
            prologue="""
                const T nlr = (T)(-lr), mu = (T)momentum, damp = (T)(1.0 - dampening);
                const T wd = (T)weight_decay, ratio = (T)factor;
                (void)mu; (void)damp;
            """,
            reduce="""
                const T gi = MAXIMIZE ? -g[i] : g[i];
                const T pi = p[i];
                acc0 += (double)pi * (double)pi;
                acc1 += (double)gi * (double)gi;
            """,
            finalize="""
                const T wn = (T)sqrt(sum0), gn = (T)sqrt(sum1);
                const T local = (T)trust_coefficient * wn
                                / (gn + (T)weight_decay * wn + (T)eps);
                factor = (wn > (T)0 && gn > (T)0) ? (double)local : 1.0;
            """,
            body="""
                const T pi = p[i];
                T u = FMA(pi, wd, MAXIMIZE ? -g[i] : g[i]) * ratio;
                #if MOMENTUM
                const T bi = FIRST ? u : FMA(u, damp, buf[i] * mu);
                buf[i] = bi;
                u = NESTEROV ? FMA(bi, mu, u) : bi;
                #endif
                p[i] = pi + u * nlr;
            """)


class ClipGlobalNormAlgorithm(Algorithm):
    """``chain(clip_by_global_norm(), scale_by_lr())``: the norm is over the whole group."""

    name = "clip_global_norm"
    norm_pass = True
    transforms = (getattr(_t, "clip_by_global_norm", None), _t.scale_by_lr)

    def hyper(self, group):
        return [float(group["lr"]), float(group["max_norm"])]

    def source(self, flags):
        return KernelSource(
            buffers=(), hyper=("lr", "max_norm"), **GLOBAL_NORM_PASS,
            prologue="const T nlr = (T)(-lr), coef = (T)factor;",
            body="""
                const T gi = MAXIMIZE ? -g[i] : g[i];
                p[i] = p[i] + gi * coef * nlr;
            """)


PER_TENSOR: list[Algorithm] = [
    a for a in (LAMBAlgorithm(), LARSAlgorithm(), ClipGlobalNormAlgorithm())
    if None not in a.transforms
]
