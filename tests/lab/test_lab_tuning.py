"""Optuna tuning in the run store: the budget, the best setting, trials left RUNNING by a kill."""

import math

import optuna

from ravine.lab.optimizers import OptimizerSpec
from ravine.lab.problems import get_problem
from ravine.lab.runner import stored_run
from ravine.lab.store import RunStore
from ravine.lab.tuning import open_optuna_study, recover_trials, search_space, trial_key, tune

COMPLETE, FAIL = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL


def test_lab_tune_meets_budget_and_returns_the_best_finite_trial(tmp_path):
    store = RunStore(tmp_path / "s.db")
    problem = get_problem("ravine", steps=20, lr_range=(1e-3, 3.0))  # high lrs diverge
    spec = OptimizerSpec("sgd")
    best = tune(store, "st", problem, spec, budget=6)
    ostudy = open_optuna_study(store, "st", problem, spec, 6)
    trials = ostudy.get_trials()
    assert [t.state for t in trials] == [COMPLETE] * 6
    runs = store.runs("st", kind="trial")
    assert len(runs) == 6
    by_number = {r["trial"]: r for r in runs}
    for t in trials:  # each trial's value is its stored run's objective (inf: diverged)
        row = by_number[t.number]
        assert t.params == row["params"]
        assert t.value == (math.inf if row["status"] == "diverged" else row["objective"])
    finite = [t for t in trials if math.isfinite(t.value)]
    assert best == min(finite, key=lambda t: t.value).params
    assert tune(store, "st", problem, spec, budget=6) == best  # done: no new trials
    assert len(ostudy.get_trials()) == 6


def test_lab_recover_settles_trials_left_running(tmp_path):
    store = RunStore(tmp_path / "s.db")
    problem, spec = get_problem("ravine", steps=10), OptimizerSpec("sgd")
    ostudy = open_optuna_study(store, "st", problem, spec, 3)
    space = search_space(problem, spec)
    lost = ostudy.ask(space)          # killed before its run finished
    kept = ostudy.ask(space)          # killed after its run was stored, before tell()
    row = stored_run(store, "st", trial_key("st", problem.name, spec.label, kept.number),
                     "trial", problem, spec, dict(kept.params), 0, trial=kept.number)
    assert recover_trials(store, ostudy, "st", problem, spec) == 2
    states = {t.number: t for t in ostudy.get_trials()}
    assert states[lost.number].state == FAIL
    assert states[kept.number].state == COMPLETE
    assert states[kept.number].value == row["objective"]
    tune(store, "st", problem, spec, budget=3)
    assert [t.state for t in ostudy.get_trials()].count(COMPLETE) == 3
    assert len(store.runs("st", kind="trial")) == 3
