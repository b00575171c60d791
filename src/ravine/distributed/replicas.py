"""Check that every rank holds bit-identical parameters (the invariant of data parallelism)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["assert_replicas_identical", "replica_mismatches"]


def _named_tensors(params: Any) -> list[tuple[str, Tensor]]:
    if isinstance(params, torch.nn.Module):
        return list(params.named_parameters()) + list(params.named_buffers())
    if isinstance(params, Tensor):
        raise TypeError("params must be a Module or an iterable of tensors, got one Tensor")
    named = []
    for i, item in enumerate(params):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Tensor):
            named.append((str(item[0]), item[1]))
        elif isinstance(item, Tensor):
            named.append((str(i), item))
        else:
            raise TypeError(
                f"params must hold tensors or (name, tensor) pairs, got {type(item).__name__}")
    return named


def _bits(t: Tensor) -> Tensor:
    return t.detach().reshape(-1).contiguous().view(torch.uint8)


def replica_mismatches(params: torch.nn.Module | Iterable[Any], *,
                       process_group: Any = None) -> dict[int, list[str]]:
    """For each rank whose tensors differ from rank 0's, the names of the differing tensors.

    Compares bit patterns (so ``-0.0 != 0.0`` and NaNs compare by payload), after checking that
    all ranks hold the same names, shapes and dtypes. Must be called on all ranks of
    ``process_group``; every rank gets the same answer. Without a process group: ``{}``.

    Args:
        params: an ``nn.Module`` (parameters and buffers; pass ``ddp.module`` or the DDP
            wrapper, either works), or an iterable of tensors or ``(name, tensor)`` pairs.
        process_group: the group to compare over (default: the world).

    Returns:
        ``{rank: [names]}``, empty when all ranks agree bit for bit.
    """
    named = _named_tensors(params)
    if not (dist.is_available() and dist.is_initialized()):
        return {}
    size = dist.get_world_size(process_group)
    layout = [(name, tuple(t.shape), str(t.dtype)) for name, t in named]
    layouts: list[Any] = [None] * size
    dist.all_gather_object(layouts, layout, group=process_group)
    for r, other in enumerate(layouts):
        if other != layouts[0]:
            raise ValueError(
                f"rank {r} holds different tensors (names, shapes, dtypes) than rank 0: "
                f"{other} vs {layouts[0]}")
    src = dist.get_global_rank(process_group, 0) if process_group is not None else 0
    mine = []
    for name, t in named:
        reference = t.detach().clone()
        dist.broadcast(reference, src=src, group=process_group)
        if not torch.equal(_bits(reference), _bits(t)):
            mine.append(name)
    everyone: list[Any] = [None] * size
    dist.all_gather_object(everyone, mine, group=process_group)
    return {r: names for r, names in enumerate(everyone) if names}


def assert_replicas_identical(params: Any, *, process_group: Any = None) -> None:
    """Raise ``RuntimeError`` on every rank unless all ranks hold bit-identical tensors.

    See :func:`replica_mismatches` for the arguments. Call it on all ranks.
    """
    mismatches = replica_mismatches(params, process_group=process_group)
    if mismatches:
        detail = "; ".join(f"rank {r}: {names}" for r, names in sorted(mismatches.items()))
        raise RuntimeError(f"replicas diverged from rank 0: {detail}")
