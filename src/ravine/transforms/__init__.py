"""Composable gradient transforms: the building blocks of every ravine optimizer."""

from .adaptive import scale_by_adam
from .base import Chain, Transform, chain
from .momentum import scale_by_momentum
from .scaling import scale_by_lr
from .weight_decay import add_decayed_weights, add_l2

__all__ = [
    "Chain",
    "Transform",
    "add_decayed_weights",
    "add_l2",
    "chain",
    "scale_by_adam",
    "scale_by_lr",
    "scale_by_momentum",
]
