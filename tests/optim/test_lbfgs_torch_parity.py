"""ravine.optim.LBFGS against torch.optim.LBFGS: same iterates on logistic regression."""

import pytest
import torch
from sklearn.datasets import load_breast_cancer

from ravine.optim.lbfgs import LBFGS


def _data():
    x, y = load_breast_cancer(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float64)
    x = (x - x.mean(0)) / x.std(0)
    return x, torch.tensor(y, dtype=torch.float64)


def _run(opt_cls, steps, **kwargs):
    x, y = _data()
    torch.manual_seed(0)
    model = torch.nn.Linear(30, 1).double()
    opt = opt_cls(model.parameters(), **kwargs)
    losses = []

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x).squeeze(1), y)
        loss = loss + 1e-3 * model.weight.pow(2).sum()
        loss.backward()
        return loss

    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
    params = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return params, losses, opt


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_follows_torch_iterates(line_search_fn):
    kwargs = dict(lr=1 if line_search_fn else 0.5, max_iter=10, history_size=7,
                  line_search_fn=line_search_fn)
    ours, our_losses, opt = _run(LBFGS, 4, **kwargs)
    ref, ref_losses, ref_opt = _run(torch.optim.LBFGS, 4, **kwargs)
    assert our_losses[-1] < our_losses[0] * 0.5  # it did optimize
    torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(torch.tensor(our_losses), torch.tensor(ref_losses),
                               rtol=1e-10, atol=0)
    s, r = opt.state_dict()["state"][0], ref_opt.state_dict()["state"][0]
    assert set(s) == set(r) - {"al"} or set(s) == set(r)
    assert s["func_evals"] == r["func_evals"] and s["n_iter"] == r["n_iter"]
    assert len(s["old_dirs"]) == len(r["old_dirs"])


def test_lbfgs_several_groups_equal_lr_match_one_group():
    x, y = _data()
    results = []
    for split in (False, True):
        torch.manual_seed(0)
        model = torch.nn.Linear(30, 1).double()
        params = ([{"params": [model.weight]}, {"params": [model.bias]}] if split
                  else model.parameters())
        opt = LBFGS(params, line_search_fn="strong_wolfe", max_iter=15)

        def closure(model=model, opt=opt):
            opt.zero_grad()
            out = model(x).squeeze(1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(out, y)
            loss.backward()
            return loss

        opt.step(closure)
        results.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]))
    torch.testing.assert_close(results[0], results[1], rtol=1e-12, atol=1e-12)


def test_lbfgs_per_group_lr_scales_that_block_of_the_first_step():
    w = torch.nn.Parameter(torch.tensor([2.0], dtype=torch.float64))
    b = torch.nn.Parameter(torch.tensor([2.0], dtype=torch.float64))
    opt = LBFGS([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=1.0, max_iter=1)

    def closure():
        opt.zero_grad()
        loss = (w ** 2 + b ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    # first step: t = min(1, 1/|g|_1) = 1/8, d = -g = (-4, -4) scaled by (1, 0.5)
    assert float(w.detach()) == pytest.approx(2.0 - 4 / 8)
    assert float(b) == pytest.approx(2.0 - 0.5 * 4 / 8)


def test_lbfgs_rejects_bad_arguments():
    w = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="line_search_fn"):
        LBFGS([w], line_search_fn="armijo")
    with pytest.raises(ValueError, match="history_size"):
        LBFGS([w], history_size=0)
    with pytest.raises(ValueError, match="learning rate"):
        LBFGS([w], lr=-1)
    v = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="share max_iter"):
        LBFGS([{"params": [w]}, {"params": [v], "max_iter": 3}])
