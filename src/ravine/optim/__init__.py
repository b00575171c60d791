"""Optimizers: ``torch.optim``-compatible classes built from transform chains.

Each class is one :func:`~ravine.transforms.chain` of transforms wrapped in
:class:`ChainOptimizer` (a ``torch.optim.Optimizer``) with torch's signature, defaults and
state keys where torch has the same optimizer (``SGD``, ``Adagrad``, ``RMSprop``, ``Adam``,
``AdamW``, ``NAdam``, ``RAdam``, ``Adamax``), plus ``NAdamW``, ``Lion``, ``LAMB`` and ``LARS``,
and the schedule-free ``SGDScheduleFree`` and ``AdamWScheduleFree`` (no learning-rate schedule;
``eval()``/``train()`` move the parameters to the average and back).
``Adafactor`` and ``Muon`` (torch.optim 2.13's) use the matrix structure of the parameters;
``MuonAdamW`` runs Muon on the 2-D parameters and AdamW on the rest.
The wrappers ``Lookahead``, ``SAM`` and ``GradientAccumulation`` take any optimizer and are
optimizers themselves, with their own state saved next to the inner one.
The classic ``Adadelta``, ``Rprop`` and averaged SGD ``ASGD`` are torch.optim drop-ins too
(:mod:`.classes_classic`).
"""

from .base import ChainOptimizer
from .classes import (
    LAMB,
    LARS,
    SGD,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Lion,
    NAdam,
    NAdamW,
    RAdam,
    RMSprop,
)
from .classes_classic import ASGD, Adadelta, Rprop
from .classes_matrix import Adafactor, Muon
from .lbfgs import LBFGS
from .muon_adamw import MuonAdamW
from .schedule_free import AdamWScheduleFree, ScheduleFreeOptimizer, SGDScheduleFree
from .wrappers import SAM, GradientAccumulation, Lookahead, OptimizerWrapper

__all__ = [
    "ASGD",
    "Adafactor",
    "Muon",
    "LAMB",
    "LARS",
    "LBFGS",
    "SAM",
    "SGD",
    "SGDScheduleFree",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "AdamWScheduleFree",
    "Adamax",
    "ChainOptimizer",
    "GradientAccumulation",
    "Lion",
    "Lookahead",
    "MuonAdamW",
    "NAdam",
    "NAdamW",
    "OptimizerWrapper",
    "RAdam",
    "RMSprop",
    "Rprop",
    "ScheduleFreeOptimizer",
]
