"""Process-group setup: from ``torchrun``'s environment, or explicitly for spawned workers.

``torchrun --nproc_per_node=N`` starts N processes and sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in each; :func:`init_from_env` reads them.
:func:`process_group` is the context manager for ``torch.multiprocessing.spawn`` workers and
tests: it joins a group at ``tcp://127.0.0.1:port`` and always destroys it on exit.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from datetime import timedelta

import torch.distributed as dist

__all__ = [
    "free_port",
    "init_from_env",
    "launched_by_torchrun",
    "process_group",
    "rank",
    "world_size",
]

_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
BACKENDS = ("gloo", "nccl", "mpi")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind to port 0 and let the OS choose).

    Example:
        >>> 0 < free_port() < 65536
        True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def launched_by_torchrun() -> bool:
    """Whether this process runs under ``torchrun`` (its environment variables are all set)."""
    return all(name in os.environ for name in _TORCHRUN_VARS)


def rank() -> int:
    """This process's rank in the default group, 0 when no group is initialized."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """Size of the default group, 1 when no group is initialized."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"Invalid backend: {backend!r} (expected one of {BACKENDS})")


def _check_timeout(timeout_s: float) -> None:
    if not isinstance(timeout_s, (int, float)) or isinstance(timeout_s, bool) or timeout_s <= 0:
        raise ValueError(f"Invalid timeout_s: {timeout_s!r} (expected a number > 0)")


def init_from_env(backend: str = "gloo", timeout_s: float = 300.0) -> bool:
    """Join the default process group described by ``torchrun``'s environment variables.

    Args:
        backend: ``"gloo"`` (CPU), ``"nccl"`` (CUDA) or ``"mpi"``.
        timeout_s: how long a collective may wait for the other ranks before failing.

    Returns:
        True if a group was initialized (or already was); False when the variables are absent,
        i.e. the process runs alone and should train without a process group.
    """
    _check_backend(backend)
    _check_timeout(timeout_s)
    if dist.is_initialized():
        return True
    if not launched_by_torchrun():
        return False
    dist.init_process_group(backend, init_method="env://", timeout=timedelta(seconds=timeout_s))
    return True


@contextlib.contextmanager
def process_group(rank: int, world_size: int, port: int, *, backend: str = "gloo",
                  host: str = "127.0.0.1", timeout_s: float = 60.0) -> Iterator[None]:
    """Join the default group as ``rank`` of ``world_size`` for the ``with`` block.

    The group is destroyed on exit, also when the block raises, so the next group (a later
    test, a resumed run) starts clean.

    Args:
        rank: this process's rank, ``0 <= rank < world_size``.
        world_size: number of processes, at least 1.
        port: the rendezvous TCP port on ``host`` (see :func:`free_port`).
        backend: ``"gloo"`` (CPU), ``"nccl"`` or ``"mpi"``.
        host: the rendezvous address.
        timeout_s: how long a collective may wait before failing (so a broken peer fails a
            test instead of hanging it).
    """
    if not isinstance(world_size, int) or isinstance(world_size, bool) or world_size < 1:
        raise ValueError(f"Invalid world_size: {world_size!r} (expected an integer >= 1)")
    if not isinstance(rank, int) or isinstance(rank, bool) or not 0 <= rank < world_size:
        raise ValueError(f"Invalid rank: {rank!r} (expected 0 <= rank < {world_size})")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ValueError(f"Invalid port: {port!r} (expected 0 < port < 65536)")
    _check_backend(backend)
    _check_timeout(timeout_s)
    dist.init_process_group(backend, init_method=f"tcp://{host}:{port}", rank=rank,
                            world_size=world_size, timeout=timedelta(seconds=timeout_s))
    try:
        yield
    finally:
        dist.destroy_process_group()
