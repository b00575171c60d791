"""Read a study's results back from the run store into what the report draws and tabulates."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

import numpy as np

from ..store import RunStore
from ..study import Study

__all__ = ["PairResult", "StudyResults", "load_results", "curve_band"]


@dataclass
class PairResult:
    """The tuning trials and the seeded final runs of one (problem, optimizer) pair."""

    problem: str
    optimizer: str
    trials: list[dict] = field(default_factory=list)
    finals: list[dict] = field(default_factory=list)   # run rows with a "metrics" list added

    @property
    def best_params(self) -> dict:
        return self.finals[0]["params"] if self.finals else {}

    @property
    def n_diverged(self) -> int:
        return sum(r["status"] == "diverged" for r in self.finals)

    def median_to_target(self, what: str) -> float:
        """Median over seeds of steps/time/evals-to-target (inf where a seed did not reach it)."""
        values = [r[what] if r[what] is not None and r["status"] == "finished" else math.inf
                  for r in self.finals]
        return statistics.median(values) if values else math.inf

    def reached(self) -> int:
        return sum(r["steps_to_target"] is not None and r["status"] == "finished"
                   for r in self.finals)


@dataclass
class StudyResults:
    study: Study
    pairs: dict[tuple[str, str], PairResult]
    batch: list[dict]
    diverged: list[dict]


def load_results(store: RunStore, study: Study) -> StudyResults:
    """Collect every run of ``study`` (final runs with their metrics) from ``store``."""
    pairs = {(p.name, o.label): PairResult(p.name, o.label) for p, o in study.pairs}
    for row in store.runs(study.name, kind="trial"):
        if (row["problem"], row["optimizer"]) in pairs and row["status"] != "running":
            pairs[row["problem"], row["optimizer"]].trials.append(row)
    for row in store.runs(study.name, kind="final"):
        if (row["problem"], row["optimizer"]) in pairs and row["status"] != "running":
            row["metrics"] = store.metrics(row["id"])
            pairs[row["problem"], row["optimizer"]].finals.append(row)
    for pr in pairs.values():
        pr.finals.sort(key=lambda r: r["seed"])
    batch = [r for r in store.runs(study.name, kind="batch") if r["status"] != "running"]
    for row in batch:
        row["metrics"] = store.metrics(row["id"])
    diverged = store.runs(study.name, status="diverged")
    return StudyResults(study, pairs, batch, diverged)


def curve_band(runs: list[dict], key: str, x: str = "step"):
    """Mean and min/max over seeds of metric ``key`` on the common recorded steps.

    Runs that diverged contribute up to where they stopped. Returns ``(xs, mean, lo, hi)`` as
    arrays (``xs`` the mean of ``x`` (``step``, ``wall`` or ``grad_evals``) over the runs
    present at each step), or None. Rows without ``x`` are left out.
    """
    table: dict[int, list[tuple[float, float]]] = {}
    for r in runs:
        for m in r["metrics"]:
            v, at = m[key], m.get(x)
            if v is not None and math.isfinite(v) and at is not None:
                table.setdefault(m["step"], []).append((at, v))
    if not table:
        return None
    steps = sorted(table)
    xs = np.array([np.mean([a for a, _ in table[s]]) for s in steps])
    vals = [np.array([v for _, v in table[s]]) for s in steps]
    mean = np.array([v.mean() for v in vals])
    lo = np.array([v.min() for v in vals])
    hi = np.array([v.max() for v in vals])
    return xs, mean, lo, hi
