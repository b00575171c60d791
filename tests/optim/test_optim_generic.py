"""Generic contract checks run on every row of the optimizer registry."""

from __future__ import annotations

import io

import pytest
import torch
from optim_problems import flat, ill_conditioned_quadratic, make_mlp, run, two_groups
from optim_registry import ROWS, shaped

from ravine.optim import ChainOptimizer, OptimizerWrapper

ids = [r.id for r in ROWS]


def _chain_optimizer(opt):
    return opt.optimizer if isinstance(opt, OptimizerWrapper) else opt


@pytest.mark.parametrize("row", ROWS, ids=ids)
def test_decreases_loss_on_ill_conditioned_quadratic(row):
    x, f = ill_conditioned_quadratic(shape=shaped(row, torch.zeros(10)).shape)
    opt = row.make([x])
    losses = run(opt, [x], f, 150)
    assert losses[-1] < 0.5 * losses[0], losses[::15]


@pytest.mark.parametrize("row", ROWS, ids=ids)
def test_state_dict_resume_is_bit_exact(row):
    model, loss_fn = make_mlp()
    opt = row.make(two_groups(model, row.group2))
    run(opt, None, loss_fn, 7)
    snapshot = [p.detach().clone() for p in model.parameters()]
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    run(opt, None, loss_fn, 8)
    uninterrupted = flat(model.parameters())

    resumed_model, resumed_loss = make_mlp()
    with torch.no_grad():
        for p, saved in zip(resumed_model.parameters(), snapshot, strict=True):
            p.copy_(saved)
    torch.manual_seed(1234)  # a different global RNG state must not matter
    resumed = row.make(two_groups(resumed_model, row.group2))
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer, weights_only=False))
    run(resumed, None, resumed_loss, 8)
    assert torch.equal(flat(resumed_model.parameters()), uninterrupted)


@pytest.mark.parametrize("row", [r for r in ROWS if r.independent_groups],
                         ids=[r.id for r in ROWS if r.independent_groups])
def test_param_groups_use_their_own_hyperparameters(row):
    """Two groups in one optimizer == two optimizers, one per group's hyperparameters."""
    assert row.group2, "a row must give the second group different hyperparameters"
    torch.manual_seed(5)
    model, loss_fn = make_mlp()
    joint = row.make(two_groups(model, row.group2))
    run(joint, None, loss_fn, 10)

    torch.manual_seed(5)
    model_b, loss_b = make_mlp()
    first = row.make(list(model_b[0].parameters()))
    second = row.make(list(model_b[2].parameters()), **row.group2)

    for _ in range(10):
        first.zero_grad()
        second.zero_grad()
        loss_b().backward()
        first.step()
        second.step()
    assert torch.equal(flat(model.parameters()), flat(model_b.parameters()))
    # and the second group's hyperparameters do change the result
    model_c, loss_c = make_mlp()
    same = row.make(list(model_c.parameters()))
    run(same, None, loss_c, 10)
    assert not torch.equal(flat(model_c.parameters()), flat(model.parameters()))


@pytest.mark.parametrize("row", ROWS, ids=ids)
def test_params_without_gradients_are_skipped(row):
    model, loss_fn = make_mlp()
    unused = torch.nn.Parameter(shaped(row, torch.randn(3, dtype=torch.float64)))
    before = unused.detach().clone()
    opt = row.make([{"params": list(model.parameters())}, {"params": [unused]}])
    run(opt, None, loss_fn, 5)
    assert unused.grad is None
    assert torch.equal(unused.detach(), before)
    assert not _chain_optimizer(opt).state.get(unused)


@pytest.mark.parametrize("row", ROWS, ids=ids)
def test_follows_step_lr_scheduler(row):
    """StepLR writes group["lr"]; the run equals one where lr is set by hand each step."""
    trajectories = []
    for use_scheduler in (True, False):
        torch.manual_seed(3)
        model, loss_fn = make_mlp()
        opt = row.make(two_groups(model, row.group2))
        base = [g["lr"] for g in opt.param_groups]
        scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
        for step in range(10):
            if not use_scheduler:
                for g, lr in zip(opt.param_groups, base, strict=True):
                    g["lr"] = lr * 0.5 ** (step // 4)
            run(opt, None, loss_fn, 1)
            if use_scheduler:
                scheduler.step()
        if use_scheduler:
            assert opt.param_groups[0]["lr"] == pytest.approx(base[0] * 0.25)
            assert _chain_optimizer(opt).param_groups[0]["lr"] == opt.param_groups[0]["lr"]
        trajectories.append(flat(model.parameters()))
    assert torch.equal(*trajectories)


@pytest.mark.parametrize("row", ROWS, ids=ids)
def test_invalid_hyperparameters_raise_value_error_naming_them(row):
    assert row.invalid
    w = torch.nn.Parameter(torch.zeros(2))
    for overrides, name in row.invalid:
        with pytest.raises(ValueError, match=name):
            row.make([w], **overrides)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("row", ROWS, ids=ids)
def test_dtype_is_preserved(row, dtype):
    model, loss_fn = make_mlp(dtype=dtype)
    opt = row.make(two_groups(model, row.group2))
    run(opt, None, loss_fn, 3)
    for p in model.parameters():
        assert p.dtype == dtype
        for key, value in _chain_optimizer(opt).state[p].items():
            # torch's scalar state is of the default dtype (ASGD's eta and mu too)
            if torch.is_tensor(value) and key not in ("step", "mu_product", "eta", "mu"):
                assert value.dtype == dtype, key


@pytest.mark.parametrize("row", [r for r in ROWS if not r.wrapper],
                         ids=[r.id for r in ROWS if not r.wrapper])
def test_skip_nonfinite_leaves_params_and_state_untouched(row):
    model, loss_fn = make_mlp()
    opt = row.make(two_groups(model, row.group2), skip_nonfinite=True)
    assert isinstance(opt, ChainOptimizer)
    run(opt, None, loss_fn, 3)
    params_before = flat(model.parameters())
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    opt.zero_grad()
    loss_fn().backward()
    next(iter(model.parameters())).grad[0, 0] = float("nan")
    opt.step()
    assert opt.skipped_steps == 1
    assert torch.equal(flat(model.parameters()), params_before)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=False)["state"]
    now = opt.state_dict()["state"]
    assert saved.keys() == now.keys()
    for index, state in saved.items():
        for key, value in state.items():
            assert torch.equal(torch.as_tensor(now[index][key]), torch.as_tensor(value)), key
    # a finite step afterwards still moves the parameters
    run(opt, None, loss_fn, 1)
    assert not torch.equal(flat(model.parameters()), params_before)
