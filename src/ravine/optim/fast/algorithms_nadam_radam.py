"""Fused kernels for NAdam/NAdamW and RAdam: Adam variants with per-step scalar factors.

NAdam keeps a per-tensor scalar state ``mu_product`` (a 0-d tensor of the default dtype, as
torch.optim.NAdam): the kernel multiplies it by ``mu_t`` once per tensor, serially and in that
tensor's dtype, before the element loops read it. RAdam's rectification switches per tensor on
``rho_t > 5``. Both mirror their reference transforms operation for operation.
"""

from __future__ import annotations

from ... import transforms as _t
from .algorithms import Algorithm, _wd_mode
from .csource import KernelSource

__all__ = ["NADAM_RADAM"]

_HEAD = """
    T gi = MAXIMIZE ? -g[i] : g[i];
    const T pi = p[i];
    if (WD_MODE == 1) gi = FMA(pi, wd, gi);
    const T mo = m[i];
    const T mi = FMA(lc, gi - mo, small ? mo : gi);   /* m.lerp_(g, 1 - beta1) */
    const T vi = FMA(w2 * gi, gi, v[i] * b2);         /* v.mul_(b2).addcmul_(g, g, 1 - b2) */
    m[i] = mi;
    v[i] = vi;
"""
_CONSTS = """
    const T w1 = (T)(1.0 - beta1), b2 = (T)beta2, w2 = (T)(1.0 - beta2);
    const int small = ABS(w1) < (T)0.5;
    const T lc = small ? w1 : w1 - (T)1;
    const T e = (T)eps, wd = (T)weight_decay, nlr = (T)(-lr);
    (void)wd;
"""


class _AdamLike(Algorithm):
    uses_step = True

    def flags(self, group):
        wd = _wd_mode(group)
        return None if wd is None else {**super().flags(group), "WD_MODE": wd}

    def state_keys(self, flags):
        return ("exp_avg", "exp_avg_sq")


class NAdamAlgorithm(_AdamLike):
    """``chain(add_l2(), scale_by_nadam(), add_decayed_weights(), scale_by_lr())``."""

    name = "nadam"
    transforms = (_t.add_l2, getattr(_t, "scale_by_nadam", None), _t.add_decayed_weights,
                  _t.scale_by_lr)
    scalar_keys = ("mu_product",)

    def hyper(self, group):
        beta1, beta2 = group["betas"]
        return [float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
                float(group["weight_decay"]), float(group["momentum_decay"])]

    def source(self, flags):
        return KernelSource(
            buffers=("m", "v"), scalars=("mu_product",),
            hyper=("lr", "beta1", "beta2", "eps", "weight_decay", "momentum_decay"),
            prepare="""
                const double mu = beta1 * (1.0 - 0.5 * pow(0.96, t * momentum_decay));
                if (step_dbl & 1) *(double *)mu_product_ptr *= mu;
                else *(float *)mu_product_ptr *= (float)mu;
            """,
            prologue=_CONSTS + """
                const double mu = beta1 * (1.0 - 0.5 * pow(0.96, t * momentum_decay));
                const double mu_next = beta1 * (1.0 - 0.5 * pow(0.96, (t + 1.0) * momentum_decay));
                const T c2 = (T)(1.0 - pow(beta2, t));
                const T grad_factor = (T)((1.0 - mu) / (1.0 - mu_product));
                const T mom_factor = (T)(mu_next / (1.0 - mu_product * mu_next));
            """,
            body=_HEAD + """
                const T denom = SQRT(vi / c2) + e;
                T u = gi / denom * grad_factor + mi / denom * mom_factor;
                if (WD_MODE == 2) u = FMA(pi, wd, u);
                p[i] = pi + u * nlr;
            """)


class RAdamAlgorithm(_AdamLike):
    """``chain(add_l2(), scale_by_radam(), add_decayed_weights(), scale_by_lr())``."""

    name = "radam"
    transforms = (_t.add_l2, getattr(_t, "scale_by_radam", None), _t.add_decayed_weights,
                  _t.scale_by_lr)

    def hyper(self, group):
        beta1, beta2 = group["betas"]
        return [float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
                float(group["weight_decay"])]

    def source(self, flags):
        return KernelSource(
            buffers=("m", "v"), hyper=("lr", "beta1", "beta2", "eps", "weight_decay"),
            prologue=_CONSTS + """
                const double bias2 = 1.0 - pow(beta2, t);
                const T c1 = (T)(1.0 - pow(beta1, t));
                const double rho_inf = 2.0 / (1.0 - beta2) - 1.0;
                const double rho_t = rho_inf - 2.0 * t * pow(beta2, t) / bias2;
                const int rectify = rho_t > 5.0;
                const T rect = rectify ? (T)sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                                                 / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                                       : (T)1;
                const T c2 = (T)sqrt(bias2);
            """,
            body=_HEAD + """
                T u = mi / c1;
                if (rectify) u = u * ((T)1 / (SQRT(vi) + e) * c2) * rect;
                if (WD_MODE == 2) u = FMA(pi, wd, u);
                p[i] = pi + u * nlr;
            """)


NADAM_RADAM: list[Algorithm] = [a for a in (NAdamAlgorithm(), RAdamAlgorithm())
                                if None not in a.transforms]
