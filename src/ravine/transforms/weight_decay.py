"""Weight decay: coupled L2 penalty and decoupled (AdamW-style) decay."""

from __future__ import annotations

from .base import Transform, non_negative


def _add_scaled_params(updates, params, wd):
    if wd != 0:
        for u, p in zip(updates, params, strict=True):
            u.add_(p.detach(), alpha=wd)
    return updates


class add_l2(Transform):
    """Coupled L2 penalty: add ``weight_decay * param`` to the gradient.

    Update rule: ``u <- u + lambda * w`` (the gradient of ``lambda/2 * ||w||^2``). This is what
    ``weight_decay`` means in ``torch.optim.SGD``/``Adam``; with adaptive methods the penalty is
    rescaled per coordinate, which is why AdamW decouples it. Skipped when the group sets
    ``decoupled_weight_decay=True`` (then :class:`add_decayed_weights` applies it instead).
    """

    defaults = {"weight_decay": 0.0}
    validators = {"weight_decay": non_negative}

    def update(self, updates, states, params, group):
        if group.get("decoupled_weight_decay", False):
            return updates
        return _add_scaled_params(updates, params, group["weight_decay"])


class add_decayed_weights(Transform):
    """Decoupled weight decay: add ``weight_decay * param`` to the *final direction*.

    Placed just before :class:`~ravine.transforms.scale_by_lr`, the parameter change is
    ``-lr * (u + lambda * w)``, i.e. ``w <- (1 - lr*lambda) w - lr*u`` as in AdamW. Skipped when
    the group sets ``decoupled_weight_decay=False`` (torch's Adam/NAdam/RAdam flag).

    References:
        Loshchilov & Hutter, "Decoupled Weight Decay Regularization", 2019.
    """

    defaults = {"weight_decay": 1e-2}
    validators = {"weight_decay": non_negative}

    def update(self, updates, states, params, group):
        if not group.get("decoupled_weight_decay", True):
            return updates
        return _add_scaled_params(updates, params, group["weight_decay"])
