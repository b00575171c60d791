import pytest
import torch
from helpers_analysis import random_quadratic
from torch import nn

from ravine.analysis import classify_critical_point, escape_saddle
from ravine.analysis.critical import CriticalPoint

F64 = torch.float64


@pytest.mark.parametrize(
    "eigenvalues, kind, index",
    [
        ([1.0, 2.0, 3.0, 0.5, 4.0], "minimum", 0),
        ([-1.0, -2.0, -3.0, -0.5, -4.0], "maximum", 5),
        ([-1.0, 2.0, 3.0, 0.5, 4.0], "saddle", 1),
        ([-1.0, -2.0, 3.0, -0.5, 4.0], "saddle", 3),
        ([-1e-3, 2.0, 3.0, 5.0, 4.0], "saddle", 1),
        ([0.0, 2.0, 3.0, 0.5, 4.0], "degenerate", 0),
        ([0.0, -2.0, -3.0, -0.5, -4.0], "degenerate", 4),
        ([0.0, -2.0, 3.0, 0.5, 4.0], "saddle", 1),
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_quadratics_of_known_inertia(eigenvalues, kind, index, seed):
    f, A = random_quadratic(eigenvalues, seed=seed)
    center = torch.randn(5, dtype=F64, generator=torch.Generator().manual_seed(seed))
    res = classify_critical_point(lambda x: f(x - center), center)
    assert (res.kind, res.index) == (kind, index)
    assert res.exact and res.grad_norm < 1e-12
    torch.testing.assert_close(res.eigenvalues, torch.tensor(sorted(eigenvalues), dtype=F64),
                               atol=1e-12, rtol=0)


def test_lanczos_path_for_large_problems_agrees_with_the_dense_one():
    lam = torch.linspace(-1.0, 4.0, 40, dtype=F64)
    lam[lam.abs() < 0.05] = 0.3
    f, _ = random_quadratic(lam.tolist(), seed=3)
    x = torch.zeros(40, dtype=F64)
    dense = classify_critical_point(f, x)
    lanczos = classify_critical_point(f, x, dense_max=10, k=5)
    assert dense.kind == lanczos.kind == "saddle"
    assert not lanczos.exact and lanczos.index == 5  # a lower bound: the 5 smallest are negative
    assert dense.index == int((lam < 0).sum())
    torch.testing.assert_close(lanczos.eigenvalues[:5], dense.eigenvalues[:5])


def test_not_critical_point_reports_gradient_norm_and_tolerances():
    res = classify_critical_point(lambda x: (x ** 2).sum(), torch.tensor([1.0, 0.0], dtype=F64),
                                  grad_tol=1e-6)
    assert res.kind == "not critical"
    assert res.grad_norm == pytest.approx(2.0)
    assert res.grad_tol == 1e-6 and res.eig_tol == pytest.approx(2e-8)
    assert isinstance(res, CriticalPoint)


def saddle(x):
    return x[0] ** 2 - x[1] ** 2


def monkey_saddle(x):
    return x[0] ** 3 - 3 * x[0] * x[1] ** 2


def test_saddle_examples_are_classified():
    zero = torch.zeros(2, dtype=F64)
    res = classify_critical_point(saddle, zero)
    assert (res.kind, res.index) == ("saddle", 1)
    # the monkey saddle's Hessian at 0 is zero: the second-order test cannot decide
    res = classify_critical_point(monkey_saddle, zero)
    assert res.kind == "degenerate" and torch.equal(res.eigenvalues, torch.zeros(2, dtype=F64))
    assert classify_critical_point(lambda x: (x ** 4).sum(), zero).kind == "degenerate"


def test_escape_from_the_quadratic_saddle_along_negative_curvature():
    zero = torch.zeros(2, dtype=F64)
    res = escape_saddle(saddle, zero)
    assert res.success and res.how == "negative curvature"
    assert res.loss_after < res.loss_before == 0.0
    assert res.curvature == pytest.approx(-2.0)
    assert abs(float(res.direction[1])) == pytest.approx(1.0)
    assert res.x.shape == zero.shape and float(saddle(res.x)) == pytest.approx(res.loss_after)


def test_escape_from_the_degenerate_monkey_saddle_by_third_order():
    res = escape_saddle(monkey_saddle, torch.zeros(2, dtype=F64))
    assert res.success and res.how == "third order"
    assert res.loss_after < 0.0
    # along d = (cos t, sin t): f = s^3 cos(3t); the chosen direction has cos(3t) < 0
    theta = torch.atan2(res.direction[1], res.direction[0])
    assert float(torch.cos(3 * theta)) < 0


def test_escape_off_center_saddle_with_nonzero_gradient_still_decreases():
    x = torch.tensor([0.3, 1e-3], dtype=F64)
    res = escape_saddle(saddle, x)
    assert res.success and res.loss_after < res.loss_before


def test_escape_reports_failure_at_a_minimum():
    res = escape_saddle(lambda x: (x ** 2).sum(), torch.zeros(3, dtype=F64))
    assert not res.success and res.how == "none" and res.step == 0.0
    res = escape_saddle(lambda x: (x ** 4).sum(), torch.zeros(2, dtype=F64), num_random=4)
    assert not res.success and res.loss_after == res.loss_before


def test_small_network_at_the_symmetric_zero_point_is_a_saddle_and_escapes():
    # tanh net with all weights zero: the gradient vanishes (the hidden units are identical and
    # silent) but input-output correlation makes the cross-block curvature indefinite
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(64, 3, dtype=F64, generator=gen)
    y = X @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=F64)
    model = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Tanh(), nn.Linear(4, 1, bias=False))
    model = model.double()
    for p in model.parameters():
        nn.init.zeros_(p)
    loss_fn = nn.functional.mse_loss
    res = classify_critical_point(model, loss_fn=loss_fn, data=(X, y))
    assert res.kind == "saddle" and res.grad_norm < 1e-12
    # closed form: for each hidden unit j only the cross terms d2L/dW2_j dW1_jk = -2 E[y x_k]
    # are nonzero, a 4x4 block with eigenvalues +-||c||, c = 2 E[y x], and zeros
    c = 2 * (y * X).mean(dim=0)
    assert res.index == 4
    torch.testing.assert_close(res.eigenvalues[:4], -c.norm().expand(4))
    torch.testing.assert_close(res.eigenvalues[-4:], c.norm().expand(4))
    out = escape_saddle(model, loss_fn=loss_fn, data=(X, y))
    assert out.success and out.how == "negative curvature"
    assert out.loss_after < out.loss_before
    # gradient descent from the escaped point keeps going down; from the saddle it cannot move
    opt_x = out.x.clone().requires_grad_(True)
    from ravine.analysis import as_objective

    obj = as_objective(model, loss_fn=loss_fn, data=(X, y))
    for _ in range(50):
        opt_x = (opt_x - 0.1 * obj.grad(opt_x)).detach()
    assert float(obj.value(opt_x)) < 0.5 * out.loss_after


def test_critical_arguments_are_validated():
    x = torch.zeros(2, dtype=F64)
    with pytest.raises(ValueError, match="grad_tol"):
        classify_critical_point(saddle, x, grad_tol=-1.0)
    with pytest.raises(ValueError, match="max_step"):
        escape_saddle(saddle, x, max_step=0.0)


def test_float32_points_use_a_looser_zero_threshold():
    # in float32 a zero eigenvalue comes out at rounding level; it still counts as zero
    _, A = random_quadratic([0.0, 1.0, 2.0], seed=4)
    A32 = A.float()
    res = classify_critical_point(lambda x: 0.5 * x @ A32 @ x, torch.zeros(3))
    assert res.kind == "degenerate" and res.eig_tol == pytest.approx(2e-4)
    with pytest.raises(ValueError, match="eig_rtol"):
        classify_critical_point(saddle, torch.zeros(2), eig_rtol=-1.0)
