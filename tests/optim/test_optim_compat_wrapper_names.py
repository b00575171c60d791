"""Wrappers built from ``named_parameters()`` load their own state by name, like the inner one.

Lookahead's ``slow_param`` (and GradientAccumulation's ``grad_sum``) must follow the
parameter's name when the loading optimizer lists its parameters in another order.
"""

from __future__ import annotations

import io

import pytest
import torch

from ravine.optim import SGD, Adam, GradientAccumulation, Lookahead


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        # different shapes, so a positional mix-up cannot go unnoticed by shape alone either
        self.first = torch.nn.Parameter(torch.randn(3, generator=gen, dtype=torch.float64))
        self.second = torch.nn.Parameter(torch.randn(3, generator=gen, dtype=torch.float64))
        self.third = torch.nn.Parameter(torch.randn(2, 2, generator=gen, dtype=torch.float64))

    def forward(self):
        return ((self.first - 1) ** 2).sum() + (self.second**4).sum() + (self.third**2).sum()


def _step(opt, net):
    opt.zero_grad()
    net().backward()
    opt.step()


def _saved(opt):
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _copy(net):
    clone = Net()
    with torch.no_grad():
        for a, b in zip(clone.parameters(), net.parameters(), strict=True):
            a.copy_(b)
    return clone


def _lookahead(named):
    return Lookahead(Adam(named, lr=0.05), k=3, alpha=0.5)


def test_lookahead_slow_weights_load_by_name_into_reordered_optimizer():
    net = Net()
    opt = _lookahead(net.named_parameters())
    for _ in range(4):  # one synchronisation, then the fast weights move away from the slow
        _step(opt, net)
    saved = _saved(opt)
    assert saved["param_groups"][0]["param_names"] == ["first", "second", "third"]

    clone = _copy(net)
    other = _lookahead(reversed(list(clone.named_parameters())))
    other.load_state_dict(saved)
    for (name, p), q in zip(net.named_parameters(), clone.parameters(), strict=True):
        for key, value in opt.state[p].items():
            assert torch.equal(other.state[q][key], value), (name, key)
        for key, value in opt.optimizer.state[p].items():
            assert torch.equal(other.optimizer.state[q][key], value), (name, key)
    # the next synchronisation (step 6) uses the restored slow weights: same run as unbroken
    for _ in range(3):
        _step(opt, net)
        _step(other, clone)
    for (name, a), b in zip(net.named_parameters(), clone.parameters(), strict=True):
        assert torch.equal(a, b), name


def test_first_and_second_have_the_same_shape_so_position_would_load_silently():
    """The check above is not vacuous: loading positionally swaps first's and second's slow
    weights without any error (same shapes), so only name matching gets them right."""
    net = Net()
    opt = _lookahead(net.named_parameters())
    for _ in range(4):
        _step(opt, net)
    saved = _saved(opt)
    slow_first = opt.state[net.first]["slow_param"]
    assert not torch.equal(slow_first, opt.state[net.second]["slow_param"])
    for group in saved["param_groups"]:  # the same state without names: positional
        del group["param_names"]
    for group in saved["inner"]["param_groups"]:
        del group["param_names"]
    clone = _copy(net)
    params = [clone.second, clone.first, clone.third]
    other = Lookahead(Adam(params, lr=0.05), k=3, alpha=0.5)
    other.load_state_dict(saved)
    assert torch.equal(other.state[clone.second]["slow_param"], slow_first)


def test_accumulated_gradients_load_by_name():
    net = Net()
    opt = GradientAccumulation(SGD(net.named_parameters(), lr=0.1, momentum=0.9), k=3)
    for _ in range(4):  # one real step, then one micro-step accumulated
        _step(opt, net)
    saved = _saved(opt)
    clone = _copy(net)
    other = GradientAccumulation(SGD(reversed(list(clone.named_parameters())), lr=0.1,
                                     momentum=0.9), k=3)
    other.load_state_dict(saved)
    for (name, p), q in zip(net.named_parameters(), clone.parameters(), strict=True):
        assert torch.equal(other.state[q]["grad_sum"], opt.state[p]["grad_sum"]), name
    for _ in range(2):
        _step(opt, net)
        _step(other, clone)
    for (name, a), b in zip(net.named_parameters(), clone.parameters(), strict=True):
        assert torch.equal(a, b), name


def test_wrapper_rejects_a_saved_name_it_does_not_have():
    net = Net()
    opt = _lookahead(net.named_parameters())
    _step(opt, net)
    saved = _saved(opt)
    saved["param_groups"][0]["param_names"][0] = "renamed"
    with pytest.raises(ValueError, match="renamed"):
        _lookahead(Net().named_parameters()).load_state_dict(saved)
