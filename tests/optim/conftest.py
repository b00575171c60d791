"""Shared by the optimizer tests: ``optim_registry`` importable (pytest runs with importlib), and
the ``kernel_calls`` fixture, which records the number of tensors of every fused-kernel call."""

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture
def kernel_calls(monkeypatch):
    """The fused kernels' calls in this test (tensors per call); the environment cannot force
    the reference path."""
    from ravine.optim.fast import runner

    monkeypatch.delenv("RAVINE_FAST_PATH", raising=False)
    calls = []
    original = runner._invoke

    def counting(*args):
        calls.append(args[1])
        return original(*args)

    monkeypatch.setattr(runner, "_invoke", counting)
    return calls
