"""Learning-rate schedules: pure functions ``step -> lr`` that are easy to read, compose, plot
and resume.

Each factory returns a :class:`Schedule` (a small frozen dataclass): call it with the step count
(0 = the first optimizer step); its ``repr`` is the SPEC string that :func:`parse` reads back.

==================  =============================================  ==============================
factory             lr(t)                                          torch.optim.lr_scheduler
==================  =============================================  ==============================
``constant``        peak                                           ``ConstantLR(factor=1)``
``step``            peak * gamma ** (t // step_size)               ``StepLR``
``multistep``       peak * gamma ** #(milestones <= t)             ``MultiStepLR``
``exponential``     peak * gamma ** t                              ``ExponentialLR``
``cosine``          cosine from peak to floor over total           ``CosineAnnealingLR``
``linear``          linear from peak to floor over total           ``LinearLR``
``polynomial``      (1 - t/total) ** power from peak to floor      ``PolynomialLR``
``inverse_sqrt``    peak * sqrt(warmup / t) after linear warmup    (none)
``warmup``          linear warmup in front of any schedule         ``SequentialLR(LinearLR, ...)``
``warmup_cosine``   warmup then cosine, in one call                ``SequentialLR(LinearLR, Cos.)``
``sgdr``            cosine with warm restarts (T_0, T_mult, gamma)  ``CosineAnnealingWarmRestarts``
``one_cycle``       the 1cycle policy                              ``OneCycleLR``
``cyclic``          triangular / triangular2 / exp_range           ``CyclicLR``
``join``            chain schedules at boundaries                  ``SequentialLR``
==================  =============================================  ==============================

``one_cycle_momentum`` is the momentum half of the 1cycle policy (``OneCycleLR``'s
``cycle_momentum``), for a ``momentum`` or ``betas[0]`` hyperparameter.

Any ravine optimizer accepts a schedule as ``lr``, or as any other numeric hyperparameter
(``momentum``, ``weight_decay``, an element of ``betas``, ...), evaluated at the optimizer's own
step count, kept in its state, so a checkpoint restores it; :func:`as_lr_scheduler` drives any
torch optimizer. Keyword names are the same everywhere: ``peak``, ``floor``, ``warmup``,
``total``, and torch's names where torch has them (``step_size``, ``gamma``, ``milestones``,
``T_0``, ``T_mult``, ``power``).

Example:
    >>> import torch, ravine
    >>> from ravine.schedules import parse, warmup_cosine
    >>> s = warmup_cosine(peak=0.1, warmup=500, total=10000)
    >>> parse(repr(s)) == s
    True
    >>> opt = ravine.optim.SGD([torch.zeros(2, requires_grad=True)], lr=s)
"""

from .adapters import ScheduleLR, as_lr_scheduler, linear_scaling
from .base import REGISTRY, Schedule
from .composite import SGDR, Join, Warmup, WarmupCosine
from .cyclic import Cyclic, OneCycle, OneCycleMomentum
from .decay import (
    Constant,
    Cosine,
    Exponential,
    InverseSqrt,
    Linear,
    MultiStep,
    Polynomial,
    StepDecay,
)
from .plotting import plot
from .spec import parse

# the factories: one per schedule, named as in a SPEC
constant = Constant
step = StepDecay
multistep = MultiStep
exponential = Exponential
cosine = Cosine
linear = Linear
polynomial = Polynomial
inverse_sqrt = InverseSqrt
warmup = Warmup
warmup_cosine = WarmupCosine
sgdr = SGDR
one_cycle = OneCycle
one_cycle_momentum = OneCycleMomentum
cyclic = Cyclic
join = Join

__all__ = [
    "REGISTRY", "Schedule", "ScheduleLR", "as_lr_scheduler", "linear_scaling", "parse", "plot",
    "constant", "step", "multistep", "exponential", "cosine", "linear", "polynomial",
    "inverse_sqrt", "warmup", "warmup_cosine", "sgdr", "one_cycle", "one_cycle_momentum",
    "cyclic", "join",
    "Constant", "StepDecay", "MultiStep", "Exponential", "Cosine", "Linear", "Polynomial",
    "InverseSqrt", "Warmup", "WarmupCosine", "SGDR", "OneCycle", "OneCycleMomentum", "Cyclic",
    "Join",
]
