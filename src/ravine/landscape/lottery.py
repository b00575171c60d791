"""Lottery tickets: magnitude pruning masks, mask hooks, and iterative magnitude pruning with
rewinding to initialization (or to an early iteration).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

__all__ = [
    "LotteryResult",
    "LotteryRound",
    "MaskHandle",
    "apply_masks",
    "iterative_magnitude_pruning",
    "magnitude_masks",
    "mask_sparsity",
    "prunable_parameters",
    "reinitialize",
]

SCOPES = ("global", "layerwise")


def prunable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The weights that pruning considers: trainable parameters with 2 or more dimensions
    (linear and convolution weights; biases and normalization parameters are kept dense, as in
    Frankle & Carbin)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return {n: p for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2}


def mask_sparsity(masks: Mapping[str, Tensor]) -> float:
    """The fraction of masked-out (zero) entries over all masks."""
    total = sum(m.numel() for m in masks.values())
    if total == 0:
        raise ValueError("masks is empty")
    return sum(int((~m.bool()).sum()) for m in masks.values()) / total


def _smallest(scores: Tensor, count: int) -> Tensor:
    """A boolean mask keeping all but the ``count`` smallest entries (ties broken by index)."""
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    if count > 0:
        order = torch.sort(scores.reshape(-1), stable=True).indices
        keep[order[:count]] = False
    return keep.view(scores.shape)


def magnitude_masks(
    model: nn.Module,
    sparsity: float,
    *,
    scope: str = "global",
    masks: Mapping[str, Tensor] | None = None,
) -> dict[str, Tensor]:
    """Masks that remove the smallest-magnitude weights, at exactly the requested sparsity.

    Args:
        model: the trained module; its :func:`prunable_parameters` are scored by ``|w|``.
        sparsity: the fraction of prunable weights to remove, in ``[0, 1)``. Exactly
            ``round(sparsity * n)`` weights are removed (``n`` the count in the whole model for
            ``"global"``, in each tensor for ``"layerwise"``).
        scope: ``"global"`` (one threshold over all prunable weights) or ``"layerwise"``
            (the same fraction in each tensor).
        masks: the current masks; weights they already remove stay removed (the new sparsity
            must not be lower than theirs).

    Returns:
        ``name -> bool tensor`` (``True`` = kept) for each prunable parameter.

    References:
        Han, Pool, Tran & Dally, "Learning both Weights and Connections for Efficient Neural
        Networks", NeurIPS 2015; Frankle & Carbin, "The Lottery Ticket Hypothesis", ICLR 2019.

    Example:
        >>> lin = nn.Linear(4, 2, bias=False)
        >>> with torch.no_grad(): _ = lin.weight.copy_(torch.arange(8.0).view(2, 4))
        >>> magnitude_masks(lin, 0.25)["weight"].int().tolist()
        [[0, 0, 1, 1], [1, 1, 1, 1]]
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    if not isinstance(sparsity, (int, float)) or not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be a number in [0, 1), got {sparsity!r}")
    params = prunable_parameters(model)
    if not params:
        raise ValueError("model has no prunable parameters (trainable, 2 or more dimensions)")
    old = {n: torch.ones(p.shape, dtype=torch.bool) for n, p in params.items()}
    if masks is not None:
        for n, m in masks.items():
            if n not in old or m.shape != old[n].shape:
                raise ValueError(f"masks[{n!r}] does not match a prunable parameter")
            old[n] = m.bool().cpu()
    # already-pruned weights score -inf, so they are removed first and stay removed
    scores = {
        n: torch.where(old[n], p.detach().abs().cpu().double(), -torch.inf)
        for n, p in params.items()
    }
    if scope == "global":
        flat = torch.cat([s.reshape(-1) for s in scores.values()])
        count = round(sparsity * flat.numel())
        _check_not_lower(count, int((flat == -torch.inf).sum()), "the model")
        keep = _smallest(flat, count)
        out, start = {}, 0
        for n, s in scores.items():
            out[n] = keep[start : start + s.numel()].view(s.shape).to(params[n].device)
            start += s.numel()
        return out
    out = {}
    for n, s in scores.items():
        count = round(sparsity * s.numel())
        _check_not_lower(count, int((s == -torch.inf).sum()), repr(n))
        out[n] = _smallest(s, count).to(params[n].device)
    return out


def _check_not_lower(count: int, already: int, where: str) -> None:
    if count < already:
        raise ValueError(
            f"sparsity is lower than that of the current masks in {where} "
            f"({count} < {already} pruned weights); pruning never restores weights"
        )


class MaskHandle:
    """Masks applied to a model's weights by gradient hooks; :meth:`remove` takes them off."""

    def __init__(self, masks: dict[str, Tensor], hooks: list) -> None:
        self.masks = masks
        self._hooks = hooks

    def remove(self) -> None:
        """Remove the gradient hooks (the weights keep their current values)."""
        for h in self._hooks:
            h.remove()
        self._hooks = []


def apply_masks(model: nn.Module, masks: Mapping[str, Tensor]) -> MaskHandle:
    """Zero the masked weights and keep their gradients exactly zero from now on.

    The masked entries are set to zero in place, and a gradient hook multiplies each gradient by
    its mask. With the gradient and the weight both zero, every ravine (and torch) optimizer
    leaves the entry at zero: momentum buffers, Adam moments and (coupled or decoupled) weight
    decay of a zero weight are all zero.

    Args:
        model: the module.
        masks: ``name -> bool tensor`` (``True`` = kept), as from :func:`magnitude_masks`.

    Returns:
        A :class:`MaskHandle` (call ``remove()`` to take the hooks off).

    Example:
        >>> lin = nn.Linear(2, 1, bias=False)
        >>> h = apply_masks(lin, {"weight": torch.tensor([[True, False]])})
        >>> lin(torch.ones(1, 2)).sum().backward()
        >>> lin.weight.grad.tolist(), float(lin.weight.detach()[0, 1])
        ([[1.0, 0.0]], 0.0)
    """
    params = dict(model.named_parameters())
    hooks, kept = [], {}
    for name, mask in masks.items():
        if name not in params or params[name].shape != mask.shape:
            raise ValueError(f"masks[{name!r}] does not match a parameter of the model")
        p = params[name]
        m = mask.to(device=p.device, dtype=torch.bool)
        kept[name] = m
        with torch.no_grad():
            p.mul_(m)
        factor = m.to(p.dtype)
        hooks.append(p.register_hook(lambda g, f=factor: g * f))
    return MaskHandle(kept, hooks)


def reinitialize(model: nn.Module, seed: int) -> None:
    """Re-draw the model's parameters with each module's ``reset_parameters`` under ``seed``
    (the random-reinitialization control of Frankle & Carbin); the global RNG is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in model.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()


@dataclass
class LotteryRound:
    """One round of pruning: the sparsity of the prunable weights and the trained accuracy."""

    round: int
    sparsity: float
    remaining: int
    accuracy: float


@dataclass
class LotteryResult:
    """The rounds of :func:`iterative_magnitude_pruning`, the masks of each round, the state
    rewound to, and the final (trained, masked) state."""

    rounds: list[LotteryRound]
    masks: list[dict[str, Tensor]] = field(default_factory=list)
    rewind_state: dict[str, Tensor] = field(default_factory=dict)

    def table(self) -> str:
        """A plain-text table of the rounds."""
        lines = ["round  sparsity  remaining  accuracy"]
        for r in self.rounds:
            lines.append(f"{r.round:5d}  {r.sparsity:8.3f}  {r.remaining:9d}  {r.accuracy:8.4f}")
        return "\n".join(lines)


def iterative_magnitude_pruning(
    model: nn.Module,
    train: Callable[[nn.Module], object],
    evaluate: Callable[[nn.Module], float],
    *,
    rounds: int,
    rate: float = 0.2,
    scope: str = "global",
    rewind_to: Mapping[str, Tensor] | None = None,
) -> LotteryResult:
    """Find a winning ticket: train, prune the smallest weights, rewind the rest, repeat.

    Round 0 trains the dense model from its current state. Each later round ``r`` prunes the
    remaining prunable weights to sparsity ``1 - (1 - rate)^r`` by magnitude (of the weights
    trained in the previous round), rewinds every weight to ``rewind_to``, applies the masks
    (:func:`apply_masks`), and trains again. The model ends trained at the last round's mask,
    with the hooks removed and the pruned weights at zero.

    Args:
        model: the module, at the state to rewind to (its initialization) unless ``rewind_to``.
        train: ``train(model)`` trains in place (creating its own optimizer: any ravine
            optimizer works, momentum and weight decay included).
        evaluate: ``evaluate(model) -> accuracy`` (or any score).
        rounds: number of pruning rounds after the dense one (``>= 1``).
        rate: fraction of the remaining weights pruned per round, in ``(0, 1)``.
        scope: ``"global"`` or ``"layerwise"`` (see :func:`magnitude_masks`).
        rewind_to: the state dict to rewind to (default: the model's state at the call). Pass
            the state after ``k`` iterations of dense training to rewind to iteration ``k``
            (Frankle et al. 2020).

    Returns:
        :class:`LotteryResult` with a row per round (round 0 is dense).

    References:
        Frankle & Carbin, "The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural
        Networks", ICLR 2019; Frankle, Dziugaite, Roy & Carbin, "Linear Mode Connectivity and
        the Lottery Ticket Hypothesis", ICML 2020 (rewinding to iteration k).
    """
    if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1:
        raise ValueError(f"rounds must be an integer >= 1, got {rounds!r}")
    if not isinstance(rate, (int, float)) or not 0.0 < rate < 1.0:
        raise ValueError(f"rate must be a number in (0, 1), got {rate!r}")
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    source = model.state_dict() if rewind_to is None else rewind_to
    rewind_state = {k: v.detach().clone() for k, v in dict(source).items()}
    params = prunable_parameters(model)
    masks = {n: torch.ones(p.shape, dtype=torch.bool, device=p.device) for n, p in params.items()}
    total = sum(m.numel() for m in masks.values())
    result = LotteryResult([], [], rewind_state)
    handle = apply_masks(model, masks)
    try:
        for r in range(rounds + 1):
            if r > 0:
                target = 1.0 - (1.0 - rate) ** r
                masks = magnitude_masks(model, target, scope=scope, masks=masks)
                handle.remove()
                model.load_state_dict(rewind_state)
                handle = apply_masks(model, masks)
            train(model)
            score = float(evaluate(model))
            remaining = sum(int(m.sum()) for m in masks.values())
            result.masks.append({n: m.clone() for n, m in masks.items()})
            result.rounds.append(LotteryRound(r, 1.0 - remaining / total, remaining, score))
    finally:
        handle.remove()
    return result
