"""Cache-blocked norm passes (LAMB, LARS): the same bits as unblocked, for any thread count.

The kernels sum each tensor in fixed chunks counted from its start and add the chunk sums in
order, so a tensor's norms (hence its trust ratio) cannot depend on how the group is cut into
cache blocks or split across threads. These tests pin that down on a group of many small tensors
(sizes around the chunk length) plus tensors larger than a block, and check the values against
the reference path in float64.
"""

from __future__ import annotations

import pytest
import torch

import ravine.optim as ro
from ravine.optim.fast import csource, runner
from ravine.transforms import chain, clip_by_global_norm, scale_by_lr

CHUNK = csource.CHUNK


def _sizes(large: int) -> list[int]:
    """Small tensors of sizes on and around chunk boundaries, with two large ones among them."""
    small = [1, 3, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 7, 1000, 17]
    return small * 6 + [large] + small * 4 + [large + 3 * CHUNK + 5] + [5]


def _lamb(ps):
    return ro.LAMB(ps, lr=0.01, weight_decay=0.1)


def _lamb_max(ps):
    return ro.LAMB(ps, lr=0.01, betas=(0.8, 0.9), maximize=True)


def _lars(ps):
    return ro.LARS(ps, lr=0.5, momentum=0.9, weight_decay=0.01, trust_coefficient=0.02)


def _clip(ps):
    return ro.ChainOptimizer(ps, chain(clip_by_global_norm(), scale_by_lr()), lr=0.1,
                             max_norm=5.0)


MAKERS = {"lamb": _lamb, "lamb_max": _lamb_max, "lars": _lars, "clip": _clip}


@pytest.fixture(autouse=True)
def private_kernel_cache(monkeypatch):
    """A private kernel cache: BLOCK changes the generated source."""
    monkeypatch.setattr(runner, "_kernels", {})


def _run(make, sizes, path, threads, dtype, steps=3):
    """Params and state after ``steps`` steps on seeded data, as one flat list of tensors."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(11)
        params = [torch.randn(n, dtype=dtype, generator=gen).requires_grad_() for n in sizes]
        opt = make(params)
        opt.fast_path = path
        for i in range(steps):
            for j, p in enumerate(params):
                p.grad = torch.randn(p.shape, dtype=dtype, generator=gen) * (1 + j % 5 + i)
            opt.step()
    finally:
        torch.set_num_threads(previous)
    state = [t for p in params for t in opt.state[p].values() if isinstance(t, torch.Tensor)]
    return [p.detach() for p in params] + state


def _assert_bit_identical(a, b, what):
    assert len(a) == len(b)
    differing = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if not torch.equal(x, y)]
    assert not differing, f"{what}: tensors {differing[:10]} differ"


@pytest.mark.parametrize("name", list(MAKERS))
def test_blocked_kernel_matches_reference_and_is_thread_independent(name, kernel_calls):
    """Shipped sizes, a tensor above PRIVATE: reference within 1e-12; 1 vs 2 threads equal."""
    sizes = _sizes(csource.PRIVATE + 12_345)
    make = MAKERS[name]
    one = _run(make, sizes, "kernel", 1, torch.float64)
    two = _run(make, sizes, "kernel", 2, torch.float64)
    assert kernel_calls
    kernel_calls.clear()
    reference = _run(make, sizes, "reference", 1, torch.float64)
    assert not kernel_calls
    _assert_bit_identical(one, two, "1 vs 2 threads")
    for x, y in zip(two, reference, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", ["lamb", "lars"])
def test_block_size_does_not_change_a_bit(name, dtype, kernel_calls, monkeypatch):
    """Small blocks, one block per thread, and no blocks (every tensor streamed twice)."""
    sizes = _sizes(5 * CHUNK + 3)
    make = MAKERS[name]
    runs = {}
    # (BLOCK, PRIVATE): all shared (streamed twice, no scratch); small blocks with tensors
    # larger than a block taken whole; one block per thread
    for block, private in ((0, 0), (3 * CHUNK, 6 * CHUNK), (1 << 62, 1 << 62)):
        monkeypatch.setattr(csource, "BLOCK", block)
        monkeypatch.setattr(csource, "PRIVATE", private)
        runner._kernels.clear()
        for threads in (1, 2):
            runs[block, threads] = _run(make, sizes, "kernel", threads, dtype)
    assert kernel_calls
    unblocked = runs[0, 1]
    for key, result in runs.items():
        _assert_bit_identical(result, unblocked, f"BLOCK={key[0]}, {key[1]} threads")
    reference = _run(make, sizes, "reference", 1, dtype)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)
    for x, y in zip(unblocked, reference, strict=True):
        torch.testing.assert_close(x, y, **tol)

