"""Proximal steps: the L1 penalty as an exact soft-threshold (lasso-style sparsity)."""

from __future__ import annotations

from .base import Transform, non_negative


class prox_l1(Transform):
    """Proximal L1 step: soft-threshold the parameters after the gradient step.

    Placed *after* :class:`~ravine.transforms.scale_by_lr`, it sees the parameter change ``u``
    of the smooth part and returns the change that lands on the proximal point::

        w_half = w + u
        w_new  = sign(w_half) * max(|w_half| - lr * l1, 0)
        update = w_new - w

    so the optimizer's ``w += update`` gives ``w_new``; coordinates with
    ``|w_half| <= lr * l1`` become exactly zero, as the L1 penalty ``l1 * ||w||_1`` should give
    (plain subgradient steps only oscillate around zero). With SGD this is ISTA.

    References:
        Daubechies, Defrise & De Mol, "An iterative thresholding algorithm for linear inverse
        problems with a sparsity constraint", 2004.
        Duchi & Singer, "Efficient Online and Batch Learning Using Forward Backward Splitting",
        JMLR 2009.
    """

    defaults = {"l1": 0.0}
    validators = {"l1": non_negative}

    def update(self, updates, states, params, group):
        threshold = float(group["lr"]) * group["l1"]
        if threshold == 0:
            return updates
        out = []
        for u, p in zip(updates, params, strict=True):
            w_half = u.add_(p)
            shrunk = w_half.abs().sub_(threshold).clamp_(min=0).mul_(w_half.sign())
            out.append(shrunk.sub_(p))
        return out
