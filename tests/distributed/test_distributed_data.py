"""ShardedBatches: the ranks' batches make up the single-process batches, reshuffled per epoch."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from ravine.distributed import ShardedBatches


def dataset(n: int) -> TensorDataset:
    return TensorDataset(torch.arange(n), torch.arange(n) * 10)


@pytest.mark.parametrize("n, world, batch", [(50, 2, 8), (51, 2, 8), (100, 3, 12), (17, 1, 4)])
def test_rank_batches_make_up_the_single_process_batches(n, world, batch):
    data = dataset(n)
    single = ShardedBatches(data, batch, seed=3, num_replicas=1, rank=0)
    ranks = [ShardedBatches(data, batch, seed=3, num_replicas=world, rank=r)
             for r in range(world)]
    for epoch in (0, 1):
        expected = [b[0] for b in single.epoch(epoch)]
        per_rank = [list(s.epoch(epoch)) for s in ranks]
        assert len(expected) == n // batch == len(single)
        for i, whole in enumerate(expected):
            parts = [per_rank[r][i] for r in range(world)]
            assert all(len(p[0]) == batch // world for p in parts)
            assert all(torch.equal(p[1], p[0] * 10) for p in parts)  # tensors stay aligned
            union = torch.cat([p[0] for p in parts])
            assert torch.equal(union.sort().values, whole.sort().values)
        assert all(len(batches) == len(expected) for batches in per_rank)


def test_reshuffles_each_epoch_and_repeats_across_runs():
    a = ShardedBatches(dataset(64), 16, seed=5, num_replicas=2, rank=1)
    b = ShardedBatches(dataset(64), 16, seed=5, num_replicas=2, rank=1)
    assert a.indices(0) == b.indices(0)
    assert a.indices(0) != a.indices(1)
    assert sorted(a.indices(0)) != list(range(0, 64, 2))  # shuffled, not strided
    unshuffled = ShardedBatches(dataset(64), 16, shuffle=False, num_replicas=2, rank=1)
    assert unshuffled.indices(3) == list(range(1, 64, 2))


def test_other_datasets_are_collated():
    pairs = [(torch.tensor([float(i)]), i % 3) for i in range(12)]
    batches = list(ShardedBatches(pairs, 4, shuffle=False, num_replicas=2, rank=0).epoch(0))
    x, y = batches[0]
    assert x.shape == (2, 1) and torch.equal(y, torch.tensor([0, 2]))


@pytest.mark.parametrize("kwargs, name", [
    ({"global_batch_size": 7, "num_replicas": 2, "rank": 0}, "global_batch_size"),
    ({"global_batch_size": 0, "num_replicas": 1, "rank": 0}, "global_batch_size"),
    ({"global_batch_size": 200, "num_replicas": 1, "rank": 0}, "global_batch_size"),
    ({"global_batch_size": 8, "num_replicas": 2, "rank": 2}, "rank"),
    ({"global_batch_size": 8, "num_replicas": 0, "rank": 0}, "num_replicas"),
])
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ShardedBatches(dataset(50), **kwargs)


def test_bad_epoch_and_seed():
    batches = ShardedBatches(dataset(50), 8, num_replicas=1, rank=0)
    with pytest.raises(ValueError, match="epoch"):
        batches.indices(-1)
    with pytest.raises(TypeError, match="seed"):
        ShardedBatches(dataset(50), 8, seed=0.5, num_replicas=1, rank=0)
