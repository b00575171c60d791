"""Schedules for any hyperparameter: 1cycle momentum against torch's OneCycleLR, validation,
resume, and the fast path's fallback."""

from __future__ import annotations

import io

import pytest
import torch

import ravine.schedules as rs
from ravine.optim import SGD, Adam, AdamW

N = 120


def _torch_momenta(three_phase, strategy, beta=False):
    w = torch.zeros(2, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.1) if beta else torch.optim.SGD([w], lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=N,
                                                three_phase=three_phase,
                                                anneal_strategy=strategy)
    values = []
    for _ in range(N):
        group = opt.param_groups[0]
        values.append(group["betas"][0] if beta else group["momentum"])
        opt.step()
        sched.step()
    return values


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_one_cycle_momentum_is_torchs_momentum_cycle(three_phase, strategy):
    m = rs.one_cycle_momentum(total=N, three_phase=three_phase, anneal_strategy=strategy)
    for beta in (False, True):
        expected = _torch_momenta(three_phase, strategy, beta)
        assert [m(t) for t in range(N)] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert rs.parse(repr(m)) == m


def _quadratic():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(30, 8, generator=gen, dtype=torch.float64)
    b = torch.randn(30, generator=gen, dtype=torch.float64)
    return lambda w: ((a @ w - b) ** 2).mean()


def _drive(opt, w, loss, steps, sched=None):
    for _ in range(steps):
        opt.zero_grad()
        loss(w).backward()
        opt.step()
        if sched is not None:
            sched.step()


@pytest.mark.parametrize("fast_path", ["auto", "reference"])
def test_one_cycle_sgd_and_adam_follow_torch(fast_path):
    loss = _quadratic()
    cases = [
        (lambda p: SGD(p, lr=rs.one_cycle(peak=0.05, total=N),
                       momentum=rs.one_cycle_momentum(total=N), nesterov=True),
         lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True), {}),
        (lambda p: Adam(p, lr=rs.one_cycle(peak=0.05, total=N, three_phase=True),
                        betas=(rs.one_cycle_momentum(total=N, three_phase=True), 0.999)),
         lambda p: torch.optim.Adam(p, lr=0.05), dict(three_phase=True)),
    ]
    for make_ours, make_torch, kw in cases:
        w1 = torch.zeros(8, dtype=torch.float64, requires_grad=True)
        w2 = w1.detach().clone().requires_grad_()
        ours = make_ours([w1])
        ours.fast_path = fast_path
        theirs = make_torch([w2])
        sched = torch.optim.lr_scheduler.OneCycleLR(theirs, max_lr=0.05, total_steps=N, **kw)
        _drive(ours, w1, loss, N)
        _drive(theirs, w2, loss, N, sched)
        assert torch.allclose(w1, w2, rtol=1e-12, atol=1e-14)
        assert "_fast_layouts" not in ours.__dict__ or not ours._fast_layouts  # reference ran


def test_weight_decay_schedule_equals_changing_the_group_by_hand():
    loss = _quadratic()
    wd = rs.cosine(peak=0.1, total=50)
    w1 = torch.ones(8, dtype=torch.float64, requires_grad=True)
    w2 = w1.detach().clone().requires_grad_()
    ours = AdamW([w1], lr=1e-2, weight_decay=wd)
    theirs = torch.optim.AdamW([w2], lr=1e-2)
    for t in range(60):
        theirs.param_groups[0]["weight_decay"] = wd(t)
        _drive(ours, w1, loss, 1)
        _drive(theirs, w2, loss, 1)
    assert torch.allclose(w1, w2, rtol=1e-12, atol=1e-14)


def test_lr_only_schedules_keep_the_fast_path():
    w = torch.zeros(8, dtype=torch.float64, requires_grad=True)
    opt = SGD([w], lr=rs.cosine(peak=0.1, total=10), momentum=0.9)
    opt.fast_path = "kernel"
    _drive(opt, w, _quadratic(), 3)
    from ravine.optim.fast import find_compiler
    if find_compiler() is not None:
        assert opt._fast_layouts


def test_an_invalid_scheduled_value_names_the_hyperparameter_and_step():
    w = torch.zeros(2, requires_grad=True)
    opt = Adam([w], lr=0.1, betas=(lambda t: 0.9 if t == 0 else 1.5, 0.999))  # any callable
    w.grad = torch.ones(2)
    opt.step()  # beta1 = 0.9 at step 0
    w.grad = torch.ones(2)
    with pytest.raises(ValueError, match=r"betas.*step 1"):
        opt.step()
    with pytest.raises(ValueError, match="momentum"):
        SGD([w], lr=0.1, momentum=lambda t: -0.5).step()


def test_a_resumed_run_continues_its_hyperparameter_schedules_exactly():
    loss = _quadratic()

    def make(w):
        return SGD([w], lr=rs.one_cycle(peak=0.05, total=N), momentum=rs.one_cycle_momentum(
            total=N), weight_decay=rs.linear(peak=1e-3, floor=0.0, total=N))

    whole = torch.zeros(8, dtype=torch.float64, requires_grad=True)
    _drive(make(whole), whole, loss, N)
    half = torch.zeros(8, dtype=torch.float64, requires_grad=True)
    opt = make(half)
    _drive(opt, half, loss, N // 2)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    resumed = SGD([half], lr=1.0)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    _drive(resumed, half, loss, N - N // 2)
    assert torch.equal(half, whole)


def test_one_cycle_momentum_rejects_bad_arguments():
    with pytest.raises(ValueError, match="base"):
        rs.one_cycle_momentum(total=100, base=0.99, peak=0.9)
    with pytest.raises(ValueError, match="empty phase"):
        rs.one_cycle_momentum(total=10, pct_start=0.05)
    with pytest.raises(ValueError, match="anneal_strategy"):
        rs.one_cycle_momentum(total=100, anneal_strategy="exp")


@pytest.mark.parametrize("fast_path", ["auto", "reference"])
def test_schedules_follow_the_groups_oldest_parameter(fast_path):
    # b gets its first gradient at step 3 and skips step 6; a skips step 8: every step uses
    # schedule(optimizer step), as torch's LambdaLR does
    sched = rs.cosine(peak=0.1, total=12)
    tensors = [torch.ones(3, dtype=torch.float64, requires_grad=True) for _ in range(4)]
    a, b, a2, b2 = tensors
    ours = SGD([a, b], lr=sched, momentum=0.5)
    ours.fast_path = fast_path
    theirs = torch.optim.SGD([a2, b2], lr=1.0, momentum=0.5)
    lam = torch.optim.lr_scheduler.LambdaLR(theirs, sched)
    for t in range(12):
        for (p, q), has in (((a, a2), t != 8), ((b, b2), t >= 3 and t != 6)):
            for x in (p, q):
                x.grad = torch.full_like(x, 0.3 + 0.1 * t) if has else None
        ours.step()
        theirs.step()
        lam.step()
    assert torch.allclose(a, a2, rtol=1e-13) and torch.allclose(b, b2, rtol=1e-13)


@pytest.mark.parametrize("fast_path", ["auto", "reference"])
def test_a_frozen_group_and_skipped_steps_still_advance_its_schedule(fast_path):
    # group b is frozen (no gradients) until step 5, and step 7 is skipped as non-finite (as
    # GradScaler skips optimizer.step while the torch scheduler still steps)
    sched = rs.linear(peak=0.1, floor=0.0, total=12)
    a, b, a2, b2 = (torch.ones(3, dtype=torch.float64, requires_grad=True) for _ in range(4))
    ours = SGD([{"params": [a]}, {"params": [b]}], lr=sched, skip_nonfinite=True)
    ours.fast_path = fast_path
    theirs = torch.optim.SGD([{"params": [a2]}, {"params": [b2]}], lr=1.0)
    lam = torch.optim.lr_scheduler.LambdaLR(theirs, sched)
    for t in range(10):
        for p, q, frozen in ((a, a2, False), (b, b2, t < 5)):
            for x in (p, q):
                x.grad = None if frozen else torch.full_like(x, float("nan") if t == 7 else 1.0)
        ours.step()
        if t != 7:
            theirs.step()
        lam.step()
    assert ours.skipped_steps == 1
    assert torch.allclose(a, a2, rtol=1e-13) and torch.allclose(b, b2, rtol=1e-13)
    assert [g["schedule_step"] for g in ours.param_groups] == [10, 10]


def test_hyperparameters_read_when_state_is_created_cannot_be_schedules():
    w = [torch.zeros(3, requires_grad=True)]
    with pytest.raises(TypeError, match="initial_accumulator_value cannot be a schedule"):
        from ravine.optim import Adagrad
        Adagrad(w, lr=0.1, initial_accumulator_value=lambda t: 0.1)
    with pytest.raises(TypeError, match="amsgrad cannot be a schedule"):
        Adam(w, lr=0.1, amsgrad=lambda t: True)


def test_a_schedule_that_gives_no_number_names_the_hyperparameter():
    w = torch.zeros(2, requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=lambda t: None)
    w.grad = torch.ones(2)
    with pytest.raises(TypeError, match="momentum.*step 0"):
        opt.step()


def test_betas_given_as_a_list_may_hold_a_schedule():
    w1 = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    w2 = w1.detach().clone().requires_grad_()
    m = rs.one_cycle_momentum(total=20)
    o1, o2 = Adam([w1], lr=0.1, betas=[m, 0.999]), Adam([w2], lr=0.1, betas=(m, 0.999))
    for _ in range(5):
        for w, o in ((w1, o1), (w2, o2)):
            w.grad = torch.tensor([1.0, -2.0], dtype=torch.float64)
            o.step()
    assert torch.equal(w1, w2)
