"""Muon for the hidden matrices and AdamW for everything else, as one optimizer.

Muon orthogonalizes 2-D updates only; practice (Jordan et al. 2024; Liu et al. 2025) trains the
other parameters (biases, norms, and often embeddings and the output layer) with AdamW.
:class:`MuonAdamW` does both in one ``torch.optim.Optimizer``: its param groups carry
``use_muon``, and a :func:`~ravine.transforms.switch_by_group` runs torch.optim.Muon's chain on
the Muon groups and torch.optim.AdamW's on the others, so each group behaves exactly as that
torch optimizer would on it (tested against the two torch optimizers stepped side by side).
"""

from __future__ import annotations

from typing import Any

import torch

from ..transforms import (
    add_decayed_weights,
    add_l2,
    chain,
    orthogonalize_newton_schulz,
    scale_by_adam,
    scale_by_ema_momentum,
    scale_by_lr,
    scale_by_shape_ratio,
    switch_by_group,
)
from ..transforms.orthogonal import require_matrices
from .base import ChainOptimizer

__all__ = ["MuonAdamW"]


def _tensor_of(item: Any) -> torch.Tensor:
    return item[1] if isinstance(item, tuple) else item


class MuonAdamW(ChainOptimizer):
    """Muon on the 2-D parameters, AdamW on the rest (biases, norms, ...).

    Given plain parameters (or ``named_parameters()``), the 2-D ones form a Muon group and the
    others an AdamW group with the ``adamw_*`` values. Given param groups, each group says
    ``use_muon``, or without it holds only 2-D tensors (a Muon group) or none (an AdamW group; a
    group that mixes them is a ``ValueError``); a group may set any hyperparameter of its kind,
    and an AdamW group starts from the ``adamw_*`` values. Muon groups hold only 2-D tensors.

    Per Muon group: ``torch.optim.Muon``'s update (momentum, quintic Newton–Schulz
    orthogonalization, ``adjust_lr_fn`` scaling, decoupled decay); per AdamW group:
    ``torch.optim.AdamW``'s. With ``adjust_lr_fn="match_rms_adamw"`` both kinds can share one
    learning rate (Liu et al. 2025).

    Args:
        params: tensors, ``(name, tensor)`` pairs or param groups.
        lr, weight_decay, momentum, nesterov, ns_coefficients, eps, ns_steps, adjust_lr_fn,
            ns_dtype: Muon's, as :class:`~ravine.optim.Muon` (torch's defaults).
        adamw_lr: the AdamW groups' learning rate (default: ``lr``, which suits
            ``adjust_lr_fn="match_rms_adamw"``).
        adamw_betas, adamw_eps, adamw_weight_decay, amsgrad: the AdamW groups'
            (``torch.optim.AdamW``'s defaults).
        maximize, skip_nonfinite: see :class:`~ravine.optim.ChainOptimizer`.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
        ...                             torch.nn.Linear(8, 1))
        >>> opt = MuonAdamW(model.parameters(), lr=0.02, adamw_lr=3e-3)
        >>> [(g["use_muon"], len(g["params"]), g["lr"]) for g in opt.param_groups]
        [(True, 2, 0.02), (False, 2, 0.003)]

    References:
        Jordan et al., "Muon: An optimizer for hidden layers in neural networks", 2024.
        Liu et al., "Muon is Scalable for LLM Training", 2025.
        Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5,
                 adjust_lr_fn=None, *, adamw_lr=None, adamw_betas=(0.9, 0.999),
                 adamw_eps=1e-8, adamw_weight_decay=1e-2, amsgrad=False,
                 ns_dtype=torch.bfloat16, maximize=False, skip_nonfinite=False):
        muon = chain(scale_by_ema_momentum(), orthogonalize_newton_schulz(compute_dtype=ns_dtype),
                     scale_by_shape_ratio(), add_decayed_weights(), scale_by_lr())
        adamw = chain(add_l2(), scale_by_adam(), add_decayed_weights(), scale_by_lr())
        adamw_values = {"lr": lr if adamw_lr is None else adamw_lr, "betas": adamw_betas,
                        "eps": adamw_eps, "weight_decay": adamw_weight_decay}
        super().__init__(
            self._groups(params, adamw_values),
            switch_by_group("use_muon", {True: muon, False: adamw}),
            skip_nonfinite=skip_nonfinite, lr=lr, weight_decay=weight_decay,
            momentum=momentum, nesterov=nesterov, ns_coefficients=ns_coefficients, eps=eps,
            ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn, betas=adamw_betas, amsgrad=amsgrad,
            decoupled_weight_decay=True, maximize=maximize)

    @staticmethod
    def _groups(params, adamw_values: dict) -> list[dict]:
        items = list(params)
        if not items:
            raise ValueError("optimizer got an empty parameter list")
        if all(isinstance(item, dict) for item in items):
            groups = []
            for group in items:
                group = dict(group)
                if "use_muon" not in group:
                    dims = {_tensor_of(t).ndim == 2 for t in group["params"]}
                    if len(dims) > 1:
                        raise ValueError("a param group without use_muon must hold only 2-D "
                                         "tensors (Muon) or none (AdamW); this one mixes them: "
                                         "split it, or set use_muon")
                    group["use_muon"] = dims == {True}
                if not group["use_muon"]:
                    group = {**adamw_values, **group}
                groups.append(group)
            return groups
        matrices = [item for item in items if _tensor_of(item).ndim == 2]
        others = [item for item in items if _tensor_of(item).ndim != 2]
        groups = [{"params": matrices, "use_muon": True}] if matrices else []
        if others:
            groups.append({"params": others, "use_muon": False, **adamw_values})
        return groups

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        if group["use_muon"]:
            require_matrices(group["params"])
