"""Fused kernels for clipping / gradient noise in front of a chain agree with the reference.

float64 within 1e-12, float32 within 1e-6 relative; the noise the kernels generate is the
reference's Philox stream; the noise of a resumed run continues exactly.
"""

from __future__ import annotations

import pytest
import torch

from ravine.optim import ChainOptimizer
from ravine.optim.fast import algorithm_for
from ravine.transforms import (
    add_decayed_weights,
    add_gradient_noise,
    add_l2,
    chain,
    clip_by_global_norm,
    clip_by_value,
    scale_by_adam,
    scale_by_lr,
    scale_by_momentum,
    scale_by_nadam,
    scale_by_rms,
    scale_by_trust_ratio,
)

SHAPES = [(3,), (40,), (16, 33), (70, 30)]
TOL = {torch.float64: 1e-12, torch.float32: 1e-6}


def _rms_chain(prefix):
    return chain(prefix, add_l2(), scale_by_rms(), scale_by_momentum(), scale_by_lr())


def _nadam_chain(prefix):
    return chain(prefix, add_l2(), scale_by_nadam(), add_decayed_weights(),
                 scale_by_lr())


# (id, chain factory, hyperparameters of group 1, overrides for group 2)
CASES = [
    ("clipnorm_adamw", lambda: chain(clip_by_global_norm(), add_l2(), scale_by_adam(),
                                     add_decayed_weights(), scale_by_lr()),
     dict(lr=1e-2, max_norm=1.0, weight_decay=0.1, decoupled_weight_decay=True),
     dict(max_norm=100.0)),
    ("clipnorm_adamw_no_l2_link", lambda: chain(clip_by_global_norm(), scale_by_adam(),
                                                add_decayed_weights(), scale_by_lr()),
     dict(lr=1e-2, max_norm=0.5, weight_decay=0.1, maximize=True), dict(weight_decay=0.0)),
    ("clipnorm_rmsprop_centered", lambda: _rms_chain(clip_by_global_norm()),
     dict(lr=1e-2, max_norm=2.0, centered=True, momentum=0.9, eps=1e-3), dict(momentum=0.0)),
    ("clipvalue_sgd_nesterov", lambda: chain(clip_by_value(), add_l2(), scale_by_momentum(),
                                             scale_by_lr()),
     dict(lr=0.1, clip_value=0.5, momentum=0.9, nesterov=True, weight_decay=0.1,
          maximize=True), dict(clip_value=2.0)),
    ("clipvalue_adam_l2", lambda: chain(clip_by_value(), add_l2(), scale_by_adam(),
                                        add_decayed_weights(), scale_by_lr()),
     dict(lr=1e-2, clip_value=0.3, weight_decay=0.1, decoupled_weight_decay=False),
     dict(lr=1e-3)),
    ("noise_sgd", lambda: chain(add_gradient_noise(), scale_by_lr()),
     dict(lr=0.05, noise_eta=0.3, maximize=True), dict(noise_gamma=0.0)),
    ("noise_sgd_momentum", lambda: chain(add_gradient_noise(), add_l2(), scale_by_momentum(),
                                         scale_by_lr()),
     dict(lr=0.05, noise_eta=0.1, momentum=0.9, weight_decay=0.01), dict(dampening=0.5)),
    ("noise_adamw", lambda: chain(add_gradient_noise(), add_l2(), scale_by_adam(),
                                  add_decayed_weights(), scale_by_lr()),
     dict(lr=1e-2, noise_eta=0.01, weight_decay=0.1, decoupled_weight_decay=True,
          maximize=True), dict(noise_eta=0.0)),
    ("noise_nadam", lambda: _nadam_chain(add_gradient_noise()),
     dict(lr=1e-2, noise_eta=0.05, momentum_decay=4e-3, decoupled_weight_decay=False),
     dict(weight_decay=0.1)),
    ("sgd_momentum_no_l2_link", lambda: chain(scale_by_momentum(), scale_by_lr()),
     dict(lr=0.1, momentum=0.9), dict(nesterov=True)),
]


def _run(case, dtype, fast_path, steps=5, shapes=SHAPES, skip=None):
    _, make, hp, group2 = case
    torch.manual_seed(0)  # the noise keys come from the global generator
    gen = torch.Generator().manual_seed(1)
    params = [torch.randn(s, dtype=dtype, generator=gen).requires_grad_() for s in shapes]
    half = len(params) // 2
    opt = ChainOptimizer([{"params": params[:half]}, {"params": params[half:], **group2}],
                         make(), fast_path=fast_path, **hp)
    for step in range(steps):
        for i, p in enumerate(params):
            g = torch.randn(p.shape, dtype=dtype, generator=gen)
            p.grad = None if skip is not None and skip(step, i) else g
        opt.step()
    return params, opt


def _close(a, b, tol):
    scale = b.double().abs().max().clamp_min(1e-300)
    return ((a.double() - b.double()).abs().max() / scale).item() <= tol


def _compare(case, dtype, kernel_calls, **kwargs):
    fast, opt_fast = _run(case, dtype, "kernel", **kwargs)
    assert kernel_calls, "the fast path declined this chain"
    ref, opt_ref = _run(case, dtype, "reference", **kwargs)
    for i, (a, b) in enumerate(zip(fast, ref, strict=True)):
        assert _close(a, b, TOL[dtype]), f"param {i}"
        sa, sb = opt_fast.state[a], opt_ref.state[b]
        assert sorted(sa) == sorted(sb)
        for key, value in sb.items():
            if isinstance(value, torch.Tensor):
                assert sa[key].dtype == value.dtype, key
                assert _close(sa[key], value, TOL[dtype]), f"state {key} of param {i}"
            else:
                assert sa[key] == value, key
    return opt_fast


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_prefixed_chain_agrees_with_reference(case, dtype, kernel_calls):
    assert algorithm_for(case[1]()) is not None
    _compare(case, dtype, kernel_calls)


def test_clipping_is_active_in_the_cases():
    # the clip factor must actually be < 1 in group 1, or the test above checks nothing
    params, _ = _run(CASES[0], torch.float64, "reference", steps=0)
    grads = [torch.randn(p.shape, dtype=torch.float64) for p in params[:2]]
    assert torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])) > 1.0


def test_noise_follows_each_tensors_own_step(kernel_calls):
    case = CASES[6]  # noise_sgd_momentum: FIRST variants and lazily created buffers
    shapes = [(5,), (7,), (30,), (3, 4), (50,), (2,)]
    # tensor 2 skips steps 0 and 3: its step count (so its noise std and stream) lags the others
    _compare(case, torch.float64, kernel_calls, steps=6, shapes=shapes,
             skip=lambda step, i: i == 2 and step in (0, 3))
    _compare(case, torch.float32, kernel_calls, steps=6, shapes=shapes,
             skip=lambda step, i: i == 4 and step == 1)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("threads", [1, 2])
def test_kernel_noise_is_the_philox_stream(dtype, threads):
    # plain SGD with lr 1 on zero gradients: p_0 - p_1 = std * noise, element for element; sizes
    # straddle the Philox blocks (64/32), the 1024-element chunks and, with 2 threads, a thread
    # boundary in the middle of the large tensor
    from ravine.transforms.philox import normal
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        shapes = [(1,), (65,), (1025,), (3, 37), (90_001,)]
        params = [torch.zeros(s, dtype=dtype, requires_grad=True) for s in shapes]
        opt = ChainOptimizer(params, chain(add_gradient_noise(), scale_by_lr()), lr=1.0,
                             noise_eta=0.25, noise_gamma=0.0, fast_path="kernel")
        for t in range(2):
            for p in params:
                p.grad = torch.zeros_like(p)
                p.data.zero_()
            opt.step()
            assert opt._fast_layouts or t == 0
            for p in params:
                drawn = -p.detach().flatten() / 0.5  # from 0, with std 0.5: no rounding
                expected = normal(p.numel(), opt.state[p]["noise_key"], t, dtype)
                if dtype == torch.float32:  # the same float32 operations: bit for bit
                    assert torch.equal(drawn, expected), (p.shape, t)
                assert _close(drawn, expected, 4 * TOL[dtype]), (p.shape, t)
    finally:
        torch.set_num_threads(old)


def test_noise_resumes_exactly_from_a_state_dict(kernel_calls):
    case = CASES[7]  # noise_adamw
    whole, _ = _run(case, torch.float64, "kernel", steps=6)
    first, opt = _run(case, torch.float64, "kernel", steps=3)
    saved = opt.state_dict()
    torch.manual_seed(123)  # a different global generator: the saved keys must win
    params = [p.detach().clone().requires_grad_() for p in first]
    resumed = ChainOptimizer([{"params": params[:2]}, {"params": params[2:], **case[3]}],
                             case[1](), **case[2])
    resumed.load_state_dict(saved)
    gen = torch.Generator().manual_seed(1)
    for p in params:  # replay the generator to where the first run stopped
        torch.randn(p.shape, dtype=torch.float64, generator=gen)
    for _ in range(3):
        for p in params:
            torch.randn(p.shape, dtype=torch.float64, generator=gen)
    for _ in range(3):
        for p in params:
            p.grad = torch.randn(p.shape, dtype=torch.float64, generator=gen)
        resumed.step()
    for a, b in zip(params, whole, strict=True):
        assert torch.equal(a, b)


def test_norm_pass_algorithms_take_no_prefix():
    lamb = chain(clip_by_global_norm(), scale_by_adam(), add_decayed_weights(),
                 scale_by_trust_ratio(), scale_by_lr())
    assert algorithm_for(lamb) is None
