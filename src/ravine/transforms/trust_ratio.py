"""Layer-wise trust ratios for large-batch training: LAMB and LARS."""

from __future__ import annotations

import torch

from .base import Transform, non_negative


def _norm(x):
    return torch.linalg.vector_norm(x)


class scale_by_trust_ratio(Transform):
    """LAMB's trust ratio: rescale each tensor's update to the size of its weights.

    Update rule, per parameter tensor ``w`` with incoming update ``u``::

        update = (||w|| / ||u||) u        (ratio 1 when ||w|| = 0 or ||u|| = 0)

    Placed after the Adam moments and decoupled weight decay, this gives LAMB.

    References:
        You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
        ICLR 2020.
    """

    def update(self, updates, states, params, group):
        for u, p in zip(updates, params, strict=True):
            w_norm, u_norm = _norm(p), _norm(u)
            ratio = torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, 1.0)
            u.mul_(ratio)
        return updates


class scale_by_lars(Transform):
    """LARS: add weight decay, then scale each tensor by its local learning rate.

    Update rule, per parameter tensor ``w`` with gradient ``g`` (``eta = trust_coefficient``,
    ``lambda = weight_decay``)::

        local_lr = eta ||w|| / (||g|| + lambda ||w|| + eps)     (1 when ||w|| = 0 or ||g|| = 0)
        update = local_lr (g + lambda w)

    Followed by heavy-ball momentum and ``-lr`` this is LARS.

    References:
        You, Gitman & Ginsburg, "Large Batch Training of Convolutional Networks", 2017.
    """

    defaults = {"weight_decay": 0.0, "trust_coefficient": 1e-3, "eps": 1e-8}
    validators = {"weight_decay": non_negative, "trust_coefficient": non_negative,
                  "eps": non_negative}

    def update(self, updates, states, params, group):
        wd, eta, eps = group["weight_decay"], group["trust_coefficient"], group["eps"]
        for g, p in zip(updates, params, strict=True):
            w_norm, g_norm = _norm(p), _norm(g)
            local = eta * w_norm / (g_norm + wd * w_norm + eps)
            ratio = torch.where((w_norm > 0) & (g_norm > 0), local, 1.0)
            g.add_(p, alpha=wd).mul_(ratio)
        return updates
