import pytest
import torch
from helpers_analysis import exact_hessian, small_mlp
from torch import nn

from ravine.analysis import FlatParams, as_objective, hessian, hvp


@pytest.mark.parametrize("method", ["double_backward", "forward_over_reverse"])
def test_hvp_of_function_matches_dense_hessian(method):
    x = torch.randn(3, 2, dtype=torch.float64)
    v = torch.randn(3, 2, dtype=torch.float64)

    def f(z):
        return torch.sin(z).sum() * (z ** 2).sum() + z[0, 0] * z[2, 1] ** 3

    H = torch.func.hessian(lambda t: f(t.view(3, 2)))(x.reshape(-1))
    out = hvp(f, x, v, method=method)
    assert out.shape == v.shape
    torch.testing.assert_close(out.reshape(-1), H @ v.reshape(-1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["double_backward", "forward_over_reverse"])
def test_hvp_of_module_matches_dense_hessian(method):
    model, loss_fn, data = small_mlp()
    H = exact_hessian(model, loss_fn, data)
    v = torch.randn(H.shape[0], dtype=torch.float64)
    out = hvp(model, None, v, loss_fn=loss_fn, data=data, method=method)
    torch.testing.assert_close(out, H @ v, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(hessian(model, loss_fn=loss_fn, data=data), H)


def test_loader_is_the_size_weighted_mean_of_batches():
    model, loss_fn, (X, y) = small_mlp(n=50)
    H = exact_hessian(model, loss_fn, (X, y))
    # uneven batches: the mean loss over all 50 samples, not the mean of batch means
    loader = [(X[:20], y[:20]), (X[20:45], y[20:45]), (X[45:], y[45:])]
    v = torch.randn(H.shape[0], dtype=torch.float64)
    torch.testing.assert_close(hvp(model, None, v, loss_fn=loss_fn, data=loader), H @ v)
    obj = as_objective(model, loss_fn=loss_fn, data=loader)
    full = loss_fn(model(X), y)
    torch.testing.assert_close(obj.value(obj.x0), full)
    full.backward()
    grads = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    torch.testing.assert_close(obj.grad(obj.x0), grads)


def test_flat_params_round_trip_and_functional_call_leaves_model_alone():
    model, loss_fn, (X, y) = small_mlp()
    flat = FlatParams(model)
    theta = flat.flatten()
    assert theta.numel() == sum(p.numel() for p in model.parameters())
    before = [p.detach().clone() for p in model.parameters()]
    out = flat.call(theta + 1.0, X)
    with torch.no_grad():
        shifted = nn.Sequential(*model).double()
        for p in shifted.parameters():
            p.add_(1.0)
        expected = shifted(X)
        for p in shifted.parameters():  # the same module: undo the shift
            p.sub_(1.0)
    torch.testing.assert_close(out, expected)
    for p, b in zip(model.parameters(), before, strict=True):
        assert torch.equal(p, b)
    flat.assign(theta * 2)
    torch.testing.assert_close(flat.flatten(), theta * 2)


def test_dtype_option_casts_model_and_data():
    model, loss_fn, (X, y) = small_mlp()
    model = model.float()
    v = torch.randn(sum(p.numel() for p in model.parameters()), dtype=torch.float64)
    out = hvp(model, None, v, loss_fn=loss_fn, data=(X.float(), y), dtype=torch.float64)
    assert out.dtype == torch.float64
    H = exact_hessian(model.double(), loss_fn, (X.float().double(), y))
    torch.testing.assert_close(out, H @ v)


def test_bad_inputs_raise_clear_errors():
    model, loss_fn, data = small_mlp()
    with pytest.raises(TypeError, match="loss_fn"):
        hvp(model, None, torch.zeros(3))
    with pytest.raises(ValueError, match="v must have"):
        hvp(lambda x: (x ** 2).sum(), torch.zeros(3), torch.zeros(4))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        hvp(lambda x: (x ** 2).sum(), [1.0, 2.0], torch.zeros(2))
    with pytest.raises(ValueError, match="method"):
        hvp(lambda x: (x ** 2).sum(), torch.zeros(2), torch.zeros(2), method="finite")
    with pytest.raises(ValueError, match="scalar"):
        hvp(lambda x: x ** 2, torch.zeros(2), torch.zeros(2))
