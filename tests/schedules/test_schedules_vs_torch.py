"""Every schedule against its torch.optim.lr_scheduler counterpart, over 10,000 steps.

``torch_lrs`` drives a real scheduler with ``optimizer.step(); scheduler.step()`` and records
``param_groups[0]["lr"]`` before each optimizer step: that is the *chainable* (recursive) form a
user gets. With ``closed_form=True`` it records torch's ``_get_closed_form_lr()`` at the same
``last_epoch`` instead. Each case says which form it compares with; relative tolerance 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tl

from ravine import schedules as rs

N = 10_000
PEAK = 0.1


def torch_lrs(make, n=N, base_lr=PEAK, closed_form=False):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make(opt)
    out = []
    for t in range(n):
        if closed_form:
            assert sched.last_epoch == t
            out.append(sched._get_closed_form_lr()[0])
        else:
            out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out, dtype=np.float64)


def ravine_lrs(schedule, n=N):
    return np.array([schedule(t) for t in range(n)], dtype=np.float64)


def assert_same(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0.0)


# (id, ravine schedule, torch scheduler factory, closed_form?)
CASES = [
    ("StepLR", rs.step(peak=PEAK, step_size=700, gamma=0.7),
     lambda o: tl.StepLR(o, step_size=700, gamma=0.7), False),
    ("MultiStepLR", rs.multistep(peak=PEAK, milestones=[3000, 6000, 9000], gamma=0.1),
     lambda o: tl.MultiStepLR(o, milestones=[3000, 6000, 9000], gamma=0.1), False),
    # recursive multiplication drifts by ~N ulps; the closed form is the reference
    ("ExponentialLR", rs.exponential(peak=PEAK, gamma=0.9995),
     lambda o: tl.ExponentialLR(o, gamma=0.9995), True),
    # torch's chainable cosine is a ratio recursion that loses accuracy near the floor:
    # compare with its closed form (which, unlike ravine's, rises again after T_max)
    ("CosineAnnealingLR", rs.cosine(peak=PEAK, total=N - 1, floor=1e-4),
     lambda o: tl.CosineAnnealingLR(o, T_max=N - 1, eta_min=1e-4), True),
    ("CosineAnnealingLR-floor0", rs.cosine(peak=PEAK, total=N - 1),
     lambda o: tl.CosineAnnealingLR(o, T_max=N - 1), True),
    ("CosineAnnealingWarmRestarts", rs.sgdr(peak=PEAK, T_0=500, T_mult=1, floor=1e-4),
     lambda o: tl.CosineAnnealingWarmRestarts(o, T_0=500, T_mult=1, eta_min=1e-4), False),
    ("CosineAnnealingWarmRestarts-Tmult2", rs.sgdr(peak=PEAK, T_0=300, T_mult=2),
     lambda o: tl.CosineAnnealingWarmRestarts(o, T_0=300, T_mult=2), False),
    ("LinearLR", rs.linear(peak=PEAK, total=8000, floor=PEAK * 0.01),
     lambda o: tl.LinearLR(o, start_factor=1.0, end_factor=0.01, total_iters=8000), True),
    ("LinearLR-floor0", rs.linear(peak=PEAK, total=8000),
     lambda o: tl.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=8000), True),
    ("PolynomialLR", rs.polynomial(peak=PEAK, total=8000, power=2.0),
     lambda o: tl.PolynomialLR(o, total_iters=8000, power=2.0), True),
    ("OneCycleLR-cos", rs.one_cycle(peak=PEAK, total=N),
     lambda o: tl.OneCycleLR(o, max_lr=PEAK, total_steps=N, cycle_momentum=False), False),
    ("OneCycleLR-linear-3phase",
     rs.one_cycle(peak=PEAK, total=N, pct_start=0.25, anneal_strategy="linear",
                  div_factor=10.0, final_div_factor=100.0, three_phase=True),
     lambda o: tl.OneCycleLR(o, max_lr=PEAK, total_steps=N, pct_start=0.25,
                             anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0,
                             three_phase=True, cycle_momentum=False), False),
    ("CyclicLR-triangular", rs.cyclic(floor=1e-3, peak=PEAK, step_size_up=700, step_size_down=300),
     lambda o: tl.CyclicLR(o, base_lr=1e-3, max_lr=PEAK, step_size_up=700, step_size_down=300,
                           cycle_momentum=False), False),
    ("CyclicLR-triangular2", rs.cyclic(floor=1e-3, peak=PEAK, step_size_up=500,
                                       mode="triangular2"),
     lambda o: tl.CyclicLR(o, base_lr=1e-3, max_lr=PEAK, step_size_up=500, mode="triangular2",
                           cycle_momentum=False), False),
    ("CyclicLR-exp_range", rs.cyclic(floor=1e-3, peak=PEAK, step_size_up=400, mode="exp_range",
                                     gamma=0.9997),
     lambda o: tl.CyclicLR(o, base_lr=1e-3, max_lr=PEAK, step_size_up=400, mode="exp_range",
                           gamma=0.9997, cycle_momentum=False), False),
    ("ConstantLR", rs.constant(peak=PEAK),
     lambda o: tl.ConstantLR(o, factor=1.0, total_iters=10), False),
    # join: torch's SequentialLR, driven step by step (chainable children)
    ("SequentialLR-warmup-sgdr",
     rs.join([rs.warmup(rs.constant(peak=PEAK), warmup=500, start=PEAK * 0.1),
              rs.sgdr(peak=PEAK, T_0=1000, T_mult=2, floor=1e-5)], boundaries=[500]),
     lambda o: tl.SequentialLR(o, [
         tl.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=500),
         tl.CosineAnnealingWarmRestarts(o, T_0=1000, T_mult=2, eta_min=1e-5)],
         milestones=[500]), False),
    ("SequentialLR-step-multistep-cyclic",
     rs.join([rs.step(peak=PEAK, step_size=100, gamma=0.9),
              rs.multistep(peak=PEAK, milestones=[1000, 2500], gamma=0.5),
              rs.cyclic(floor=1e-3, peak=PEAK, step_size_up=250)], boundaries=[2000, 6000]),
     lambda o: tl.SequentialLR(o, [
         tl.StepLR(o, step_size=100, gamma=0.9),
         tl.MultiStepLR(o, milestones=[1000, 2500], gamma=0.5),
         tl.CyclicLR(o, base_lr=1e-3, max_lr=PEAK, step_size_up=250, cycle_momentum=False)],
         milestones=[2000, 6000]), False),
    # warmup(...) in front of a schedule == SequentialLR(LinearLR warmup, that schedule)
    ("SequentialLR-warmup-polynomial",
     rs.warmup(rs.polynomial(peak=PEAK, total=9000, power=1.5), warmup=1000, start=PEAK / 20),
     lambda o: tl.SequentialLR(o, [
         tl.LinearLR(o, start_factor=1 / 20, end_factor=1.0, total_iters=1000),
         tl.PolynomialLR(o, total_iters=9000, power=1.5)], milestones=[1000]), False),
]


@pytest.mark.parametrize("schedule, make, closed_form",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_schedule_matches_torch(schedule, make, closed_form):
    assert_same(ravine_lrs(schedule), torch_lrs(make, closed_form=closed_form))


def test_sequential_cosine_warmup_matches_torch_children_closed_form():
    """warmup_cosine vs SequentialLR(LinearLR, CosineAnnealingLR), each child's closed form.

    SequentialLR is driven step by step; at each step the active child's ``_get_closed_form_lr``
    at its own ``last_epoch`` is recorded (the chainable cosine recursion drifts near the floor).
    """
    warm, total = 500, N
    ours = rs.warmup_cosine(peak=PEAK, warmup=warm, total=total, floor=1e-5, start=PEAK * 1e-3)
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=PEAK)
    children = [tl.LinearLR(opt, start_factor=1e-3, end_factor=1.0, total_iters=warm),
                tl.CosineAnnealingLR(opt, T_max=total - warm, eta_min=1e-5)]
    seq = tl.SequentialLR(opt, children, milestones=[warm])
    theirs = []
    for t in range(N + 1):
        child = children[0] if t < warm else children[1]
        assert child.last_epoch == (t if t < warm else t - warm)
        theirs.append(child._get_closed_form_lr()[0])
        opt.step()
        seq.step()
    assert_same(ravine_lrs(ours, N + 1), np.array(theirs))


def test_chainable_cosine_matches_until_near_the_floor():
    """The chainable CosineAnnealingLR agrees while the lr is well above the floor."""
    ours = ravine_lrs(rs.cosine(peak=PEAK, total=N, floor=0.0))
    theirs = torch_lrs(lambda o: tl.CosineAnnealingLR(o, T_max=N))
    np.testing.assert_allclose(ours[: N // 2], theirs[: N // 2], rtol=1e-12)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-15)


def test_as_lr_scheduler_drives_torch_sgd_like_torch_scheduler():
    """as_lr_scheduler(torch.optim.SGD, sgdr) == CosineAnnealingWarmRestarts on the same run."""
    def run(make):
        torch.manual_seed(0)
        w = torch.randn(5, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([w], lr=PEAK, momentum=0.9)
        sched = make(opt)
        lrs = []
        for _ in range(300):
            opt.zero_grad()
            (torch.arange(1.0, 6.0, dtype=torch.float64) * w**2).sum().backward()
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return np.array(lrs), w.detach().clone()

    lrs_r, w_r = run(lambda o: rs.as_lr_scheduler(o, rs.sgdr(peak=PEAK, T_0=50, T_mult=2)))
    lrs_t, w_t = run(lambda o: tl.CosineAnnealingWarmRestarts(o, T_0=50, T_mult=2))
    assert_same(lrs_r, lrs_t)
    torch.testing.assert_close(w_r, w_t, rtol=1e-12, atol=1e-14)
