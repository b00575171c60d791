"""The SQLite run store: round trip, atomic finish, cleanup of killed runs, divergence."""

import math
import sqlite3

import pytest

from ravine.lab.optimizers import OptimizerSpec
from ravine.lab.problems import get_problem
from ravine.lab.runner import execute_run, stored_run
from ravine.lab.store import RunStore


def test_lab_store_round_trips_runs_and_metrics(tmp_path):
    path = tmp_path / "s.db"
    store = RunStore(path)
    store.save_study("st", {"trials": 3})
    rows = [(0, 2.0, None, 0.1, 5.0, 0.0, 1.0, 2.0, 0),
            (5, 1.0, 0.5, 0.05, 1.0, 0.25, 0.5, 0.25, 10)]
    rid = store.start_run("st", "st/k", "final", "p", "o", 2, None, {"lr": 0.1, "b": [1, 2]})
    store.finish_run(rid, "finished", rows, {"objective": 1.0, "final_loss": 1.0,
                                              "steps_to_target": 5, "time_to_target": 0.25})
    store.close()
    again = RunStore(path)
    (run,) = again.runs("st")
    assert run["params"] == {"lr": 0.1, "b": [1, 2]} and run["seed"] == 2
    assert (run["status"], run["objective"], run["steps_to_target"]) == ("finished", 1.0, 5)
    got = [tuple(m.values()) for m in again.metrics(run["id"])]
    assert got == rows
    assert again.study_config("st") == {"trials": 3}
    assert again.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_lab_store_skips_finished_and_replaces_stale_running(tmp_path):
    store = RunStore(tmp_path / "s.db")
    rid = store.start_run("st", "k", "final", "p", "o", 0, None, {})
    assert store.start_run("st", "k", "final", "p", "o", 0, None, {}) not in (None, rid)
    (run,) = store.runs("st")
    store.finish_run(run["id"], "finished", [], {"objective": 0.0})
    assert store.start_run("st", "k", "final", "p", "o", 0, None, {}) is None
    assert len(store.runs("st")) == 1


def test_lab_store_finish_is_atomic(tmp_path):
    store = RunStore(tmp_path / "s.db")
    rid = store.start_run("st", "k", "final", "p", "o", 0, None, {})
    bad = [(0, 1.0, None, 0.1, 1.0, 0.0, None, None, 0),
           (0, 2.0, None, 0.1, 1.0, 0.0, None, None, 0)]
    with pytest.raises(sqlite3.IntegrityError):  # duplicate step: the whole finish rolls back
        store.finish_run(rid, "finished", bad, {"objective": 1.0})
    (run,) = store.runs("st")
    assert run["status"] == "running" and store.metrics(rid) == []
    assert store.clean_unfinished("st") == 1
    assert store.runs("st") == [] and store.metrics(rid) == []


def test_lab_store_rejects_bad_status_and_fields(tmp_path):
    store = RunStore(tmp_path / "s.db")
    rid = store.start_run("st", "k", "final", "p", "o", 0, None, {})
    with pytest.raises(ValueError, match="status"):
        store.finish_run(rid, "done", [], {})
    with pytest.raises(ValueError, match="unknown summary fields"):
        store.finish_run(rid, "finished", [], {"colour": 1})


def test_lab_diverging_run_is_stored_as_diverged(tmp_path):
    store = RunStore(tmp_path / "s.db")
    problem = get_problem("rosenbrock")
    row = stored_run(store, "st", "st/div", "final", problem, OptimizerSpec("sgd"), {"lr": 10.0},
                     seed=0)
    assert row["status"] == "diverged" and row["objective"] == math.inf
    assert "non-finite" in row["reason"]
    metrics = store.metrics(row["id"])
    assert metrics and math.isfinite(metrics[0]["loss"])  # rows up to where it blew up
    assert row["steps"] < problem.steps


def test_lab_run_records_steps_to_target_at_first_hit():
    problem = get_problem("ravine")
    result = execute_run(problem, OptimizerSpec("momentum"), {"lr": 0.02}, seed=0)
    assert result.status == "finished"
    hit = result.summary["steps_to_target"]
    losses = {r[0]: r[1] for r in result.rows}
    assert hit is not None and losses[hit] <= 1e-3
    assert all(losses[s] > 1e-3 for s in losses if s < hit)
    assert [r[0] for r in result.rows] == list(range(problem.steps + 1))
    again = execute_run(problem, OptimizerSpec("momentum"), {"lr": 0.02}, seed=0)
    assert [r[1] for r in again.rows] == [r[1] for r in result.rows]  # seeded: reproducible
