"""Run `ravine compare` as a real process and SIGKILL it mid-study (the resume tests)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import ravine


def start_compare(tmp_path, config: str, *extra: str) -> subprocess.Popen:
    """Start `python -m ravine.cli compare` on ``config`` (TOML text) in ``tmp_path``."""
    (tmp_path / "study.toml").write_text(config)
    cmd = [sys.executable, "-m", "ravine.cli", "compare", "--config", "study.toml", "--quiet",
           "--store", str(tmp_path / "store.db"), "--out", str(tmp_path / "report"), *extra]
    src = os.path.dirname(os.path.dirname(ravine.__file__))  # the ravine under test
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, text=True, env=env)


def stored_runs(db, running: bool) -> dict[str, int]:
    """``{key: id}`` of the store's runs that are (or are not) marked running."""
    if not db.exists():
        return {}
    op = "=" if running else "!="
    try:
        with sqlite3.connect(db, timeout=30) as c:
            return dict(c.execute(f"SELECT key, id FROM ravine_runs WHERE status {op} 'running'"))
    except sqlite3.OperationalError:  # tables not created yet
        return {}


def kill_mid_study(proc: subprocess.Popen, db, finished: int = 4) -> dict[str, int]:
    """SIGKILL ``proc`` while a run is in flight, after ``finished`` runs have finished; return
    the finished runs as they were stored."""
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        if len(stored_runs(db, running=False)) >= finished and stored_runs(db, running=True):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the study ended before it could be killed:\n" + proc.stdout.read()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = stored_runs(db, running=False)
    assert len(before) >= finished
    return before
