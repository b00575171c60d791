"""MuonAdamW = torch.optim.Muon on the matrices + torch.optim.AdamW on the rest, stepped side by
side; and switch_by_group routes each group to its own chain."""

from __future__ import annotations

import copy

import pytest
import torch

import ravine.optim as ro
from ravine.optim import ChainOptimizer
from ravine.transforms import chain, scale_by_adam, scale_by_lr, scale_by_momentum, switch_by_group


def _mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.LayerNorm(16),
                               torch.nn.Linear(16, 3)).double()


def _data(seed=1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(32, 6, generator=gen, dtype=torch.float64),
            torch.randn(32, 3, generator=gen, dtype=torch.float64))


def _loss(model, x, y):
    return ((model(x) - y) ** 2).mean()


MUON = dict(lr=0.02, weight_decay=0.05, momentum=0.9, adjust_lr_fn="match_rms_adamw")
ADAMW = dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)


@pytest.mark.parametrize("nesterov", [True, False])
def test_muon_adamw_equals_torch_muon_plus_torch_adamw(nesterov):
    x, y = _data()
    ours, theirs = _mlp(), _mlp()
    opt = ro.MuonAdamW(ours.parameters(), nesterov=nesterov, **MUON,
                       **{f"adamw_{k}": v for k, v in ADAMW.items()})
    mats = [p for p in theirs.parameters() if p.ndim == 2]
    rest = [p for p in theirs.parameters() if p.ndim != 2]
    torch_opts = [torch.optim.Muon(mats, nesterov=nesterov, **MUON),
                  torch.optim.AdamW(rest, **ADAMW)]
    for _ in range(25):
        for model, opts in ((ours, [opt]), (theirs, torch_opts)):
            for o in opts:
                o.zero_grad()
            _loss(model, x, y).backward()
            for o in opts:
                o.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    muon_state = opt.state[next(ours.parameters())]
    assert "momentum_buffer" in muon_state and "exp_avg" not in muon_state
    assert {"exp_avg", "exp_avg_sq"} <= set(opt.state[list(ours.parameters())[1]])


def test_muon_adamw_groups_and_resume():
    x, y = _data(2)
    model = _mlp(3)
    named = list(model.named_parameters())
    opt = ro.MuonAdamW(named, lr=0.02)
    assert [g["use_muon"] for g in opt.param_groups] == [True, False]
    assert [len(g["params"]) for g in opt.param_groups] == [2, 4]  # 2 weights; biases, norm
    for _ in range(5):
        opt.zero_grad()
        _loss(model, x, y).backward()
        opt.step()
    saved, weights = copy.deepcopy(opt.state_dict()), copy.deepcopy(model.state_dict())
    for _ in range(5):
        opt.zero_grad()
        _loss(model, x, y).backward()
        opt.step()
    again = _mlp(3)
    again.load_state_dict(weights)
    opt2 = ro.MuonAdamW(list(again.named_parameters()), lr=0.02)
    opt2.load_state_dict(saved)
    for _ in range(5):
        opt2.zero_grad()
        _loss(again, x, y).backward()
        opt2.step()
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_muon_adamw_explicit_groups_and_errors():
    w, b = torch.zeros(3, 4, requires_grad=True), torch.zeros(4, requires_grad=True)
    opt = ro.MuonAdamW([{"params": [w]}, {"params": [b], "lr": 0.5}], adamw_lr=0.1)
    assert [(g["use_muon"], g["lr"]) for g in opt.param_groups] == [(True, 1e-3), (False, 0.5)]
    shared = ro.MuonAdamW([w, b], lr=0.03, adjust_lr_fn="match_rms_adamw")  # one lr for both
    assert [(g["use_muon"], g["lr"]) for g in shared.param_groups] == [(True, 0.03), (False, 0.03)]
    with pytest.raises(ValueError, match="2D"):
        ro.MuonAdamW([{"params": [b], "use_muon": True}])
    with pytest.raises(ValueError, match="use_muon"):
        ro.MuonAdamW([{"params": [w], "use_muon": "yes"}])
    with pytest.raises(ValueError, match="lr"):
        ro.MuonAdamW([w, b], adamw_lr=-1.0)
    with pytest.raises(ValueError, match="mixes"):  # never silently all-AdamW
        ro.MuonAdamW([{"params": [w, b], "lr": 0.1}])


def test_switch_by_group_runs_each_groups_chain():
    """Two groups, two chains: each equals its own optimizer run alone."""
    t = switch_by_group("kind", {"sgd": chain(scale_by_momentum(), scale_by_lr()),
                                 "adam": chain(scale_by_adam(), scale_by_lr())})
    a0 = torch.randn(5, dtype=torch.float64)
    b0 = torch.randn(5, dtype=torch.float64)
    a, b = a0.clone().requires_grad_(), b0.clone().requires_grad_()
    a2, b2 = a0.clone().requires_grad_(), b0.clone().requires_grad_()
    opt = ChainOptimizer([{"params": [a], "kind": "sgd", "momentum": 0.9, "lr": 0.05},
                          {"params": [b], "kind": "adam", "lr": 0.01}], t)
    alone = [torch.optim.SGD([a2], lr=0.05, momentum=0.9), torch.optim.Adam([b2], lr=0.01)]
    for _ in range(10):
        for params, opts in (([a, b], [opt]), ([a2, b2], alone)):
            for p in params:
                p.grad = None
            ((params[0] ** 3).sum() + (params[1] ** 2).sum()).backward()
            for o in opts:
                o.step()
    torch.testing.assert_close(a, a2, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(b, b2, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="kind"):
        ChainOptimizer([{"params": [a], "kind": "lion"}], t)
    with pytest.raises(TypeError, match="kind"):
        ChainOptimizer([{"params": [a], "kind": lambda s: "sgd"}], t)
