"""Composable gradient transforms: the building blocks of every ravine optimizer.

A transform maps the gradients of one param group to updates (``init`` makes its per-parameter
state, ``update`` does the math, hyperparameters are read from the group at every step);
``chain`` composes transforms left to right, and :class:`ravine.optim.ChainOptimizer` turns a
chain into a ``torch.optim.Optimizer``. This package holds momentum (heavy ball, Nesterov),
the adaptive families (AdaGrad, RMSProp, Adam/AMSGrad, Adamax, NAdam, RAdam), Lion, the LAMB and
LARS trust ratios, coupled L2 and decoupled weight decay, the L1 proximal step, clipping by
global norm and by value, annealed gradient noise, the schedule-free average, and the final
``-lr`` scaling.
Adafactor's factored second moment, block-RMS clipping and relative step (``factored``) and
Muon's EMA momentum and Newton–Schulz orthogonalization (``orthogonal``).
The classic Adadelta, Rprop and averaged-SGD (ASGD) steps are in :mod:`.classic`.
"""

from .adaptive import scale_by_adam, scale_by_adamax, scale_by_nadam, scale_by_radam
from .base import Chain, Transform, chain
from .classic import scale_by_adadelta, scale_by_asgd, scale_by_rprop
from .clipping import clip_by_global_norm, clip_by_value
from .factored import (
    add_lr_decayed_weights,
    clip_by_block_rms,
    scale_by_factored_rms,
    scale_by_param_block_rms,
    scale_by_relative_step,
)
from .momentum import scale_by_momentum
from .noise import add_gradient_noise
from .orthogonal import (
    orthogonalize_newton_schulz,
    scale_by_ema_momentum,
    scale_by_shape_ratio,
)
from .partition import switch_by_group
from .proximal import prox_l1
from .rms import scale_by_adagrad, scale_by_rms
from .scaling import scale_by_lr
from .schedule_free import (
    average_schedule_free,
    average_schedule_free_adam,
    scale_by_debiased_rms,
)
from .sign import scale_by_lion
from .trust_ratio import scale_by_lars, scale_by_trust_ratio
from .weight_decay import add_decayed_weights, add_l2

__all__ = [
    "add_lr_decayed_weights",
    "clip_by_block_rms",
    "orthogonalize_newton_schulz",
    "scale_by_ema_momentum",
    "scale_by_factored_rms",
    "scale_by_param_block_rms",
    "scale_by_relative_step",
    "scale_by_shape_ratio",
    "Chain",
    "Transform",
    "add_decayed_weights",
    "add_gradient_noise",
    "add_l2",
    "average_schedule_free",
    "average_schedule_free_adam",
    "chain",
    "clip_by_global_norm",
    "clip_by_value",
    "prox_l1",
    "scale_by_adadelta",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_asgd",
    "scale_by_debiased_rms",
    "scale_by_lars",
    "scale_by_lion",
    "scale_by_lr",
    "scale_by_momentum",
    "scale_by_nadam",
    "scale_by_radam",
    "scale_by_rms",
    "scale_by_rprop",
    "scale_by_trust_ratio",
    "switch_by_group",
]
