"""SWA and EMA against torch.optim.swa_utils.AveragedModel on the same trajectory (float64)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.optim.swa_utils import update_bn as torch_update_bn

from ravine.ensembles import EMA, SWA, update_bn


def make_model():
    return torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    ).double()


def trajectory(averagers, steps=40, update_at=lambda step: True):
    """Train a small BN model with SGD; after each step, update the averagers.

    torch's AveragedModel is updated when ``update_at(step)``; ravine's SWA is given every step
    (``update(model, step)``: it filters by its own window); EMA at every step.
    """
    model = make_model()
    x = torch.randn(64, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (64,))
    built = [make(model) for make in averagers]
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(steps):
        idx = torch.randint(0, 64, (16,))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
        for avg in built:
            if isinstance(avg, AveragedModel):
                if update_at(step):
                    avg.update_parameters(model)
            elif isinstance(avg, SWA):
                avg.update(model, step)
            else:
                avg.update(model)
    return model, built, x


def assert_same_module(ours, theirs, rtol):
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert ours_sd.keys() == theirs_sd.keys()
    for k in ours_sd:
        if ours_sd[k].is_floating_point():
            torch.testing.assert_close(ours_sd[k], theirs_sd[k], rtol=rtol, atol=0, msg=k)
        else:  # num_batches_tracked: both copy the model's when buffers are not averaged
            assert torch.equal(ours_sd[k], theirs_sd[k]) or "num_batches" in k


@pytest.mark.parametrize("use_buffers", [False, True])
def test_swa_matches_averaged_model(use_buffers):
    model, (ours, theirs), _ = trajectory(
        [lambda m: SWA(m, use_buffers=use_buffers),
         lambda m: AveragedModel(m, use_buffers=use_buffers)])
    assert int(ours.n_averaged) == int(theirs.n_averaged) == 40
    assert_same_module(ours.module, theirs.module, rtol=0)  # same arithmetic: bitwise
    # and the average really differs from the final weights
    assert not torch.allclose(ours.module[0].weight, model[0].weight)


@pytest.mark.parametrize("use_buffers", [False, True])
def test_ema_matches_averaged_model_ema(use_buffers):
    _, (ours, theirs), _ = trajectory(
        [lambda m: EMA(m, decay=0.9, use_buffers=use_buffers),
         lambda m: AveragedModel(m, multi_avg_fn=get_ema_multi_avg_fn(0.9),
                                 use_buffers=use_buffers)])
    assert_same_module(ours.module, theirs.module, rtol=1e-12)


def test_ema_warmup_matches_averaged_model_with_warmed_decay():
    decay, warm = 0.99, 10

    def warmed(ema_p, p, n):
        d = min(decay, (1 + int(n)) / (warm + int(n)))
        return d * ema_p + (1 - d) * p

    _, (ours, theirs), _ = trajectory(
        [lambda m: EMA(m, decay=decay, warmup=warm), lambda m: AveragedModel(m, avg_fn=warmed)])
    assert_same_module(ours.module, theirs.module, rtol=1e-12)
    assert ours.decay_at(1) == pytest.approx(2 / 11) and ours.decay_at(10_000) == decay


def test_swa_window_averages_only_inside_it():
    start, end, every = 10, 30, 4
    _, (ours, theirs), _ = trajectory(
        [lambda m: SWA(m, start=start, end=end, every=every), lambda m: AveragedModel(m)],
        update_at=lambda s: s >= start and s < end and (s - start) % every == 0)
    # ours was given every step but filters by its window; theirs only got the window's steps
    assert int(ours.n_averaged) == int(theirs.n_averaged) == 5
    assert [s for s in range(40) if ours.in_window(s)] == [10, 14, 18, 22, 26]
    assert_same_module(ours.module, theirs.module, rtol=0)


def test_update_bn_matches_torch():
    model, (swa,), x = trajectory([lambda m: SWA(m)])
    reference = copy.deepcopy(swa.module)
    loader = [(x[i : i + 16], None) for i in range(0, 64, 16)]
    before = swa.module[1].running_mean.clone()
    swa.update_bn(loader)
    torch_update_bn(loader, reference)
    assert not torch.allclose(before, swa.module[1].running_mean)
    assert_same_module(swa.module, reference, rtol=1e-12)
    assert swa.module[1].momentum == 0.1 and swa.module.training
    update_bn([], torch.nn.Linear(2, 2))  # no BatchNorm: nothing to do


def test_bad_arguments_are_named():
    m = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="decay"):
        EMA(m, decay=1.5)
    with pytest.raises(ValueError, match="warmup"):
        EMA(m, warmup=-1)
    with pytest.raises(ValueError, match="every"):
        SWA(m, every=0)
    with pytest.raises(ValueError, match="end"):
        SWA(m, start=5, end=5)
    with pytest.raises(TypeError, match="model"):
        SWA("not a model")
    with pytest.raises(ValueError, match="architecture"):
        SWA(m).update(torch.nn.Sequential(m, torch.nn.Linear(2, 2)))
