"""The optimizers the lab can compare, by name, and how a tuned setting becomes an optimizer.

An entry names a ``ravine.optim`` class and its fixed arguments. A study's optimizer is an
entry plus an optional schedule spec (a ``ravine.schedules.parse`` string in which ``{lr}`` is
the tuned learning rate, ``{steps}`` the run's number of steps and ``{warmup}`` a tenth of
them); its label is ``name`` or ``name+schedule-name``.

Example:
    >>> spec = OptimizerSpec("momentum")
    >>> spec.label, spec.make_kwargs({"lr": 0.1})
    ('momentum', {'momentum': 0.9, 'lr': 0.1})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["OPTIMIZERS", "OptimizerEntry", "OptimizerSpec", "available_optimizers",
           "make_schedule"]


@dataclass(frozen=True)
class OptimizerEntry:
    """A named optimizer: a class of ``ravine.optim`` with fixed keyword arguments."""

    name: str
    cls_name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""


OPTIMIZERS: dict[str, OptimizerEntry] = {
    e.name: e
    for e in [
        OptimizerEntry("sgd", "SGD", {}, "plain gradient descent"),
        OptimizerEntry("momentum", "SGD", {"momentum": 0.9}, "heavy-ball momentum 0.9"),
        OptimizerEntry("nesterov", "SGD", {"momentum": 0.9, "nesterov": True},
                       "Nesterov momentum 0.9"),
        OptimizerEntry("adam", "Adam", {}, "Adam (Kingma & Ba 2015)"),
        OptimizerEntry("adamw", "AdamW", {"weight_decay": 1e-2}, "AdamW, weight decay 0.01"),
        OptimizerEntry("adagrad", "Adagrad", {}, "Adagrad (Duchi et al. 2011)"),
        OptimizerEntry("rmsprop", "RMSprop", {}, "RMSprop (Tieleman & Hinton 2012)"),
        OptimizerEntry("nadam", "NAdam", {}, "Adam with Nesterov momentum (Dozat 2016)"),
        OptimizerEntry("nadamw", "NAdamW", {"weight_decay": 1e-2},
                       "NAdam with decoupled weight decay 0.01"),
        OptimizerEntry("radam", "RAdam", {}, "rectified Adam (Liu et al. 2020)"),
        OptimizerEntry("adamax", "Adamax", {}, "Adam with the infinity norm"),
        OptimizerEntry("lion", "Lion", {}, "sign momentum (Chen et al. 2023)"),
        OptimizerEntry("lamb", "LAMB", {}, "layer-wise adaptive Adam (You et al. 2020)"),
        OptimizerEntry("lars", "LARS", {"momentum": 0.9}, "layer-wise adaptive SGD (You 2017)"),
    ]
}


def optimizer_class(entry: OptimizerEntry) -> type[torch.optim.Optimizer] | None:
    """The ``ravine.optim`` class of an entry, or None where it has not been built."""
    from .. import optim

    return getattr(optim, entry.cls_name, None)


def available_optimizers() -> dict[str, OptimizerEntry]:
    """The entries whose class exists in this installation of ``ravine.optim``."""
    return {k: e for k, e in OPTIMIZERS.items() if optimizer_class(e) is not None}


def make_schedule(spec: str, lr: float, steps: int):
    """A ``ravine.schedules`` schedule from ``spec`` with its placeholders filled in.

    ``{lr}`` is the (tuned) learning rate, ``{steps}`` the run's number of steps and
    ``{warmup}`` a tenth of them (at least 1).

    Raises:
        ValueError: the spec does not parse, or ``ravine.schedules`` is missing.
    """
    try:
        from .. import schedules
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ValueError(f"schedule {spec!r} needs ravine.schedules, which is missing") from exc
    try:
        text = spec.format(lr=repr(float(lr)), steps=int(steps), warmup=max(1, int(steps) // 10))
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"schedule {spec!r}: only {{lr}}, {{steps}} and {{warmup}} may be "
                         "filled in") from exc
    return schedules.parse(text)


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer of a study: a registry name, a schedule spec and a search space.

    Args:
        name: key of :data:`OPTIMIZERS`.
        schedule: None (constant lr) or a schedule spec with ``{lr}`` / ``{steps}``.
        search: extra hyperparameters to tune: name -> (low, high, log).
        fixed: extra fixed keyword arguments for the class.
        label_override: the label in reports (default ``name`` or ``name+schedule``).
    """

    name: str
    schedule: str | None = None
    search: tuple[tuple[str, float, float, bool], ...] = ()
    fixed: tuple[tuple[str, Any], ...] = ()
    label_override: str | None = None

    @property
    def entry(self) -> OptimizerEntry:
        if self.name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.name!r}; known: {', '.join(OPTIMIZERS)}")
        return OPTIMIZERS[self.name]

    @property
    def label(self) -> str:
        if self.label_override:
            return self.label_override
        if not self.schedule:
            return self.name
        return f"{self.name}+{self.schedule.split('(')[0].strip()}"

    def make_kwargs(self, params: dict[str, Any]) -> dict[str, Any]:
        """The class keyword arguments for tuned ``params`` (before the schedule)."""
        return {**self.entry.kwargs, **dict(self.fixed), **params}

    def build(self, tensors, params: dict[str, Any], steps: int) -> torch.optim.Optimizer:
        """The optimizer over ``tensors`` with the tuned ``params`` (``lr`` scheduled if set)."""
        cls = optimizer_class(self.entry)
        if cls is None:
            raise ValueError(f"optimizer {self.name!r} needs ravine.optim.{self.entry.cls_name}, "
                             "which this installation does not have")
        kwargs = self.make_kwargs(params)
        if self.schedule:
            kwargs["lr"] = make_schedule(self.schedule, kwargs["lr"], steps)
        return cls(tensors, **kwargs)
