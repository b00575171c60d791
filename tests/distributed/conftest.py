"""Make ``distributed_scenarios`` importable here and in spawned workers (pytest uses importlib)."""

import fcntl
import os
import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(scope="session")
def two_rank_results(tmp_path_factory):
    """Rank 0's records of all 2-rank scenarios and both checkpoint legs (one spawn).

    Under pytest-xdist the workers share one spawn: the first to take the lock runs it, the
    others load its results (the xdist recipe for session fixtures).
    """
    import distributed_scenarios as ds

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    directory = root / "ravine_two_ranks"
    with open(root / "ravine_two_ranks.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if (directory / "results.pt").exists():
                return ds.load_results(directory)
            directory.mkdir(exist_ok=True)
            return ds.spawn(directory)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
