"""Adafactor and Muon beyond the registry: shapes other than the MLP's, the Newton–Schulz map
against its closed form on singular values, bfloat16 parity with torch and its float64 bound."""

from __future__ import annotations

import pytest
import torch

from ravine import optim as ro
from ravine.transforms import orthogonalize_newton_schulz
from ravine.transforms.orthogonal import NS_COEFFICIENTS, newton_schulz

SHAPES = [(5, 8), (8, 5), (6, 6), (1, 7), (7, 1), (8, 5), (5, 8), (33, 17)]


def _randn(shapes, seed, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]


def svd_reference(g, coefficients=NS_COEFFICIENTS, steps=5, eps=1e-7):
    """The map on singular values: X = U diag(p^steps(s / max(||G||_F, eps))) V^T."""
    a, b, c = coefficients
    u, s, vh = torch.linalg.svd(g, full_matrices=False)
    s = s / max(torch.linalg.norm(g).item(), eps)
    for _ in range(steps):
        s = a * s + b * s**3 + c * s**5
    return u @ torch.diag(s) @ vh


def _orthogonalize(updates, dtype, batched=None, steps=5):
    t = orthogonalize_newton_schulz(compute_dtype=dtype, batched=batched, ns_steps=steps)
    return t.update([u.clone() for u in updates], None, None, dict(t.defaults))


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("steps", [0, 1, 5])
def test_newton_schulz_float64_is_the_map_on_singular_values(batched, steps):
    updates = _randn(SHAPES, 0)
    for u, x in zip(updates, _orthogonalize(updates, torch.float64, batched, steps), strict=True):
        assert x.shape == u.shape and x.dtype == torch.float64
        torch.testing.assert_close(x, svd_reference(u, steps=steps), rtol=1e-12, atol=1e-13)


def test_newton_schulz_keeps_a_zero_matrix_zero_and_orthogonalizes():
    zero, = _orthogonalize([torch.zeros(3, 4, dtype=torch.float64)], torch.float64)
    assert torch.equal(zero, torch.zeros(3, 4, dtype=torch.float64))
    # many iterations of a convergent cubic (a, b, c) = (1.5, -0.5, 0): exactly U V^T
    g = _randn([(4, 6)], 1)[0]
    x = newton_schulz(g.clone(), (1.5, -0.5, 0.0), steps=60)
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    torch.testing.assert_close(x, u @ vh, rtol=0, atol=1e-12)


def test_batched_and_per_matrix_agree_outside_bfloat16():
    updates = _randn(SHAPES, 2)
    for dtype, tol in ((torch.float64, 1e-13), (torch.float32, 1e-5)):
        one = _orthogonalize(updates, dtype, batched=False)
        many = _orthogonalize(updates, dtype, batched=True)
        for a, b in zip(one, many, strict=True):
            torch.testing.assert_close(a, b, rtol=tol, atol=tol)


def test_bfloat16_stays_within_its_documented_bound_of_the_exact_map():
    """bfloat16 (8-bit mantissa) against float64: within 4% in Frobenius norm per matrix."""
    updates = _randn(SHAPES + [(64, 64), (32, 128)], 3)
    exact = _orthogonalize(updates, torch.float64)
    for dtype, bound in ((torch.bfloat16, 4e-2), (torch.float32, 1e-5)):
        for x, ref in zip(_orthogonalize(updates, dtype), exact, strict=True):
            assert (torch.linalg.norm(x - ref) / torch.linalg.norm(ref)).item() < bound, dtype


def _muon_run(cls, params, groups, steps=6, seed=4, **kwargs):
    opt = cls([{"params": params[:2]}, {"params": params[2:], **groups}], **kwargs)
    for step in range(steps):
        for p, g in zip(params, _randn([p.shape for p in params], seed + step), strict=True):
            p.grad = g
        opt.step()
    return opt


@pytest.mark.parametrize("kwargs", [{}, {"nesterov": False, "weight_decay": 0.0},
                                    {"adjust_lr_fn": "match_rms_adamw", "momentum": 0.5}])
def test_muon_bfloat16_is_torchs_bit_for_bit(kwargs):
    runs = []
    for cls in (ro.Muon, torch.optim.Muon):
        params = [p.requires_grad_() for p in _randn(SHAPES, 5)]
        _muon_run(cls, params, {"lr": 0.05}, lr=0.02, **kwargs)
        runs.append(params)
    for ours, theirs in zip(*runs, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-14, atol=1e-15)


def test_muon_bfloat16_orthogonalization_is_torchs_bit_for_bit():
    """One step from zero (lr 1, no momentum, no decay) leaves -NS(g) in each wide matrix:
    equal bits for 1100 small matrices (batched bfloat16 products differ in 6 of these)."""
    shapes = [(12, 12)] * 1000 + [(5, 8)] * 100
    runs = []
    for cls in (ro.Muon, torch.optim.Muon):
        params = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in shapes]
        opt = cls(params, lr=1.0, momentum=0.0, weight_decay=0.0, nesterov=False)
        for p, g in zip(params, _randn(shapes, 9), strict=True):
            p.grad = g
        opt.step()
        runs.append(torch.cat([p.detach().reshape(-1) for p in params]))
    assert runs[1].abs().min() > 0  # every entry moved
    assert torch.equal(*runs)


def _reference_muon(params, grads_per_step, lrs, momentum, weight_decay, nesterov):
    """Plain float64 Muon: EMA momentum, the map on singular values, decoupled decay."""
    params = [p.detach().clone() for p in params]
    bufs = [torch.zeros_like(p) for p in params]
    for grads in grads_per_step:
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            bufs[i] = momentum * bufs[i] + (1 - momentum) * g
            u = (1 - momentum) * g + momentum * bufs[i] if nesterov else bufs[i]
            ratio = max(1.0, p.shape[0] / p.shape[1]) ** 0.5
            params[i] = p * (1 - lrs[i] * weight_decay) - lrs[i] * ratio * svd_reference(u)
    return params


@pytest.mark.parametrize("nesterov", [True, False])
def test_muon_float64_equals_a_float64_reference(nesterov):
    start = _randn(SHAPES, 6)
    params = [p.clone().requires_grad_() for p in start]
    _muon_run(ro.Muon, params, {"lr": 0.05}, lr=0.02, nesterov=nesterov,
              ns_dtype=torch.float64)
    grads = [_randn([p.shape for p in start], 4 + step) for step in range(6)]
    lrs = [0.02, 0.02] + [0.05] * (len(start) - 2)
    expected = _reference_muon(start, grads, lrs, 0.95, 0.1, nesterov)
    for ours, ref in zip(params, expected, strict=True):
        torch.testing.assert_close(ours.detach(), ref, rtol=1e-12, atol=1e-13)


def test_muon_steps_reject_a_non_matrix_added_later_like_torch():
    for cls in (torch.optim.Muon, ro.Muon):
        opt = cls([torch.nn.Parameter(torch.ones(2, 2))])
        v = torch.nn.Parameter(torch.ones(3))
        opt.add_param_group({"params": [v]})
        v.grad = torch.ones(3)
        with pytest.raises(ValueError, match="2D"):
            opt.step()


ADAFACTOR_SHAPES = [(), (4,), (3, 5), (5, 3), (2, 3, 4), (2, 2, 3, 3)]


@pytest.mark.parametrize("kwargs", [{}, {"maximize": True, "weight_decay": 0.1},
                                    {"eps": (1e-3, 1e-2), "d": 1.5, "beta2_decay": -0.5}])
def test_adafactor_matches_torch_on_all_ranks(kwargs):
    """Factored second moments for >= 2-D tensors (the last two dimensions), full for < 2-D;
    the default eps1=None (the machine epsilon); 2 param groups."""
    runs = []
    for cls in (ro.Adafactor, torch.optim.Adafactor):
        params = [p.requires_grad_() for p in _randn(ADAFACTOR_SHAPES, 7)]
        opt = cls([{"params": params[:3]}, {"params": params[3:], "lr": 0.05}], lr=0.02,
                  **kwargs)
        for step in range(30):
            for p, g in zip(params, _randn(ADAFACTOR_SHAPES, 100 + step), strict=True):
                p.grad = g
            opt.step()
        runs.append((params, opt))
    (ours, our_opt), (theirs, their_opt) = runs
    for p, q in zip(ours, theirs, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)
        mine, torchs = our_opt.state[p], their_opt.state[q]
        assert set(mine) == set(torchs)
        for key, value in torchs.items():
            assert mine[key].shape == value.shape, key
            torch.testing.assert_close(mine[key], value, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["Adafactor", "Muon"])
def test_under_torchs_lr_scheduler_with_a_tensor_lr(name):
    runs = []
    for cls in (getattr(ro, name), getattr(torch.optim, name)):
        params = [p.requires_grad_() for p in _randn([(4, 6), (6, 4)], 8)]
        opt = cls(params, lr=torch.tensor(0.05, dtype=torch.float64))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5)
        for step in range(6):
            for p, g in zip(params, _randn([(4, 6), (6, 4)], 200 + step), strict=True):
                p.grad = g
            opt.step()
            sched.step()
        runs.append((params, opt.param_groups[0]["lr"]))
    (ours, our_lr), (theirs, their_lr) = runs
    assert isinstance(our_lr, torch.Tensor) and torch.equal(our_lr, their_lr)
    for p, q in zip(ours, theirs, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)
