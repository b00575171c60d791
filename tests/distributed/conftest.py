"""Make ``distributed_scenarios`` importable here and in spawned workers (pytest uses importlib)."""

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(scope="session")
def two_rank_results(tmp_path_factory):
    """Rank 0's records of all 2-rank scenarios and both checkpoint legs (one spawn)."""
    import distributed_scenarios as ds

    directory = tmp_path_factory.mktemp("two_ranks")
    return ds.spawn(directory)
