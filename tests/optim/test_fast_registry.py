"""Every optimizer of the test registry: the fast path agrees with the reference path.

Two param groups (the row's ``group2`` for the second), float64 within 1e-12 and float32 within
1e-6 (relative to each tensor's scale), for parameters and every state tensor. Rows whose chain
has no fused kernel yet are skipped, naming the chain, so the gap stays visible.
"""

from __future__ import annotations

import pytest
import torch
from optim_registry import ROWS

from ravine.optim import ChainOptimizer
from ravine.optim.fast import algorithm_for, runner

SHAPES = [(3,), (40,), (7, 9), (33, 17)]
TOL = {torch.float64: 1e-12, torch.float32: 1e-6}


def _run(row, dtype, fast_path, steps=5):
    torch.manual_seed(0)  # state drawn from the global generator (gradient noise keys)
    gen = torch.Generator().manual_seed(5)
    params = [torch.randn(s, dtype=dtype, generator=gen).requires_grad_() for s in SHAPES]
    opt = row.make([{"params": params[:2]}, {"params": params[2:], **row.group2}])
    opt.fast_path = fast_path
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, dtype=dtype, generator=gen)
        opt.step()
    return params, opt


def _close(a, b, tol):
    scale = b.double().abs().max().clamp_min(1e-300)
    return ((a.double() - b.double()).abs().max() / scale).item() <= tol


CHAIN_ROWS = [r for r in ROWS if not r.wrapper]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("row", CHAIN_ROWS, ids=[r.id for r in CHAIN_ROWS])
def test_registry_fast_path_agrees(row, dtype, monkeypatch):
    probe = row.make([torch.zeros(1, 2, requires_grad=True)])  # 2-D: Muon takes only matrices
    assert isinstance(probe, ChainOptimizer)
    if algorithm_for(probe.transform) is None:
        pytest.skip(f"no fused kernel for {probe.transform!r} yet (runs the reference path)")
    calls = []
    original = runner._invoke
    monkeypatch.setattr(runner, "_invoke", lambda *a: (calls.append(1), original(*a)))
    fast, opt_fast = _run(row, dtype, "kernel")
    assert calls, "the fast path declined this row"
    ref, opt_ref = _run(row, dtype, "reference")
    for i, (a, b) in enumerate(zip(fast, ref, strict=True)):
        assert _close(a, b, TOL[dtype]), f"param {i}"
        sa, sb = opt_fast.state[a], opt_ref.state[b]
        assert sorted(sa) == sorted(sb), f"state keys of param {i}"
        for key in sb:
            if not isinstance(sb[key], torch.Tensor):  # e.g. the noise key, an int
                assert sa[key] == sb[key], key
                continue
            assert sa[key].dtype == sb[key].dtype, key
            assert _close(sa[key], sb[key], TOL[dtype]), f"state {key} of param {i}"
