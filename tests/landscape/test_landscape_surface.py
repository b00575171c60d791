import copy

import pytest
import torch
from helpers_landscape import tiny_convnet
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ravine.analysis import FlatParams
from ravine.landscape import (
    BezierCurve,
    curve_path,
    linear_interpolation,
    random_direction,
    surface_1d,
    surface_2d,
    train_bezier,
)

F64 = torch.float64


def _classification_problem():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).to(F64)
    X = torch.randn(37, 5, dtype=F64)
    y = torch.randint(0, 3, (37,))
    return model, nn.CrossEntropyLoss(), X, y


def _perturbed_copy(model, pairs):
    """A deep copy of ``model`` with ``w += sum coef * d`` written parameter by parameter."""
    other = copy.deepcopy(model)
    flat = FlatParams(model)
    with torch.no_grad():
        for name, p in other.named_parameters():
            for coef, d in pairs:
                p.add_(coef * d[flat.slices[name]].view(p.shape))
    return other


def test_surface_at_origin_is_the_model_loss_and_accuracy():
    model, loss_fn, X, y = _classification_problem()
    d1, d2 = random_direction(model), random_direction(model)
    s = surface_2d(model, loss_fn, (X, y), d1, d2, [-0.5, 0.0, 0.5], [0.0, 1.0], accuracy=True)
    with torch.no_grad():
        out = model(X)
    assert s.loss[1, 0].item() == pytest.approx(float(loss_fn(out, y)), rel=1e-14)
    assert s.accuracy[1, 0].item() == pytest.approx(float((out.argmax(1) == y).double().mean()))
    s1 = surface_1d(model, loss_fn, (X, y), d1, torch.tensor([0.0]))
    assert s1.loss.item() == pytest.approx(float(loss_fn(out, y)), rel=1e-14)


def test_surface_equals_brute_force_on_perturbed_copies_over_a_loader():
    model, loss_fn, X, y = _classification_problem()
    d1 = random_direction(model, generator=torch.Generator().manual_seed(1))
    d2 = random_direction(model, "layer", generator=torch.Generator().manual_seed(2))
    loader = DataLoader(TensorDataset(X, y), batch_size=10)  # 10, 10, 10, 7: unequal batches
    alphas, betas = [-1.0, 0.25, 0.8], [-0.6, 0.0, 1.3]
    s = surface_2d(model, loss_fn, loader, d1, d2, alphas, betas, accuracy=True)
    for i, a in enumerate(alphas):
        for j, b in enumerate(betas):
            other = _perturbed_copy(model, [(a, d1), (b, d2)])
            with torch.no_grad():
                out = other(X)
            assert s.loss[i, j].item() == pytest.approx(float(loss_fn(out, y)), rel=1e-12)
            acc = float((out.argmax(1) == y).double().mean())
            assert s.accuracy[i, j].item() == pytest.approx(acc, abs=1e-12)
    s1 = surface_1d(model, loss_fn, loader, d1, alphas)
    with torch.no_grad():
        brute = [float(loss_fn(_perturbed_copy(model, [(a, d1)])(X), y)) for a in alphas]
    torch.testing.assert_close(s1.loss, torch.tensor(brute, dtype=F64), rtol=1e-12, atol=0)


def test_quadratic_model_surface_equals_closed_form():
    # least squares: L(W, c) = 1/(2N) sum_n ||W x_n + c - y_n||^2 (MSELoss over 2 outputs)
    torch.manual_seed(3)
    model = nn.Linear(3, 2).to(F64)
    X, Y = torch.randn(20, 3, dtype=F64), torch.randn(20, 2, dtype=F64)
    d1, d2 = torch.randn(8, dtype=F64), torch.randn(8, dtype=F64)
    alphas, betas = torch.linspace(-2, 2, 5), torch.linspace(-1, 3, 4)
    s = surface_2d(model, nn.MSELoss(), (X, Y), d1, d2, alphas, betas)

    A = torch.cat([X, torch.ones(20, 1, dtype=F64)], dim=1)  # augmented inputs
    theta = torch.cat([model.weight.detach(), model.bias.detach()[:, None]], dim=1)  # 2 x 4

    def as_matrix(d):  # flat (weight 2x3, bias 2) -> 2 x 4
        return torch.cat([d[:6].view(2, 3), d[6:].view(2, 1)], dim=1)

    R = A @ theta.T - Y
    L0 = (R**2).sum() / 40
    G = R.T @ A / 20  # gradient w.r.t. the 2 x 4 matrix
    U, V = as_matrix(d1), as_matrix(d2)
    for i, a in enumerate(alphas.tolist()):
        for j, b in enumerate(betas.tolist()):
            delta = a * U + b * V
            closed = L0 + (G * delta).sum() + ((A @ delta.T) ** 2).sum() / 40
            assert s.loss[i, j].item() == pytest.approx(float(closed), rel=1e-12, abs=1e-13)


def test_linear_interpolation_accepts_vectors_modules_and_state_dicts():
    model, loss_fn, X, y = _classification_problem()
    other = copy.deepcopy(model)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(torch.randn_like(p))
    ts = [-0.5, 0.0, 0.5, 1.0]
    by_module = linear_interpolation(model, loss_fn, (X, y), model, other, ts, accuracy=True)
    flat = FlatParams(model)
    w1, w2 = flat.flatten(), FlatParams(other).flatten()
    by_vector = linear_interpolation(model, loss_fn, (X, y), w1, w2, ts)
    by_state = linear_interpolation(model, loss_fn, (X, y), model.state_dict(),
                                    other.state_dict(), ts)
    torch.testing.assert_close(by_module.loss, by_vector.loss, rtol=0, atol=0)
    torch.testing.assert_close(by_module.loss, by_state.loss, rtol=0, atol=0)
    with torch.no_grad():
        assert by_module.loss[1].item() == pytest.approx(float(loss_fn(model(X), y)), rel=1e-14)
        assert by_module.loss[3].item() == pytest.approx(float(loss_fn(other(X), y)), rel=1e-14)
        mid = _perturbed_copy(model, [(0.5, w2 - w1)])
        assert by_module.loss[2].item() == pytest.approx(float(loss_fn(mid(X), y)), rel=1e-12)
        ext = _perturbed_copy(model, [(-0.5, w2 - w1)])
        assert by_module.loss[0].item() == pytest.approx(float(loss_fn(ext(X), y)), rel=1e-12)


def test_no_call_modifies_the_model_even_with_batchnorm_in_train_mode():
    model = tiny_convnet()
    model.train()
    X, y = torch.randn(9, 1, 6, 6, dtype=F64), torch.randint(0, 3, (9,))
    loss_fn = nn.CrossEntropyLoss()
    before = copy.deepcopy(model.state_dict())
    d1, d2 = random_direction(model), random_direction(model)
    w2 = FlatParams(model).flatten() + d1
    surface_1d(model, loss_fn, (X, y), d1, [0.0, 1.0], accuracy=True)
    surface_2d(model, loss_fn, [(X, y), (X, y)], d1, d2, [0.0, 1.0], [0.0, 1.0])
    linear_interpolation(model, loss_fn, (X, y), FlatParams(model).flatten(), w2, [0.0, 0.5])
    curve = train_bezier(model, loss_fn, (X, y), FlatParams(model).flatten(), w2, steps=3)
    curve_path(model, loss_fn, (X, y), curve, [0.0, 0.5, 1.0])
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k


def test_surface_input_errors():
    model, loss_fn, X, y = _classification_problem()
    d = random_direction(model)
    with pytest.raises(ValueError, match="alphas"):
        surface_1d(model, loss_fn, (X, y), d, [])
    with pytest.raises(ValueError, match="d2 must be a flat vector"):
        surface_2d(model, loss_fn, (X, y), d, d[:-1], [0.0], [0.0])
    with pytest.raises(TypeError, match="data"):
        surface_1d(model, loss_fn, X, d, [0.0])
    with pytest.raises(ValueError, match="empty"):
        surface_1d(model, loss_fn, [], d, [0.0])
    with pytest.raises(ValueError, match="betas"):
        surface_2d(model, loss_fn, (X, y), d, d, [0.0], [float("nan")])
    with pytest.raises(ValueError, match="steps"):
        train_bezier(model, loss_fn, (X, y), model, model, steps=0)
    with pytest.raises(ValueError, match="end"):
        BezierCurve(torch.zeros(3), torch.zeros(2))


@pytest.mark.parametrize("chunk_size", [1, 4, 100])
def test_vectorized_chunks_agree_with_the_reference_loop(chunk_size):
    model, loss_fn, X, y = _classification_problem()
    loader = DataLoader(TensorDataset(X, y), batch_size=16)
    d1, d2 = random_direction(model), random_direction(model)
    grid = torch.linspace(-1, 1, 5)
    ref = surface_2d(model, loss_fn, loader, d1, d2, grid, grid[:3], accuracy=True)
    fast = surface_2d(model, loss_fn, loader, d1, d2, grid, grid[:3], accuracy=True,
                      chunk_size=chunk_size)
    torch.testing.assert_close(fast.loss, ref.loss, rtol=1e-12, atol=0)
    torch.testing.assert_close(fast.accuracy, ref.accuracy, rtol=0, atol=1e-12)
    one = surface_1d(model, loss_fn, (X, y), d1, grid, chunk_size=chunk_size)
    one_ref = surface_1d(model, loss_fn, (X, y), d1, grid)
    torch.testing.assert_close(one.loss, one_ref.loss, rtol=1e-12, atol=0)
    w2 = FlatParams(model).flatten() + d2
    lin = linear_interpolation(model, loss_fn, (X, y), model, w2, grid, chunk_size=chunk_size)
    lin_ref = linear_interpolation(model, loss_fn, (X, y), model, w2, grid)
    torch.testing.assert_close(lin.loss, lin_ref.loss, rtol=1e-12, atol=0)


def test_vectorized_path_on_a_convnet_with_batchnorm_in_eval_mode():
    model = tiny_convnet().eval()
    X, y = torch.randn(9, 1, 6, 6, dtype=F64), torch.randint(0, 3, (9,))
    d1 = random_direction(model)
    curve = BezierCurve(FlatParams(model).flatten(), FlatParams(model).flatten() + d1,
                        bend=FlatParams(model).flatten() - d1)
    ts = torch.linspace(0, 1, 7)
    ref = curve_path(model, nn.CrossEntropyLoss(), (X, y), curve, ts, accuracy=True)
    fast = curve_path(model, nn.CrossEntropyLoss(), (X, y), curve, ts, accuracy=True,
                      chunk_size=3)
    torch.testing.assert_close(fast.loss, ref.loss, rtol=1e-12, atol=0)
    torch.testing.assert_close(fast.accuracy, ref.accuracy, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="chunk_size"):
        curve_path(model, nn.CrossEntropyLoss(), (X, y), curve, ts, chunk_size=0)
