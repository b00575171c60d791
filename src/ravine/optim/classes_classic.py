"""Adadelta, Rprop and ASGD: drop-ins for the torch.optim classes of the same names.

Same arguments, defaults, per-parameter state keys and ``state_dict`` layout as torch.optim
2.13, and the same accepted ranges (``ValueError`` outside them, ``TypeError`` for a
non-number). Where torch checks nothing (Rprop's ``step_sizes``, ASGD's ``lambd``, ``alpha``,
``t0``) ravine takes every number torch takes, and asks for a number (``TypeError``) where torch
would fail only at the first step. ``foreach`` and ``capturable`` are accepted (ravine picks its
own implementation); ``differentiable=True`` raises ``NotImplementedError``.
"""

from __future__ import annotations

from ..transforms import add_l2, chain, scale_by_lr
from ..transforms.classic import scale_by_adadelta, scale_by_asgd, scale_by_rprop
from .base import ChainOptimizer
from .classes import _unsupported

__all__ = ["ASGD", "Adadelta", "Rprop"]


class Adadelta(ChainOptimizer):
    """Adadelta (``torch.optim.Adadelta``): ``chain(add_l2(), scale_by_adadelta(), scale_by_lr())``.

    ``v_t = rho v + (1 - rho) g^2``, ``d_t = sqrt(a + eps) / sqrt(v_t + eps) g``,
    ``a_t = rho a + (1 - rho) d_t^2``, ``w <- w - lr d_t``, with ``g`` including the coupled
    ``weight_decay * w``.

    References:
        Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012.

    Example:
        >>> import torch
        >>> from ravine.optim import Adadelta
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
        >>> opt = Adadelta([w])
        >>> (w ** 2).sum().backward(); _ = opt.step()
        >>> [round(x, 6) for x in w.tolist()]  # first step: sqrt(eps / (eps + 0.1 g^2)) g
        [0.996838, -1.996838]
        >>> sorted(opt.state[w])
        ['acc_delta', 'square_avg', 'step']
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False,
                 skip_nonfinite=False):
        _unsupported("differentiable", differentiable)
        super().__init__(
            params, chain(add_l2(), scale_by_adadelta(), scale_by_lr()),
            skip_nonfinite=skip_nonfinite, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
            foreach=foreach, capturable=capturable, maximize=maximize,
            differentiable=differentiable)


class Rprop(ChainOptimizer):
    """Resilient backpropagation (``torch.optim.Rprop``): ``chain(scale_by_rprop())``.

    Per coordinate, the step size grows by ``etas[1]`` while the gradient keeps its sign and
    shrinks by ``etas[0]`` when it flips (then that coordinate does not move this step),
    clamped to ``step_sizes``; ``w <- w - sign(g) * step_size``. ``lr`` is the initial step
    size. See :class:`~ravine.transforms.classic.scale_by_rprop`.

    References:
        Riedmiller & Braun, "A Direct Adaptive Method for Faster Backpropagation Learning:
        The RPROP Algorithm", 1993.

    Example:
        >>> import torch
        >>> from ravine.optim import Rprop
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        >>> opt = Rprop([w], lr=0.1)
        >>> for _ in range(2):
        ...     opt.zero_grad(); (w ** 2).sum().backward(); _ = opt.step()
        >>> w.data  # moved by 0.1, then by 0.1 * 1.2
        tensor([ 0.7800, -1.7800])
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False,
                 skip_nonfinite=False):
        _unsupported("differentiable", differentiable)
        super().__init__(
            params, chain(scale_by_rprop()),
            skip_nonfinite=skip_nonfinite, lr=lr, etas=etas, step_sizes=step_sizes,
            capturable=capturable, foreach=foreach, maximize=maximize,
            differentiable=differentiable)


class ASGD(ChainOptimizer):
    """Averaged SGD (``torch.optim.ASGD``): ``chain(add_l2(), scale_by_asgd())``.

    ``w <- (1 - lambd eta) w - eta g``; ``state["ax"]`` holds the average of the iterates from
    step ``t0 + 2`` on (before that, the latest iterate); ``eta = lr / (1 + lambd lr t)^alpha``. See
    :class:`~ravine.transforms.classic.scale_by_asgd`.

    References:
        Polyak & Juditsky, SIAM J. Control and Optimization, 1992; Bottou, COMPSTAT 2010.

    Example:
        >>> import torch
        >>> from ravine.optim import ASGD
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
        >>> opt = ASGD([w], lr=0.125, lambd=0.0, t0=0)
        >>> for _ in range(3):
        ...     opt.zero_grad(); (w ** 2).sum().backward(); _ = opt.step()
        >>> w.tolist()  # the iterates: 0.75 w0, 0.5625 w0, 0.421875 w0
        [0.421875, -0.84375]
        >>> opt.state[w]["ax"].tolist()  # the average of the iterates from step t0 + 2 = 2 on
        [0.4921875, -0.984375]
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False, *,
                 skip_nonfinite=False):
        _unsupported("differentiable", differentiable)
        super().__init__(
            params, chain(add_l2(), scale_by_asgd()),
            skip_nonfinite=skip_nonfinite, lr=lr, lambd=lambd, alpha=alpha, t0=t0,
            weight_decay=weight_decay, foreach=foreach, maximize=maximize,
            differentiable=differentiable, capturable=capturable)
