"""The core abstraction: a transform turns gradients into updates.

A :class:`Transform` has two methods, in the spirit of optax's ``GradientTransformation``:

- ``init(params, group) -> list[dict]``: the new per-parameter state it needs (one dict per
  tensor, with torch.optim's key names where torch has the same algorithm), and
- ``update(updates, states, params, group) -> updates``: map the incoming updates (at first the
  gradients) of one param group to new updates.

Hyperparameters are *not* stored in the transform: they are read from ``group`` (the param-group
dict of a ``torch.optim.Optimizer``) at every step, so ``torch.optim.lr_scheduler`` and ravine's
schedules work by writing ``group["lr"]``. Each transform declares the hyperparameters it reads in
``defaults`` together with their default values and a validator; ``chain`` merges them.

The optimizer applies the final updates as ``param += update``, so a chain ends with a transform
that scales by ``-lr`` (:func:`ravine.transforms.scale_by_lr`).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor

Validator = Callable[[str, Any], None]


class Transform:
    """One step of a gradient-to-update pipeline.

    Subclasses override :meth:`update` and, when they keep state, :meth:`init`.

    Attributes:
        defaults: hyperparameters read from the param group, with default values.
        validators: per hyperparameter, a function ``(name, value)`` that raises ``ValueError``.
        uses_step: whether the transform reads ``state["step"]`` (the optimizer then keeps a
            per-parameter step count, incremented before the chain runs).
        fixed_keys: hyperparameters that cannot be schedules, because ``init`` reads them
            (switches, whose default is a bool, cannot be schedules either).
    """

    defaults: dict[str, Any] = {}
    validators: dict[str, Validator] = {}
    uses_step: bool = False
    fixed_keys: tuple[str, ...] = ()

    def __init__(self, **hyperparameters: Any) -> None:
        unknown = set(hyperparameters) - set(self.defaults)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unknown hyperparameters {sorted(unknown)}; "
                f"it reads {sorted(self.defaults)}"
            )
        self.defaults = {**type(self).defaults, **hyperparameters}
        self.validate(self.defaults)

    @property
    def name(self) -> str:
        return type(self).__name__

    def validate(self, group: dict) -> None:
        """Raise ``ValueError`` naming the argument when a hyperparameter is out of range.

        A schedule (a callable ``step -> value``, alone or inside a tuple such as ``betas``) is
        checked when the optimizer evaluates it, value by value.
        """
        for key, check in self.validators.items():
            if key not in group:
                continue
            if not is_scheduled(group[key]):
                check(key, group[key])
            elif key in self.fixed_keys or isinstance(self.defaults.get(key), bool):
                raise TypeError(f"{key} cannot be a schedule: {self.name} reads it when it "
                                "creates the state (or it is a switch)")

    def init(self, params: Sequence[Tensor], group: dict) -> list[dict]:
        """Return the new state for each parameter (default: none)."""
        return [{} for _ in params]

    def update(
        self, updates: list[Tensor], states: list[dict], params: list[Tensor], group: dict
    ) -> list[Tensor]:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.defaults.items())
        return f"{self.name}({args})"


class Chain(Transform):
    """Apply transforms in order; the output updates of one are the input of the next."""

    def __init__(self, *transforms: Transform) -> None:
        if not transforms:
            raise ValueError("chain() needs at least one transform")
        for t in transforms:
            if not isinstance(t, Transform):
                raise TypeError(f"chain() takes Transform objects, got {type(t).__name__}")
        self.transforms = tuple(transforms)
        merged: dict[str, Any] = {}
        validators: dict[str, Validator] = {}
        for t in transforms:
            merged.update(t.defaults)
            validators.update(t.validators)
        self.defaults = merged
        self.validators = validators
        self.uses_step = any(t.uses_step for t in transforms)

    def validate(self, group: dict) -> None:
        for t in self.transforms:
            t.validate(group)

    def init(self, params: Sequence[Tensor], group: dict) -> list[dict]:
        merged = [{} for _ in params]
        for t in self.transforms:
            for target, new in zip(merged, t.init(params, group), strict=True):
                clash = set(target) & set(new)
                if clash:
                    raise ValueError(
                        f"{t.name} would overwrite state {sorted(clash)} of an earlier transform"
                    )
                target.update(new)
        return merged

    def update(self, updates, states, params, group):
        for t in self.transforms:
            updates = t.update(updates, states, params, group)
        return updates

    def __repr__(self) -> str:
        return "chain(" + ", ".join(repr(t) for t in self.transforms) + ")"


def chain(*transforms: Transform) -> Chain:
    """Compose transforms left to right.

    Example:
        >>> from ravine.transforms import chain, scale_by_adam, add_decayed_weights, scale_by_lr
        >>> adamw = chain(scale_by_adam(), add_decayed_weights(weight_decay=1e-2), scale_by_lr())
        >>> sorted(adamw.defaults)
        ['amsgrad', 'betas', 'eps', 'lr', 'weight_decay']
    """
    return Chain(*transforms)


def is_scheduled(value: Any) -> bool:
    """Whether a hyperparameter value is (or, as a tuple or list, holds) a schedule."""
    if isinstance(value, (tuple, list)):
        return any(callable(v) for v in value)
    return callable(value) and not isinstance(value, Tensor)


def scheduled_keys(group: dict) -> list[str]:
    """The hyperparameters of a param group given as schedules (or tuples holding one)."""
    return [key for key, value in group.items() if key != "params" and is_scheduled(value)]


def group_step(group: dict, state: Any) -> int:
    """Count one step of a group with schedules; return the steps it took before this one.

    The count is kept in the group as ``"schedule_step"`` (saved in ``state_dict()``), so a
    group's schedules follow the optimizer's own ``step()`` calls, as a torch scheduler does,
    even when some or all of its parameters get no gradient in a step, or the step is skipped.
    A group saved before the key existed starts from its oldest parameter's ``state["step"]``
    (``state`` maps parameters to their state). Call once per ``step()`` call, before any count
    is incremented. Without schedules nothing is counted (0), which keeps small models' steps
    cheap.
    """
    if not scheduled_keys(group):
        return 0
    step = group.get("schedule_step")
    if step is None:
        steps = (s.get("step") for s in map(state.get, group["params"]) if s)
        step = max((int(t) for t in steps if t is not None), default=0)
    group["schedule_step"] = int(step) + 1
    return int(step)


# ---- validators shared by the transforms -------------------------------------------------
#
# The ranges follow torch.optim's checks: a value outside them raises ``ValueError`` naming the
# argument and the range; a value that is not a real number raises ``TypeError`` (torch's
# comparisons raise ``TypeError`` there too). numpy scalars count as numbers; bools do not.


def _require_real(name: str, value: Any, expected: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Invalid {name}: {value!r} (expected a number {expected})")


def non_negative(name: str, value: Any) -> None:
    """value >= 0 (inf allowed, nan rejected), as torch's ``if not 0.0 <= value`` checks."""
    if callable(value):  # a schedule: checked when evaluated
        return
    _require_real(name, value, ">= 0")
    if not value >= 0.0:
        raise ValueError(f"Invalid {name}: {value!r} (expected a number >= 0)")


def not_below_zero(name: str, value: Any) -> None:
    """Reject only value < 0: nan passes, as torch.optim.SGD's ``if value < 0.0`` checks."""
    if callable(value):
        return
    _require_real(name, value, ">= 0")
    if value < 0.0:
        raise ValueError(f"Invalid {name}: {value!r} (expected a number >= 0)")


def any_real(name: str, value: Any) -> None:
    """Any real number, nan and inf included (torch.optim.SGD's unchecked ``dampening``)."""
    _require_real(name, value, "")


def _tensor_lr(name: str, value: Any) -> float | None:
    """The float value of a tensor learning rate (1 element), or None when not a tensor."""
    if not isinstance(value, Tensor):
        return None
    if value.numel() != 1:
        raise ValueError(f"Tensor {name} must be 1-element, got shape {tuple(value.shape)}")
    return float(value)


def learning_rate(name: str, value: Any) -> None:
    """lr >= 0: a number, a 1-element tensor (as torch accepts) or a schedule ``step -> lr``."""
    as_float = _tensor_lr(name, value)
    non_negative(name, value if as_float is None else as_float)


def sgd_learning_rate(name: str, value: Any) -> None:
    """torch.optim.SGD's lr check: a number or 1-element tensor, rejected only when < 0."""
    as_float = _tensor_lr(name, value)
    not_below_zero(name, value if as_float is None else as_float)


def positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= 1)")


def unit_interval(name: str, value: Any) -> None:
    """0 <= value < 1 (momentum coefficients, EMA decays)."""
    _require_real(name, value, f"0 <= {name} < 1")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid {name}: {value!r} (expected 0 <= {name} < 1)")


def closed_unit_interval(name: str, value: Any) -> None:
    _require_real(name, value, f"0 <= {name} <= 1")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Invalid {name}: {value!r} (expected 0 <= {name} <= 1)")


def betas_pair(name: str, value: Any) -> None:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"Invalid {name}: {value!r} (expected a pair (beta1, beta2))")
    for i, b in enumerate(value):
        unit_interval(f"beta parameter at index {i} of {name}", b)


def with_validators(transform: Transform, **validators: Validator) -> Transform:
    """Replace the validators of some hyperparameters in ``transform`` (a chain: in each link).

    The optimizer classes use it where torch.optim accepts a different range than the
    transform's own (e.g. ``torch.optim.RMSprop`` takes any ``alpha >= 0``). Returns
    ``transform``, changed in place; call it before the transform goes into a :func:`chain`.

    Example:
        >>> from ravine.transforms import scale_by_rms
        >>> from ravine.transforms.base import non_negative, with_validators
        >>> rms = with_validators(scale_by_rms(), alpha=non_negative)
        >>> rms.validate({"alpha": 1.5})  # accepted, as torch.optim.RMSprop does
    """
    links = transform.transforms if isinstance(transform, Chain) else (transform,)
    unknown = set(validators) - {k for t in links for k in t.defaults}
    if unknown:
        raise TypeError(f"with_validators: {transform!r} reads no hyperparameter {sorted(unknown)}")
    for t in links:
        mine = {k: v for k, v in validators.items() if k in t.defaults}
        if mine:
            if isinstance(t, Chain):
                with_validators(t, **mine)
            else:
                t.validators = {**t.validators, **mine}
    if isinstance(transform, Chain):
        transform.validators = {**transform.validators, **validators}
    return transform
