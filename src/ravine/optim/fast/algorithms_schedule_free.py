"""Fused kernels for the schedule-free chains (``ravine.optim.SGDScheduleFree`` and
``AdamWScheduleFree``), mirroring :mod:`ravine.transforms.schedule_free` operation for operation.

The per-group numbers (the averaging weight ``c``, the warmed-up ``lr``, the step coefficient
``alpha = lr (beta (1 - c) - 1)`` and Adam's ``1 - b2^t``) are computed in Python, as the reference
computes them, from the bookkeeping the optimizer has advanced for this step; the kernel does the
elementwise rest::

    d  = g (/ (sqrt(v / (1 - b2^t)) + eps))  (+ weight_decay y)
    y' = lerp(y, z, c) + alpha d       z <- z - lr d       p <- y + (y' - y)
"""

from __future__ import annotations

from ...transforms import add_decayed_weights
from ...transforms.schedule_free import (
    average_schedule_free,
    average_schedule_free_adam,
    scale_by_debiased_rms,
    schedule_free_coefficient,
)
from .algorithms import Algorithm
from .csource import KernelSource

__all__ = ["SCHEDULE_FREE"]


class ScheduleFreeAlgorithm(Algorithm):
    """``chain(add_decayed_weights(), average_schedule_free())``: schedule-free SGD."""

    name = "schedule_free_sgd"
    transforms = (add_decayed_weights, average_schedule_free)
    adam = False

    def flags(self, group):
        if not group.get("decoupled_weight_decay", True):
            return None
        return {**super().flags(group), "WD": int(group["weight_decay"] != 0),
                "ADAM": int(self.adam)}

    def state_keys(self, flags):
        return ("exp_avg_sq", "z") if self.adam else ("z",)

    def hyper(self, group):
        c = schedule_free_coefficient(group)
        lr = group["scheduled_lr"]
        beta = self.transforms[-1].beta(group)
        values = [c, lr, lr * (beta * (1 - c) - 1), float(group["weight_decay"])]
        if self.adam:
            values += [float(group["betas"][1]), 1 - group["betas"][1] ** (group["k"] + 1),
                       float(group["eps"])]
        return values

    def source(self, flags):
        hyper = ("c", "lr", "alpha", "weight_decay")
        if flags["ADAM"]:
            hyper += ("beta2", "bias2", "eps")
        return KernelSource(
            buffers=("v", "z") if flags["ADAM"] else ("z",), hyper=hyper,
            prologue="""
                /* torch's lerp: fma(w, end - start, start) for |w| < 0.5, else from the end */
                const T cw = (T)c;
                const int small = ABS(cw) < (T)0.5;
                const T lc = small ? cw : cw - (T)1;
                const T a = (T)alpha, nlr = (T)(-lr), wd = (T)weight_decay;
                (void)wd;
                #if ADAM
                const T b2 = (T)beta2, w2 = (T)(1.0 - beta2), c2 = (T)bias2, e = (T)eps;
                #endif
            """,
            body="""
                T d = MAXIMIZE ? -g[i] : g[i];
                const T yi = p[i], zi = z[i];
                #if ADAM
                T vi = v[i] * b2;
                vi = FMA(w2 * d, d, vi); /* torch's vectorized addcmul */
                v[i] = vi;
                d = d / (SQRT(vi / c2) + e);
                #endif
                if (WD) d = FMA(yi, wd, d);
                const T yl = FMA(lc, zi - yi, small ? yi : zi);
                const T yn = FMA(d, a, yl);
                z[i] = FMA(d, nlr, zi);
                p[i] = yi + (yn - yi);
            """)


class ScheduleFreeAdamAlgorithm(ScheduleFreeAlgorithm):
    """``chain(scale_by_debiased_rms(), add_decayed_weights(), average_schedule_free_adam())``."""

    name = "schedule_free_adamw"
    transforms = (scale_by_debiased_rms, add_decayed_weights, average_schedule_free_adam)
    adam = True


SCHEDULE_FREE: list[Algorithm] = [ScheduleFreeAlgorithm(), ScheduleFreeAdamAlgorithm()]
