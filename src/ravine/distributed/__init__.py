"""Scale-out: ravine optimizers under ``torchrun`` with DDP and sharded optimizer state.

- :mod:`~ravine.distributed.launch`: join a process group from ``torchrun``'s environment
  (:func:`init_from_env`) or explicitly (:func:`process_group`, :func:`free_port`).
- :mod:`~ravine.distributed.sharding`: ravine optimizers in ``ZeroRedundancyOptimizer``
  (:func:`zero_optimizer`, :func:`sharded`), group-global norm clipping across ranks
  (:class:`clip_by_global_norm_across_ranks`), :func:`check_sharded_scope`.
- :mod:`~ravine.distributed.replicas`: :func:`assert_replicas_identical`.
- :mod:`~ravine.distributed.checkpoint`: consolidated checkpoints that resume exactly.
- :mod:`~ravine.distributed.data`: :class:`ShardedBatches`, a reshuffled per-rank share.
- ``python -m ravine.distributed.train``: the ``load_digits`` MLP with any ravine optimizer,
  alone or under ``torchrun --standalone --nproc_per_node=2 -m ravine.distributed.train``.

Not imported by ``import ravine``: ``import ravine.distributed`` explicitly.
"""

from .checkpoint import gather_optimizer_state, load_checkpoint, save_checkpoint
from .data import ShardedBatches
from .launch import free_port, init_from_env, launched_by_torchrun, process_group
from .replicas import assert_replicas_identical, replica_mismatches
from .sharding import (
    check_sharded_scope,
    clip_by_global_norm_across_ranks,
    sharded,
    zero_optimizer,
)

__all__ = [
    "ShardedBatches",
    "assert_replicas_identical",
    "check_sharded_scope",
    "clip_by_global_norm_across_ranks",
    "free_port",
    "gather_optimizer_state",
    "init_from_env",
    "launched_by_torchrun",
    "load_checkpoint",
    "process_group",
    "replica_mismatches",
    "save_checkpoint",
    "sharded",
    "zero_optimizer",
]
