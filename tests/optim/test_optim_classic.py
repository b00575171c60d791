"""Adadelta, Rprop and ASGD against torch.optim 2.13: signatures, long float64 runs under a torch
LR scheduler through state_dict round trips (both implementations), ASGD's average, and the
arguments torch leaves unchecked."""

from __future__ import annotations

import inspect
import io
import math

import pytest
import torch
from optim_problems import flat, make_mlp, run, two_groups

from ravine import optim as ro
from ravine.optim.fast import algorithm_for

PAIRS = [(ro.Adadelta, torch.optim.Adadelta), (ro.Rprop, torch.optim.Rprop),
         (ro.ASGD, torch.optim.ASGD)]
# (class name, first group's kwargs, second group's overrides): configurations off the edge of
# stability, so that 1-ulp differences do not grow over the run
RUNS = [
    ("Adadelta", dict(lr=0.3, eps=1e-3), {"lr": 0.1}),
    ("Adadelta", dict(lr=1.0, weight_decay=1e-2), {"rho": 0.95}),
    ("Rprop", dict(lr=1e-3), {"etas": (0.4, 1.1)}),
    ("Rprop", dict(lr=1e-2, step_sizes=(1e-4, 0.05)), {"lr": 1e-3}),
    ("ASGD", dict(lr=2e-3), {"lr": 1e-3}),
    ("ASGD", dict(lr=5e-3, t0=20, lambd=1e-2, weight_decay=1e-3), {"alpha": 0.5}),
]
STEPS = 400


def _params(cls):
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
            if name not in ("self", "skip_nonfinite")}


@pytest.mark.parametrize("ours,theirs", PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_same_arguments_defaults_and_group_keys_as_torch(ours, theirs):
    assert _params(ours) == _params(theirs)
    kinds = [(n, p.kind) for n, p in inspect.signature(theirs.__init__).parameters.items()]
    ours_kinds = [(n, p.kind) for n, p in inspect.signature(ours.__init__).parameters.items()
                  if n != "skip_nonfinite"]
    assert ours_kinds == kinds
    w = torch.nn.Parameter(torch.zeros(2))
    assert set(theirs([w]).param_groups[0]) <= set(ours([w]).param_groups[0])


@pytest.mark.parametrize("cls", [c for c, _ in PAIRS])
def test_differentiable_is_not_implemented(cls):
    with pytest.raises(NotImplementedError, match="differentiable"):
        cls([torch.nn.Parameter(torch.zeros(2))], differentiable=True)


def _steps(opt, model, loss_fn, scheduler, steps):
    for _ in range(steps):
        run(opt, None, loss_fn, 1)
        scheduler.step()


@pytest.mark.parametrize("fast_path", ["kernel", "reference"])
@pytest.mark.parametrize("name,kwargs,group2", RUNS, ids=[f"{r[0]}-{i}" for i, r in
                                                           enumerate(RUNS)])
def test_long_run_under_scheduler_with_round_trips_equals_torch(name, kwargs, group2,
                                                                fast_path):
    """400 steps, ExponentialLR, our state saved and loaded into a new optimizer every 100."""
    model_t, loss_t = make_mlp()
    theirs = getattr(torch.optim, name)(two_groups(model_t, group2), **kwargs)
    sched_t = torch.optim.lr_scheduler.ExponentialLR(theirs, gamma=0.995)
    _steps(theirs, model_t, loss_t, sched_t, STEPS)

    model, loss_fn = make_mlp()
    opt = getattr(ro, name)(two_groups(model, group2), **kwargs)
    opt.fast_path = fast_path
    assert algorithm_for(opt.transform) is not None  # the kernel exists for this chain
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.995)
    for _ in range(STEPS // 100):
        _steps(opt, model, loss_fn, sched, 100)
        buffer = io.BytesIO()
        torch.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, buffer)
        buffer.seek(0)
        saved = torch.load(buffer, weights_only=True)
        opt = getattr(ro, name)(two_groups(model, group2), **kwargs)
        opt.fast_path = fast_path
        opt.load_state_dict(saved["opt"])
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.995)
        sched.load_state_dict(saved["sched"])
    torch.testing.assert_close(flat(model.parameters()), flat(model_t.parameters()),
                               rtol=1e-12, atol=1e-14)
    assert opt.param_groups[0]["lr"] == pytest.approx(kwargs["lr"] * 0.995 ** STEPS)
    for p, q in zip(model.parameters(), model_t.parameters(), strict=True):
        s, st = opt.state[p], theirs.state[q]
        assert set(s) == set(st)
        for key in st:  # ASGD's eta, mu: float32 as torch made them, float64 after its load
            torch.testing.assert_close(s[key].double(), st[key].double(),
                                       rtol=1e-6 if key in ("eta", "mu") else 1e-12, atol=0)
    assert loss_fn().item() < 0.7 * make_mlp()[1]().item()  # the run went somewhere


@pytest.mark.parametrize("fast_path", ["kernel", "reference"])
def test_asgd_ax_is_the_average_of_the_iterates_from_step_t0_plus_2(fast_path):
    model, loss_fn = make_mlp()
    t0 = 5
    opt = ro.ASGD(model.parameters(), lr=0.05, lambd=1e-3, t0=t0, weight_decay=1e-3)
    opt.fast_path = fast_path
    iterates = []
    for _ in range(30):
        run(opt, None, loss_fn, 1)
        iterates.append(flat(model.parameters()))
    average = torch.stack(iterates[t0 + 1:]).mean(0)  # steps t0 + 2, ..., 30 (1-based)
    ax = flat(opt.state[p]["ax"] for p in model.parameters())
    # mu = 1/k is a float32 scalar (torch's default dtype), so the average is to float32 weights
    torch.testing.assert_close(ax, average, rtol=1e-6, atol=1e-9)
    assert not torch.allclose(ax, iterates[-1])
    mu = opt.state[next(iter(model.parameters()))]["mu"]
    assert mu.item() == pytest.approx(1 / (30 - t0))  # the next step averages 1/(31 - t0 - 1)


@pytest.mark.parametrize("kwargs", [{"lambd": "0.1"}, {"alpha": None}, {"t0": "10"},
                                    {"lambd": True}])
def test_asgd_numbers_torch_does_not_check_must_be_numbers(kwargs):
    torch.optim.ASGD([torch.nn.Parameter(torch.zeros(2))], **kwargs)  # torch takes them
    with pytest.raises(TypeError, match=next(iter(kwargs))):
        ro.ASGD([torch.nn.Parameter(torch.zeros(2))], **kwargs)


@pytest.mark.parametrize("step_sizes", [("1e-6", 50), (1e-6, None)])
def test_rprop_step_sizes_must_be_numbers(step_sizes):
    torch.optim.Rprop([torch.nn.Parameter(torch.zeros(2))], step_sizes=step_sizes)
    with pytest.raises(TypeError, match="step_sizes"):
        ro.Rprop([torch.nn.Parameter(torch.zeros(2))], step_sizes=step_sizes)


@pytest.mark.parametrize("kwargs", [{"etas": (0.5, 1.2, 2.0)}, {"etas": 0.5},
                                    {"step_sizes": (1e-6, 50, 1)}])
def test_rprop_pairs_must_be_pairs(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ro.Rprop([torch.nn.Parameter(torch.zeros(2))], **kwargs)


@pytest.mark.parametrize("cls", [ro.Rprop, ro.ASGD])
def test_lr_read_at_state_creation_cannot_be_a_schedule(cls):
    with pytest.raises(TypeError, match="lr cannot be a schedule"):
        cls([torch.nn.Parameter(torch.zeros(2))], lr=lambda step: 0.01)


@pytest.mark.parametrize("fast_path", ["kernel", "reference"])
@pytest.mark.parametrize("step_sizes", [(0.2, 0.05), (1e-3, math.inf), (math.nan, 1.0)],
                         ids=["min-above-max", "no-max", "nan-min"])
def test_rprop_unusual_step_sizes_behave_as_in_torch(step_sizes, fast_path):
    """torch only clamps: min > max gives max, a nan bound gives nan; ravine does the same."""
    outs = []
    for cls in (ro.Rprop, torch.optim.Rprop):
        w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64))
        opt = cls([w], lr=0.1, step_sizes=step_sizes)
        if cls is ro.Rprop:
            opt.fast_path = fast_path
        for grad in ([0.1, 0.2, -0.3, 0.0], [-0.1, 0.2, -0.3, 1.0], [0.1, 0.2, 0.3, 1.0]):
            w.grad = torch.tensor(grad, dtype=torch.float64)
            opt.step()
        outs.append((w.detach().clone(), opt.state[w]["step_size"].clone()))
    torch.testing.assert_close(outs[0][0], outs[1][0], rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(outs[0][1], outs[1][1], rtol=0, atol=0, equal_nan=True)
