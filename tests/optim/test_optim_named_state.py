"""State dicts with parameter names (``named_parameters()``) load by name."""

from __future__ import annotations

import io

import pytest
import torch

from ravine.optim import SGD, Adam


class Net(torch.nn.Module):
    def __init__(self, extra=False):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.first = torch.nn.Parameter(torch.randn(3, generator=gen, dtype=torch.float64))
        self.second = torch.nn.Parameter(torch.randn(2, generator=gen, dtype=torch.float64))
        if extra:
            self.third = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))

    def forward(self):
        loss = (self.first**2).sum() + ((self.second - 1) ** 3).sum() ** 2
        if hasattr(self, "third"):
            loss = loss + (self.third**2).sum()
        return loss


def _trained(cls, **kw):
    net = Net()
    opt = cls(net.named_parameters(), **kw)
    for _ in range(3):
        opt.zero_grad()
        net().backward()
        opt.step()
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    return net, opt, torch.load(buffer, weights_only=False)


@pytest.mark.parametrize("cls,kw", [(Adam, {"lr": 0.1}), (SGD, {"lr": 0.1, "momentum": 0.9})],
                         ids=["adam", "sgd"])
def test_state_dict_records_names_and_reordered_model_loads_by_name(cls, kw):
    net, opt, saved = _trained(cls, **kw)
    assert saved["param_groups"][0]["param_names"] == ["first", "second"]
    reordered = list(reversed(list(net.named_parameters())))
    other = cls(reordered, **kw)
    other.load_state_dict(saved)
    for name, p in net.named_parameters():
        for key, value in opt.state[p].items():
            assert torch.equal(other.state[p][key], value), (name, key)
    # a step from the loaded state equals a step of the original optimizer
    clone = Net()
    with torch.no_grad():
        for (_, a), (_, b) in zip(clone.named_parameters(), net.named_parameters(), strict=True):
            a.copy_(b)
    clone_opt = cls(list(reversed(list(clone.named_parameters()))), **kw)
    clone_opt.load_state_dict(saved)
    for o, n in ((opt, net), (clone_opt, clone)):
        o.zero_grad()
        n().backward()
        o.step()
    assert torch.equal(clone.first, net.first) and torch.equal(clone.second, net.second)


def test_extended_model_loads_and_new_parameter_starts_fresh():
    net, opt, saved = _trained(Adam, lr=0.1)
    bigger = Net(extra=True)
    other = Adam(bigger.named_parameters(), lr=0.1)
    other.load_state_dict(saved)
    assert torch.equal(other.state[bigger.first]["exp_avg"], opt.state[net.first]["exp_avg"])
    assert not other.state.get(bigger.third)
    other.zero_grad()
    bigger().backward()
    other.step()
    assert int(other.state[bigger.third]["step"]) == 1
    assert int(other.state[bigger.first]["step"]) == 4


def test_name_mismatch_is_a_value_error_naming_it():
    _, _, saved = _trained(Adam, lr=0.1)
    net = Net()
    renamed = [("first", net.first), ("renamed", net.second)]
    opt = Adam(renamed, lr=0.1)
    with pytest.raises(ValueError, match="second"):
        opt.load_state_dict(saved)
