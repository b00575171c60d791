"""The fast path keeps the torch.optim contract: state_dict, schedulers, closures, odd groups."""

from __future__ import annotations

import copy
import os
import time

import pytest
import torch

import ravine.optim as ro
from ravine.optim.fast import compiler


def _model(dtype=torch.float64):
    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(),
                               torch.nn.Linear(7, 1)).to(dtype)


def _loss(model):
    x = torch.linspace(-1, 1, 40, dtype=next(model.parameters()).dtype).reshape(8, 5)
    return (model(x) ** 2).mean()


def _train(model, opt, steps, scheduler=None):
    for _ in range(steps):
        opt.zero_grad()
        _loss(model).backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()


def test_state_dict_layout_matches_torch_and_loads_both_ways(kernel_calls):
    ours, theirs = _model(), _model()
    opt = ro.AdamW(ours.parameters(), lr=0.01, amsgrad=True)
    anchor = torch.optim.AdamW(theirs.parameters(), lr=0.01, amsgrad=True)
    _train(ours, opt, 3)
    _train(theirs, anchor, 3)
    assert kernel_calls
    mine, ref = opt.state_dict(), anchor.state_dict()
    assert mine["state"].keys() == ref["state"].keys()
    for k in ref["state"]:
        assert mine["state"][k].keys() == ref["state"][k].keys()
        for key, value in ref["state"][k].items():
            assert mine["state"][k][key].dtype == value.dtype, key
            torch.testing.assert_close(mine["state"][k][key], value, rtol=1e-12, atol=1e-14)
    # continue from torch's state in ravine's fast path, and compare with torch continuing
    follower = _model()
    follower.load_state_dict(theirs.state_dict())
    opt2 = ro.AdamW(follower.parameters(), lr=0.01, amsgrad=True)
    opt2.load_state_dict(copy.deepcopy(anchor.state_dict()))  # torch shares tensors
    _train(follower, opt2, 2)
    _train(theirs, anchor, 2)
    for a, b in zip(follower.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_lr_scheduler_and_closure_on_fast_path(kernel_calls):
    runs = []
    for path in ("kernel", "reference"):
        model = _model()
        opt = ro.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
        opt.fast_path = path
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        for _ in range(5):
            def closure(opt=opt, model=model):
                opt.zero_grad()
                loss = _loss(model)
                loss.backward()
                return loss
            loss = opt.step(closure)
            assert torch.is_tensor(loss)
            sched.step()
        runs.append([p.detach().clone() for p in model.parameters()])
    assert kernel_calls
    for a, b in zip(*runs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_groups_that_do_not_qualify_run_the_reference(kernel_calls):
    w = torch.randn(6, 4, dtype=torch.float64).t().requires_grad_()  # not contiguous
    b = torch.randn(6, dtype=torch.float64, requires_grad=True)
    unused = torch.randn(3, dtype=torch.float64, requires_grad=True)
    opt = ro.Adam([{"params": [w]}, {"params": [b, unused], "lr": 0.5}], lr=0.1)
    ref_w, ref_b = w.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    anchor = torch.optim.Adam([{"params": [ref_w]}, {"params": [ref_b], "lr": 0.5}], lr=0.1)
    for _ in range(3):
        for p, q in ((w, ref_w), (b, ref_b)):
            p.grad = torch.ones_like(p) * p.detach().sum()
            q.grad = torch.ones_like(q) * q.detach().sum()
        opt.step()
        anchor.step()
    assert kernel_calls == [1, 1, 1]  # only the contiguous group ran fused; `unused` skipped
    assert unused not in opt.state
    torch.testing.assert_close(w, ref_w, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(b, ref_b, rtol=1e-12, atol=1e-14)


def test_sparse_gradient_error_is_kept():
    p = torch.zeros(4, requires_grad=True)
    opt = ro.SGD([p], lr=0.1)
    p.grad = torch.zeros(4).to_sparse()
    with pytest.raises(RuntimeError, match="sparse"):
        opt.step()


def test_two_threads_on_tensors_larger_than_the_grain(kernel_calls):
    torch.set_num_threads(2)
    runs = []
    for path in ("kernel", "reference"):
        torch.manual_seed(4)
        params = [torch.randn(300_001, requires_grad=True), torch.randn(17, requires_grad=True)]
        opt = ro.Adam(params, lr=0.01, weight_decay=0.1)
        opt.fast_path = path
        for _ in range(3):
            for p in params:
                p.grad = torch.randn_like(p)
            opt.step()
        runs.append(params)
    assert kernel_calls
    for a, b in zip(*runs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def _clip_sgd(params, **kw):
    from ravine.transforms import chain, clip_by_global_norm, scale_by_lr
    return ro.ChainOptimizer(params, chain(clip_by_global_norm(), scale_by_lr()), **kw)


@pytest.mark.parametrize("make", [
    lambda ps: ro.LAMB(ps, lr=0.01, weight_decay=0.1),
    lambda ps: ro.LARS(ps, lr=0.5, weight_decay=0.01, trust_coefficient=0.02),
    lambda ps: _clip_sgd(ps, lr=0.1, max_norm=5.0),
], ids=["lamb", "lars", "clip_global_norm"])
def test_norms_split_across_threads_match_reference(make, kernel_calls):
    """A tensor shared by two threads still gets its own norm (per-tensor semantics)."""
    torch.set_num_threads(2)
    runs = []
    for path in ("kernel", "reference"):
        gen = torch.Generator().manual_seed(6)
        params = [torch.randn(s, dtype=torch.float64, generator=gen).requires_grad_()
                  for s in [(150_001,), (3,), (90_000,)]]
        opt = make(params)
        opt.fast_path = path
        for i in range(3):
            for j, p in enumerate(params):
                p.grad = torch.randn(p.shape, dtype=torch.float64, generator=gen) * (j + i + 1)
            opt.step()
        runs.append(params)
    assert kernel_calls
    for a, b in zip(*runs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_fast_path_argument_is_validated(monkeypatch):
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="fast_path"):
        ro.ChainOptimizer([p], ro.SGD([p]).transform, fast_path="fastest")
    monkeypatch.setenv("RAVINE_FAST_PATH", "turbo")
    with pytest.raises(ValueError, match="RAVINE_FAST_PATH"):
        ro.SGD([p])


def test_deepcopy_keeps_the_chain_and_fast_path():
    model = _model()
    opt = ro.AdamW(model.parameters(), lr=0.01)
    opt.fast_path = "reference"
    _train(model, opt, 1)
    clone = copy.deepcopy(opt)
    assert clone.fast_path == "reference" and repr(clone.transform) == repr(opt.transform)
    assert clone.state_dict()["state"][0]["step"].item() == 1.0


def test_kernels_are_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("RAVINE_CACHE_DIR", str(tmp_path))
    source = "int ravine_answer(void) { return 42; }\n"
    lib = compiler.load_library(source, "answer")
    assert lib is not None and lib.ravine_answer() == 42
    built = list((tmp_path / "kernels").glob("answer-*.so"))
    assert len(built) == 1
    bad = compiler.load_library("this is not C", "broken")
    assert bad is None and "failed" in compiler.last_error


def test_kernels_unused_for_a_month_are_pruned(tmp_path, monkeypatch):
    monkeypatch.setenv("RAVINE_CACHE_DIR", str(tmp_path))
    directory = tmp_path / "kernels"
    directory.mkdir()
    old, recent = directory / "old-0.so", directory / "recent-0.so"
    old.write_bytes(b"")
    recent.write_bytes(b"")
    month = 31 * 86400
    os.utime(old, (time.time() - month, time.time() - month))
    assert compiler.load_library("int ravine_pruned(void) { return 7; }\n", "pruned") is not None
    assert not old.exists() and recent.exists()  # a new build pruned the stale one
    built = next(directory.glob("pruned-*.so"))
    os.utime(built, (time.time() - month, time.time() - month))
    compiler._loaded.clear()
    assert compiler.load_library("int ravine_pruned(void) { return 7; }\n", "pruned") is not None
    assert built.stat().st_mtime > time.time() - 60  # loading from the cache marks it used


def _edit_script(params, opt, dtype):
    """Steps with the changes a cached layout must notice, applied the same way on both paths."""
    gen = torch.Generator().manual_seed(9)

    def step():
        for p in params:
            p.grad = torch.randn(p.shape, dtype=dtype, generator=gen)
        opt.step()

    step()
    step()
    opt.state[params[0]]["exp_avg"] = torch.full_like(params[0], 0.5)  # replaced state tensor
    step()
    saved = copy.deepcopy(opt.state_dict())
    step()
    opt.load_state_dict(saved)  # back one step: new state tensors
    step()
    opt.param_groups[0]["amsgrad"] = True  # a flag change: another kernel, lazily made buffer
    step()
    params[1].grad = None  # a parameter without gradient this step
    opt.param_groups[0]["lr"] = 0.05
    for p in params[:1]:
        p.grad = torch.randn(p.shape, dtype=dtype, generator=gen)
    opt.step()
    step()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_cached_layout_follows_state_and_group_changes(dtype, kernel_calls):
    runs = []
    for path in ("kernel", "reference"):
        gen = torch.Generator().manual_seed(8)
        params = [torch.randn(s, dtype=dtype, generator=gen).requires_grad_()
                  for s in [(5, 3), (4,), (70,)]]
        opt = ro.Adam(params, lr=0.1, weight_decay=0.1)
        opt.fast_path = path
        _edit_script(params, opt, dtype)
        runs.append((params, opt))
    assert len(kernel_calls) >= 8
    tol = 1e-12 if dtype is torch.float64 else 1e-6
    (pa, oa), (pb, ob) = runs
    for a, b in zip(pa, pb, strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)
        for key, value in ob.state[b].items():
            torch.testing.assert_close(oa.state[a][key], value, rtol=tol, atol=tol)


@pytest.mark.parametrize("cls", [ro.SGD, ro.AdamW], ids=["sgd", "adamw"])
def test_parameter_appended_to_the_group_list_in_place_is_stepped(cls, kernel_calls):
    runs = []
    for path in ("kernel", "reference"):
        gen = torch.Generator().manual_seed(9)
        params = [torch.randn(s, dtype=torch.float64, generator=gen).requires_grad_()
                  for s in [(6, 2), (3,), (40,)]]
        opt = cls(params[:2], lr=0.1, momentum=0.9) if cls is ro.SGD else cls(params[:2], lr=0.1)
        opt.fast_path = path
        appended = params[2].detach().clone()
        for step in range(4):
            if step == 2:  # the group's own list grows: the cached layout must not hide it
                opt.param_groups[0]["params"].append(params[2])
            for p in opt.param_groups[0]["params"]:
                p.grad = torch.randn(p.shape, dtype=torch.float64, generator=gen)
            opt.step()
        assert not torch.equal(params[2], appended), path
        runs.append(params)
    assert kernel_calls
    for a, b in zip(*runs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
