"""The optimizer classes: each one a transform chain with torch.optim's signature and defaults.

Where torch.optim has the same optimizer, the class is a drop-in: same name, arguments,
defaults, state keys and errors. ``foreach``, ``fused`` and ``capturable`` are accepted for
compatibility (ravine picks its own implementation); ``differentiable=True`` raises
``NotImplementedError``. Every class also takes ``skip_nonfinite`` (see
:class:`~ravine.optim.ChainOptimizer`).

Validation follows torch.optim's accepted ranges exactly (``ValueError`` outside them,
``TypeError`` for a non-number): the transforms carry the usual ranges and a class replaces
them with :func:`~ravine.transforms.base.with_validators` where torch differs (``SGD`` rejects
only negative ``lr``/``momentum``/``weight_decay``, so nan passes, and takes any ``dampening``;
``RMSprop`` takes any ``alpha >= 0``). ``lr`` may be a 1-element tensor, as in torch.
"""

from __future__ import annotations

import numbers

from torch import Tensor

from ..transforms import (
    add_decayed_weights,
    add_l2,
    chain,
    scale_by_adagrad,
    scale_by_adam,
    scale_by_adamax,
    scale_by_lars,
    scale_by_lion,
    scale_by_lr,
    scale_by_momentum,
    scale_by_nadam,
    scale_by_radam,
    scale_by_rms,
    scale_by_trust_ratio,
)
from ..transforms.base import (
    any_real,
    non_negative,
    not_below_zero,
    sgd_learning_rate,
    with_validators,
)
from .base import ChainOptimizer

__all__ = ["LAMB", "LARS", "SGD", "Adagrad", "Adam", "AdamW", "Adamax", "Lion", "NAdam",
           "NAdamW", "RAdam", "RMSprop"]


def _unsupported(name: str, value: bool) -> None:
    if value:
        raise NotImplementedError(f"{name}=True is not supported by ravine optimizers")


def _adam_betas_are_floats(betas) -> None:
    """torch.optim.Adam/AdamW's rule: numeric betas must both be floats (``(0, 0.99)`` fails).

    Non-numbers are left to the range validator, which raises ``TypeError`` as torch does.
    """
    if isinstance(betas, (tuple, list)) and len(betas) == 2:
        numeric = all(isinstance(b, numbers.Real) and not isinstance(b, bool) for b in betas)
        if numeric and not all(isinstance(b, float) for b in betas):
            raise ValueError(f"Invalid betas: {betas!r} (expected both floats, as "
                             f"torch.optim.Adam requires)")


class SGD(ChainOptimizer):
    """Stochastic gradient descent with heavy-ball or Nesterov momentum (``torch.optim.SGD``).

    ``chain(add_l2(), scale_by_momentum(), scale_by_lr())``:
    ``b_t = mu b_{t-1} + (1 - dampening) g_t``, ``w <- w - lr * (g_t + mu b_t if nesterov else
    b_t)``, with ``g_t`` including the coupled ``weight_decay * w``.

    References:
        Robbins & Monro, "A Stochastic Approximation Method", 1951.
        Polyak, 1964 (heavy ball); Sutskever et al., ICML 2013 (Nesterov form).

    Example:
        >>> import torch
        >>> from ravine.optim import SGD
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> (w ** 2).sum().backward(); _ = opt.step()
        >>> w.data
        tensor([ 0.8000, -1.6000])
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None,
                 skip_nonfinite=False):
        _unsupported("differentiable", differentiable)
        transform = with_validators(
            chain(add_l2(), scale_by_momentum(), scale_by_lr()), lr=sgd_learning_rate,
            momentum=not_below_zero, weight_decay=not_below_zero, dampening=any_real)
        super().__init__(
            params, transform,
            skip_nonfinite=skip_nonfinite, lr=lr, momentum=momentum, dampening=dampening,
            weight_decay=weight_decay, nesterov=nesterov, maximize=maximize, foreach=foreach,
            differentiable=differentiable, fused=fused)


class Adagrad(ChainOptimizer):
    """AdaGrad (``torch.optim.Adagrad``): ``chain(add_l2(), scale_by_adagrad(), scale_by_lr())``.

    ``s_t = s_{t-1} + g_t^2``, ``w <- w - lr / (1 + (t-1) lr_decay) * g_t / (sqrt(s_t) + eps)``.

    References:
        Duchi, Hazan & Singer, JMLR 2011.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None,
                 skip_nonfinite=False):
        _unsupported("differentiable", differentiable)
        super().__init__(
            params, chain(add_l2(), scale_by_adagrad(), scale_by_lr()),
            skip_nonfinite=skip_nonfinite, lr=lr, lr_decay=lr_decay, eps=eps,
            weight_decay=weight_decay, initial_accumulator_value=initial_accumulator_value,
            foreach=foreach, maximize=maximize, differentiable=differentiable, fused=fused)


class RMSprop(ChainOptimizer):
    """RMSProp, plain or centered, with optional momentum (``torch.optim.RMSprop``).

    ``chain(add_l2(), scale_by_rms(), scale_by_momentum(), scale_by_lr())``:
    ``v_t = alpha v_{t-1} + (1 - alpha) g_t^2``, ``d_t = g_t / (sqrt(v_t [- m_t^2]) + eps)``,
    ``b_t = momentum b_{t-1} + d_t``, ``w <- w - lr b_t``.

    References:
        Tieleman & Hinton, 2012; Graves, 2013 (centered).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False, *, skip_nonfinite=False):
        _unsupported("differentiable", differentiable)
        transform = with_validators(
            chain(add_l2(), scale_by_rms(), scale_by_momentum(), scale_by_lr()),
            alpha=non_negative)
        super().__init__(
            params, transform,
            skip_nonfinite=skip_nonfinite, lr=lr, momentum=momentum, alpha=alpha, eps=eps,
            centered=centered, weight_decay=weight_decay, capturable=capturable,
            foreach=foreach, maximize=maximize, differentiable=differentiable)


class Adam(ChainOptimizer):
    """Adam, optionally AMSGrad and decoupled weight decay (``torch.optim.Adam``).

    ``chain(add_l2(), scale_by_adam(), add_decayed_weights(), scale_by_lr())``; which weight
    decay applies is chosen by ``decoupled_weight_decay``.

    References:
        Kingma & Ba, ICLR 2015; Reddi, Kale & Kumar, ICLR 2018 (AMSGrad).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False,
                 skip_nonfinite=False):
        _unsupported("differentiable", differentiable)
        if isinstance(lr, Tensor) and foreach and not capturable:  # torch.optim.Adam's rule
            raise ValueError("lr as a Tensor is not supported for capturable=False and "
                             "foreach=True")
        _adam_betas_are_floats(betas)
        super().__init__(
            params, chain(add_l2(), scale_by_adam(), add_decayed_weights(), scale_by_lr()),
            skip_nonfinite=skip_nonfinite, lr=lr, betas=betas, eps=eps,
            weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize, foreach=foreach,
            capturable=capturable, differentiable=differentiable, fused=fused,
            decoupled_weight_decay=decoupled_weight_decay)


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``).

    ``w <- w - lr (m_hat / (sqrt(v_hat) + eps) + weight_decay w)``.

    References:
        Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None, skip_nonfinite=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True, skip_nonfinite=skip_nonfinite)


class NAdam(ChainOptimizer):
    """NAdam with torch's momentum-decay schedule (``torch.optim.NAdam``).

    ``chain(add_l2(), scale_by_nadam(), add_decayed_weights(), scale_by_lr())``; see
    :class:`~ravine.transforms.scale_by_nadam` for the update.

    References:
        Dozat, "Incorporating Nesterov Momentum into Adam", 2016.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False, skip_nonfinite=False):
        _unsupported("differentiable", differentiable)
        super().__init__(
            params, chain(add_l2(), scale_by_nadam(), add_decayed_weights(), scale_by_lr()),
            skip_nonfinite=skip_nonfinite, lr=lr, betas=betas, eps=eps,
            weight_decay=weight_decay, momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
            capturable=capturable, differentiable=differentiable)


class NAdamW(NAdam):
    """NAdam with decoupled weight decay (``torch.optim.NAdam(decoupled_weight_decay=True)``).

    References:
        Dozat, 2016; Loshchilov & Hutter, ICLR 2019.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 momentum_decay=4e-3, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, skip_nonfinite=False):
        super().__init__(params, lr, betas, eps, weight_decay, momentum_decay,
                         decoupled_weight_decay=True, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable,
                         skip_nonfinite=skip_nonfinite)


class RAdam(ChainOptimizer):
    """Rectified Adam (``torch.optim.RAdam``).

    ``chain(add_l2(), scale_by_radam(), add_decayed_weights(), scale_by_lr())``; see
    :class:`~ravine.transforms.scale_by_radam`.

    References:
        Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False, skip_nonfinite=False):
        _unsupported("differentiable", differentiable)
        super().__init__(
            params, chain(add_l2(), scale_by_radam(), add_decayed_weights(), scale_by_lr()),
            skip_nonfinite=skip_nonfinite, lr=lr, betas=betas, eps=eps,
            weight_decay=weight_decay, maximize=maximize, foreach=foreach,
            capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
            differentiable=differentiable)


class Adamax(ChainOptimizer):
    """Adamax (``torch.optim.Adamax``): ``chain(add_l2(), scale_by_adamax(), scale_by_lr())``.

    References:
        Kingma & Ba, ICLR 2015, section 7.1.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False,
                 skip_nonfinite=False):
        _unsupported("differentiable", differentiable)
        super().__init__(
            params, chain(add_l2(), scale_by_adamax(), scale_by_lr()),
            skip_nonfinite=skip_nonfinite, lr=lr, betas=betas, eps=eps,
            weight_decay=weight_decay, foreach=foreach, maximize=maximize,
            differentiable=differentiable, capturable=capturable)


class Lion(ChainOptimizer):
    """Lion: sign of interpolated momentum, with decoupled weight decay.

    ``chain(scale_by_lion(), add_decayed_weights(), scale_by_lr())``:
    ``w <- w - lr (sign(b1 m + (1 - b1) g) + weight_decay w)``, ``m <- b2 m + (1 - b2) g``.

    References:
        Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023.
    """

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, *,
                 maximize=False, foreach=None, skip_nonfinite=False):
        super().__init__(
            params, chain(scale_by_lion(), add_decayed_weights(), scale_by_lr()),
            skip_nonfinite=skip_nonfinite, lr=lr, betas=betas, weight_decay=weight_decay,
            maximize=maximize, foreach=foreach)


class LAMB(ChainOptimizer):
    """LAMB: Adam direction plus decoupled decay, rescaled per tensor by the trust ratio.

    ``chain(scale_by_adam(), add_decayed_weights(), scale_by_trust_ratio(), scale_by_lr())``:
    ``r = m_hat / (sqrt(v_hat) + eps) + weight_decay w``, ``w <- w - lr (||w|| / ||r||) r``.

    References:
        You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
        ICLR 2020.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, *,
                 maximize=False, foreach=None, skip_nonfinite=False):
        super().__init__(
            params,
            chain(scale_by_adam(), add_decayed_weights(), scale_by_trust_ratio(), scale_by_lr()),
            skip_nonfinite=skip_nonfinite, lr=lr, betas=betas, eps=eps, amsgrad=False,
            weight_decay=weight_decay, maximize=maximize, foreach=foreach)


class LARS(ChainOptimizer):
    """LARS: SGD with momentum on gradients rescaled per tensor by a local learning rate.

    ``chain(scale_by_lars(), scale_by_momentum(), scale_by_lr())``:
    ``local = trust_coefficient ||w|| / (||g|| + weight_decay ||w|| + eps)``,
    ``b <- momentum b + local (g + weight_decay w)``, ``w <- w - lr b``.

    References:
        You, Gitman & Ginsburg, "Large Batch Training of Convolutional Networks", 2017.
    """

    def __init__(self, params, lr=0.1, momentum=0.9, dampening=0, weight_decay=0,
                 nesterov=False, trust_coefficient=1e-3, eps=1e-8, *, maximize=False,
                 foreach=None, skip_nonfinite=False):
        super().__init__(
            params, chain(scale_by_lars(), scale_by_momentum(), scale_by_lr()),
            skip_nonfinite=skip_nonfinite, lr=lr, momentum=momentum, dampening=dampening,
            weight_decay=weight_decay, nesterov=nesterov, trust_coefficient=trust_coefficient,
            eps=eps, maximize=maximize, foreach=foreach)
