"""The fused-kernel fast path agrees with the reference transforms, for every fast optimizer.

float64: within 1e-12 (relative to the tensor's scale); float32: within 1e-6. The no-compiler
fallback gives the reference's results bit for bit.
"""

from __future__ import annotations

import pytest
import torch

import ravine.optim as ro
from ravine.optim.fast import algorithm_for, compiler

# (name, class, kwargs); the optimizers engineer's registry adds the rest as it lands
CASES = [
    ("sgd", ro.SGD, dict(lr=0.1)),
    ("sgd_wd_max", ro.SGD, dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("sgd_momentum", ro.SGD, dict(lr=0.1, momentum=0.9)),
    ("sgd_dampening", ro.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("sgd_nesterov", ro.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("adam", ro.Adam, dict(lr=0.1)),
    ("adam_l2_max", ro.Adam, dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("adam_amsgrad", ro.Adam, dict(lr=0.1, amsgrad=True, betas=(0.7, 0.9))),
    ("adam_decoupled", ro.Adam, dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
    ("adamw", ro.AdamW, dict(lr=0.1)),
    ("adamw_amsgrad", ro.AdamW, dict(lr=0.1, amsgrad=True, weight_decay=0.3, eps=1e-3)),
]
_MORE = [
    ("adagrad", "Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("adagrad_wd_max", "Adagrad", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("rmsprop", "RMSprop", dict(lr=0.01)),
    ("rmsprop_centered_momentum", "RMSprop", dict(lr=0.01, centered=True, momentum=0.9,
                                                  weight_decay=0.1)),
    ("rmsprop_momentum_max", "RMSprop", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("adamax", "Adamax", dict(lr=0.1)),
    ("adamax_wd_max", "Adamax", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("nadam", "NAdam", dict(lr=0.1, momentum_decay=0.05)),
    ("nadam_l2_max", "NAdam", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("nadam_decoupled", "NAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
    # beta2 = 0.99: the rectification switches on at step 6, the last one
    ("radam", "RAdam", dict(lr=0.1, betas=(0.9, 0.99))),
    ("radam_l2_max", "RAdam", dict(lr=0.1, betas=(0.8, 0.99), weight_decay=0.1, maximize=True)),
    ("radam_decoupled", "RAdam", dict(lr=0.1, betas=(0.9, 0.99), weight_decay=0.1,
                                      decoupled_weight_decay=True)),
]
_MORE += [
    ("adadelta", "Adadelta", dict(lr=0.5)),
    ("adadelta_wd_max", "Adadelta", dict(lr=1.0, rho=0.8, eps=1e-4, weight_decay=0.1,
                                         maximize=True)),
    ("rprop", "Rprop", dict(lr=0.1)),
    ("rprop_clamped_max", "Rprop", dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(0.05, 0.2),
                                        maximize=True)),
    ("asgd", "ASGD", dict(lr=0.05, lambd=0.1)),
    # t0 = 2: the average starts at step 4 of 6
    ("asgd_average_wd_max", "ASGD", dict(lr=0.05, t0=2, alpha=0.5, weight_decay=0.1,
                                         maximize=True)),
]
CASES += [(n, getattr(ro, c), kw) for n, c, kw in _MORE if hasattr(ro, c)]
# no torch.optim anchor for these
OWN_CASES = [(n, getattr(ro, c), kw) for n, c, kw in [
    ("lion", "Lion", dict(lr=0.01)),
    ("lion_wd_max", "Lion", dict(lr=0.01, weight_decay=0.5, maximize=True, betas=(0.5, 0.9))),
    ("lamb", "LAMB", dict(lr=0.01, weight_decay=0.1)),
    ("lamb_max", "LAMB", dict(lr=0.01, maximize=True, betas=(0.8, 0.9))),
    ("lars", "LARS", dict(lr=0.5, weight_decay=1e-2, trust_coefficient=0.02)),
    ("lars_nesterov_max", "LARS", dict(lr=0.5, nesterov=True, maximize=True)),
    ("lars_plain", "LARS", dict(lr=0.5, momentum=0.0, weight_decay=0.1)),
    ("sgd_schedulefree", "SGDScheduleFree", dict(lr=0.1, weight_decay=0.1, warmup_steps=2)),
    ("sgd_schedulefree_max", "SGDScheduleFree", dict(lr=0.1, momentum=0.3, r=1.0,
                                                     maximize=True)),
    ("adamw_schedulefree", "AdamWScheduleFree", dict(lr=0.05, weight_decay=0.1, eps=1e-3)),
    ("adamw_schedulefree_max", "AdamWScheduleFree", dict(lr=0.05, betas=(0.6, 0.9),
                                                         warmup_steps=3, maximize=True)),
] if hasattr(ro, c)]
SHAPES = [(1,), (37,), (16, 33), (130, 70)]
TOL = {torch.float64: 1e-12, torch.float32: 1e-6}


def _params(dtype, shapes=SHAPES):
    gen = torch.Generator().manual_seed(1)
    return [torch.randn(s, dtype=dtype, generator=gen, requires_grad=True) for s in shapes]


def _train(cls, kwargs, dtype, fast_path, steps=6, shapes=SHAPES):
    params = _params(dtype, shapes)
    opt = cls(params, **kwargs)
    opt.fast_path = fast_path
    gen = torch.Generator().manual_seed(2)
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, dtype=dtype, generator=gen)
        opt.step()
    return params, opt


def _assert_near(actual, expected, tol, what):
    scale = expected.double().abs().max().clamp_min(1e-300)  # (1e-300 is 0 in float32)
    err = ((actual.double() - expected.double()).abs().max() / scale).item()
    assert err <= tol, f"{what}: relative error {err:.3g} > {tol:g}"


def _assert_same_run(a, b, tol):
    params_a, opt_a = a
    params_b, opt_b = b
    for i, (pa, pb) in enumerate(zip(params_a, params_b, strict=True)):
        _assert_near(pa, pb, tol, f"param {i}")
        sa, sb = opt_a.state[pa], opt_b.state[pb]
        assert sorted(sa) == sorted(sb)
        for key in sb:
            assert sa[key].dtype == sb[key].dtype and sa[key].shape == sb[key].shape, key
            _assert_near(sa[key], sb[key], tol, f"state {key} of param {i}")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name,cls,kwargs", CASES + OWN_CASES,
                         ids=[c[0] for c in CASES + OWN_CASES])
def test_fast_matches_reference(name, cls, kwargs, dtype, kernel_calls):
    fast = _train(cls, kwargs, dtype, "kernel")
    assert kernel_calls, "the fast path did not run (fell back to the reference)"
    reference = _train(cls, kwargs, dtype, "reference")
    _assert_same_run(fast, reference, TOL[dtype])


@pytest.mark.parametrize("name,cls,kwargs", CASES, ids=[c[0] for c in CASES])
def test_fast_float64_matches_torch_optim(name, cls, kwargs):
    params, _ = _train(cls, kwargs, torch.float64, "kernel")
    anchor = _params(torch.float64)
    opt = getattr(torch.optim, cls.__name__)(anchor, **kwargs)
    gen = torch.Generator().manual_seed(2)
    for _ in range(6):
        for p in anchor:
            p.grad = torch.randn(p.shape, dtype=torch.float64, generator=gen)
        opt.step()
    for i, (p, a) in enumerate(zip(params, anchor, strict=True)):
        _assert_near(p, a, 1e-12, f"param {i} vs torch.optim.{cls.__name__}")


@pytest.mark.parametrize("name,cls,kwargs", CASES + OWN_CASES,
                         ids=[c[0] for c in CASES + OWN_CASES])
def test_no_compiler_fallback_equals_reference(name, cls, kwargs, monkeypatch,
                                               kernel_calls):
    monkeypatch.setenv("RAVINE_CC", "none")
    assert compiler.find_compiler() is None
    fallback = _train(cls, kwargs, torch.float32, "auto")
    assert not kernel_calls
    assert "no C compiler" in (compiler.last_error or "")
    reference = _train(cls, kwargs, torch.float32, "reference")
    _assert_same_run(fallback, reference, 0.0)


def test_every_fast_class_has_a_kernel():
    for name, cls, kwargs in CASES + OWN_CASES:
        opt = cls(_params(torch.float32), **kwargs)
        assert algorithm_for(opt.transform) is not None, name
