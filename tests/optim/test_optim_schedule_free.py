"""Schedule-free SGD/AdamW against the reference implementation (the ``schedulefree`` package)
and against the method's closed form."""

from __future__ import annotations

import copy

import pytest
import torch

import ravine.optim as ro

schedulefree = pytest.importorskip("schedulefree")  # a dev dependency (pyproject.toml)

PAIRS = [
    (ro.SGDScheduleFree, schedulefree.SGDScheduleFree,
     dict(lr=0.1, momentum=0.9, weight_decay=0.01, warmup_steps=5)),
    (ro.SGDScheduleFree, schedulefree.SGDScheduleFree,
     dict(lr=0.05, momentum=0.5, r=1.0, weight_lr_power=0.0)),
    (ro.AdamWScheduleFree, schedulefree.AdamWScheduleFree,
     dict(lr=0.02, betas=(0.9, 0.99), weight_decay=0.01, warmup_steps=5, r=0.5)),
    (ro.AdamWScheduleFree, schedulefree.AdamWScheduleFree, dict(lr=0.01, eps=1e-3)),
]
IDS = ["sgd_warmup_wd", "sgd_r1", "adamw_warmup_wd_r", "adamw_eps"]


def _problem(seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=gen, dtype=torch.float64)
    y = torch.randn(64, generator=gen, dtype=torch.float64)
    w = torch.randn(5, generator=gen, dtype=torch.float64)
    return x, y, w


def _train(opt, w, b, x, y, steps, toggle_at=(), loss_sign=1.0):
    for i in range(steps):
        opt.zero_grad()
        loss = loss_sign * ((x @ w + b - y) ** 2).mean()
        loss.backward()
        opt.step()
        if i in toggle_at:  # an evaluation in the middle of training
            opt.eval()
            opt.train()


def _make(cls, w, b, kwargs):
    return cls([{"params": [w]}, {"params": [b], "lr": kwargs["lr"] / 2}], **kwargs)


@pytest.mark.parametrize(("ours", "ref", "kwargs"), PAIRS, ids=IDS)
def test_schedule_free_trajectory_equals_reference(ours, ref, kwargs):
    x, y, w0 = _problem()
    results = []
    for cls in (ours, ref):
        w = w0.clone().requires_grad_()
        b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = _make(cls, w, b, kwargs)
        opt.train()
        _train(opt, w, b, x, y, 60, toggle_at=(10, 30))
        y_point = (w.detach().clone(), b.detach().clone())
        opt.eval()
        results.append((y_point, (w.detach().clone(), b.detach().clone()), opt))
    (ours_y, ours_x, opt), (ref_y, ref_x, ref_opt) = results
    for a, r in zip(ours_y + ours_x, ref_y + ref_x, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-14)
    assert not torch.equal(ours_y[0], ours_x[0])  # eval() moved the parameters
    for group, ref_group in zip(opt.param_groups, ref_opt.param_groups, strict=True):
        for key in ("k", "train_mode", "weight_sum", "lr_max", "scheduled_lr"):
            assert group[key] == pytest.approx(ref_group[key], rel=1e-14), key


@pytest.mark.parametrize(("ours", "ref", "kwargs"), PAIRS[::2], ids=IDS[::2])
def test_schedule_free_loads_reference_checkpoint(ours, ref, kwargs):
    """A state dict written by the reference loads into ravine and training continues alike."""
    x, y, w0 = _problem(1)
    w, b = w0.clone().requires_grad_(), torch.zeros(1, dtype=torch.float64, requires_grad=True)
    ref_opt = _make(ref, w, b, kwargs)
    ref_opt.train()
    _train(ref_opt, w, b, x, y, 15)
    saved = copy.deepcopy(ref_opt.state_dict())  # state_dict() shares the state tensors
    w_saved, b_saved = w.detach().clone(), b.detach().clone()
    _train(ref_opt, w, b, x, y, 15)

    w2, b2 = w_saved.clone().requires_grad_(), b_saved.clone().requires_grad_()
    opt = _make(ours, w2, b2, kwargs)
    opt.load_state_dict(saved)
    assert set(opt.state_dict()["state"][0]) == set(saved["state"][0])
    _train(opt, w2, b2, x, y, 15)
    torch.testing.assert_close(w2.detach(), w.detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(b2.detach(), b.detach(), rtol=1e-12, atol=1e-14)


def test_schedule_free_sgd_average_is_uniform_mean_of_z():
    """r = 0, no warmup, constant lr: x_T is the plain mean of z_1..z_T (closed form)."""
    x, y, w0 = _problem(2)
    lr, beta = 0.05, 0.7
    w = w0.clone().requires_grad_()
    opt = ro.SGDScheduleFree([w], lr=lr, momentum=beta)
    zs, z = [], w0.clone()
    for _ in range(25):
        opt.zero_grad()
        ((x @ w - y) ** 2).mean().backward()
        z = z - lr * w.grad
        zs.append(z)
        opt.step()
        xbar = torch.stack(zs).mean(0)
        torch.testing.assert_close(w.detach(), (1 - beta) * z + beta * xbar, rtol=1e-12,
                                   atol=1e-14)
    torch.testing.assert_close(opt.state[w]["z"], z, rtol=1e-12, atol=1e-14)
    opt.eval()
    torch.testing.assert_close(w.detach(), xbar, rtol=1e-12, atol=1e-14)


def test_schedule_free_maximize_equals_minimizing_negation():
    x, y, w0 = _problem(3)
    finals = []
    for maximize, sign in ((True, -1.0), (False, 1.0)):
        w = w0.clone().requires_grad_()
        b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = ro.AdamWScheduleFree([w, b], lr=0.02, maximize=maximize)
        _train(opt, w, b, x, y, 20, loss_sign=sign)
        finals.append(w.detach().clone())
    torch.testing.assert_close(finals[0], finals[1], rtol=1e-12, atol=1e-14)


def test_schedule_free_step_in_eval_mode_raises_and_modes_are_idempotent():
    x, y, w0 = _problem(4)
    w = w0.clone().requires_grad_()
    opt = ro.SGDScheduleFree([w], lr=0.1)
    opt.eval()  # before any step: nothing to move
    assert torch.equal(w.detach(), w0)
    opt.train()
    _train(opt, w, torch.zeros(1, dtype=torch.float64), x, y, 5)
    opt.eval()
    at_x = w.detach().clone()
    opt.eval()
    assert torch.equal(w.detach(), at_x)
    with pytest.raises(RuntimeError, match="train"):
        opt.step()
    opt.train()
    opt.train()
    opt.step()


def test_schedule_free_lr_zero_changes_nothing_and_grad_is_kept():
    x, y, w0 = _problem(5)
    w = w0.clone().requires_grad_()
    opt = ro.AdamWScheduleFree([w], lr=0.0, weight_decay=0.1)
    ((x @ w - y) ** 2).mean().backward()
    grad = w.grad.clone()
    opt.step()
    assert torch.equal(w.detach(), w0)
    assert torch.equal(w.grad, grad)  # the reference divides p.grad in place; ravine does not


def test_schedule_free_follows_a_torch_scheduler_and_ravine_schedules():
    """A torch scheduler writing group["lr"] and a ravine schedule for lr give the same run."""
    x, y, w0 = _problem(6)
    finals = []
    for use_torch in (True, False):
        w = w0.clone().requires_grad_()
        if use_torch:
            opt = ro.SGDScheduleFree([w], lr=0.1)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: min(1.0, (t + 1) / 10))
        else:
            opt = ro.SGDScheduleFree([w], lr=lambda t: 0.1 * min(1.0, (t + 1) / 10))
            sched = None
        for _ in range(20):
            opt.zero_grad()
            ((x @ w - y) ** 2).mean().backward()
            opt.step()
            if sched is not None:
                sched.step()
        finals.append(w.detach().clone())
    torch.testing.assert_close(finals[0], finals[1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("cls", "kwargs", "name"), [
    (ro.SGDScheduleFree, dict(momentum=0.0), "momentum"),
    (ro.SGDScheduleFree, dict(momentum=1.0), "momentum"),
    (ro.SGDScheduleFree, dict(lr=-0.1), "lr"),
    (ro.SGDScheduleFree, dict(weight_decay=-1.0), "weight_decay"),
    (ro.SGDScheduleFree, dict(warmup_steps=2.5), "warmup_steps"),
    (ro.AdamWScheduleFree, dict(betas=(0.0, 0.999)), "betas"),
    (ro.AdamWScheduleFree, dict(betas=(0.9, 1.0)), "betas"),
    (ro.AdamWScheduleFree, dict(r=-1.0), "r"),
    (ro.AdamWScheduleFree, dict(eps=-1e-8), "eps"),
])
def test_schedule_free_rejects_bad_hyperparameters(cls, kwargs, name):
    with pytest.raises(ValueError, match=name):
        cls([torch.zeros(2, requires_grad=True)], **kwargs)


def test_schedule_free_beta_cannot_be_a_schedule():
    with pytest.raises(TypeError, match="momentum"):
        ro.SGDScheduleFree([torch.zeros(2, requires_grad=True)], momentum=lambda t: 0.9)


def test_schedule_free_chain_must_end_in_the_average():
    from ravine.transforms import chain, scale_by_lr
    with pytest.raises(TypeError, match="average_schedule_free"):
        ro.ScheduleFreeOptimizer([torch.zeros(2, requires_grad=True)], chain(scale_by_lr()))
