"""The optimizer classes: each one a transform chain with torch.optim's signature and defaults."""

from __future__ import annotations

from ..transforms import (
    add_decayed_weights,
    add_l2,
    chain,
    scale_by_adam,
    scale_by_lr,
    scale_by_momentum,
)
from .base import ChainOptimizer

__all__ = ["SGD", "Adam", "AdamW"]


def _unsupported(name: str, value: bool) -> None:
    if value:
        raise NotImplementedError(f"{name}=True is not supported by ravine optimizers")


class SGD(ChainOptimizer):
    """Stochastic gradient descent with heavy-ball or Nesterov momentum (``torch.optim.SGD``).

    ``chain(add_l2(), scale_by_momentum(), scale_by_lr())``. ``foreach`` and ``fused`` are
    accepted for compatibility; ravine picks its own implementation.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None,
                 skip_nonfinite=False):
        _unsupported("differentiable", differentiable)
        super().__init__(
            params, chain(add_l2(), scale_by_momentum(), scale_by_lr()),
            skip_nonfinite=skip_nonfinite, lr=lr, momentum=momentum, dampening=dampening,
            weight_decay=weight_decay, nesterov=nesterov, maximize=maximize, foreach=foreach,
            differentiable=differentiable, fused=fused)


class Adam(ChainOptimizer):
    """Adam, optionally AMSGrad and decoupled weight decay (``torch.optim.Adam``).

    ``chain(add_l2(), scale_by_adam(), add_decayed_weights(), scale_by_lr())``; which weight
    decay applies is chosen by ``decoupled_weight_decay``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False,
                 skip_nonfinite=False):
        _unsupported("differentiable", differentiable)
        super().__init__(
            params, chain(add_l2(), scale_by_adam(), add_decayed_weights(), scale_by_lr()),
            skip_nonfinite=skip_nonfinite, lr=lr, betas=betas, eps=eps,
            weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize, foreach=foreach,
            capturable=capturable, differentiable=differentiable, fused=fused,
            decoupled_weight_decay=decoupled_weight_decay)


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None, skip_nonfinite=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True, skip_nonfinite=skip_nonfinite)
