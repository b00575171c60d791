"""Fused kernels for the classic chains: Adadelta, Rprop and averaged SGD (ASGD).

Each mirrors its reference transform (:mod:`ravine.transforms.classic`) operation for operation.
ASGD's per-tensor scalars ``eta`` and ``mu`` (0-d tensors of ``step``'s dtype, as torch keeps
them) are read by the element loops and only then replaced by the next step's values, so their
update cannot be a ``prepare`` (which runs before the loops): the kernel's preamble wraps the
entry point ``ravine_step`` (the kernels' C signature) and updates them after the loops,
serially, once per tensor. A prefix (clipping, gradient noise) would replace that preamble, so
the ASGD algorithm takes none.
"""

from __future__ import annotations

from ... import transforms as _t
from .algorithms import Algorithm
from .csource import KernelSource

__all__ = ["CLASSIC"]

_GRAD = """
    T gi = MAXIMIZE ? -g[i] : g[i];
    const T pi = p[i];
    if (WD) gi = FMA(pi, wd, gi);
"""


def _transform(name):
    return getattr(_t, name, None)


class AdadeltaAlgorithm(Algorithm):
    """``chain(add_l2(), scale_by_adadelta(), scale_by_lr())``: torch.optim.Adadelta."""

    name = "adadelta"
    transforms = (_t.add_l2, _transform("scale_by_adadelta"), _t.scale_by_lr)
    uses_step = False  # the reference counts steps; the update does not read them

    def flags(self, group):
        return {**super().flags(group), "WD": int(group["weight_decay"] != 0)}

    def state_keys(self, flags):
        return ("square_avg", "acc_delta")

    def hyper(self, group):
        return [float(group["lr"]), float(group["rho"]), float(group["eps"]),
                float(group["weight_decay"])]

    def source(self, flags):
        return KernelSource(
            buffers=("v", "ad"), hyper=("lr", "rho", "eps", "weight_decay"),
            prologue="""
                const T r = (T)rho, w = (T)(1.0 - rho), e = (T)eps, wd = (T)weight_decay;
                const T nlr = (T)(-lr);
                (void)wd;
            """,
            body=_GRAD + """
                const T vi = FMA(w * gi, gi, v[i] * r);   /* mul_(rho).addcmul_(g, g, 1 - rho) */
                v[i] = vi;
                const T ai = ad[i];
                const T delta = SQRT(ai + e) / SQRT(vi + e) * gi;
                ad[i] = FMA(w * delta, delta, ai * r);
                p[i] = pi + delta * nlr;
            """)


class RpropAlgorithm(Algorithm):
    """``chain(scale_by_rprop())``: torch.optim.Rprop."""

    name = "rprop"
    transforms = (_transform("scale_by_rprop"),)
    uses_step = False  # the reference counts steps; the update does not read them

    def flags(self, group):
        lo, hi = group["step_sizes"]
        if lo != lo or hi != hi:  # clamp to a nan bound: leave it to the reference
            return None
        return super().flags(group)

    def state_keys(self, flags):
        return ("prev", "step_size")

    def hyper(self, group):
        etaminus, etaplus = group["etas"]
        lo, hi = group["step_sizes"]
        return [float(etaminus), float(etaplus), float(lo), float(hi)]

    def source(self, flags):
        return KernelSource(
            buffers=("prev", "size"), hyper=("etaminus", "etaplus", "size_min", "size_max"),
            prologue="""
                const T em = (T)etaminus, ep = (T)etaplus, smin = (T)size_min;
                const T smax = (T)size_max;
            """,
            body="""
                T gi = MAXIMIZE ? -g[i] : g[i];
                const T prod = gi * prev[i];
                /* sign(g prev) -> etaplus, etaminus or 1 (torch's sign(nan) is 0: 1) */
                const T f = prod > (T)0 ? ep : (prod < (T)0 ? em : (T)1);
                T s = size[i] * f;
                s = s < smin ? smin : s;   /* clamp_(min, max); nan stays nan */
                s = s > smax ? smax : s;
                size[i] = s;
                if (f == em) gi = (T)0;
                prev[i] = gi;
                const T sg = (T)((gi > (T)0) - (gi < (T)0));
                p[i] = p[i] + -(sg * s);
            """)


# ASGD: after the loops have used this step's eta and mu, store the next step's, per tensor
# (torch: eta = lr / (1 + lambd lr t)^alpha, mu = 1 / max(1, t - t0), in step's dtype)
_ASGD_FINISH = """
    const double next_eta = lr / pow(1.0 + lambd * lr * t, alpha);
    const double excess = t - t0;
    const double next_mu = 1.0 / (excess > 1.0 ? excess : 1.0);
    if (step_dbl & 1) {
        *(double *)eta_ptr = next_eta;
        *(double *)mu_ptr = next_mu;
    } else {
        *(float *)eta_ptr = (float)next_eta;
        *(float *)mu_ptr = (float)next_mu;
    }
"""


class ASGDAlgorithm(Algorithm):
    """``chain(add_l2(), scale_by_asgd())``: torch.optim.ASGD."""

    name = "asgd"
    transforms = (_t.add_l2, _transform("scale_by_asgd"))
    uses_step = True
    scalar_keys = ("eta", "mu")
    # its eta/mu are per-tensor scalar state, which the prefixed (clip, noise) wrapper does not
    # carry: a prefixed ASGD chain runs the reference
    prefixable = False

    def flags(self, group):
        return {**super().flags(group), "WD": int(group["weight_decay"] != 0)}

    def state_keys(self, flags):
        return ("ax",)

    def hyper(self, group):
        return [float(group["lr"]), float(group["lambd"]), float(group["alpha"]),
                float(group["t0"]), float(group["weight_decay"])]

    def source(self, flags):
        return KernelSource(
            buffers=("ax",), scalars=("eta", "mu"),
            hyper=("lr", "lambd", "alpha", "t0", "weight_decay"), finish=_ASGD_FINISH,
            prologue="""
                const T c = (T)(1.0 - lambd * eta), neta = (T)(-eta), m = (T)mu;
                const T wd = (T)weight_decay;
                const int average = mu != 1.0;
                (void)wd;
            """,
            body=_GRAD + """
                const T nw = FMA(gi, neta, pi * c);   /* p.mul(1 - lambd eta).add_(g, -eta) */
                const T u = nw == pi ? (T)0 : nw - pi;  /* the change; 0 where nothing moves */
                const T pn = pi + u;
                if (average) {   /* ax.add_(p.sub(ax).mul_(mu)) */
                    const T ai = ax[i];
                    ax[i] = ai + (pn - ai) * m;
                } else {
                    ax[i] = pn;   /* ax.copy_(p): ax is not read */
                }
                p[i] = pn;
            """)


CLASSIC: list[Algorithm] = [a for a in (AdadeltaAlgorithm(), RpropAlgorithm(), ASGDAlgorithm())
                            if None not in a.transforms]
