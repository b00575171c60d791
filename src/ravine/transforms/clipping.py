"""Gradient clipping: by the global norm of a param group, and by value."""

from __future__ import annotations

import torch

from .base import Transform, non_negative


def _positive(name, value):
    non_negative(name, value)
    if value == 0:
        raise ValueError(f"Invalid {name}: {value!r} (expected a number > 0)")


class clip_by_global_norm(Transform):
    """Rescale the updates of a param group so their joint L2 norm is at most ``max_norm``.

    Update rule (``N`` = the L2 norm of all updates of the group, concatenated)::

        u <- u * min(1, max_norm / (N + 1e-6))

    Same formula as ``torch.nn.utils.clip_grad_norm_``; the norm is global over one param group
    (a transform sees one group at a time).

    References:
        Pascanu, Mikolov & Bengio, "On the difficulty of training recurrent neural networks",
        ICML 2013.
    """

    defaults = {"max_norm": 1.0}
    validators = {"max_norm": _positive}

    def update(self, updates, states, params, group):
        if not updates:
            return updates
        total = torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(u) for u in updates]))
        coef = torch.clamp(group["max_norm"] / (total + 1e-6), max=1.0)
        for u in updates:
            u.mul_(coef.to(u.dtype))
        return updates


class clip_by_value(Transform):
    """Clip every coordinate of the updates to ``[-clip_value, clip_value]``.

    Update rule: ``u <- min(max(u, -c), c)`` (as ``torch.nn.utils.clip_grad_value_``).
    """

    defaults = {"clip_value": 1.0}
    validators = {"clip_value": _positive}

    def update(self, updates, states, params, group):
        c = group["clip_value"]
        for u in updates:
            u.clamp_(-c, c)
        return updates
