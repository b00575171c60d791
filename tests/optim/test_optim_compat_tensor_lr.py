"""A 1-element tensor ``lr`` works as in torch.optim: same iterates at float64, on the fused
kernel and the reference path, through ``state_dict`` round trips and torch's LR schedulers."""

from __future__ import annotations

import io

import pytest
import torch
from optim_registry import TORCH_ROWS

from ravine.optim.fast import algorithm_for, compiler

SHAPES = [(1,), (7,), (4, 5)]
STEPS = 4


def _params():
    gen = torch.Generator().manual_seed(3)
    return [torch.randn(s, dtype=torch.float64, generator=gen, requires_grad=True)
            for s in SHAPES]


def _grads(step):
    gen = torch.Generator().manual_seed(100 + step)
    return [torch.randn(s, dtype=torch.float64, generator=gen) for s in SHAPES]


def _run(opt, params, steps, start=0):
    for step in range(start, start + steps):
        for p, g in zip(params, _grads(step), strict=True):
            p.grad = g
        opt.step()


def _tensor_lr(row):
    lr = row.make([torch.zeros(1, 1, requires_grad=True)]).defaults["lr"]  # Muon: 2-D only
    return torch.tensor([lr], dtype=torch.float64)  # 1-element, not 0-dim


def _saved(opt):
    """``opt.state_dict()`` through ``torch.save``/``torch.load`` (a copy, as on disk)."""
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _torch_run(row, steps):
    params = _params()
    opt = row.torch_make(params, lr=_tensor_lr(row))
    _run(opt, params, steps)
    return params


def _assert_close(ours, theirs, what):
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-12, atol=1e-14,
                                   msg=lambda m, i=i: f"{what}, param {i}: {m}")


@pytest.mark.parametrize("fast_path", ["kernel", "reference"])
@pytest.mark.parametrize("row", TORCH_ROWS, ids=[r.id for r in TORCH_ROWS])
def test_tensor_lr_matches_torch(row, fast_path, kernel_calls):
    params = _params()
    lr = _tensor_lr(row)
    opt = row.make(params, lr=lr)
    opt.fast_path = fast_path
    _run(opt, params, STEPS)
    _assert_close(params, _torch_run(row, STEPS), f"{row.id} ({fast_path})")
    assert opt.param_groups[0]["lr"] is lr  # kept as given, as torch keeps it
    if fast_path == "reference":
        assert not kernel_calls
    elif algorithm_for(opt.transform) is not None and compiler.find_compiler() is not None:
        assert kernel_calls, "the fast path did not run with a tensor lr"


@pytest.mark.parametrize("fast_path", ["kernel", "reference"])
@pytest.mark.parametrize("row", TORCH_ROWS, ids=[r.id for r in TORCH_ROWS])
def test_tensor_lr_state_dict_round_trip(row, fast_path):
    """Save after 2 steps, load into a fresh optimizer built with another lr, go on 2 steps."""
    params = _params()
    opt = row.make(params, lr=_tensor_lr(row))
    opt.fast_path = fast_path
    _run(opt, params, 2)
    saved = _saved(opt)

    resumed = [p.detach().clone().requires_grad_() for p in params]
    other = row.make(resumed, lr=0.5)
    other.fast_path = fast_path
    other.load_state_dict(saved)
    lr = other.param_groups[0]["lr"]
    assert isinstance(lr, torch.Tensor) and torch.equal(lr, _tensor_lr(row))
    _run(other, resumed, STEPS - 2, start=2)
    _assert_close(resumed, _torch_run(row, STEPS), f"{row.id} resumed ({fast_path})")


@pytest.mark.parametrize("row", TORCH_ROWS, ids=[r.id for r in TORCH_ROWS])
def test_torch_state_dict_with_tensor_lr_loads_into_ravine(row):
    anchor = _params()
    theirs = row.torch_make(anchor, lr=_tensor_lr(row))
    _run(theirs, anchor, 2)
    resumed = [p.detach().clone().requires_grad_() for p in anchor]
    ours = row.make(resumed, lr=0.5)
    ours.load_state_dict(_saved(theirs))
    _run(ours, resumed, STEPS - 2, start=2)
    _run(theirs, anchor, STEPS - 2, start=2)
    _assert_close(resumed, anchor, f"{row.id} from torch's state dict")


ADAM = next(r for r in TORCH_ROWS if r.id == "adam")
SGD = next(r for r in TORCH_ROWS if r.id == "sgd_momentum")


@pytest.mark.parametrize("row", [ADAM, SGD], ids=["adam", "sgd_momentum"])
@pytest.mark.parametrize("fast_path", ["kernel", "reference"])
def test_tensor_lr_under_a_torch_scheduler(row, fast_path):
    """torch's schedulers update a tensor lr in place; ravine reads it at every step."""
    runs = []
    for make in (row.make, row.torch_make):
        params = _params()
        opt = make(params, lr=torch.tensor(0.05, dtype=torch.float64))
        if make is row.make:
            opt.fast_path = fast_path
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
        for step in range(6):
            _run(opt, params, 1, start=step)
            sched.step()
        runs.append((params, opt.param_groups[0]["lr"]))
    (ours, our_lr), (theirs, their_lr) = runs
    _assert_close(ours, theirs, f"{row.id} with StepLR ({fast_path})")
    assert isinstance(our_lr, torch.Tensor) and torch.equal(our_lr, their_lr)
    assert abs(float(our_lr) - 0.05e-3) < 1e-15  # the schedule did change it


def test_tensor_lr_and_float_lr_give_the_same_iterates():
    runs = []
    for lr in (0.01, torch.tensor(0.01, dtype=torch.float64)):
        params = _params()
        _run(ADAM.make(params, lr=lr), params, STEPS)
        runs.append(params)
    _assert_close(runs[0], runs[1], "tensor vs float lr")
