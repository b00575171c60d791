"""Checkpoints of data-parallel runs: one file, full optimizer state, exact resume.

With ``ZeroRedundancyOptimizer`` each rank holds the state of its own shard;
:func:`gather_optimizer_state` consolidates the shards on one rank into the state dict an
unsharded optimizer would have (torch.optim's layout, parameters indexed globally), so a
checkpoint does not depend on the number of ranks that wrote it. :func:`load_checkpoint` loads
it on every rank; ZeRO keeps the entries of its own shard.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

__all__ = ["CHECKPOINT_FORMAT", "gather_optimizer_state", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = "ravine.distributed.checkpoint/1"


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _is_zero(optimizer: torch.optim.Optimizer) -> bool:
    # without importing torch.distributed.optim (seconds): no ZeRO exists unless it was imported
    module = sys.modules.get("torch.distributed.optim.zero_redundancy_optimizer")
    return module is not None and isinstance(optimizer, module.ZeroRedundancyOptimizer)


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return getattr(model, "module", model)  # DistributedDataParallel keeps the model in .module


def _check_rank(to: int) -> None:
    size = dist.get_world_size() if _distributed() else 1
    if not isinstance(to, int) or isinstance(to, bool) or not 0 <= to < size:
        raise ValueError(f"Invalid to: {to!r} (expected a rank, 0 <= to < {size})")


def gather_optimizer_state(optimizer: torch.optim.Optimizer, to: int = 0) -> dict | None:
    """The full optimizer state dict on rank ``to`` (``None`` on the other ranks).

    For a ``ZeroRedundancyOptimizer`` this calls ``consolidate_state_dict(to)``, a collective:
    call it on all ranks. Any other optimizer is replicated, so its own ``state_dict()`` is
    returned on rank ``to``.
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer)!r}")
    _check_rank(to)
    me = dist.get_rank() if _distributed() else 0
    if _is_zero(optimizer):
        optimizer.consolidate_state_dict(to=to)
    return optimizer.state_dict() if me == to else None


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, *, extra: dict | None = None,
                    to: int = 0) -> None:
    """Write model, full optimizer state and ``extra`` to ``path`` from rank ``to``.

    A collective (consolidation, then a barrier so that no rank reads the file before it is
    complete): call it on all ranks. The file is written to a temporary name and renamed, so an
    interrupted save leaves the previous checkpoint intact.

    Args:
        path: the checkpoint file.
        model: the model or its ``DistributedDataParallel`` wrapper (the inner module's state is
            saved, so the file loads without DDP too).
        optimizer: a ``ZeroRedundancyOptimizer`` or any replicated optimizer.
        extra: plain data to store alongside (epoch, step, ...): numbers, strings, tensors,
            lists and dicts of them (the file is read with ``weights_only=True``).
        to: the rank that writes.
    """
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict or None, got {type(extra).__name__}")
    optimizer_state = gather_optimizer_state(optimizer, to=to)
    if optimizer_state is not None:
        path = Path(path)
        payload = {
            "format": CHECKPOINT_FORMAT,
            "world_size": dist.get_world_size() if _distributed() else 1,
            "model": _unwrap(model).state_dict(),
            "optimizer": optimizer_state,
            "extra": dict(extra or {}),
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)
    if _distributed():
        dist.barrier()


def load_checkpoint(path: str | os.PathLike, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` and ``optimizer``.

    Call it on every rank, with the model (or its DDP wrapper) and optimizer built as for a
    fresh run; the run then continues exactly as the uninterrupted one would.

    Returns:
        The ``extra`` dict that was saved.
    """
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a ravine.distributed checkpoint "
                         f"(expected format {CHECKPOINT_FORMAT!r})")
    _unwrap(model).load_state_dict(payload["model"])
    if optimizer is not None:
        optimizer.load_state_dict(payload["optimizer"])
    return payload["extra"]
