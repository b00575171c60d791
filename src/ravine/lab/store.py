"""The run store: every tuning trial and every run of a study, with per-step metrics, in SQLite.

The same database file holds Optuna's tables (``sqlite:///<path>``, see :attr:`RunStore.url`)
and ravine's own three tables:

- ``ravine_studies(name, config, created)``: the study definitions (config as JSON);
- ``ravine_runs``: one row per run, identified by a unique ``key``; ``status`` is 'running'
  while it runs and 'finished' or 'diverged' when its metrics are in;
- ``ravine_metrics``: per recorded step, loss, test metric, lr, gradient norm, training wall
  time, the point (x, y) on 2-D surfaces and the cumulative gradient evaluations ``grad_evals``
  (backward passes: 1 per step for first-order optimizers, 2 for SAM, the closure calls of
  L-BFGS).

A store written before ``grad_evals`` existed (no ``grad_evals`` / ``evals_to_target``
columns) is upgraded when opened: the columns are added and filled from ``step`` /
``steps`` / ``steps_to_target``: that version's optimizers all took one gradient per step, and
its metric rows were recorded after a step's backward pass. One case differs: a run that
diverged at step ``n`` because the mini-batch loss at the iterate was non-finite stopped before
that step's backward pass, so it took ``n - 1`` gradients. Its reason reads ``non-finite loss at
step n`` and, unlike a run whose loss turned non-finite at a recorded evaluation of step ``n``,
it has no metric row at step ``n``; the upgrade counts it ``n - 1``.

A run's metric rows are written in the same transaction that marks it finished, so a process
killed at any moment leaves either a finished run with all its rows or a 'running' row without
metrics, which :meth:`RunStore.clean_unfinished` deletes on resume. WAL mode and a busy timeout
let several processes (``--jobs``) write to one file.

Example:
    >>> import tempfile, os
    >>> store = RunStore(os.path.join(tempfile.mkdtemp(), "store.db"))
    >>> rid = store.start_run("s", "s/p/o/seed0", "final", "p", "o", 0, None, {"lr": 0.1})
    >>> store.finish_run(rid, "finished", [(0, 1.0, None, 0.1, 2.0, 0.0, None, None, 0)],
    ...                  {"objective": 1.0})
    >>> [r["status"] for r in store.runs("s")], len(store.metrics(rid))
    (['finished'], 1)
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["METRIC_FIELDS", "RunStore", "SUMMARY_FIELDS"]

SUMMARY_FIELDS = ("objective", "final_loss", "final_metric", "steps_to_target",
                  "time_to_target", "wall", "steps", "reason", "grad_evals", "evals_to_target")

METRIC_FIELDS = ("step", "loss", "metric", "lr", "grad_norm", "wall", "x", "y", "grad_evals")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ravine_studies (
    name TEXT PRIMARY KEY, config TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ravine_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    study TEXT NOT NULL, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    problem TEXT NOT NULL, optimizer TEXT NOT NULL, seed INTEGER NOT NULL, trial INTEGER,
    params TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('running','finished','diverged')),
    objective REAL, final_loss REAL, final_metric REAL, steps_to_target INTEGER,
    time_to_target REAL, wall REAL, steps INTEGER, reason TEXT,
    started REAL NOT NULL, ended REAL, grad_evals INTEGER, evals_to_target INTEGER);
CREATE INDEX IF NOT EXISTS ravine_runs_study ON ravine_runs (study, kind);
CREATE TABLE IF NOT EXISTS ravine_metrics (
    run_id INTEGER NOT NULL REFERENCES ravine_runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL, loss REAL, metric REAL, lr REAL, grad_norm REAL, wall REAL,
    x REAL, y REAL, grad_evals INTEGER, PRIMARY KEY (run_id, step));
"""

# A run of the first version that diverged at a non-finite mini-batch loss at step ``steps``
# (before that step's backward pass: no metric row at that step) took ``steps - 1`` gradients.
_STOPPED_BEFORE_BACKWARD = (
    "(status = 'diverged' AND steps > 0 AND reason = ('non-finite loss at step ' || steps) "
    "AND NOT EXISTS (SELECT 1 FROM ravine_metrics AS m "
    "WHERE m.run_id = ravine_runs.id AND m.step = ravine_runs.steps))")

# columns added after the first version: (table, column, type, value for the old rows)
_ADDED_COLUMNS = (
    ("ravine_metrics", "grad_evals", "INTEGER", "step"),
    ("ravine_runs", "grad_evals", "INTEGER", f"steps - {_STOPPED_BEFORE_BACKWARD}"),
    ("ravine_runs", "evals_to_target", "INTEGER", "steps_to_target"),
)


def _clean(value: Any) -> Any:
    """SQLite cannot hold NaN (it becomes NULL); keep +-inf, map NaN to None."""
    if isinstance(value, float) and value != value:
        return None
    return value


class RunStore:
    """A SQLite file holding a lab's studies, runs and per-step metrics.

    Args:
        path: the database file (its folder is created).
        timeout: seconds to wait for a lock held by another process.
    """

    def __init__(self, path: str | os.PathLike, timeout: float = 60.0) -> None:
        self.path = os.path.abspath(os.fspath(path))
        folder = os.path.dirname(self.path)
        os.makedirs(folder, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        with self.transaction() as c:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    c.execute(statement)
            _upgrade(c)

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of this file, for Optuna's ``RDBStorage``."""
        return f"sqlite:///{self.path}"

    def close(self) -> None:
        self.conn.close()

    def transaction(self):
        """A context manager for one ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rollback on error)."""
        store = self

        class _Tx:
            def __enter__(self):
                store.conn.execute("BEGIN IMMEDIATE")
                return store.conn

            def __exit__(self, exc_type, exc, tb):
                store.conn.execute("ROLLBACK" if exc_type else "COMMIT")
                return False

        return _Tx()

    # -- studies --------------------------------------------------------------------------
    def save_study(self, name: str, config: dict) -> None:
        """Record a study's definition (kept from the first time it was saved)."""
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO ravine_studies VALUES (?, ?, ?)",
                      (name, json.dumps(config, sort_keys=True), time.time()))

    def study_config(self, name: str) -> dict | None:
        row = self.conn.execute("SELECT config FROM ravine_studies WHERE name = ?",
                                (name,)).fetchone()
        return None if row is None else json.loads(row["config"])

    # -- runs -----------------------------------------------------------------------------
    def clean_unfinished(self, study: str) -> int:
        """Delete the 'running' runs of ``study`` (left by a killed process); return how many."""
        with self.transaction() as c:
            ids = [r[0] for r in c.execute(
                "SELECT id FROM ravine_runs WHERE study = ? AND status = 'running'", (study,))]
            c.executemany("DELETE FROM ravine_metrics WHERE run_id = ?", [(i,) for i in ids])
            c.executemany("DELETE FROM ravine_runs WHERE id = ?", [(i,) for i in ids])
        return len(ids)

    def get_run(self, key: str) -> dict | None:
        row = self.conn.execute("SELECT * FROM ravine_runs WHERE key = ?", (key,)).fetchone()
        return None if row is None else _row(row)

    def start_run(self, study: str, key: str, kind: str, problem: str, optimizer: str,
                  seed: int, trial: int | None, params: dict) -> int | None:
        """Insert a 'running' row and return its id; None if ``key`` already finished.

        A stale 'running' row with the same key (a killed run) is replaced.
        """
        with self.transaction() as c:
            row = c.execute("SELECT id, status FROM ravine_runs WHERE key = ?", (key,)).fetchone()
            if row is not None:
                if row["status"] != "running":
                    return None
                c.execute("DELETE FROM ravine_metrics WHERE run_id = ?", (row["id"],))
                c.execute("DELETE FROM ravine_runs WHERE id = ?", (row["id"],))
            cur = c.execute(
                "INSERT INTO ravine_runs (study, key, kind, problem, optimizer, seed, trial, "
                "params, status, started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                (study, key, kind, problem, optimizer, seed, trial,
                 json.dumps(params, sort_keys=True), time.time()))
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str, rows: Iterable[Sequence[Any]],
                   summary: dict[str, Any]) -> None:
        """Write a run's metric rows and its summary and mark it ``status``, atomically.

        ``rows`` are ``(step, loss, metric, lr, grad_norm, wall, x, y, grad_evals)`` tuples
        (:data:`METRIC_FIELDS`).
        """
        if status not in ("finished", "diverged"):
            raise ValueError(f"status must be 'finished' or 'diverged', got {status!r}")
        rows = [tuple(r) for r in rows]
        for r in rows:
            if len(r) != len(METRIC_FIELDS):
                raise ValueError(f"rows must have {len(METRIC_FIELDS)} fields "
                                 f"{METRIC_FIELDS}, got {len(r)}: {r!r}")
        unknown = set(summary) - set(SUMMARY_FIELDS)
        if unknown:
            raise ValueError(f"unknown summary fields {sorted(unknown)}")
        cols = [f for f in SUMMARY_FIELDS if f in summary]
        with self.transaction() as c:
            c.executemany(
                f"INSERT INTO ravine_metrics (run_id, {', '.join(METRIC_FIELDS)}) "
                f"VALUES (?{', ?' * len(METRIC_FIELDS)})",
                [(run_id, *(_clean(v) for v in r)) for r in rows])
            sets = "".join(f", {f} = ?" for f in cols)
            c.execute(f"UPDATE ravine_runs SET status = ?, ended = ?{sets} WHERE id = ?",
                      (status, time.time(), *(_clean(summary[f]) for f in cols), run_id))

    def runs(self, study: str, kind: str | None = None, status: str | None = None) -> list[dict]:
        """The runs of ``study`` (optionally of one kind / status), in insertion order."""
        sql, args = "SELECT * FROM ravine_runs WHERE study = ?", [study]
        if kind is not None:
            sql, args = sql + " AND kind = ?", [*args, kind]
        if status is not None:
            sql, args = sql + " AND status = ?", [*args, status]
        return [_row(r) for r in self.conn.execute(sql + " ORDER BY id", args)]

    def metrics(self, run_id: int) -> list[dict]:
        """The metric rows of one run, by step."""
        cur = self.conn.execute(
            f"SELECT {', '.join(METRIC_FIELDS)} FROM ravine_metrics "
            "WHERE run_id = ? ORDER BY step", (run_id,))
        return [dict(r) for r in cur]


def _upgrade(c: sqlite3.Connection) -> None:
    """Add the columns a store of an earlier version lacks, filled for its old rows."""
    for table, column, kind, fill in _ADDED_COLUMNS:
        have = {r[1] for r in c.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            c.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            c.execute(f"UPDATE {table} SET {column} = {fill}")


def _row(row: sqlite3.Row) -> dict:
    d = dict(row)
    d["params"] = json.loads(d["params"])
    return d
