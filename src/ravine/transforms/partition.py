"""One optimizer, different chains for different param groups.

:class:`switch_by_group` runs, for each param group, the chain that one of the group's keys names
(as optax's ``multi_transform`` routes parameters by label). Each chain keeps its own per-parameter
state and reads its hyperparameters from the group, so groups with different chains simply carry
different values under the keys they share (``lr``, ``weight_decay``, ``eps``).

Example:
    >>> import torch
    >>> from ravine.optim import ChainOptimizer
    >>> from ravine.transforms import chain, scale_by_adam, scale_by_lr, scale_by_momentum
    >>> t = switch_by_group("kind", {"sgd": chain(scale_by_momentum(), scale_by_lr()),
    ...                              "adam": chain(scale_by_adam(), scale_by_lr())})
    >>> a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    >>> opt = ChainOptimizer([{"params": [a], "kind": "sgd", "momentum": 0.9},
    ...                       {"params": [b], "kind": "adam"}], t, lr=0.1)
    >>> a.grad, b.grad = torch.ones(2), torch.ones(2)
    >>> opt.step()
    >>> sorted(opt.state[a]), sorted(opt.state[b])
    (['momentum_buffer', 'step'], ['exp_avg', 'exp_avg_sq', 'step'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Transform, is_scheduled

__all__ = ["switch_by_group"]


class switch_by_group(Transform):
    """Run, for each param group, the transform ``cases[group[key]]``.

    Args:
        key: the param-group key that names the case (a switch: it cannot be a schedule).
        cases: label -> transform (usually a :func:`~ravine.transforms.chain`); the first label
            is the default of ``key``.

    The defaults are the cases' defaults merged (for a key two cases share, the first case's
    default; give the other groups their own values). A group is validated by its own case
    only; ``uses_step`` holds if any case reads the step.
    """

    def __init__(self, key: str, cases: Mapping[Any, Transform]) -> None:
        if not cases:
            raise ValueError("switch_by_group needs at least one case")
        for label, t in cases.items():
            if not isinstance(t, Transform):
                raise TypeError(f"case {label!r} must be a Transform, got {type(t).__name__}")
        self.key, self.cases = key, dict(cases)
        defaults: dict[str, Any] = {}
        validators: dict = {}
        for t in reversed(list(self.cases.values())):  # the first case's defaults win
            defaults.update(t.defaults)
            validators.update(t.validators)
        self.defaults = {**defaults, key: next(iter(self.cases))}
        self.validators = validators
        self.uses_step = any(t.uses_step for t in self.cases.values())
        self.fixed_keys = tuple({k for t in self.cases.values() for k in t.fixed_keys} | {key})

    def case(self, group: dict) -> Transform:
        """The transform of ``group``; ``ValueError`` naming the key if its label is unknown."""
        label = group.get(self.key)
        try:
            return self.cases[label]
        except (KeyError, TypeError):
            raise ValueError(f"Invalid {self.key}: {label!r} (expected one of "
                             f"{list(self.cases)})") from None

    def validate(self, group: dict) -> None:
        if is_scheduled(group.get(self.key)):
            raise TypeError(f"{self.key} cannot be a schedule: it chooses the group's chain")
        self.case(group).validate(group)

    def init(self, params, group):
        return self.case(group).init(params, group)

    def update(self, updates, states, params, group):
        return self.case(group).update(updates, states, params, group)

    def __repr__(self) -> str:
        cases = ", ".join(f"{label!r}: {t!r}" for label, t in self.cases.items())
        return f"switch_by_group({self.key!r}, {{{cases}}})"
