import itertools

import pytest
import torch
from helpers_analysis import exact_hessian, random_quadratic, small_mlp

from ravine.analysis import epsilon_sharpness, sharpness

F64 = torch.float64


def brute_force_box_max(f, x, epsilon):
    # a convex function attains its maximum over a box at one of the 2^n vertices
    width = epsilon * (x.abs() + 1)
    best = -float("inf")
    for signs in itertools.product([-1.0, 1.0], repeat=x.numel()):
        best = max(best, float(f(x + torch.tensor(signs, dtype=F64) * width)))
    return best - float(f(x))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_epsilon_sharpness_of_convex_quadratics_ends_at_a_locally_maximal_vertex(seed):
    gen = torch.Generator().manual_seed(seed)
    f, A = random_quadratic(torch.rand(6, generator=gen, dtype=F64) * 3 + 0.1, seed=seed)
    x = torch.randn(6, dtype=F64, generator=gen)

    def shifted(z):  # minimum at x, f(x) = 0.7
        return f(z - x) + 0.7

    truth = brute_force_box_max(shifted, x, 0.05)
    width = 0.05 * (x.abs() + 1)
    one = epsilon_sharpness(shifted, x, epsilon=0.05, steps=30, restarts=1, seed=seed)
    y = one.perturbation
    torch.testing.assert_close(y.abs(), width)  # a vertex of the box
    # a KKT point of the box-constrained maximization: the gradient points out of the box
    grad = A @ y
    assert torch.equal(grad.sign(), y.sign())
    assert one.max_increase <= truth + 1e-12
    # with restarts the search finds the global vertex maximum on these 6-D problems
    many = epsilon_sharpness(shifted, x, epsilon=0.05, steps=30, restarts=20, seed=seed)
    assert many.max_increase == pytest.approx(truth, rel=1e-9)
    assert many.value == pytest.approx(100 * truth / 1.7, rel=1e-9)


def test_epsilon_sharpness_is_a_lower_bound_never_above_the_box_maximum():
    # nonconvex: the brute-force vertex search is not the maximum, but any point found must be
    # inside the box, so its value is bounded by a dense grid search
    def f(z):
        return torch.sin(3 * z[0]) * torch.cos(2 * z[1])

    x = torch.tensor([0.2, -0.4], dtype=F64)
    res = epsilon_sharpness(f, x, epsilon=0.3, steps=50)
    w = 0.3 * (x.abs() + 1)
    g0 = torch.linspace(-1, 1, 401, dtype=F64)
    grid = torch.cartesian_prod(g0 * w[0], g0 * w[1]) + x
    values = torch.sin(3 * grid[:, 0]) * torch.cos(2 * grid[:, 1])
    dense_max = float(values.max()) - float(f(x))
    assert res.max_increase <= dense_max + 1e-9
    assert res.max_increase >= 0.95 * dense_max


def test_sharpness_of_an_mlp_matches_exact_eigenvalue_and_trace():
    model, loss_fn, data = small_mlp(seed=6)
    H = exact_hessian(model, loss_fn, data)
    s = sharpness(model, loss_fn=loss_fn, data=data, epsilon=1e-3, trace_samples=100)
    top = float(torch.linalg.eigvalsh(H)[-1])
    assert s.max_eigenvalue == pytest.approx(top, rel=1e-6)
    assert s.trace.ci_low - 1e-3 <= float(H.trace()) <= s.trace.ci_high + 1e-3
    with torch.no_grad():
        assert s.loss == pytest.approx(float(loss_fn(model(data[0]), data[1])))
    # near a point with small gradient the increase in a tiny box is about eps^2-small, positive
    assert 0 < s.epsilon.max_increase < 1e-1


def test_sharper_quadratic_has_larger_sharpness():
    x = torch.zeros(4, dtype=F64)
    flat = sharpness(lambda z: 0.5 * (z * z).sum(), x, epsilon=0.01)
    sharp = sharpness(lambda z: 5.0 * (z * z).sum(), x, epsilon=0.01)
    assert sharp.max_eigenvalue == pytest.approx(10 * flat.max_eigenvalue)
    assert sharp.epsilon.max_increase == pytest.approx(10 * flat.epsilon.max_increase)


def test_sharpness_arguments_are_validated():
    x = torch.zeros(2, dtype=F64)
    with pytest.raises(ValueError, match="epsilon"):
        epsilon_sharpness(lambda z: (z * z).sum(), x, epsilon=0.0)
    with pytest.raises(ValueError, match="steps"):
        epsilon_sharpness(lambda z: (z * z).sum(), x, steps=0)
    with pytest.raises(ValueError, match="trace_samples"):
        sharpness(lambda z: (z * z).sum(), x, trace_samples=1)
