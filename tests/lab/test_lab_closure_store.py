"""Gradient evaluations in the run store: an older store is upgraded; resume with SAM / LBFGS."""

import sqlite3

import pytest
from lab_cli_process import kill_mid_study, start_compare

from ravine.lab.optimizers import OptimizerSpec
from ravine.lab.problems import get_problem
from ravine.lab.runner import execute_run
from ravine.lab.store import METRIC_FIELDS, RunStore

# the schema of the store before gradient evaluations were recorded (verbatim)
OLD_SCHEMA = """
CREATE TABLE ravine_studies (name TEXT PRIMARY KEY, config TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE ravine_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    study TEXT NOT NULL, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    problem TEXT NOT NULL, optimizer TEXT NOT NULL, seed INTEGER NOT NULL, trial INTEGER,
    params TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('running','finished','diverged')),
    objective REAL, final_loss REAL, final_metric REAL, steps_to_target INTEGER,
    time_to_target REAL, wall REAL, steps INTEGER, reason TEXT,
    started REAL NOT NULL, ended REAL);
CREATE INDEX ravine_runs_study ON ravine_runs (study, kind);
CREATE TABLE ravine_metrics (
    run_id INTEGER NOT NULL REFERENCES ravine_runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL, loss REAL, metric REAL, lr REAL, grad_norm REAL, wall REAL,
    x REAL, y REAL, PRIMARY KEY (run_id, step));
"""


def _old_store(path):
    with sqlite3.connect(path) as c:
        c.executescript(OLD_SCHEMA)
        c.execute("INSERT INTO ravine_runs (study, key, kind, problem, optimizer, seed, params, "
                  "status, objective, steps_to_target, steps, started) VALUES "
                  "('st', 'st/old', 'final', 'ravine', 'sgd', 0, '{\"lr\": 0.1}', 'finished', "
                  "0.5, 10, 20, 0.0)")
        c.executemany("INSERT INTO ravine_metrics VALUES (1, ?, ?, NULL, 0.1, 1.0, ?, NULL, NULL)",
                      [(s, 1.0 / (s + 1), 0.01 * s) for s in (0, 10, 20)])


def test_lab_closure_store_opens_and_upgrades_a_store_of_the_previous_version(tmp_path):
    path = tmp_path / "old.db"
    _old_store(path)
    store = RunStore(path)
    (run,) = store.runs("st")
    # that version took one gradient per step, so the counts it lacked are exact
    assert (run["grad_evals"], run["evals_to_target"]) == (20, 10)
    metrics = store.metrics(run["id"])
    assert [m["grad_evals"] for m in metrics] == [0, 10, 20]
    assert [m["loss"] for m in metrics] == [1.0, 1.0 / 11, 1.0 / 21]
    rid = store.start_run("st", "st/new", "final", "ravine", "sam", 0, None, {"lr": 0.1})
    store.finish_run(rid, "finished", [(0, 2.0, None, 0.1, 1.0, 0.0, 1.0, 2.0, 0),
                                       (5, 1.0, None, 0.1, 1.0, 0.1, 0.5, 1.0, 10)],
                     {"objective": 1.0, "grad_evals": 10, "evals_to_target": 10})
    store.close()
    again = RunStore(path)  # a second open changes nothing
    old, new = again.runs("st")
    assert old == run
    assert (new["grad_evals"], new["evals_to_target"]) == (10, 10)
    assert [m["grad_evals"] for m in again.metrics(new["id"])] == [0, 10]
    columns = [r[1] for r in again.conn.execute("PRAGMA table_info(ravine_metrics)")]
    assert columns == ["run_id", *METRIC_FIELDS]


def _write_as_previous_version(path, key, result):
    """Store ``result`` as the version before ``grad_evals`` did: no counts in rows or summary."""
    s = result.summary
    with sqlite3.connect(path) as c:
        cur = c.execute(
            "INSERT INTO ravine_runs (study, key, kind, problem, optimizer, seed, params, status, "
            "objective, steps_to_target, steps, reason, started) VALUES "
            "('st', ?, 'final', 'ravine', 'sgd', 0, '{}', ?, ?, ?, ?, ?, 0.0)",
            (key, result.status, s["objective"], s.get("steps_to_target"), s["steps"],
             s.get("reason")))
        c.executemany("INSERT INTO ravine_metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      [(cur.lastrowid, *r[:-1]) for r in result.rows])


@pytest.mark.parametrize("lr,log_every,stopped", [
    (0.1, 7, None),           # finished: one gradient per step
    (1e8, 7, "loss"),         # non-finite mini-batch loss between two records: no backward
    (1e8, 1, "recorded"),     # the recorded loss after a step is non-finite: backward done
    (1e10, 7, "gradient"),    # finite loss, non-finite gradient: backward done
])
def test_lab_closure_store_upgrade_counts_diverged_runs_exactly(tmp_path, lr, log_every,
                                                                 stopped):
    # the current runner counts backward passes; on a first-order run it does exactly what the
    # previous version did, so its counts are what the upgrade must reconstruct
    result = execute_run(get_problem("ravine", steps=40, log_every=log_every),
                         OptimizerSpec("sgd"), {"lr": lr}, seed=0)
    s, last = result.summary, result.rows[-1][0]
    if stopped is None:
        assert result.status == "finished" and s["grad_evals"] == s["steps"] == 40
    else:
        what = "gradient" if stopped == "gradient" else "loss"
        assert result.status == "diverged"
        assert s["reason"] == f"non-finite {what} at step {s['steps']}"
        assert (last < s["steps"]) == (stopped != "recorded")  # a row at the step that stopped it?
        assert s["grad_evals"] == s["steps"] - (stopped == "loss")
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as c:
        c.executescript(OLD_SCHEMA)
    _write_as_previous_version(path, "st/run", result)
    store = RunStore(path)
    (run,) = store.runs("st")
    assert run["grad_evals"] == s["grad_evals"]
    assert [m["grad_evals"] for m in store.metrics(run["id"])] == [r[-1] for r in result.rows]
    store.close()
    assert RunStore(path).runs("st") == [run]  # a second open changes nothing


def test_lab_closure_store_rejects_rows_without_grad_evals(tmp_path):
    store = RunStore(tmp_path / "s.db")
    rid = store.start_run("st", "k", "final", "p", "o", 0, None, {})
    with pytest.raises(ValueError, match="rows must have 9 fields"):
        store.finish_run(rid, "finished", [(0, 1.0, None, 0.1, 1.0, 0.0, None, None)], {})
    assert store.metrics(rid) == [] and store.runs("st")[0]["status"] == "running"


CONFIG = """
trials = 2
seeds = 2
problems = [{name = "rosenbrock", steps = 100}, {name = "mlp_digits", steps = 40}]
optimizers = ["sam", {name = "lbfgs", problems = ["rosenbrock"]}, "lookahead"]
"""


def test_lab_closure_sigkill_mid_study_then_resume_keeps_counts(tmp_path):
    db = tmp_path / "store.db"
    before = kill_mid_study(start_compare(tmp_path, CONFIG), db)

    proc = start_compare(tmp_path, CONFIG, "--jobs", "2")  # the rest in worker processes
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    with sqlite3.connect(db) as c:
        runs = c.execute("SELECT key, id, optimizer, status, problem, steps, grad_evals "
                         "FROM ravine_runs").fetchall()
        rows = c.execute("SELECT run_id, step, grad_evals FROM ravine_metrics").fetchall()
        orphans = c.execute("SELECT COUNT(*) FROM ravine_metrics WHERE run_id NOT IN "
                            "(SELECT id FROM ravine_runs)").fetchone()[0]
    assert len(runs) == len({k for k, *_ in runs}) == 5 * (2 + 2)  # no duplicate run
    assert ("mlp_digits", "lbfgs") not in {(p, o) for _, _, o, _, p, *_ in runs}
    after = {key: rid for key, rid, *_ in runs}
    assert all(after[k] == v for k, v in before.items())  # finished runs kept as they were
    assert orphans == 0
    by_run: dict[int, list[tuple[int, int]]] = {}
    for rid, step, evals in rows:
        by_run.setdefault(rid, []).append((step, evals))
    for key, rid, optimizer, status, problem, steps, total in runs:
        assert status in ("finished", "diverged"), key
        if status != "finished":
            continue
        points = sorted(by_run[rid])
        log_every = 10 if problem == "mlp_digits" else 1
        assert len(points) == steps // log_every + 1, key  # every row once
        assert points[-1][1] == total, key
        if optimizer == "sam":
            assert all(e == 2 * s for s, e in points), key
        elif optimizer == "lookahead":
            assert all(e == s for s, e in points), key
        else:  # lbfgs: one call at the iterate plus its line search, at least one per step
            assert all(e >= s for s, e in points) and total > steps, key
    assert "lbfgs: evals" in (tmp_path / "report" / "summary.md").read_text()
