"""Sharded optimizer state: ravine optimizers inside ``ZeroRedundancyOptimizer`` (ZeRO stage 1).

``torch.distributed.optim.ZeroRedundancyOptimizer(params, optimizer_class=ravine.optim.AdamW)``
works unchanged: ZeRO assigns whole parameter tensors to ranks, each rank builds
``optimizer_class`` over its shard of every param group, steps it, and broadcasts the updated
shards. For elementwise optimizers (SGD, Adam, AdamW, ...) and per-tensor ones (LAMB and LARS
trust ratios: a tensor is never split) that is exactly the unsharded update.

A transform that reduces over *all tensors of a group* is different: ``clip_by_global_norm``
would compute the norm of the rank's shard only. :func:`sharded` (used by
:func:`zero_optimizer`) makes such chains correct by swapping in
:class:`clip_by_global_norm_across_ranks`, whose squared norm is summed over the ranks with one
``all_reduce`` per group and step. :func:`check_sharded_scope` raises ``ValueError`` for a ZeRO
optimizer built without it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

from ..optim import LBFGS, ChainOptimizer, OptimizerWrapper
from ..transforms.base import Chain, Transform
from ..transforms.clipping import clip_by_global_norm

if TYPE_CHECKING:  # importing torch.distributed.optim takes seconds (FSDP); done when used
    from torch.distributed.optim import ZeroRedundancyOptimizer

__all__ = [
    "check_sharded_scope",
    "clip_by_global_norm_across_ranks",
    "sharded",
    "zero_optimizer",
]


def _collective_device(process_group: Any) -> torch.device:
    if dist.get_backend(process_group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class clip_by_global_norm_across_ranks(clip_by_global_norm):
    """``clip_by_global_norm`` whose norm covers the param group's tensors on all ranks.

    Update rule (``S_r`` = the sum of squared L2 norms of the updates this rank holds)::

        N = sqrt(sum_r S_r)        (one all_reduce over ``process_group``)
        u <- u * min(1, max_norm / (N + 1e-6))

    Under ``ZeroRedundancyOptimizer`` each rank holds a shard of the group, so ``N`` is the norm
    of the whole group, as without sharding. A rank whose shard of the group is empty must
    still call :meth:`update` (with empty lists) so that the ``all_reduce`` matches up; the
    optimizer classes made by :func:`sharded` do that. Without an initialized process group
    it is ``clip_by_global_norm``. Only for disjoint shards: with replicated parameters (plain
    DDP, no ZeRO) each rank holds the whole group and ``clip_by_global_norm`` is the right
    transform (summing over ranks would count every tensor ``world_size`` times).

    Args:
        process_group: the group the parameters are sharded over (default: the world).
        max_norm: default clipping threshold (read from the param group at each step).

    References:
        Pascanu, Mikolov & Bengio, ICML 2013 (clipping); Rajbhandari et al., "ZeRO: Memory
        Optimizations Toward Training Trillion Parameter Models", SC 2020 (sharded state).
    """

    def __init__(self, process_group: Any = None, **hyperparameters: Any) -> None:
        super().__init__(**hyperparameters)
        self.process_group = process_group

    def update(self, updates, states, params, group):
        squared = torch.zeros((), dtype=torch.float64)
        for u in updates:
            squared += torch.linalg.vector_norm(u).to(torch.float64) ** 2
        if dist.is_available() and dist.is_initialized():
            device = _collective_device(self.process_group)
            squared = squared.to(device)
            dist.all_reduce(squared, op=dist.ReduceOp.SUM, group=self.process_group)
            squared = squared.cpu()
        if not updates:
            return updates
        total = squared.sqrt()
        coef = torch.clamp(group["max_norm"] / (total + 1e-6), max=1.0)
        for u in updates:
            u.mul_(coef.to(device=u.device, dtype=u.dtype))
        return updates

    def __repr__(self) -> str:
        return f"clip_by_global_norm_across_ranks(max_norm={self.defaults['max_norm']!r})"


def _across_ranks(transform: Transform, process_group: Any) -> tuple[Transform, list]:
    """The transform with each group-global link made rank-global, and those links."""
    if isinstance(transform, Chain):
        links, collectives = [], []
        for link in transform.transforms:
            new, found = _across_ranks(link, process_group)
            links.append(new)
            collectives += found
        return (Chain(*links) if collectives else transform), collectives
    if type(transform) is clip_by_global_norm:
        new = clip_by_global_norm_across_ranks(process_group, **transform.defaults)
        return new, [new]
    if isinstance(transform, clip_by_global_norm_across_ranks):
        return transform, [transform]
    return transform, []


def _group_global_links(transform: Transform) -> list[str]:
    """Names of links that reduce over a param group's tensors on this rank only."""
    if isinstance(transform, Chain):
        return [name for link in transform.transforms for name in _group_global_links(link)]
    if isinstance(transform, clip_by_global_norm) and not isinstance(
            transform, clip_by_global_norm_across_ranks):
        return [transform.name]
    return []


def _check_class(optimizer_class: Any) -> None:
    if not isinstance(optimizer_class, type) or not issubclass(
            optimizer_class, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer_class must be a torch.optim.Optimizer subclass, got {optimizer_class!r}")
    if issubclass(optimizer_class, OptimizerWrapper):
        raise TypeError(
            f"optimizer_class {optimizer_class.__name__} wraps an optimizer instance; ZeRO "
            "builds its optimizer from parameters, so shard the inner optimizer's class")
    if issubclass(optimizer_class, (LBFGS, torch.optim.LBFGS)):
        raise ValueError(
            f"optimizer_class {optimizer_class.__name__} is not shardable: its line search and "
            "curvature pairs couple all parameters, and ZeRO would run it on each shard alone")


_SHARDED_CLASSES: dict[tuple[type, Any], type] = {}  # holds the group: ids are not reused


def sharded(optimizer_class: type, process_group: Any = None) -> type:
    """The class to give ``ZeroRedundancyOptimizer`` so a ravine chain keeps its scope.

    For a :class:`~ravine.optim.ChainOptimizer` subclass, returns a subclass whose chain has each
    ``clip_by_global_norm`` replaced by :class:`clip_by_global_norm_across_ranks` (so the norm
    is over the whole group on all ranks), which still takes part in the ``all_reduce`` when this
    rank's shard of a group is empty, and whose ``skip_nonfinite`` check agrees across ranks
    (a non-finite gradient on any rank skips the step on all). Chains without such links keep
    their fused kernels. Other ``torch.optim`` classes are returned unchanged. Meant for
    ``ZeroRedundancyOptimizer`` (disjoint shards), not for replicated optimizers.

    Args:
        optimizer_class: a ``torch.optim.Optimizer`` subclass built from parameters.
        process_group: the group ZeRO shards over (default: the world).

    Returns:
        A ``torch.optim.Optimizer`` subclass with ``optimizer_class``'s signature.

    Raises:
        TypeError: ``optimizer_class`` is not an optimizer class, or wraps an optimizer.
        ValueError: the optimizer couples all parameters (L-BFGS).

    References:
        Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter
        Models", SC 2020.
    """
    _check_class(optimizer_class)
    if not issubclass(optimizer_class, ChainOptimizer):
        return optimizer_class
    key = (optimizer_class, process_group)
    if key in _SHARDED_CLASSES:
        return _SHARDED_CLASSES[key]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        optimizer_class.__init__(self, *args, **kwargs)
        self.transform, self._collectives = _across_ranks(self.transform, process_group)
        self.fast_path = self.fast_path  # re-match the fused kernel to the new chain

    def _step_group(self, group: dict, step: int = 0) -> None:
        if self._collectives and all(p.grad is None for p in group["params"]):
            for link in self._collectives:  # join the all_reduce with an empty shard
                link.update([], [], [], group)
            return
        optimizer_class._step_group(self, group, step)

    def _all_finite(self) -> bool:
        finite = optimizer_class._all_finite(self)
        if not (dist.is_available() and dist.is_initialized()):
            return finite
        flag = torch.tensor(0 if finite else 1, dtype=torch.int32,
                            device=_collective_device(process_group))
        dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=process_group)
        return int(flag.item()) == 0

    cls = type(f"Sharded{optimizer_class.__name__}", (optimizer_class,), {
        "__init__": __init__, "_step_group": _step_group, "_all_finite": _all_finite,
        "__doc__": f"{optimizer_class.__name__} for ZeroRedundancyOptimizer (see sharded).",
        "__module__": __name__,
    })
    _SHARDED_CLASSES[key] = cls
    return cls


def zero_optimizer(params: Iterable[Any], optimizer_class: type, *, process_group: Any = None,
                   parameters_as_bucket_view: bool = False,
                   **defaults: Any) -> ZeroRedundancyOptimizer:
    """``ZeroRedundancyOptimizer`` over a ravine optimizer: state sharded, results unchanged.

    Each rank keeps the optimizer state of about ``1/world_size`` of the parameters (whole
    tensors), steps them, and broadcasts them to the other ranks. The result equals the
    unsharded optimizer's, group-global norm clipping included (see :func:`sharded`). Save
    checkpoints with :func:`ravine.distributed.save_checkpoint` (it consolidates the shards).

    Args:
        params: parameters or param groups, as for any optimizer.
        optimizer_class: e.g. ``ravine.optim.AdamW``.
        process_group: the group to shard over (default: the world).
        parameters_as_bucket_view: passed to ``ZeroRedundancyOptimizer``.
        **defaults: the optimizer's hyperparameters (``lr=...``).

    Returns:
        The ``ZeroRedundancyOptimizer``; its local optimizer is ``.optim``.

    Example:
        >>> import torch, ravine.optim
        >>> from ravine.distributed import free_port, process_group, zero_optimizer
        >>> with process_group(0, 1, free_port()):
        ...     w = torch.nn.Parameter(torch.ones(3))
        ...     opt = zero_optimizer([w], ravine.optim.AdamW, lr=0.1)
        ...     w.sum().backward(); _ = opt.step()
        >>> w.data
        tensor([0.8990, 0.8990, 0.8990])

    References:
        Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter
        Models", SC 2020.
    """
    from torch.distributed.optim import ZeroRedundancyOptimizer

    if "transform" in defaults:
        raise TypeError(
            "zero_optimizer got transform=...: ZeRO would store the transform object in every "
            "param group and checkpoint; define a class instead, e.g. class MyOpt(ChainOptimizer) "
            "whose __init__ passes chain(...) to ChainOptimizer.__init__")
    return ZeroRedundancyOptimizer(
        params, optimizer_class=sharded(optimizer_class, process_group),
        process_group=process_group, parameters_as_bucket_view=parameters_as_bucket_view,
        **defaults)


def check_sharded_scope(optimizer: ZeroRedundancyOptimizer) -> None:
    """Raise ``ValueError`` if sharding changed what ``optimizer``'s local chain computes.

    A ``clip_by_global_norm`` link in the chain of a ``ZeroRedundancyOptimizer`` built directly
    (not by :func:`zero_optimizer`) sees only this rank's shard of each group, so its norm, and
    hence the update, differ from the unsharded run whenever clipping is active.
    """
    from torch.distributed.optim import ZeroRedundancyOptimizer

    if not isinstance(optimizer, ZeroRedundancyOptimizer):
        raise TypeError(
            f"optimizer must be a ZeroRedundancyOptimizer, got {type(optimizer).__name__}")
    local = optimizer.optim
    _check_class(type(local))
    if optimizer.world_size < 2 or not isinstance(local, ChainOptimizer):
        return
    links = _group_global_links(local.transform)
    if links:
        raise ValueError(
            f"{type(local).__name__} under ZeroRedundancyOptimizer: {sorted(set(links))} "
            f"would compute the norm over this rank's shard of each param group only "
            f"(world_size={optimizer.world_size}); build it with "
            "ravine.distributed.zero_optimizer(...) or optimizer_class=sharded(cls), which "
            "all-reduce the norm across ranks")
