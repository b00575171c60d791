"""The helpers in one process: sharded classes, clipping, checkpoints, launch and CLI checks."""

from __future__ import annotations

import distributed_scenarios as ds
import pytest
import torch

import ravine.optim as ro
from ravine.distributed import (
    assert_replicas_identical,
    check_sharded_scope,
    clip_by_global_norm_across_ranks,
    free_port,
    gather_optimizer_state,
    init_from_env,
    load_checkpoint,
    process_group,
    replica_mismatches,
    save_checkpoint,
    sharded,
    zero_optimizer,
)
from ravine.distributed.train import main, parse_args, train
from ravine.transforms import clip_by_global_norm


def test_across_ranks_clip_equals_clip_without_a_process_group():
    torch.manual_seed(0)
    updates = [torch.randn(4, 3, dtype=torch.float64), torch.randn(5, dtype=torch.float64)]
    for max_norm in (0.5, 100.0):  # clipping active, then inactive
        group = {"max_norm": max_norm}
        expected = clip_by_global_norm().update([u.clone() for u in updates], [], [], group)
        got = clip_by_global_norm_across_ranks().update([u.clone() for u in updates], [], [],
                                                        group)
        for e, g in zip(expected, got, strict=True):
            torch.testing.assert_close(g, e, rtol=1e-15, atol=0)
        params = [torch.nn.Parameter(torch.zeros_like(u)) for u in updates]
        for p, u in zip(params, updates, strict=True):
            p.grad = u.clone()
        torch.nn.utils.clip_grad_norm_(params, max_norm)  # the anchor
        for p, g in zip(params, got, strict=True):
            torch.testing.assert_close(g, p.grad, rtol=1e-15, atol=0)
    assert torch.linalg.vector_norm(torch.cat([u.flatten() for u in got])) > 1.0


def test_sharded_rewrites_only_group_global_links():
    w = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    clip_cls = sharded(ds.ClipMomentum)
    links = [type(t) for t in clip_cls([w]).transform.transforms]
    assert clip_by_global_norm_across_ranks in links and clip_by_global_norm not in links
    assert clip_cls([w])._fast_algorithm is None  # the fused kernel would clip shard-locally
    assert sharded(ds.ClipMomentum) is clip_cls
    plain, adamw = ro.AdamW([w]), sharded(ro.AdamW)([w])
    assert adamw.transform is not None and type(adamw._fast_algorithm) is type(
        plain._fast_algorithm)  # elementwise chains keep their kernel
    assert sharded(torch.optim.SGD) is torch.optim.SGD


def test_sharded_optimizer_alone_matches_the_plain_one():
    for name in ("zero_clip_allreduce", "zero_adamw"):
        cls, hyper, _ = ds.SCENARIOS[name]
        models = [ds.make_model(), ds.make_model()]
        opts = [cls(ds.scaled_groups(models[0], hyper), **hyper),
                sharded(cls)(ds.scaled_groups(models[1], hyper), **hyper)]
        for step in range(3):
            for model, opt in zip(models, opts, strict=True):
                ds.train_step(model, opt, *ds.batch(step), step)
        for key, value in ds.snapshot(models[0]).items():
            torch.testing.assert_close(ds.snapshot(models[1])[key], value, rtol=0, atol=1e-12)


def test_unshardable_classes_are_refused():
    with pytest.raises(TypeError, match="wraps an optimizer"):
        sharded(ro.Lookahead)
    with pytest.raises(TypeError, match="optimizer_class"):
        sharded(ro.AdamW([torch.nn.Parameter(torch.ones(1))]))
    for cls in (ro.LBFGS, torch.optim.LBFGS):
        with pytest.raises(ValueError, match="not shardable"):
            sharded(cls)
    with pytest.raises(TypeError, match="ZeroRedundancyOptimizer"):
        check_sharded_scope(ro.SGD([torch.nn.Parameter(torch.ones(1))]))
    with pytest.raises(TypeError, match="define a class"):
        zero_optimizer([torch.nn.Parameter(torch.ones(1))], ro.ChainOptimizer,
                       transform=clip_by_global_norm())


def test_one_rank_group_zero_checkpoint_round_trip(tmp_path):
    """ZeRO over a 1-rank group: a consolidated checkpoint loads into a plain optimizer."""
    _, hyper, _ = ds.SCENARIOS["zero_clip_allreduce"]
    with process_group(0, 1, free_port()):
        model = ds.make_model()
        zero = zero_optimizer(ds.scaled_groups(model, hyper), ds.ClipMomentum, **hyper)
        check_sharded_scope(zero)  # world size 1: nothing to detect
        for step in range(2):
            ds.train_step(model, zero, *ds.batch(step), step)
        assert_replicas_identical(model)
        save_checkpoint(tmp_path / "ckpt.pt", model, zero, extra={"step": 2})
        state = gather_optimizer_state(zero)
    assert sorted(state["state"]) == [0, 1, 2, 3]
    fresh = ds.make_model(seed=7)
    plain = ds.ClipMomentum(ds.scaled_groups(fresh, hyper), **hyper)
    assert load_checkpoint(tmp_path / "ckpt.pt", fresh, plain) == {"step": 2}
    reference = ds.reference_run("zero_clip_allreduce", steps=range(3))
    ds.train_step(fresh, plain, *ds.batch(2), 2)
    for key, value in reference[-1].items():
        torch.testing.assert_close(ds.snapshot(fresh)[key], value, rtol=0, atol=1e-12)


def test_checkpoint_errors(tmp_path):
    model = ds.make_model()
    opt = ro.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="extra"):
        save_checkpoint(tmp_path / "a.pt", model, opt, extra=[1])
    with pytest.raises(ValueError, match="to"):
        gather_optimizer_state(opt, to=1)
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a ravine.distributed checkpoint"):
        load_checkpoint(tmp_path / "other.pt", model, opt)


def test_replica_check_without_a_group_and_bad_input():
    assert replica_mismatches(ds.make_model()) == {}
    with pytest.raises(TypeError, match="Module or an iterable"):
        replica_mismatches(torch.ones(2))
    with pytest.raises(TypeError, match="tensors or"):
        replica_mismatches([1.0])


@pytest.mark.parametrize("kwargs, name", [
    ({"rank": 2, "world_size": 2, "port": 1234}, "rank"),
    ({"rank": 0, "world_size": 0, "port": 1234}, "world_size"),
    ({"rank": 0, "world_size": 1, "port": 70000}, "port"),
    ({"rank": 0, "world_size": 1, "port": 1234, "backend": "tcp"}, "backend"),
    ({"rank": 0, "world_size": 1, "port": 1234, "timeout_s": 0}, "timeout_s"),
])
def test_process_group_arguments_are_checked(kwargs, name):
    with pytest.raises(ValueError, match=name):
        with process_group(**kwargs):
            pass


def test_init_from_env_without_torchrun(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    assert init_from_env() is False


@pytest.mark.parametrize("argv", [["--epochs", "0"], ["--lr", "-1"], ["--resume"],
                                  ["--optimizer", "nope"]])
def test_cli_rejects_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert "error" in capsys.readouterr().err


def test_zero_needs_a_process_group(capsys):
    with pytest.raises(ValueError, match="torchrun"):
        train(parse_args(["--zero", "--epochs", "1"]))
    assert main(["--zero", "--epochs", "1"]) == 2
    assert "torchrun" in capsys.readouterr().err
