"""The optimizers the lab can compare, by name, and how a tuned setting becomes an optimizer.

An entry names a ``ravine.optim`` class and its fixed arguments. A study's optimizer is an
entry plus an optional schedule spec (a ``ravine.schedules.parse`` string in which ``{lr}`` is
the tuned learning rate, ``{steps}`` the run's number of steps and ``{warmup}`` a tenth of
them); its label is ``name`` or ``name+schedule-name``.

Three kinds of entry: a plain first-order optimizer (one gradient per step); a wrapper around an
inner optimizer (``inner``: Lookahead around Adam, SAM around SGD momentum), whose keyword
arguments are routed by name to the wrapper or the inner optimizer; and an optimizer that needs a
closure (``needs_closure``: SAM evaluates the gradient twice per step, L-BFGS once plus its line
search), which the runner calls with ``step(closure)`` and whose gradient evaluations it counts.
An entry may tune ``lr`` over its own range (``lr_range``: L-BFGS with a line search, around 1)
instead of the problem's; a study's optimizer may set its own range, which overrides both
(:meth:`OptimizerSpec.lr_range_for`).

Example:
    >>> spec = OptimizerSpec("momentum")
    >>> spec.label, spec.make_kwargs({"lr": 0.1})
    ('momentum', {'momentum': 0.9, 'lr': 0.1})
    >>> sam = OptimizerSpec("sam").build([torch.zeros(2, requires_grad=True)], {"lr": 0.1}, 10)
    >>> type(sam).__name__, type(sam.optimizer).__name__, sam.param_groups[0]["momentum"]
    ('SAM', 'SGD', 0.9)
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["OPTIMIZERS", "OptimizerEntry", "OptimizerSpec", "available_optimizers",
           "make_schedule"]


@dataclass(frozen=True)
class OptimizerEntry:
    """A named optimizer: a class of ``ravine.optim`` with fixed keyword arguments.

    Args:
        name: the registry key.
        cls_name: the ``ravine.optim`` class (for a wrapper: the wrapper class).
        kwargs: its fixed keyword arguments (a wrapper's and its inner optimizer's together).
        description: one line for ``ravine compare --list`` and the docs.
        inner: for a wrapper, ``(class name, fixed kwargs)`` of the inner optimizer.
        needs_closure: ``step`` must be given a closure (SAM, LBFGS).
        lr_range: ``(low, high)`` of the lr search, replacing the problem's ``lr_range``.
        schedulable: whether ``lr`` may be a schedule (LBFGS reads it as a float).
    """

    name: str
    cls_name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    inner: tuple[str, dict[str, Any]] | None = None
    needs_closure: bool = False
    lr_range: tuple[float, float] | None = None
    schedulable: bool = True


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
        OptimizerEntry("adadelta", "Adadelta", {},
                       "Adadelta (Zeiler 2012); lr is a scale, in [0.05, 5]",
                       lr_range=(0.05, 5.0)),
        OptimizerEntry("rprop", "Rprop", {},
                       "sign-based step sizes (Riedmiller & Braun 1993); lr = first step",
                       schedulable=False),
        OptimizerEntry("asgd", "ASGD", {}, "averaged SGD (Polyak & Juditsky 1992)",
                       schedulable=False),
        OptimizerEntry("adafactor", "Adafactor", {},
                       "factored second moment, relative steps (Shazeer & Stern 2018)"),
        OptimizerEntry("muon", "MuonAdamW", {"adjust_lr_fn": "match_rms_adamw"},
                       "Muon on 2-D weights, AdamW (same lr) on the rest (Jordan et al. 2024; "
                       "Liu et al. 2025)"),
        OptimizerEntry("sgd_schedulefree", "SGDScheduleFree", {},
                       "schedule-free SGD, momentum 0.9 (Defazio et al. 2024); evaluated at x"),
        OptimizerEntry("adamw_schedulefree", "AdamWScheduleFree", {},
                       "schedule-free AdamW (Defazio et al. 2024); evaluated at the average x"),
        OptimizerEntry("sam", "SAM", {"rho": 0.05},
                       "SAM rho 0.05 around SGD momentum 0.9 (Foret et al. 2021); 2 gradients "
                       "per step", inner=("SGD", {"momentum": 0.9}), needs_closure=True),
        OptimizerEntry("lookahead", "Lookahead", {"k": 5, "alpha": 0.5},
                       "Lookahead k=5, alpha=0.5 around Adam (Zhang et al. 2019)",
                       inner=("Adam", {})),
        OptimizerEntry("lbfgs", "LBFGS",
                       {"max_iter": 1, "max_eval": 26, "line_search_fn": "strong_wolfe"},
                       "L-BFGS, strong Wolfe search, 1 iteration per step; lr in [0.5, 2]",
                       needs_closure=True, lr_range=(0.5, 2.0), schedulable=False),
    ]
}


def optimizer_class(entry: OptimizerEntry) -> type[torch.optim.Optimizer] | None:
    """The ``ravine.optim`` class of an entry, or None where it has not been built."""
    from .. import optim

    return getattr(optim, entry.cls_name, None)


def inner_class(entry: OptimizerEntry) -> type[torch.optim.Optimizer] | None:
    """The ``ravine.optim`` class of a wrapper's inner optimizer (None: none or not built)."""
    from .. import optim

    return None if entry.inner is None else getattr(optim, entry.inner[0], None)


def available_optimizers() -> dict[str, OptimizerEntry]:
    """The entries whose classes (the wrapper's and the inner one's) exist in ``ravine.optim``."""
    return {k: e for k, e in OPTIMIZERS.items() if optimizer_class(e) is not None
            and (e.inner is None or inner_class(e) is not None)}


def _wrapper_arguments(cls: type) -> set[str]:
    """The keyword arguments of a wrapper's ``__init__`` besides the inner ``optimizer``."""
    names = set(inspect.signature(cls.__init__).parameters) - {"self", "optimizer"}
    return {n for n in names if not n.startswith("*")}


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
        problems: the names of the problems it runs on; None: every problem of the study.
        lr_range: ``(low, high)`` of its lr search on every problem, replacing both the
            entry's own range and the problem's (None: see :meth:`lr_range_for`).
    """

    name: str
    schedule: str | None = None
    search: tuple[tuple[str, float, float, bool], ...] = ()
    fixed: tuple[tuple[str, Any], ...] = ()
    label_override: str | None = None
    problems: tuple[str, ...] | None = None
    lr_range: tuple[float, float] | None = None

    def runs_on(self, problem: str) -> bool:
        """Whether this optimizer runs on the problem named ``problem``."""
        return self.problems is None or problem in self.problems

    def lr_range_for(self, problem) -> tuple[float, float]:
        """The ``(low, high)`` over which ``lr`` is tuned on ``problem``.

        In order: this spec's own ``lr_range`` (set in the study), else the registry entry's
        (L-BFGS: its lr multiplies a line-search step, so ``[0.5, 2]`` whatever the problem),
        else the problem's ``lr_range`` (a plain step size, which depends on the problem).
        """
        return self.lr_range or self.entry.lr_range or tuple(problem.lr_range)

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

    @property
    def needs_closure(self) -> bool:
        """Whether ``step`` needs a closure (it may evaluate the gradient more than once)."""
        return self.entry.needs_closure

    def make_kwargs(self, params: dict[str, Any]) -> dict[str, Any]:
        """The class keyword arguments for tuned ``params`` (before the schedule)."""
        return {**self.entry.kwargs, **dict(self.fixed), **params}

    def build(self, tensors, params: dict[str, Any], steps: int) -> torch.optim.Optimizer:
        """The optimizer over ``tensors`` with the tuned ``params`` (``lr`` scheduled if set).

        For a wrapper, the arguments its ``__init__`` names (``rho``, ``k``, ``alpha``, ...) go
        to the wrapper and the others (``lr``, ``momentum``, ...) to the inner optimizer.
        """
        entry = self.entry
        cls = optimizer_class(entry)
        if cls is None or (entry.inner is not None and inner_class(entry) is None):
            missing = entry.cls_name if cls is None else entry.inner[0]
            raise ValueError(f"optimizer {self.name!r} needs ravine.optim.{missing}, "
                             "which this installation does not have")
        kwargs = self.make_kwargs(params)
        if self.schedule:
            if not entry.schedulable:
                raise ValueError(f"optimizer {self.name!r} takes a constant lr, not a schedule")
            kwargs["lr"] = make_schedule(self.schedule, kwargs["lr"], steps)
        if entry.inner is None:
            return cls(tensors, **kwargs)
        own = _wrapper_arguments(cls)
        inner_kwargs = {**entry.inner[1], **{k: v for k, v in kwargs.items() if k not in own}}
        inner = inner_class(entry)(tensors, **inner_kwargs)
        return cls(inner, **{k: v for k, v in kwargs.items() if k in own})
