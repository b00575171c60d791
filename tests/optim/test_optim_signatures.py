"""Drop-in checks: same argument names and defaults as torch.optim, plus ravine's extras."""

from __future__ import annotations

import inspect

import pytest
import torch

from ravine import optim as ro

PAIRS = [(ro.SGD, torch.optim.SGD), (ro.Adagrad, torch.optim.Adagrad),
         (ro.RMSprop, torch.optim.RMSprop), (ro.Adam, torch.optim.Adam),
         (ro.AdamW, torch.optim.AdamW), (ro.NAdam, torch.optim.NAdam),
         (ro.RAdam, torch.optim.RAdam), (ro.Adamax, torch.optim.Adamax)]


def _params(cls):
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
            if name not in ("self", "skip_nonfinite")}


@pytest.mark.parametrize("ours,theirs", PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_same_arguments_and_defaults_as_torch(ours, theirs):
    assert _params(ours) == _params(theirs)
    positional = [n for n, p in inspect.signature(theirs.__init__).parameters.items()
                  if p.kind is p.POSITIONAL_OR_KEYWORD]
    ours_positional = [n for n, p in inspect.signature(ours.__init__).parameters.items()
                       if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert ours_positional == positional


@pytest.mark.parametrize("ours,theirs", PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_same_param_group_keys_as_torch(ours, theirs):
    w = torch.nn.Parameter(torch.zeros(2))
    assert set(theirs([w]).param_groups[0]) <= set(ours([w]).param_groups[0])


@pytest.mark.parametrize("cls", [c for c, _ in PAIRS] + [ro.NAdamW])
def test_differentiable_is_not_implemented(cls):
    with pytest.raises(NotImplementedError, match="differentiable"):
        cls([torch.nn.Parameter(torch.zeros(2))], differentiable=True)
