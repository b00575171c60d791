"""2 ranks (gloo, spawned) vs one process on the concatenated batch, float64.

DDP averages the gradients of the two half-batches, which is the gradient of the mean loss on
the whole batch, so every ravine optimizer must land on the single-process parameters (to
rounding), and all ranks must hold bit-identical parameters after every step (the workers call
``assert_replicas_identical`` after each step and would fail the spawn otherwise).
"""

from __future__ import annotations

import distributed_scenarios as ds
import pytest
import torch

TOL = 1e-10
MATCHING = [name for name in ds.SCENARIOS if name != "zero_clip_raw"]


def max_deviation(history, reference) -> float:
    assert len(history) == len(reference) == ds.STEPS
    return max((mine[k] - ref[k]).abs().max().item()
               for mine, ref in zip(history, reference, strict=True) for k in ref)


@pytest.mark.parametrize("name", MATCHING)
def test_two_ranks_match_single_process(two_rank_results, name):
    reference = ds.reference_run(name)
    history = two_rank_results[name]["history"]
    assert max_deviation(history, reference) <= TOL
    start = ds.snapshot(ds.make_model())
    moved = max((reference[-1][k] - start[k]).abs().max().item() for k in start)
    assert moved > 1e-3, "the optimizer barely moved the parameters: the comparison is void"


def test_clipping_is_active_in_the_clip_scenarios():
    """Each group's gradient norm exceeds max_norm, so the norm's scope changes the update."""
    _, hyper, _ = ds.SCENARIOS["zero_clip_allreduce"]
    model = ds.make_model()
    x, y = ds.batch(0)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    for group in ds.scaled_groups(model, hyper):
        norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in group["params"]]))
        assert norm > 4 * hyper["max_norm"]


def test_zero_shards_whole_tensors_and_leaves_one_shard_empty(two_rank_results):
    # 4 tensors (30, 6, 18, 3 elements): rank 0 gets the 30-element weight, rank 1 the rest,
    # so rank 0 holds nothing of the second group
    for name, (_, _, kind) in ds.SCENARIOS.items():
        if kind != "ddp":
            assert two_rank_results[name]["local_param_counts"] == [1, 3], name


def test_raw_zero_with_group_clipping_is_detected_and_really_differs(two_rank_results):
    raw = two_rank_results["zero_clip_raw"]
    assert "clip_by_global_norm" in raw["scope_error"]
    assert "zero_optimizer" in raw["scope_error"]
    # the detection guards a real error: with shard-local norms the run leaves the reference
    deviation = max_deviation(raw["history"], ds.reference_run("zero_clip_raw"))
    assert deviation > 1e-4
    for name in ("zero_clip_allreduce", "zero_adamw", "zero_lamb", "zero_lars"):
        assert two_rank_results[name]["scope_error"] is None, name


def test_nonfinite_gradient_skips_the_step_on_every_rank(two_rank_results):
    history = two_rank_results["zero_skip_nonfinite"]["history"]
    before, during = history[ds.INF_STEP - 1], history[ds.INF_STEP]
    for key in before:
        assert torch.equal(before[key], during[key]), key
    assert not torch.equal(history[-1]["0.weight"], during["0.weight"])


def test_replica_check_names_a_one_ulp_divergence(two_rank_results):
    assert two_rank_results["divergence"] == {1: ["2.weight"]}


def test_resumed_zero_run_is_bit_identical(two_rank_results):
    whole = two_rank_results["checkpoint_first_leg"]
    resumed = two_rank_results["checkpoint_second_leg"]
    assert resumed["start"] == ds.RESUME_AT
    # the resumed run was built from other weights: the checkpoint, not the seed, restored them
    fresh = ds.snapshot(ds.make_model(seed=7))
    assert not torch.equal(fresh["0.weight"], whole["params"]["0.weight"])
    for key, value in whole["params"].items():
        assert torch.equal(value, resumed["params"][key]), key
    state, state_resumed = whole["optimizer"]["state"], resumed["optimizer"]["state"]
    assert sorted(state) == sorted(state_resumed) == [0, 1, 2, 3]
    for index, entry in state.items():
        assert sorted(entry) == ["exp_avg", "exp_avg_sq", "step"]
        for key, value in entry.items():
            assert torch.equal(value, state_resumed[index][key]), (index, key)
    assert int(state[0]["step"]) == ds.STEPS


def test_consolidated_zero_state_is_the_unsharded_state_dict(two_rank_results):
    """Gathered from 2 shards, the state dict has the single-process optimizer's layout."""
    consolidated = two_rank_results["checkpoint_first_leg"]["optimizer"]
    _, optimizer = ds.reference_optimizer("zero_adamw")
    expected = optimizer.state_dict()
    assert [g["params"] for g in consolidated["param_groups"]] == [
        g["params"] for g in expected["param_groups"]]
    for mine, ref in zip(consolidated["param_groups"], expected["param_groups"], strict=True):
        assert {k: v for k, v in mine.items() if k != "params"} == {
            k: v for k, v in ref.items() if k != "params"}
    assert sorted(consolidated["state"]) == sorted(expected["state"])
    for index, entry in expected["state"].items():
        assert sorted(consolidated["state"][index]) == sorted(entry)
        for key, value in entry.items():
            got = consolidated["state"][index][key]
            assert got.dtype == value.dtype and got.shape == value.shape, (index, key)
            torch.testing.assert_close(got, value, rtol=0, atol=TOL)
