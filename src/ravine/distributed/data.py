"""Each rank's share of a dataset in mini-batches, reshuffled every epoch.

:class:`ShardedBatches` wraps ``torch.utils.data.DistributedSampler``: in epoch ``e`` all ranks
draw the same permutation (seeded by ``seed + e``), rank ``r`` takes every ``world_size``-th
index from position ``r``, and cuts its share into batches of ``global_batch_size /
world_size``. Global batch ``i`` (the union over the ranks of their batch ``i``) is then exactly
positions ``[i B, (i + 1) B)`` of the permutation, as for a single process with batch ``B``:
with gradients averaged by DDP, training on ``world_size`` ranks follows the single-process
run. The last incomplete global batch is dropped, so every step sees ``B`` samples.

References:
    Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017
    (data parallelism as one large batch).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler, TensorDataset
from torch.utils.data._utils.collate import default_collate

__all__ = ["ShardedBatches"]


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer >= 1)")


class ShardedBatches:
    """This rank's mini-batches of ``dataset``, reshuffled per epoch (same order on every run).

    Args:
        dataset: a map-style dataset; a ``TensorDataset`` is indexed batch-wise (no collation).
        global_batch_size: samples per optimizer step over all ranks; a multiple of
            ``num_replicas``.
        shuffle: draw a new permutation each epoch (else the dataset's order).
        seed: the permutation of epoch ``e`` is seeded by ``seed + e`` (same on all ranks).
        num_replicas: number of ranks (default: the world size, 1 without a process group).
        rank: this rank (default: the rank in the world, 0 without a process group).

    Example:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> data = TensorDataset(torch.arange(10.0))
        >>> rank0 = ShardedBatches(data, 4, shuffle=False, num_replicas=2, rank=0)
        >>> rank1 = ShardedBatches(data, 4, shuffle=False, num_replicas=2, rank=1)
        >>> [b[0].tolist() for b in rank0.epoch(0)], [b[0].tolist() for b in rank1.epoch(0)]
        ([[0.0, 2.0], [4.0, 6.0]], [[1.0, 3.0], [5.0, 7.0]])
    """

    def __init__(self, dataset: Dataset, global_batch_size: int, *, shuffle: bool = True,
                 seed: int = 0, num_replicas: int | None = None, rank: int | None = None):
        running = dist.is_available() and dist.is_initialized()
        if num_replicas is None:
            num_replicas = dist.get_world_size() if running else 1
        if rank is None:
            rank = dist.get_rank() if running else 0
        _positive_int("num_replicas", num_replicas)
        _positive_int("global_batch_size", global_batch_size)
        if not isinstance(rank, int) or isinstance(rank, bool) or not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank: {rank!r} (expected 0 <= rank < {num_replicas})")
        if global_batch_size % num_replicas:
            raise ValueError(
                f"Invalid global_batch_size: {global_batch_size} (expected a multiple of "
                f"num_replicas={num_replicas})")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        if len(dataset) < global_batch_size:
            raise ValueError(
                f"Invalid global_batch_size: {global_batch_size} (the dataset has only "
                f"{len(dataset)} samples)")
        self.dataset = dataset
        self.global_batch_size = global_batch_size
        self.batch_size = global_batch_size // num_replicas
        self.sampler = DistributedSampler(dataset, num_replicas=num_replicas, rank=rank,
                                          shuffle=shuffle, seed=seed, drop_last=True)

    def __len__(self) -> int:
        """Batches (optimizer steps) per epoch."""
        return len(self.sampler) // self.batch_size

    def indices(self, epoch: int) -> list[int]:
        """This rank's sample indices in epoch ``epoch``, in order (full batches only)."""
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise ValueError(f"Invalid epoch: {epoch!r} (expected an integer >= 0)")
        self.sampler.set_epoch(epoch)
        return list(self.sampler)[:len(self) * self.batch_size]

    def epoch(self, epoch: int) -> Iterator[Any]:
        """Iterate over this rank's batches of epoch ``epoch`` (tuples of tensors)."""
        order = torch.tensor(self.indices(epoch), dtype=torch.long)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            if isinstance(self.dataset, TensorDataset):
                yield tuple(t[batch] for t in self.dataset.tensors)
            else:
                yield default_collate([self.dataset[int(i)] for i in batch])
