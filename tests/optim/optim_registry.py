"""The optimizer test registry: one row per optimizer configuration.

Each row has an ``id``, a factory ``make(params, **overrides) -> optimizer`` and, where
torch.optim has the same optimizer, ``torch_make(params, **overrides)`` with the same
hyperparameters. ``group2`` holds hyperparameters for a second param group that differ from
the first; ``invalid`` lists ``(overrides, argument name)`` pairs that must raise ``ValueError``
naming the argument. Other test files (fast paths, distributed, the lab) import ``ROWS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ravine import optim as ro
from ravine.optim import ChainOptimizer
from ravine.transforms import (
    add_gradient_noise,
    chain,
    clip_by_global_norm,
    clip_by_value,
    prox_l1,
    scale_by_lr,
    scale_by_momentum,
)

Factory = Callable[..., torch.optim.Optimizer]

NEG_LR = ({"lr": -1e-3}, "lr")
BAD_BETA0 = ({"betas": (1.0, 0.999)}, "betas")
BAD_BETA1 = ({"betas": (0.9, -0.1)}, "betas")
NEG_EPS = ({"eps": -1e-8}, "eps")
NEG_WD = ({"weight_decay": -0.1}, "weight_decay")


@dataclass(frozen=True)
class Row:
    id: str
    make: Factory
    torch_make: Factory | None = None
    group2: dict[str, Any] = field(default_factory=dict)
    invalid: tuple[tuple[dict[str, Any], str], ...] = ()
    wrapper: bool = False          # an OptimizerWrapper around an inner ChainOptimizer
    independent_groups: bool = True  # param groups do not interact (SAM's norm couples them)
    matrix_only: bool = False      # takes only 2-D params (torch.optim.Muon): see matrix_row
    maximize: bool = True          # the class has torch's maximize argument (Muon has not)

    def __repr__(self) -> str:
        return self.id


def _factory(cls, kwargs):
    def make(params, **overrides):
        return cls(params, **{**kwargs, **overrides})
    return make


def torch_row(id, cls, torch_cls, group2=None, invalid=(NEG_LR, NEG_WD), **kwargs):
    return Row(id, _factory(cls, kwargs), _factory(torch_cls, kwargs), group2 or {},
               tuple(invalid))


def chain_row(id, transform_factory, group2, invalid, **kwargs):
    def make(params, **overrides):
        return ChainOptimizer(params, transform_factory(), **{**kwargs, **overrides})
    return Row(id, make, group2=group2, invalid=tuple(invalid))


def wrapper_row(id, wrapper_cls, wrapper_kwargs, inner_cls, inner_kwargs, invalid,
                group2=None, independent_groups=True):
    own = set(wrapper_kwargs)

    def make(params, **overrides):
        w_kw = {**wrapper_kwargs, **{k: v for k, v in overrides.items() if k in own}}
        i_kw = {**inner_kwargs, **{k: v for k, v in overrides.items() if k not in own}}
        return wrapper_cls(inner_cls(params, **i_kw), **w_kw)
    return Row(id, make, group2=group2 or {"lr": inner_kwargs["lr"] / 2},
               invalid=tuple(invalid), wrapper=True, independent_groups=independent_groups)


def _matrices_only(params):
    """Each group's 2-D tensors: Muon takes nothing else (torch raises ``ValueError``), so the
    shared problems' biases stay fixed, as a model would hand them to another optimizer."""
    params = list(params)
    if params and isinstance(params[0], dict):
        return [{**g, "params": [p for p in g["params"] if p.dim() == 2]} for g in params]
    return [p for p in params if p.dim() == 2]


def matrix_row(id, cls, torch_cls, group2, invalid, **kwargs):
    """A row for a matrix-only optimizer: both factories get the 2-D tensors of each group."""
    def factory(optimizer_cls):
        def make(params, **overrides):
            return optimizer_cls(_matrices_only(params), **{**kwargs, **overrides})
        return make
    return Row(id, factory(cls), factory(torch_cls), group2, tuple(invalid), matrix_only=True,
               maximize=False)


def shaped(row, tensor):
    """``tensor`` as a 1 x n matrix for a matrix-only row (Muon), else unchanged."""
    return tensor.reshape(1, -1) if row.matrix_only else tensor


ADAM_INVALID = (NEG_LR, BAD_BETA0, BAD_BETA1, NEG_EPS, NEG_WD)
ADAFACTOR_INVALID = (NEG_LR, NEG_WD, ({"d": 0.5}, "d"), ({"beta2_decay": 0.1}, "beta2_decay"),
                     ({"eps": (None, -1e-3)}, "eps"), ({"eps": (-1e-30, 1e-3)}, "eps"))
MUON_INVALID = (NEG_LR, NEG_WD, ({"momentum": -0.5}, "momentum"),
                ({"adjust_lr_fn": "spectral"}, "adjust_lr_fn"), ({"ns_steps": 100}, "ns_steps"),
                ({"ns_coefficients": (3.4445, -4.775)}, "ns_coefficients"))

TORCH_ROWS = [
    torch_row("sgd", ro.SGD, torch.optim.SGD, {"lr": 0.02}, lr=0.05),
    torch_row("sgd_wd", ro.SGD, torch.optim.SGD, {"weight_decay": 0.0}, lr=0.05,
              weight_decay=1e-2),
    torch_row("sgd_momentum", ro.SGD, torch.optim.SGD, {"momentum": 0.5}, lr=0.02, momentum=0.9),
    torch_row("sgd_momentum_dampening_wd", ro.SGD, torch.optim.SGD, {"dampening": 0.1},
              lr=0.02, momentum=0.9, dampening=0.5, weight_decay=1e-2),
    torch_row("sgd_nesterov", ro.SGD, torch.optim.SGD, {"lr": 0.01}, lr=0.02, momentum=0.9,
              nesterov=True),
    torch_row("sgd_nesterov_wd", ro.SGD, torch.optim.SGD, {"momentum": 0.8}, lr=0.02,
              momentum=0.9, nesterov=True, weight_decay=1e-2),
    torch_row("adagrad", ro.Adagrad, torch.optim.Adagrad, {"lr": 0.05}, lr=0.1, lr_decay=1e-2,
              initial_accumulator_value=0.1, weight_decay=1e-3,
              invalid=(NEG_LR, NEG_WD, NEG_EPS, ({"lr_decay": -1.0}, "lr_decay"),
                       ({"initial_accumulator_value": -1.0}, "initial_accumulator_value"))),
    # eps and lr keep RMSprop off its edge of stability, where 1-ulp differences blow up
    torch_row("rmsprop", ro.RMSprop, torch.optim.RMSprop, {"alpha": 0.9}, lr=2e-3, eps=1e-2,
              invalid=(NEG_LR, NEG_WD, NEG_EPS, ({"alpha": -0.5}, "alpha"),
                       ({"momentum": -0.5}, "momentum"))),
    torch_row("rmsprop_centered", ro.RMSprop, torch.optim.RMSprop, {"lr": 1e-3}, lr=4e-3,
              eps=1e-2, centered=True, weight_decay=1e-3),
    torch_row("rmsprop_momentum", ro.RMSprop, torch.optim.RMSprop, {"momentum": 0.5}, lr=2e-3,
              eps=1e-3, momentum=0.9),
    torch_row("rmsprop_centered_momentum", ro.RMSprop, torch.optim.RMSprop, {"eps": 1e-4},
              lr=2e-3, eps=1e-3, momentum=0.9, centered=True),
    torch_row("adam", ro.Adam, torch.optim.Adam, {"betas": (0.8, 0.99)}, lr=1e-2,
              invalid=ADAM_INVALID),
    torch_row("adam_l2", ro.Adam, torch.optim.Adam, {"lr": 5e-3}, lr=1e-2, weight_decay=1e-2),
    torch_row("adamw", ro.AdamW, torch.optim.AdamW, {"weight_decay": 0.0}, lr=1e-2,
              weight_decay=0.1, invalid=ADAM_INVALID),
    torch_row("amsgrad", ro.Adam, torch.optim.Adam, {"lr": 5e-3}, lr=1e-2, amsgrad=True),
    torch_row("adamw_amsgrad", ro.AdamW, torch.optim.AdamW, {"eps": 1e-6}, lr=1e-2,
              amsgrad=True, weight_decay=0.05),
    torch_row("nadam", ro.NAdam, torch.optim.NAdam, {"momentum_decay": 8e-3}, lr=4e-3,
              invalid=ADAM_INVALID + (({"momentum_decay": -1.0}, "momentum_decay"),)),
    torch_row("nadam_l2", ro.NAdam, torch.optim.NAdam, {"lr": 2e-3}, lr=4e-3, weight_decay=1e-2),
    Row("nadamw", _factory(ro.NAdamW, {"lr": 4e-3, "weight_decay": 0.1}),
        _factory(torch.optim.NAdam, {"lr": 4e-3, "weight_decay": 0.1,
                                     "decoupled_weight_decay": True}),
        {"weight_decay": 0.01}, ADAM_INVALID),
    torch_row("radam", ro.RAdam, torch.optim.RAdam, {"betas": (0.9, 0.99)}, lr=1e-2,
              invalid=ADAM_INVALID),
    torch_row("radam_decoupled", ro.RAdam, torch.optim.RAdam, {"lr": 5e-3}, lr=1e-2,
              weight_decay=0.1, decoupled_weight_decay=True),
    torch_row("adamax", ro.Adamax, torch.optim.Adamax, {"betas": (0.8, 0.99)}, lr=1e-2,
              weight_decay=1e-3, invalid=ADAM_INVALID),
    # lr and eps keep Adadelta off its edge of stability, where 1-ulp differences blow up
    torch_row("adadelta", ro.Adadelta, torch.optim.Adadelta, {"lr": 0.1}, lr=0.3, eps=1e-3,
              invalid=(NEG_LR, NEG_WD, NEG_EPS, ({"rho": 1.5}, "rho"))),
    torch_row("adadelta_wd", ro.Adadelta, torch.optim.Adadelta, {"rho": 0.95}, lr=1.0,
              weight_decay=1e-2),
    torch_row("rprop", ro.Rprop, torch.optim.Rprop, {"etas": (0.4, 1.1)}, lr=1e-3,
              invalid=(NEG_LR, ({"etas": (1.5, 1.2)}, "etas"), ({"etas": (0.5, 0.9)}, "etas"),
                       ({"step_sizes": (1e-6,)}, "step_sizes"))),
    torch_row("rprop_step_sizes", ro.Rprop, torch.optim.Rprop, {"lr": 1e-3}, lr=1e-2,
              step_sizes=(1e-4, 0.05), invalid=(NEG_LR, ({"step_sizes": 0.1}, "step_sizes"))),
    torch_row("asgd", ro.ASGD, torch.optim.ASGD, {"lr": 1e-3}, lr=2e-3),
    # t0 = 20: the average (mu < 1) starts within the runs
    torch_row("asgd_averaging", ro.ASGD, torch.optim.ASGD, {"alpha": 0.5}, lr=5e-3, t0=20,
              lambd=1e-2, weight_decay=1e-3),
    # eps1 = 1e-2 floors the variance of the MLP's vanishing gradients, where 1-ulp differences
    # grow chaotically (torch's own foreach and for-loop paths part by 3e-8 in 200 steps there)
    torch_row("adafactor", ro.Adafactor, torch.optim.Adafactor, {"lr": 5e-3}, lr=1e-2,
              eps=(1e-2, 1e-3), invalid=ADAFACTOR_INVALID),
    torch_row("adafactor_wd_eps", ro.Adafactor, torch.optim.Adafactor, {"weight_decay": 0.0},
              lr=1e-2, weight_decay=0.1, eps=(1e-2, 1e-3), d=2.0, beta2_decay=-0.5),
    matrix_row("muon", ro.Muon, torch.optim.Muon, {"lr": 1e-2}, MUON_INVALID, lr=2e-2),
    matrix_row("muon_plain_match_rms", ro.Muon, torch.optim.Muon, {"momentum": 0.8},
               MUON_INVALID, lr=2e-2, nesterov=False, weight_decay=0.0,
               adjust_lr_fn="match_rms_adamw"),
]

OTHER_ROWS = [
    Row("lion", _factory(ro.Lion, {"lr": 3e-3, "weight_decay": 0.1}), group2={"lr": 1e-3},
        invalid=(NEG_LR, BAD_BETA0, BAD_BETA1, NEG_WD)),
    Row("lamb", _factory(ro.LAMB, {"lr": 2e-2, "weight_decay": 1e-2}),
        group2={"betas": (0.8, 0.99)}, invalid=ADAM_INVALID),
    Row("lars", _factory(ro.LARS, {"lr": 1.0, "momentum": 0.9, "trust_coefficient": 0.02,
                                   "weight_decay": 1e-4}),
        group2={"trust_coefficient": 0.01},
        invalid=(NEG_LR, NEG_WD, NEG_EPS, ({"trust_coefficient": -1.0}, "trust_coefficient"),
                 ({"momentum": -0.9}, "momentum"))),
    chain_row("sgd_l1_prox", lambda: chain(scale_by_momentum(), scale_by_lr(), prox_l1()),
              {"l1": 1e-3}, (NEG_LR, ({"l1": -1.0}, "l1")), lr=0.02, momentum=0.5, l1=1e-2),
    chain_row("sgd_gradient_noise", lambda: chain(add_gradient_noise(), scale_by_lr()),
              {"noise_eta": 1e-4}, (NEG_LR, ({"noise_eta": -1.0}, "noise_eta"),
                                    ({"noise_gamma": -0.5}, "noise_gamma")),
              lr=0.05, noise_eta=1e-3),
    chain_row("sgd_clip_norm", lambda: chain(clip_by_global_norm(), scale_by_lr()),
              {"max_norm": 0.5}, (NEG_LR, ({"max_norm": 0.0}, "max_norm")), lr=0.05),
    chain_row("sgd_clip_value", lambda: chain(clip_by_value(), scale_by_lr()),
              {"clip_value": 0.1}, (NEG_LR, ({"clip_value": -1.0}, "clip_value")), lr=0.05),
    Row("sgd_schedulefree", _factory(ro.SGDScheduleFree, {"lr": 0.05, "weight_decay": 1e-3,
                                                         "warmup_steps": 3}),
        group2={"momentum": 0.5},
        invalid=(NEG_LR, NEG_WD, ({"momentum": 1.0}, "momentum"),
                 ({"warmup_steps": -1}, "warmup_steps"))),
    Row("adamw_schedulefree", _factory(ro.AdamWScheduleFree, {"lr": 1e-2, "weight_decay": 0.1,
                                                             "r": 1.0}),
        group2={"betas": (0.8, 0.99)},
        invalid=(NEG_LR, NEG_WD, NEG_EPS, ({"betas": (0.0, 0.999)}, "betas"), BAD_BETA1)),
    wrapper_row("lookahead_sgd", ro.Lookahead, {"k": 3, "alpha": 0.5}, ro.SGD,
                {"lr": 0.05, "momentum": 0.9},
                (({"k": 0}, "k"), ({"alpha": 1.5}, "alpha"), NEG_LR)),
    wrapper_row("lookahead_adam", ro.Lookahead, {"k": 5, "alpha": 0.8}, ro.Adam, {"lr": 1e-2},
                (({"k": 2.5}, "k"), BAD_BETA0)),
    wrapper_row("sam_sgd", ro.SAM, {"rho": 0.05}, ro.SGD, {"lr": 0.05, "momentum": 0.9},
                (({"rho": -0.1}, "rho"), NEG_LR), independent_groups=False),
    wrapper_row("accumulate_adam", ro.GradientAccumulation, {"k": 2}, ro.Adam, {"lr": 1e-2},
                (({"k": 0}, "k"), NEG_EPS)),
]

ROWS = TORCH_ROWS + OTHER_ROWS
