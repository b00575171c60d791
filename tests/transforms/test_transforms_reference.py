"""Transforms torch.optim lacks, against plain transcriptions of their papers and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Lasso

from ravine.optim import LAMB, LARS, SGD, ChainOptimizer, Lion
from ravine.transforms import (
    add_gradient_noise,
    chain,
    clip_by_global_norm,
    clip_by_value,
    prox_l1,
    scale_by_lr,
)

D = torch.tensor([1.0, 4.0, 0.25], dtype=torch.float64)
TARGET = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)


def quad_grad(w):
    """Gradient of 0.5 sum D (w - TARGET)^2, as a list of floats."""
    return [d * (x - t) for d, x, t in zip(D.tolist(), w, TARGET.tolist(), strict=True)]


def _drive(opt, w, steps):
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * D * (w - TARGET) ** 2).sum().backward()
        opt.step()


def _sign(x):
    return (x > 0) - (x < 0)


def test_lion_matches_paper_algorithm():
    lr, b1, b2, wd = 0.01, 0.9, 0.99, 0.1
    w_ref, m = [1.0, -2.0, 0.5], [0.0, 0.0, 0.0]
    for _ in range(30):  # Chen et al. 2023, Algorithm 2 (with decoupled weight decay)
        g = quad_grad(w_ref)
        c = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g, strict=True)]
        w_ref = [wi - lr * (_sign(ci) + wd * wi) for wi, ci in zip(w_ref, c, strict=True)]
        m = [b2 * mi + (1 - b2) * gi for mi, gi in zip(m, g, strict=True)]
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))
    _drive(Lion([w], lr=lr, betas=(b1, b2), weight_decay=wd), w, 30)
    assert torch.allclose(w.detach(), torch.tensor(w_ref, dtype=torch.float64), atol=1e-14)


def test_lion_first_step_moves_every_coordinate_by_lr():
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))
    _drive(Lion([w], lr=0.1), w, 1)
    # g = D (w - TARGET) = [0.5, -4, -0.4375]: each coordinate moves by -lr sign(g)
    assert torch.equal(w.detach(), torch.tensor([0.9, -1.9, 0.6], dtype=torch.float64))


def _lamb_reference(ws, grads_fn, steps, lr, b1, b2, eps, wd):
    ms = [np.zeros_like(w) for w in ws]
    vs = [np.zeros_like(w) for w in ws]
    for t in range(1, steps + 1):
        gs = grads_fn(ws)
        new = []
        for w, g, m, v in zip(ws, gs, ms, vs, strict=True):  # You et al. 2020, Algorithm 2
            m[:] = b1 * m + (1 - b1) * g
            v[:] = b2 * v + (1 - b2) * g * g
            r = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
            u = r + wd * w
            ratio = np.linalg.norm(w) / np.linalg.norm(u)
            new.append(w - lr * ratio * u)
        ws = new
    return ws


def _two_tensor_problem():
    a = torch.nn.Parameter(torch.tensor([3.0, -4.0], dtype=torch.float64))
    b = torch.nn.Parameter(torch.tensor([0.1, 0.2, -0.2], dtype=torch.float64))

    def loss():
        return ((a - 1.0) ** 2).sum() + 10 * ((b + 0.5) ** 2).sum()

    def grads(ws):
        return [2 * (ws[0] - 1.0), 20 * (ws[1] + 0.5)]

    return a, b, loss, grads


def test_lamb_matches_paper_algorithm_with_per_tensor_trust_ratio():
    a, b, loss, grads = _two_tensor_problem()
    ref = _lamb_reference([a.detach().numpy().copy(), b.detach().numpy().copy()], grads, 25,
                          lr=0.05, b1=0.9, b2=0.999, eps=1e-6, wd=0.01)
    opt = LAMB([a, b], lr=0.05, weight_decay=0.01)
    for _ in range(25):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert np.allclose(a.detach().numpy(), ref[0], atol=1e-13, rtol=0)
    assert np.allclose(b.detach().numpy(), ref[1], atol=1e-13, rtol=0)


def test_lamb_first_step_by_hand():
    # step 1, no decay: r = sign(g), ratio = ||w|| / sqrt(n): w1 = w0 - lr ||w0|| sign(g) / sqrt(n)
    a, b, loss, _ = _two_tensor_problem()
    opt = LAMB([a, b], lr=0.1, eps=0.0)
    loss().backward()
    opt.step()
    assert torch.allclose(a.detach(), torch.tensor([3.0, -4.0], dtype=torch.float64)
                          - 0.1 * 5.0 / math.sqrt(2) * torch.tensor([1.0, -1.0],
                                                                     dtype=torch.float64))
    b_norm = math.sqrt(0.01 + 0.04 + 0.04)
    assert torch.allclose(b.detach(), torch.tensor([0.1, 0.2, -0.2], dtype=torch.float64)
                          - 0.1 * b_norm / math.sqrt(3) * torch.ones(3, dtype=torch.float64))


def test_lars_matches_paper_algorithm():
    lr, mu, wd, eta = 0.5, 0.9, 1e-3, 0.02
    a, b, loss, grads = _two_tensor_problem()
    ws = [a.detach().numpy().copy(), b.detach().numpy().copy()]
    bufs = [np.zeros_like(w) for w in ws]
    for _ in range(25):  # You, Gitman & Ginsburg 2017, Algorithm 1
        gs = grads(ws)
        for i, (w, g) in enumerate(zip(ws, gs, strict=True)):
            local = eta * np.linalg.norm(w) / (np.linalg.norm(g) + wd * np.linalg.norm(w) + 1e-8)
            bufs[i] = mu * bufs[i] + local * (g + wd * w)
            ws[i] = w - lr * bufs[i]
    opt = LARS([a, b], lr=lr, momentum=mu, weight_decay=wd, trust_coefficient=eta)
    for _ in range(25):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert np.allclose(a.detach().numpy(), ws[0], atol=1e-13, rtol=0)
    assert np.allclose(b.detach().numpy(), ws[1], atol=1e-13, rtol=0)


def _least_squares(seed=0):
    gen = torch.Generator().manual_seed(seed)
    A = torch.randn(40, 5, generator=gen, dtype=torch.float64)
    y = torch.randn(40, generator=gen, dtype=torch.float64)
    w_star = torch.linalg.lstsq(A, y).solution
    f_star = 0.5 * ((A @ w_star - y) ** 2).mean()
    return A, y, f_star


@pytest.mark.parametrize("make", [
    lambda p: Lion(p, lr=2e-2),
    lambda p: LAMB(p, lr=3e-2),
    lambda p: LARS(p, lr=1.0, trust_coefficient=0.05),
    lambda p: ChainOptimizer(p, chain(add_gradient_noise(noise_eta=1e-4), scale_by_lr()),
                             lr=0.2),
], ids=["lion", "lamb", "lars", "gradient_noise"])
def test_converges_on_least_squares(make):
    A, y, f_star = _least_squares()
    w = torch.nn.Parameter(torch.full((5,), 0.5, dtype=torch.float64))
    opt = make([w])
    lr0 = opt.param_groups[0]["lr"]
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1 + t / 50))
    for _ in range(1500):
        opt.zero_grad()
        loss = 0.5 * ((A @ w - y) ** 2).mean()
        loss.backward()
        opt.step()
        scheduler.step()
    gap = float(0.5 * ((A @ w.detach() - y) ** 2).mean() - f_star)
    assert 0 <= gap < 1e-3, (gap, lr0)


def test_l1_prox_is_ista_and_matches_sklearn_lasso_with_exact_zeros():
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    y = (y - y.mean()) / y.std()
    n, alpha = len(y), 0.05
    lr = 1.0 / np.linalg.eigvalsh(X.T @ X / n).max()
    # ISTA transcription (Daubechies et al. 2004): w <- soft(w - lr grad, lr alpha)
    w_ref = np.zeros(X.shape[1])
    for _ in range(50):
        z = w_ref - lr * (X.T @ (X @ w_ref - y) / n)
        w_ref = np.sign(z) * np.maximum(np.abs(z) - lr * alpha, 0.0)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    w = torch.nn.Parameter(torch.zeros(X.shape[1], dtype=torch.float64))
    opt = ChainOptimizer([w], chain(scale_by_lr(), prox_l1()), lr=lr, l1=alpha)

    def step():
        opt.zero_grad()
        (0.5 * ((Xt @ w - yt) ** 2).mean()).backward()
        opt.step()

    for _ in range(50):
        step()
    assert np.allclose(w.detach().numpy(), w_ref, atol=1e-12, rtol=0)
    for _ in range(3000):
        step()
    lasso = Lasso(alpha=alpha, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(X, y)
    ours = w.detach().numpy()
    assert np.allclose(ours, lasso.coef_, atol=1e-6)
    zeros = lasso.coef_ == 0
    assert zeros.any() and not zeros.all()
    assert np.array_equal(ours == 0.0, zeros)  # exact zeros, where the lasso has them


def test_l1_prox_threshold_by_hand():
    w = torch.nn.Parameter(torch.tensor([0.05, -0.3, 1.0, -0.02], dtype=torch.float64))
    opt = ChainOptimizer([w], chain(scale_by_lr(), prox_l1()), lr=0.1, l1=1.0)
    w.grad = torch.tensor([0.0, 0.0, 2.0, 0.0], dtype=torch.float64)
    opt.step()
    # w_half = [0.05, -0.3, 0.8, -0.02]; threshold 0.1
    assert torch.equal(w.detach()[[0, 3]], torch.zeros(2, dtype=torch.float64))
    assert torch.allclose(w.detach(), torch.tensor([0.0, -0.2, 0.7, 0.0], dtype=torch.float64))


def test_gradient_noise_has_annealed_variance():
    eta, gamma = 0.3, 0.55
    w = torch.nn.Parameter(torch.zeros(200_000, dtype=torch.float64))
    opt = ChainOptimizer([w], chain(add_gradient_noise(), scale_by_lr()), lr=1.0,
                         noise_eta=eta, noise_gamma=gamma)
    for t in range(4):
        before = w.detach().clone()
        w.grad = torch.zeros_like(w)
        opt.step()
        noise = before - w.detach()
        expected = math.sqrt(eta / (1 + t) ** gamma)
        assert abs(noise.std().item() / expected - 1) < 0.01
        assert abs(noise.mean().item()) < 5 * expected / math.sqrt(w.numel())


def test_gradient_noise_is_reproducible_under_manual_seed():
    runs = []
    for seed in (7, 7, 8):
        torch.manual_seed(seed)
        w = torch.nn.Parameter(torch.zeros(5, dtype=torch.float64))
        opt = ChainOptimizer([w], chain(add_gradient_noise(), scale_by_lr()), lr=1.0)
        for _ in range(3):
            w.grad = torch.zeros_like(w)
            opt.step()
        runs.append(w.detach().clone())
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def _grads_pair(scale):
    gen = torch.Generator().manual_seed(1)
    return [torch.randn(4, 3, generator=gen, dtype=torch.float64) * scale,
            torch.randn(5, generator=gen, dtype=torch.float64) * scale]


@pytest.mark.parametrize("scale", [0.01, 10.0], ids=["inside", "clipped"])
def test_clip_by_global_norm_matches_torch_utility(scale):
    grads = _grads_pair(scale)
    ours = [torch.nn.Parameter(torch.ones_like(g)) for g in grads]
    theirs = [torch.nn.Parameter(torch.ones_like(g)) for g in grads]
    for p, q, g in zip(ours, theirs, grads, strict=True):
        p.grad, q.grad = g.clone(), g.clone()
    ChainOptimizer(ours, chain(clip_by_global_norm(), scale_by_lr()), lr=0.1,
                   max_norm=1.0).step()
    torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.0)
    SGD(theirs, lr=0.1).step()
    for p, q in zip(ours, theirs, strict=True):
        assert torch.allclose(p, q, atol=1e-15, rtol=0)


def test_clip_by_value_matches_torch_utility():
    grads = _grads_pair(1.0)
    ours = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    theirs = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, q, g in zip(ours, theirs, grads, strict=True):
        p.grad, q.grad = g.clone(), g.clone()
    ChainOptimizer(ours, chain(clip_by_value(), scale_by_lr()), lr=1.0, clip_value=0.5).step()
    torch.nn.utils.clip_grad_value_(theirs, clip_value=0.5)
    torch.optim.SGD(theirs, lr=1.0).step()
    for p, q in zip(ours, theirs, strict=True):
        assert torch.equal(p, q)
    assert any((g.abs() > 0.5).any() for g in grads)
