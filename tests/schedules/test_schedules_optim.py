"""Schedules as the lr of ravine optimizers: step counting, checkpoints, weights_only loading."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import ravine
from ravine import schedules as rs

JOINED = rs.join([rs.warmup(rs.constant(peak=0.1), warmup=20, start=0.01),
                  rs.sgdr(peak=0.1, T_0=30, T_mult=2, floor=1e-3, gamma=0.8)], boundaries=[20])

C = torch.linspace(0.5, 2.0, 6, dtype=torch.float64)


def quad_grad(w):
    """Gradient of sum(c * w**2 / 2) + sum(w): nonzero everywhere near the start."""
    return C * w + 1.0


def test_sgd_uses_schedule_at_its_own_step_count():
    """Observed lr of plain SGD, (w_k - w_{k+1}) / g_k, equals schedule(k) for k = 0, 1, ..."""
    w = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    opt = ravine.optim.SGD([w], lr=JOINED)
    observed = []
    for _ in range(150):
        g = quad_grad(w.detach())
        w.grad = g.clone()
        before = w.detach().clone()
        opt.step()
        observed.append(((before - w.detach()) / g).mean().item())
    expected = [JOINED(k) for k in range(150)]
    np.testing.assert_allclose(observed, expected, rtol=1e-9)
    assert int(opt.state[w]["step"]) == 150


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
    ("Adam", {"betas": (0.8, 0.99), "weight_decay": 1e-3}),
    ("AdamW", {"weight_decay": 1e-2}),
])
def test_schedule_lr_equals_torch_optimizer_with_lr_scheduler(name, kwargs):
    """ravine.optim.X(lr=schedule) == torch.optim.X driven by as_lr_scheduler(schedule)."""
    torch.manual_seed(0)
    w0 = torch.randn(6, dtype=torch.float64)
    w_r = w0.clone().requires_grad_(True)
    w_t = w0.clone().requires_grad_(True)
    ours = getattr(ravine.optim, name)([w_r], lr=JOINED, **kwargs)
    theirs = getattr(torch.optim, name)([w_t], lr=1.0, **kwargs)
    sched = rs.as_lr_scheduler(theirs, JOINED)
    for _ in range(120):
        w_r.grad = quad_grad(w_r.detach())
        w_t.grad = quad_grad(w_t.detach())
        ours.step()
        theirs.step()
        sched.step()
    torch.testing.assert_close(w_r, w_t, rtol=1e-12, atol=1e-14)


def make_run(lr, seed=3):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(),
                                torch.nn.Linear(8, 1)).double()
    opt = ravine.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    return model, opt


def train(model, opt, x, y, steps):
    params = []
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        params.append(torch.cat([p.detach().flatten() for p in model.parameters()]).clone())
    return params


def test_resume_from_checkpoint_continues_identically():
    """Save at step k, load into a fresh model and optimizer (built with a plain float lr) via
    torch.save/torch.load(weights_only=True): the rest of the run is bitwise identical."""
    x = torch.randn(32, 5, dtype=torch.float64)
    y = torch.randn(32, 1, dtype=torch.float64)
    k, total = 47, 140  # k is inside the second cycle of the restarts (which start at 20, 50, 110)
    model, opt = make_run(JOINED)
    reference = train(model, opt, x, y, total)

    model, opt = make_run(JOINED)
    first = train(model, opt, x, y, k)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
    del model, opt
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    model2, opt2 = make_run(0.5, seed=99)  # different init and lr: everything must come from ckpt
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["opt"])
    assert opt2.param_groups[0]["lr"] == JOINED
    assert all(int(s["step"]) == k for s in opt2.state.values())
    rest = train(model2, opt2, x, y, total - k)
    for a, b in zip(reference, first + rest, strict=True):
        assert torch.equal(a, b)
    # and the schedule mattered: a run with a constant lr ends elsewhere
    model3, opt3 = make_run(0.1)
    assert not torch.allclose(train(model3, opt3, x, y, total)[-1], reference[-1])


def test_lr_scheduler_state_dict_round_trips_with_weights_only():
    w = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([w], lr=1.0)
    sched = rs.as_lr_scheduler(opt, JOINED)
    for _ in range(33):
        opt.step()
        sched.step()
    buf = io.BytesIO()
    torch.save(sched.state_dict(), buf)
    buf.seek(0)
    opt2 = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=1.0)
    sched2 = rs.as_lr_scheduler(opt2, rs.constant(peak=0.5))
    sched2.load_state_dict(torch.load(buf, weights_only=True))
    assert sched2.schedules == [JOINED] and sched2.last_epoch == 33
    sched2.step()
    assert opt2.param_groups[0]["lr"] == JOINED(34)


def test_as_lr_scheduler_rejects_bad_input():
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="already has a schedule"):
        rs.as_lr_scheduler(ravine.optim.SGD([w], lr=JOINED), JOINED)
    with pytest.raises(ValueError, match="one per"):
        rs.as_lr_scheduler(torch.optim.SGD([w], lr=0.1), [JOINED, JOINED])
    with pytest.raises(TypeError, match="optimizer"):
        rs.as_lr_scheduler("sgd", JOINED)


def test_linear_scaling():
    lr, sched = rs.linear_scaling(0.1, batch_size=8192, base_batch_size=256, warmup=500)
    assert lr == pytest.approx(3.2)
    assert sched(0) == 0.1 and sched(500) == lr and sched(10_000) == lr
    assert sched(250) == pytest.approx((0.1 + 3.2) / 2)
    lr, sched = rs.linear_scaling(0.1, batch_size=64)  # smaller than the base: no warmup up
    assert lr == pytest.approx(0.025) and sched(0) == lr
    with pytest.raises(ValueError, match="batch_size"):
        rs.linear_scaling(0.1, batch_size=0)
    with pytest.raises(ValueError, match="base_lr"):
        rs.linear_scaling(-0.1, batch_size=256)
    with pytest.raises(ValueError, match="start"):
        rs.linear_scaling(0.1, batch_size=512, warmup=10, start=1.0)
