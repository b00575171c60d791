import pytest
import torch
from helpers_analysis import exact_hessian, small_mlp

from ravine.analysis import hessian_density, hessian_trace
from ravine.analysis.spectrum import hutchinson


def test_trace_estimate_is_within_its_interval_of_the_exact_trace():
    model, loss_fn, data = small_mlp(seed=1)
    H = exact_hessian(model, loss_fn, data)
    est = hessian_trace(model, loss_fn=loss_fn, data=data, num_samples=200, confidence=0.99)
    assert est.ci_low <= float(H.trace()) <= est.ci_high
    assert est.num_samples == 200 and est.stderr > 0
    # the interval is informative: narrower than the trace's own size
    assert est.ci_high - est.ci_low < abs(float(H.trace()))


def test_trace_interval_has_its_stated_coverage():
    # 300 independent 95% intervals on a fixed matrix: coverage close to 0.95
    gen = torch.Generator().manual_seed(0)
    B = torch.randn(30, 30, dtype=torch.float64, generator=gen)
    A = B + B.T
    truth = float(A.trace())
    hits = 0
    for _ in range(300):
        est = hutchinson(lambda v: A @ v, 30, 40, like=A, generator=gen, confidence=0.95)
        hits += est.ci_low <= truth <= est.ci_high
    assert 0.90 <= hits / 300 <= 0.99


def test_per_layer_traces_add_up_to_the_block_traces():
    model, loss_fn, data = small_mlp(seed=2)
    H = exact_hessian(model, loss_fn, data)
    est = hessian_trace(model, loss_fn=loss_fn, data=data, num_samples=100, per_layer=True,
                        confidence=0.99)
    start = 0
    for (name, p), block in zip(model.named_parameters(), est.per_layer.values(), strict=True):
        sub = H[start:start + p.numel(), start:start + p.numel()]
        start += p.numel()
        assert block.ci_low <= float(sub.trace()) <= block.ci_high, name


def test_density_integrates_to_one_and_matches_a_histogram_of_exact_eigenvalues():
    model, loss_fn, data = small_mlp(seed=0, hidden=8)
    exact = torch.linalg.eigvalsh(exact_hessian(model, loss_fn, data))
    n = exact.numel()
    dens = hessian_density(model, loss_fn=loss_fn, data=data, num_probes=20, num_steps=n)
    integral = torch.trapezoid(dens.density, dens.grid)
    assert abs(float(integral) - 1.0) < 1e-6
    torch.testing.assert_close(dens.weights.sum(dim=1), torch.ones(20, dtype=torch.float64))
    edges = torch.linspace(float(exact.min()) - 1e-9, float(exact.max()) + 1e-9, 6)
    for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        frac = float(((exact >= lo) & (exact < hi)).sum()) / n
        assert abs(dens.mass(lo, hi) - frac) < 0.05, (lo, hi, dens.mass(lo, hi), frac)
    # the smoothed density carries the same mass as the quadrature on each bin (sigma is small)
    lo, hi = edges[0].item(), edges[1].item()
    inside = (dens.grid >= lo - 0.5) & (dens.grid < hi)
    smooth_mass = torch.trapezoid(dens.density[inside], dens.grid[inside])
    assert abs(float(smooth_mass) - dens.mass(lo - 0.5, hi)) < 0.05


def _hutchinson_sd(A, probes):
    # standard deviation of the mean of v^T A v / n over Rademacher probes
    off = A - torch.diag(torch.diag(A))
    return float((2 * (off ** 2).sum() / probes).sqrt()) / A.shape[0]


def test_density_with_few_steps_has_the_right_moments_and_bulk():
    # 20 steps on an 83-dimensional Hessian: the quadrature is coarse, yet with m nodes it
    # integrates polynomials of degree <= 2m - 1 exactly for each probe, so its first two moments
    # are Hutchinson estimates of tr(H)/n and tr(H^2)/n, within their sampling error
    model, loss_fn, data = small_mlp(seed=4, hidden=10)
    H = exact_hessian(model, loss_fn, data)
    exact = torch.linalg.eigvalsh(H)
    P = 30
    dens = hessian_density(model, loss_fn=loss_fn, data=data, num_probes=P, num_steps=20)
    m1 = float((dens.weights * dens.nodes).sum() / P)
    m2 = float((dens.weights * dens.nodes ** 2).sum() / P)
    assert abs(m1 - float(exact.mean())) < 4 * _hutchinson_sd(H, P)
    assert abs(m2 - float((exact ** 2).mean())) < 4 * _hutchinson_sd(H @ H, P)
    near_zero = float((exact.abs() < 1e-2).float().mean())
    assert abs(dens.mass(-1e-2, 1e-2) - near_zero) < 0.15


def test_per_layer_density_uses_the_diagonal_blocks():
    model, loss_fn, data = small_mlp(seed=5)
    H = exact_hessian(model, loss_fn, data)
    dens = hessian_density(model, loss_fn=loss_fn, data=data, num_probes=3, num_steps=200,
                           per_layer=True)
    start = 0
    for (name, p), block in zip(model.named_parameters(), dens.per_layer.values(), strict=True):
        sub = H[start:start + p.numel(), start:start + p.numel()]
        start += p.numel()
        eig = torch.linalg.eigvalsh(sub)
        # full-length Lanczos on the block: its nodes are the block's eigenvalues
        assert block.nodes.shape[1] == p.numel(), name
        torch.testing.assert_close(block.nodes[0].sort().values, eig, atol=1e-10, rtol=0)


def test_spectrum_arguments_are_validated():
    f = lambda x: (x ** 2).sum()  # noqa: E731
    x = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="num_samples"):
        hessian_trace(f, x, num_samples=1)
    with pytest.raises(ValueError, match="confidence"):
        hessian_trace(f, x, confidence=1.5)
    with pytest.raises(ValueError, match="num_probes"):
        hessian_density(f, x, num_probes=0)
    with pytest.raises(ValueError, match="sigma"):
        hessian_density(f, x, sigma=-1.0)
