"""Tune an optimizer's hyperparameters on a problem with Optuna, every trial in the run store.

The Optuna study lives in the same SQLite file as the run store (``RDBStorage`` at
``sqlite:///path``). The budget is a number of *completed* trials: a diverged trial completes
with value ``inf``. On resume, a trial that a killed process left RUNNING is completed from
its stored run if that run finished, and marked FAIL otherwise (a new trial is then asked in
its place), so the budget is met exactly once.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from .optimizers import OptimizerSpec
from .problems import Problem
from .runner import stored_run
from .store import RunStore

__all__ = ["open_optuna_study", "search_space", "tune", "trial_key"]


def _quiet_optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def stable_seed(text: str) -> int:
    """A seed derived from ``text`` that is the same in every process."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def search_space(problem: Problem, spec: OptimizerSpec) -> dict[str, Any]:
    """Optuna distributions: ``lr`` log-uniform plus ``spec.search``.

    ``lr`` ranges over :meth:`OptimizerSpec.lr_range_for`: the study's ``lr_range`` for that
    optimizer if set, else the registry entry's own (L-BFGS with a line search: around 1), else
    ``problem.lr_range``.
    """
    optuna = _quiet_optuna()
    lo, hi = spec.lr_range_for(problem)
    space = {"lr": optuna.distributions.FloatDistribution(lo, hi, log=True)}
    for name, low, high, log in spec.search:
        space[name] = optuna.distributions.FloatDistribution(low, high, log=log)
    return space


def optuna_name(study: str, problem: str, label: str) -> str:
    return f"{study}/{problem}/{label}"


def trial_key(study: str, problem: str, label: str, number: int) -> str:
    return f"{optuna_name(study, problem, label)}/trial{number}"


def open_optuna_study(store: RunStore, study: str, problem: Problem, spec: OptimizerSpec,
                      budget: int):
    """Create or load the Optuna study of one (problem, optimizer) pair."""
    optuna = _quiet_optuna()
    storage = optuna.storages.RDBStorage(
        store.url, engine_kwargs={"connect_args": {"timeout": 60}})
    name = optuna_name(study, problem.name, spec.label)
    sampler = optuna.samplers.TPESampler(seed=stable_seed(name),
                                         n_startup_trials=max(2, min(5, budget // 2)))
    return optuna.create_study(study_name=name, storage=storage, sampler=sampler,
                               direction="minimize", load_if_exists=True)


def recover_trials(store: RunStore, ostudy, study: str, problem: Problem,
                   spec: OptimizerSpec) -> int:
    """Settle trials left RUNNING by a killed process; return how many were settled."""
    optuna = _quiet_optuna()
    running = ostudy.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in running:
        row = store.get_run(trial_key(study, problem.name, spec.label, t.number))
        if row is not None and row["status"] != "running":
            ostudy.tell(t.number, _value(row))
        else:
            ostudy.tell(t.number, state=optuna.trial.TrialState.FAIL)
    return len(running)


def _value(row: dict) -> float:
    value = row["objective"]
    return math.inf if value is None or row["status"] == "diverged" else float(value)


def tune(store: RunStore, study: str, problem: Problem, spec: OptimizerSpec, budget: int,
         seed: int = 0, reporter: Any = None) -> dict[str, Any]:
    """Run trials until ``budget`` have completed; return the best hyperparameters.

    Each trial trains ``problem`` with seed ``seed`` and reports the run's objective (the final
    full training loss; ``inf`` for a diverged run). The best setting is the completed trial
    with the lowest finite value; if every trial diverged, the one with the smallest lr.

    Args:
        reporter: progress display with ``start(description)``, ``step(step, steps)`` and
            ``end(description, run_row)`` (see :mod:`ravine.lab.execution`).
    """
    optuna = _quiet_optuna()
    ostudy = open_optuna_study(store, study, problem, spec, budget)
    recover_trials(store, ostudy, study, problem, spec)
    space = search_space(problem, spec)
    complete = optuna.trial.TrialState.COMPLETE

    def n_complete() -> int:
        return len(ostudy.get_trials(deepcopy=False, states=(complete,)))

    done = n_complete()
    while done < budget:
        trial = ostudy.ask(space)
        desc = f"tune {problem.name} / {spec.label} trial {done + 1}/{budget}"
        if reporter:
            reporter.start(desc)
        row = stored_run(store, study, trial_key(study, problem.name, spec.label, trial.number),
                         "trial", problem, spec, dict(trial.params), seed, trial=trial.number,
                         on_step=reporter.step if reporter else None)
        ostudy.tell(trial, _value(row))
        if reporter:
            reporter.end(desc, row)
        done += 1
    trials = ostudy.get_trials(deepcopy=False, states=(complete,))
    finite = [t for t in trials if math.isfinite(t.value)]
    if finite:
        return dict(min(finite, key=lambda t: t.value).params)
    return dict(min(trials, key=lambda t: t.params["lr"]).params)
