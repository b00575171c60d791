"""Lookahead, SAM and gradient accumulation against transcriptions of their algorithms."""

from __future__ import annotations

import io

import pytest
import torch

from ravine.optim import SAM, SGD, Adam, GradientAccumulation, Lookahead

A = torch.tensor([[2.0, 0.5], [0.5, 1.0], [1.0, -1.0]], dtype=torch.float64)
Y = torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64)


def loss_of(w):
    r = A @ w - Y
    return 0.5 * (r * r).sum() + 0.1 * (w**4).sum()  # convex, not quadratic


def grad_of(w):
    w = w.detach().clone().requires_grad_(True)
    loss_of(w).backward()
    return w.grad


def _closure(opt, w):
    def closure():
        opt.zero_grad()
        value = loss_of(w)
        value.backward()
        return value
    return closure


def test_lookahead_matches_algorithm():
    lr, mu, k, alpha = 0.05, 0.9, 3, 0.3
    fast = torch.tensor([1.0, 1.0], dtype=torch.float64)
    slow, buf = fast.clone(), None
    for t in range(1, 14):  # Zhang et al. 2019, Algorithm 1, inner SGD with momentum
        g = grad_of(fast)
        buf = g.clone() if buf is None else mu * buf + g
        fast = fast - lr * buf
        if t % k == 0:
            slow = slow + alpha * (fast - slow)
            fast = slow.clone()
    w = torch.nn.Parameter(torch.tensor([1.0, 1.0], dtype=torch.float64))
    opt = Lookahead(SGD([w], lr=lr, momentum=mu), k=k, alpha=alpha)
    for _ in range(13):
        opt.step(_closure(opt, w))
    assert torch.allclose(w.detach(), fast, atol=1e-14, rtol=0)
    assert opt.lookahead_step == 13


def test_lookahead_state_dict_holds_its_own_and_the_inner_state():
    w = torch.nn.Parameter(torch.tensor([1.0, 1.0], dtype=torch.float64))
    opt = Lookahead(Adam([w], lr=0.1), k=4, alpha=0.3)
    for _ in range(6):
        opt.step(_closure(opt, w))
    sd = opt.state_dict()
    assert sd["wrapper"] == {"lookahead_step": 6, "k": 4, "alpha": 0.3}
    assert set(sd["state"][0]) == {"slow_param"}
    assert set(sd["inner"]["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    other = Lookahead(Adam([w], lr=0.1), k=2, alpha=0.9)
    other.load_state_dict(sd)
    assert (other.k, other.alpha, other.lookahead_step) == (4, 0.3, 6)
    assert torch.equal(other.state[w]["slow_param"], opt.state[w]["slow_param"])
    assert torch.equal(other.optimizer.state[w]["exp_avg"], opt.optimizer.state[w]["exp_avg"])
    assert other.param_groups is other.optimizer.param_groups
    with pytest.raises(ValueError, match="inner"):
        other.load_state_dict(opt.optimizer.state_dict())


@pytest.mark.parametrize("adaptive", [False, True], ids=["sam", "asam"])
def test_sam_matches_algorithm(adaptive):
    lr, rho = 0.1, 0.2
    w_ref = [torch.tensor([1.0, -1.0], dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64)]

    def loss2(ws):
        return loss_of(ws[0]) + (ws[1] - 2.0) ** 2 * ws[0].pow(2).sum()

    def grads2(ws):
        ws = [x.detach().clone().requires_grad_(True) for x in ws]
        loss2(ws).backward()
        return [x.grad for x in ws]

    for _ in range(10):  # Foret et al. 2021, Algorithm 1; Kwon et al. 2021 (ASAM, T = |w|)
        g = grads2(w_ref)
        t = [x.abs() if adaptive else torch.ones_like(x) for x in w_ref]
        norm = torch.sqrt(sum(((ti * gi) ** 2).sum() for ti, gi in zip(t, g, strict=True)))
        e = [rho * ti * ti * gi / (norm + 1e-12) for ti, gi in zip(t, g, strict=True)]
        g_sam = grads2([x + ei for x, ei in zip(w_ref, e, strict=True)])
        w_ref = [x - lr * gi for x, gi in zip(w_ref, g_sam, strict=True)]

    ws = [torch.nn.Parameter(torch.tensor([1.0, -1.0], dtype=torch.float64)),
          torch.nn.Parameter(torch.tensor(0.5, dtype=torch.float64))]
    opt = SAM(SGD(ws, lr=lr), rho=rho, adaptive=adaptive)

    def closure():
        opt.zero_grad()
        value = loss2(ws)
        value.backward()
        return value

    for _ in range(10):
        opt.step(closure)
    for ours, ref in zip(ws, w_ref, strict=True):
        assert torch.allclose(ours.detach(), ref, atol=1e-14, rtol=0)


def test_sam_needs_a_closure():
    w = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = SAM(SGD([w], lr=0.1))
    w.grad = torch.ones_like(w)
    with pytest.raises(ValueError, match="closure"):
        opt.step()


def test_accumulation_equals_one_big_batch_step():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(12, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(12, generator=gen, dtype=torch.float64)
    k = 3

    def batch_loss(w, rows):
        return ((X[rows] @ w - y[rows]) ** 2).mean() + 0.1 * (w**4).sum() / 1

    big = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    big_opt = Adam([big], lr=0.05)
    small = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    small_opt = GradientAccumulation(Adam([small], lr=0.05), k=k)
    for _ in range(5):
        big_opt.zero_grad()
        batch_loss(big, slice(None)).backward()
        big_opt.step()
        for i in range(k):
            before = small.detach().clone()
            small_opt.zero_grad()
            batch_loss(small, slice(4 * i, 4 * i + 4)).backward()
            small_opt.step()
            if i < k - 1:  # only every k-th call changes the parameters
                assert torch.equal(small.detach(), before)
        assert torch.allclose(small.detach(), big.detach(), atol=1e-14, rtol=0)
    assert small_opt.micro_step == 5 * k
    assert int(small_opt.optimizer.state[small]["step"]) == 5


@pytest.mark.parametrize("make", [
    lambda p: Lookahead(SGD(p, lr=0.05, momentum=0.9), k=5, alpha=0.5),
    lambda p: SAM(SGD(p, lr=0.05), rho=0.01),
    lambda p: GradientAccumulation(Adam(p, lr=0.05), k=2),
], ids=["lookahead", "sam", "accumulation"])
def test_wrappers_converge_on_a_convex_problem(make):
    w = torch.nn.Parameter(torch.tensor([1.0, 1.0], dtype=torch.float64))
    opt = make([w])
    for _ in range(600):
        opt.step(_closure(opt, w))
    # the minimiser of the strictly convex loss has zero gradient
    assert grad_of(w).norm() < 1e-3 if not isinstance(opt, SAM) else grad_of(w).norm() < 2e-2


def test_wrapper_add_param_group_reaches_the_inner_optimizer():
    a = torch.nn.Parameter(torch.ones(2))
    b = torch.nn.Parameter(torch.ones(2))
    opt = Lookahead(SGD([a], lr=0.1))
    opt.add_param_group({"params": [b], "lr": 0.2})
    assert opt.optimizer.param_groups[1]["params"] == [b]
    assert opt.param_groups is opt.optimizer.param_groups
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    again = Lookahead(SGD([{"params": [a]}, {"params": [b]}], lr=0.1))
    again.load_state_dict(torch.load(buffer, weights_only=False))
    assert again.param_groups[1]["lr"] == 0.2


def test_wrappers_reject_non_optimizers():
    with pytest.raises(TypeError, match="optimizer"):
        Lookahead([torch.ones(2)])
