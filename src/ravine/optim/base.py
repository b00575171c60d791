"""ChainOptimizer: a ``torch.optim.Optimizer`` that runs a transform chain on each param group."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from ..transforms.base import Transform, group_step, scheduled_keys
from .fast import FAST_PATHS, algorithm_for, default_fast_path, step_group

__all__ = ["ChainOptimizer", "match_state_by_name"]


def _step_tensor() -> Tensor:
    # torch.optim keeps the step count as a scalar tensor of the default float dtype
    return torch.tensor(0.0, dtype=torch.get_default_dtype())


class ChainOptimizer(torch.optim.Optimizer):
    """Run ``transform`` on the gradients of each param group and add the result to the params.

    A drop-in ``torch.optim.Optimizer``: param groups, ``step(closure)``, ``zero_grad``,
    ``state_dict``/``load_state_dict``, hooks, and ``torch.optim.lr_scheduler`` all work.

    Per step and param group:

    1. the updates start as a copy of each gradient (negated when ``maximize``);
    2. if the chain reads it (or a hyperparameter is a schedule), ``state["step"]`` is
       incremented;
    3. every hyperparameter given as a schedule (a callable ``step -> value``: ``lr``, but
       also ``momentum``, ``weight_decay``, an element of ``betas``, ...) is evaluated at the
       number of steps taken before this one, so the first step uses ``schedule(0)`` as with a
       torch scheduler, and its value is checked like a constant one;
    4. the chain maps updates to parameter changes and ``param += change``.

    Args:
        params: tensors, dicts (param groups), or ``(name, tensor)`` pairs such as
            ``model.named_parameters()``. With names, ``state_dict()`` records them and
            ``load_state_dict`` matches saved state to parameters by name.
        transform: the transform (usually a :func:`~ravine.transforms.chain`).
        skip_nonfinite: if True, a step in which any gradient holds inf or nan is skipped
            entirely (no parameter or state changes) and counted in ``self.skipped_steps``.
        fast_path: ``"auto"`` (default, or the environment variable ``RAVINE_FAST_PATH``): run
            a known chain as one fused C kernel per param group when the group qualifies
            (dense contiguous CPU float32/float64 tensors) and a C compiler is present, else
            the reference transforms; ``"reference"`` always runs the reference transforms.
            Both give the same results (float64 to rounding); see :mod:`ravine.optim.fast`.
        **hyperparameters: defaults for the param groups; the chain's own defaults fill the rest.
    """

    def __init__(
        self,
        params: Iterable[Any],
        transform: Transform,
        *,
        skip_nonfinite: bool = False,
        fast_path: str | None = None,
        **hyperparameters: Any,
    ) -> None:
        if not isinstance(transform, Transform):
            raise TypeError(f"transform must be a Transform, got {type(transform).__name__}")
        self.transform = transform
        defaults = {**transform.defaults, **hyperparameters}
        defaults.setdefault("maximize", False)
        self.skip_nonfinite = bool(skip_nonfinite)
        self.skipped_steps = 0
        self.fast_path = default_fast_path() if fast_path is None else fast_path
        self._validate(defaults)
        super().__init__(params, defaults)

    @property
    def fast_path(self) -> str:
        """Which implementation runs the chain: ``"auto"``, ``"kernel"`` or ``"reference"``."""
        return self._fast_path

    @fast_path.setter
    def fast_path(self, value: str) -> None:
        if value not in FAST_PATHS:
            raise ValueError(f"Invalid fast_path: {value!r} (expected one of {FAST_PATHS})")
        self._fast_path = value
        self._fast_algorithm = None if value == "reference" else algorithm_for(self.transform)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        for key in ("transform", "skip_nonfinite", "skipped_steps", "_fast_path"):
            state[key] = getattr(self, key)
        return state

    # -- validation -------------------------------------------------------------------------
    def _validate(self, group: dict) -> None:
        self.transform.validate(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        self._validate(self.param_groups[-1])

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if "transform" in state:
            self.fast_path = state["_fast_path"]
        for group in self.param_groups:
            group.setdefault("maximize", False)
            # a torch.optim state dict may lack keys the chain reads (e.g. RMSprop's dampening)
            for key, value in getattr(self, "defaults", {}).items():
                group.setdefault(key, value)

    # -- the step ---------------------------------------------------------------------------
    def _uses_step(self, group: dict) -> bool:
        return self.transform.uses_step or bool(scheduled_keys(group))

    def _hyperparameters(self, group: dict, step: int) -> dict:
        """The group's hyperparameters for this step, every schedule evaluated at ``step``.

        A schedule may stand for any numeric hyperparameter (``lr``, ``momentum``,
        ``weight_decay``, an element of ``betas``...); each value it gives is checked by the
        chain's validator for that hyperparameter (a bad value is a ``ValueError`` naming the
        schedule and the step).
        """
        keys = scheduled_keys(group)
        if not keys:
            return group
        hp = dict(group)
        for key in keys:
            value = group[key]
            try:
                if isinstance(value, (tuple, list)):
                    hp[key] = tuple(float(v(step)) if callable(v) else v for v in value)
                else:
                    hp[key] = float(value(step))
            except (TypeError, ValueError) as err:
                raise TypeError(f"schedule {value!r} for {key} did not give a number at step "
                                f"{step}: {err}") from None
            try:
                if key == "lr" and not hp[key] < float("inf"):
                    raise ValueError(f"Invalid lr: {hp[key]!r} (expected a finite number >= 0)")
                check = self.transform.validators.get(key)
                if check is not None:
                    check(key, hp[key])
            except ValueError as err:
                raise ValueError(f"schedule {value!r} for {key} gave an invalid value at step "
                                 f"{step}: {err}") from None
        return hp

    def _all_finite(self) -> bool:
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        if not grads:
            return True
        return bool(torch.stack([torch.isfinite(g).all() for g in grads]).all())

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step; ``closure`` re-evaluates the model, returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # every call counts for the groups' schedules, as a torch scheduler's step() would:
        # also a skipped step, and a group without gradients now (a frozen layer)
        counts = [group_step(group, self.state) for group in self.param_groups]
        if self.skip_nonfinite and not self._all_finite():
            self.skipped_steps += 1
            return loss
        for group, count in zip(self.param_groups, counts, strict=True):
            self._step_group(group, count)
        return loss

    def _step_group(self, group: dict, step: int = 0) -> None:
        """Step one group; ``step`` is the number of steps its schedules have taken."""
        if self._fast_algorithm is not None and step_group(
                self, self._fast_algorithm, group, step):
            return
        params = [p for p in group["params"] if p.grad is not None]
        if not params:
            return
        for p in params:
            if p.grad.is_sparse:
                raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
        states = [self.state[p] for p in params]
        fresh = [i for i, s in enumerate(states) if not s]
        if fresh:
            new = self.transform.init([params[i] for i in fresh], group)
            for i, s in zip(fresh, new, strict=True):
                states[i].update(s)
        if self._uses_step(group):
            for s in states:
                if "step" not in s:
                    s["step"] = _step_tensor()
                s["step"] += 1
        self._reference_update(group, params, states, step)

    def _reference_update(self, group: dict, params: list, states: list, step: int) -> None:
        """Run the reference chain on ``params`` (state ready, ``step`` counted) and apply it."""
        hp = self._hyperparameters(group, step)
        if group["maximize"]:
            updates = [torch.neg(p.grad) for p in params]
        else:
            updates = [p.grad.clone() for p in params]
        updates = self.transform.update(updates, states, params, hp)
        for p, u in zip(params, updates, strict=True):
            p.add_(u)

    # -- state dict with parameter names ---------------------------------------------------
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load optimizer state; with parameter names on both sides, state is matched by name.

        A model whose parameters were reordered, or extended by new ones (which start with
        empty state), still loads. A saved name that the optimizer does not have is a
        ``ValueError`` naming it.
        """
        self.__dict__.pop("_fast_layouts", None)  # the fast path's cached pointers
        super().load_state_dict(match_state_by_name(state_dict, self.param_groups))


def match_state_by_name(state_dict: dict[str, Any], param_groups: list[dict]) -> dict[str, Any]:
    """Renumber a saved optimizer state dict so that its state follows parameter names.

    When every saved group and every group of ``param_groups`` has ``param_names`` (the
    optimizer was built from ``named_parameters()``), the saved state of each name is moved
    to the position that name has now, so ``torch.optim.Optimizer.load_state_dict`` (which
    matches by position) restores it to the right tensor. Otherwise ``state_dict`` is returned
    unchanged (matching stays positional, as in torch).

    Raises:
        ValueError: the group counts differ, or a saved name is not in the optimizer's group.
    """
    saved_groups = state_dict["param_groups"]
    named = all("param_names" in g for g in saved_groups) and all(
        "param_names" in g for g in param_groups
    )
    if not (named and saved_groups):
        return state_dict
    if len(saved_groups) != len(param_groups):
        raise ValueError(
            f"loaded state dict has {len(saved_groups)} parameter groups, "
            f"the optimizer has {len(param_groups)}"
        )
    new_state: dict[Any, Any] = {}
    new_groups = []
    next_id = 0
    for gi, (saved, current) in enumerate(zip(saved_groups, param_groups, strict=True)):
        pairs = zip(saved["param_names"], saved["params"], strict=True)
        index_of = {name: pid for name, pid in pairs}
        current_names = list(current["param_names"])
        missing = sorted(set(index_of) - set(current_names))
        if missing:
            raise ValueError(
                f"loaded state dict has parameters {missing} in group {gi} that the "
                f"optimizer does not have (it has {current_names})"
            )
        ids = []
        for name in current_names:
            ids.append(next_id)
            old = index_of.get(name)
            if old is not None and old in state_dict["state"]:
                new_state[next_id] = state_dict["state"][old]
            next_id += 1
        new_groups.append({**saved, "params": ids, "param_names": current_names})
    return {**state_dict, "state": new_state, "param_groups": new_groups}
