"""Adafactor and Muon: optimizers that use the matrix structure of the parameters.

Drop-ins for ``torch.optim.Adafactor`` and ``torch.optim.Muon`` (torch 2.13): same arguments,
defaults, per-parameter state keys (``step``, ``row_var``, ``col_var``, ``variance``;
``momentum_buffer``) and accepted ranges, each a chain of small transforms
(:mod:`ravine.transforms.factored`, :mod:`ravine.transforms.orthogonal`).
"""

from __future__ import annotations

import torch

from ..transforms import (
    add_decayed_weights,
    add_lr_decayed_weights,
    chain,
    clip_by_block_rms,
    orthogonalize_newton_schulz,
    scale_by_ema_momentum,
    scale_by_factored_rms,
    scale_by_lr,
    scale_by_param_block_rms,
    scale_by_relative_step,
    scale_by_shape_ratio,
)
from ..transforms.orthogonal import require_matrices
from .base import ChainOptimizer

__all__ = ["Adafactor", "Muon"]


class Adafactor(ChainOptimizer):
    """Adafactor with torch's conventions (``torch.optim.Adafactor``).

    ``chain(scale_by_factored_rms(), clip_by_block_rms(), scale_by_param_block_rms(),
    scale_by_relative_step(), add_lr_decayed_weights())``. Per tensor ``w`` (step t,
    ``eps = (eps1, eps2)``)::

        U_t = g_t / sqrt(max(V_t, eps1^2))      (V_t factored into rows and columns if >= 2-D)
        rho_t = min(lr, 1 / sqrt(t));  alpha_t = max(eps2, RMS(w)) rho_t
        w <- (1 - lr weight_decay) w - alpha_t U_t / max(1, RMS(U_t) / d)

    with ``1 - beta2_t = t^beta2_decay`` in the running averages. ``eps1=None`` means the
    machine epsilon of each parameter's dtype (torch takes the first parameter's).

    Args:
        params: tensors or param groups.
        lr: cap of the relative step ``rho_t`` and scale of the weight decay (>= 0; a float or
            a 1-element tensor).
        beta2_decay: exponent of ``1 - beta2_t = t^beta2_decay`` (<= 0).
        eps: ``(eps1, eps2)``: floor of the variance estimate (None: machine epsilon) and of
            the parameter RMS (each >= 0).
        d: update clipping threshold (>= 1).
        weight_decay: decoupled weight decay coefficient (>= 0).
        foreach: accepted for compatibility (ravine picks its implementation).
        maximize: ascend instead of descend.
        skip_nonfinite: see :class:`~ravine.optim.ChainOptimizer`.

    Example:
        >>> import torch
        >>> from ravine.optim import Adafactor
        >>> w = torch.nn.Parameter(torch.ones(2, 3))
        >>> opt = Adafactor([w], lr=0.1)
        >>> (w ** 2).sum().backward(); _ = opt.step()
        >>> sorted(opt.state[w]), w.data[0]
        (['col_var', 'row_var', 'step'], tensor([0.9000, 0.9000, 0.9000]))

    References:
        Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost",
        ICML 2018.
    """

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False, skip_nonfinite=False):
        transform = chain(scale_by_factored_rms(), clip_by_block_rms(),
                          scale_by_param_block_rms(), scale_by_relative_step(),
                          add_lr_decayed_weights())
        super().__init__(
            params, transform, skip_nonfinite=skip_nonfinite, lr=lr, beta2_decay=beta2_decay,
            eps=eps, d=d, weight_decay=weight_decay, foreach=foreach, maximize=maximize)


class Muon(ChainOptimizer):
    """Muon: momentum, then Newton–Schulz orthogonalization of each 2-D update
    (``torch.optim.Muon``).

    ``chain(scale_by_ema_momentum(), orthogonalize_newton_schulz(), scale_by_shape_ratio(),
    add_decayed_weights(), scale_by_lr())``. Per matrix ``W`` of shape ``(A, B)``::

        b_t = mu b_{t-1} + (1 - mu) g_t;   u_t = (1 - mu) g_t + mu b_t  (nesterov) or b_t
        O_t = NS_k(u_t)                    (quintic Newton–Schulz, k = ns_steps, in bfloat16)
        W <- (1 - lr weight_decay) W - lr ratio(A, B) O_t

    with ``ratio = sqrt(max(1, A/B))`` (``adjust_lr_fn`` None or "original") or
    ``0.2 sqrt(max(A, B))`` ("match_rms_adamw"). Muon takes only 2-D parameters (``ValueError``
    otherwise, as torch); give biases and embeddings to another optimizer. There is no
    ``maximize``, as in torch.

    Args:
        params: 2-D tensors or param groups of them.
        lr: learning rate (>= 0; a float or a 1-element tensor).
        weight_decay: decoupled weight decay (>= 0).
        momentum: momentum factor (>= 0).
        nesterov: Nesterov momentum.
        ns_coefficients: ``(a, b, c)`` of the quintic (3 numbers).
        eps: floor of the norm that scales the update before the iteration (>= 0; torch does
            not check it).
        ns_steps: Newton–Schulz iterations (an integer in [0, 100); torch raises for >= 100
            only at the first step).
        adjust_lr_fn: None, "original" or "match_rms_adamw".
        ns_dtype: the dtype of the iteration (ravine's addition): ``torch.bfloat16``, torch's
            choice, gives torch's iterates bit for bit (one matrix at a time); other dtypes
            run the matrices of one shape as a batch: ``torch.float32`` is the fast choice on
            CPUs without bfloat16 arithmetic, ``torch.float64`` the exact map.
        skip_nonfinite: see :class:`~ravine.optim.ChainOptimizer`.

    Example:
        >>> import torch
        >>> from ravine.optim import Muon
        >>> w = torch.nn.Parameter(torch.eye(2))
        >>> opt = Muon([w], lr=0.1, weight_decay=0.0, ns_dtype=torch.float64)
        >>> (w ** 2).sum().backward(); _ = opt.step()
        >>> w.data.diagonal().round(decimals=4)
        tensor([0.8892, 0.8892])

    References:
        Jordan et al., "Muon: An optimizer for hidden layers in neural networks", 2024.
        Liu et al., "Muon is Scalable for LLM Training", 2025.
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5,
                 adjust_lr_fn=None, *, ns_dtype=torch.bfloat16, skip_nonfinite=False):
        transform = chain(scale_by_ema_momentum(),
                          orthogonalize_newton_schulz(compute_dtype=ns_dtype),
                          scale_by_shape_ratio(), add_decayed_weights(), scale_by_lr())
        super().__init__(
            params, transform, skip_nonfinite=skip_nonfinite, lr=lr,
            weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
            ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
            adjust_lr_fn=adjust_lr_fn)
        require_matrices(p for group in self.param_groups for p in group["params"])
