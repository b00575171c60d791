"""Shared by the tests and the doctests under src/ (pytest collects both)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread_and_seed():
    # small-tensor work with two threads on a busy 2-core machine can be 20x slower
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
