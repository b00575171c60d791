"""ravine's optimizers follow torch.optim's float64 trajectories, states and nan behaviour."""

from __future__ import annotations

import io

import pytest
import torch
from optim_problems import flat, make_mlp, run, two_groups
from optim_registry import TORCH_ROWS, shaped

STEPS = 200


def _trajectory(factory, row, maximize):
    model, loss_fn = make_mlp()
    opt = factory(two_groups(model, row.group2), **({"maximize": maximize} if row.maximize else {}))
    objective = (lambda: -loss_fn()) if maximize else loss_fn
    losses = run(opt, list(model.parameters()), objective, STEPS)
    return flat(model.parameters()), losses, opt


@pytest.mark.parametrize("maximize", [False, True], ids=["minimize", "maximize"])
@pytest.mark.parametrize("row", TORCH_ROWS, ids=lambda r: r.id)
def test_follows_torch_trajectory(row, maximize):
    if maximize and not row.maximize:
        pytest.skip(f"torch's {row.id} has no maximize argument")
    ours, our_losses, opt = _trajectory(row.make, row, maximize)
    theirs, their_losses, torch_opt = _trajectory(row.torch_make, row, maximize)
    assert torch.isfinite(ours).all()
    assert (ours - theirs).abs().max().item() <= 1e-10
    # the run made progress, so the comparison is not between two frozen models
    assert (our_losses[-1] < our_losses[0]) if not maximize else (our_losses[-1] > our_losses[0])
    # same per-parameter state keys as torch, same values
    ours_params = [p for g in opt.param_groups for p in g["params"]]
    theirs_params = [p for g in torch_opt.param_groups for p in g["params"]]
    for p_ours, p_theirs in zip(ours_params, theirs_params, strict=True):
        s_ours, s_theirs = opt.state.get(p_ours, {}), torch_opt.state.get(p_theirs, {})
        assert set(s_ours) == set(s_theirs)
        for key, value in s_theirs.items():
            assert torch.allclose(torch.as_tensor(s_ours[key]).double(), value.double(),
                                  rtol=1e-9, atol=1e-12), key


@pytest.mark.parametrize("row", TORCH_ROWS, ids=lambda r: r.id)
def test_state_dict_interchanges_with_torch(row):
    """Run 5 steps with one library, load its state dict into the other, run 5 more."""
    results = []
    for first, second in ((row.torch_make, row.make), (row.make, row.torch_make),
                          (row.torch_make, row.torch_make)):
        model, loss_fn = make_mlp()
        params = two_groups(model, row.group2)
        opt = first(params)
        run(opt, None, loss_fn, 5)
        buffer = io.BytesIO()
        torch.save(opt.state_dict(), buffer)
        buffer.seek(0)
        opt2 = second(two_groups(model, row.group2))
        opt2.load_state_dict(torch.load(buffer, weights_only=False))
        expected = {"lr", "maximize"} if row.maximize or second is row.make else {"lr"}
        assert set(opt2.state_dict()["param_groups"][1]) >= expected
        run(opt2, None, loss_fn, 5)
        results.append(flat(model.parameters()))
    reference = results[-1]
    for r in results[:-1]:
        # 1e-10, not 1e-12: torch's load casts NAdam's float32 mu_product to float64
        assert (r - reference).abs().max().item() <= 1e-10


@pytest.mark.parametrize("row", TORCH_ROWS, ids=lambda r: r.id)
def test_nonfinite_gradient_matches_torch_by_default(row):
    outs = []
    for factory in (row.make, row.torch_make):
        w = torch.nn.Parameter(shaped(row, torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)))
        opt = factory([w])
        for grad in ([0.1, 0.2, -0.3], [float("nan"), 0.1, float("inf")], [0.1, 0.1, 0.1]):
            w.grad = shaped(row, torch.tensor(grad, dtype=torch.float64))
            opt.step()
        outs.append(w.detach().clone())
    ours, theirs = outs
    assert torch.equal(torch.isnan(ours), torch.isnan(theirs))
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs))
    finite = torch.isfinite(theirs)
    assert torch.allclose(ours[finite], theirs[finite], rtol=0, atol=1e-12)
    # the nan did reach the parameters (not in Rprop: it reads signs, and sign(nan) is 0)
    assert not torch.isfinite(theirs).all() or row.id.startswith("rprop")
