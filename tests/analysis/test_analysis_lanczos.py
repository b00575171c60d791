import pytest
import torch
from helpers_analysis import exact_hessian, random_quadratic, small_mlp

from ravine.analysis import hessian_eigenvalues, lanczos


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("which", ["largest", "smallest"])
def test_extreme_eigenvalues_of_small_mlps_match_eigvalsh(seed, which):
    model, loss_fn, data = small_mlp(seed=seed, hidden=5 + seed)
    exact = torch.linalg.eigvalsh(exact_hessian(model, loss_fn, data))
    k = 4
    res = hessian_eigenvalues(model, k=k, which=which, loss_fn=loss_fn, data=data)
    expected = exact.flip(0)[:k] if which == "largest" else exact[:k]
    assert res.converged
    assert res.num_products <= exact.numel()
    rel = ((res.eigenvalues - expected).abs() / expected.abs()).max()
    assert rel < 1e-8, (res.eigenvalues, expected)
    # the Ritz vectors are eigenvectors: ||H u - lambda u|| small
    H = exact_hessian(model, loss_fn, data)
    resid = H @ res.eigenvectors - res.eigenvectors * res.eigenvalues
    assert resid.norm(dim=0).max() < 1e-6 * exact.abs().max()


def test_forward_over_reverse_gives_the_same_eigenvalues():
    model, loss_fn, data = small_mlp(seed=3)
    a = hessian_eigenvalues(model, k=2, loss_fn=loss_fn, data=data)
    b = hessian_eigenvalues(model, k=2, loss_fn=loss_fn, data=data, method="forward_over_reverse")
    torch.testing.assert_close(a.eigenvalues, b.eigenvalues, rtol=1e-10, atol=0)


def test_lanczos_finds_multiple_eigenvalues_with_their_multiplicity():
    # eigenvalue 5 three times: plain Lanczos breaks down and sees it once; the restart finds all
    f, A = random_quadratic([5.0, 5.0, 5.0, 1.0, -2.0, 0.5])
    res = hessian_eigenvalues(f, torch.zeros(6, dtype=torch.float64), k=3)
    torch.testing.assert_close(res.eigenvalues, torch.full((3,), 5.0, dtype=torch.float64))
    low = hessian_eigenvalues(f, torch.zeros(6, dtype=torch.float64), k=2, which="smallest")
    torch.testing.assert_close(low.eigenvalues, torch.tensor([-2.0, 0.5], dtype=torch.float64))


def test_lanczos_tridiagonal_has_the_operator_spectrum_after_n_steps():
    f, A = random_quadratic([3.0, -1.0, 2.0, 0.1, 7.0])
    res = lanczos(lambda v: A @ v, torch.randn(5, dtype=torch.float64), 50)
    assert res.num_products == 5 and res.beta_next == 0.0
    Q = res.basis
    torch.testing.assert_close(Q.T @ Q, torch.eye(5, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(Q.T @ A @ Q, res.tridiagonal(), atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.linalg.eigvalsh(res.tridiagonal()),
                               torch.linalg.eigvalsh(A), atol=1e-12, rtol=0)


def test_eigenvalue_arguments_are_validated():
    f, _ = random_quadratic([1.0, 2.0])
    x = torch.zeros(2, dtype=torch.float64)
    with pytest.raises(ValueError, match="which"):
        hessian_eigenvalues(f, x, which="middle")
    with pytest.raises(ValueError, match="k must be"):
        hessian_eigenvalues(f, x, k=3)
    with pytest.raises(ValueError, match="tol"):
        hessian_eigenvalues(f, x, tol=0.0)
    with pytest.raises(ValueError, match="max_steps"):
        lanczos(lambda v: v, x + 1, 0)
    with pytest.raises(ValueError, match="v0"):
        lanczos(lambda v: v, x, 3)


def test_lanczos_non_finite_point_or_product_is_a_clear_error():
    """A nan point (e.g. a diverged run's weights) is a ValueError, not LAPACK's error."""
    f = lambda x: (x**4).sum()  # noqa: E731
    with pytest.raises(ValueError, match="finite"):
        hessian_eigenvalues(f, torch.tensor([float("nan"), 1.0, 2.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="not finite"):  # finite point, infinite curvature
        hessian_eigenvalues(lambda x: (x.abs() ** 1.5).sum(),
                            torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64))
