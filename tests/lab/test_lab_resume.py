"""Kill a real `ravine compare` process with SIGKILL mid-study; the rerun resumes it exactly."""

import sqlite3

import optuna
from lab_cli_process import kill_mid_study, start_compare

CONFIG = """
trials = 3
seeds = 2
problems = ["ravine", {name = "mlp_digits", steps = 120}]
optimizers = ["sgd", "adam"]
"""


def test_lab_sigkill_mid_study_then_resume(tmp_path):
    db = tmp_path / "store.db"
    before = kill_mid_study(start_compare(tmp_path, CONFIG), db)

    proc = start_compare(tmp_path, CONFIG, "--jobs", "2")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert "report:" in out

    with sqlite3.connect(db) as c:
        (name,) = c.execute("SELECT name FROM ravine_studies").fetchone()
        runs = c.execute("SELECT key, id, kind, status, problem, steps FROM ravine_runs "
                         "WHERE study = ?", (name,)).fetchall()
        counts = dict(c.execute("SELECT run_id, COUNT(*) FROM ravine_metrics GROUP BY run_id"))
        orphans = c.execute("SELECT COUNT(*) FROM ravine_metrics WHERE run_id NOT IN "
                            "(SELECT id FROM ravine_runs)").fetchone()[0]
    assert len(runs) == 4 * (3 + 2)
    # finished runs were kept (same ids), nothing is running, nothing duplicated
    after = {key: rid for key, rid, *_ in runs}
    assert all(after[k] == v for k, v in before.items())
    assert all(status in ("finished", "diverged") for *_, status, _, _ in runs)
    assert sum(kind == "final" for _, _, kind, *_ in runs) == 4 * 2
    assert orphans == 0
    for key, rid, _kind, status, problem, steps in runs:  # every run has all its rows
        if status == "finished":
            log_every = 10 if problem == "mlp_digits" else 1
            assert counts[rid] == steps // log_every + 1, key
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    assert sorted(names) == sorted(f"{name}/{p}/{o}" for p in ("ravine", "mlp_digits")
                                   for o in ("sgd", "adam"))
    for oname in names:
        trials = optuna.load_study(study_name=oname, storage=storage).get_trials()
        states = [t.state for t in trials]
        assert optuna.trial.TrialState.RUNNING not in states
        assert states.count(optuna.trial.TrialState.COMPLETE) == 3
        # every completed trial has exactly one stored run with its value
        for t in trials:
            if t.state == optuna.trial.TrialState.COMPLETE:
                assert f"{oname}/trial{t.number}" in after
