"""Run a whole study: tune each (problem, optimizer), rerun the best over seeds, batch study.

Work is split into units: one per (problem, optimizer) pair (tuning, then the seeded reruns)
and one per batch size of the batch-size study. With ``jobs > 1`` the units run in that many
spawned worker processes, each with one torch thread, all writing to the same store; progress
events come back through a queue. Every unit skips what the store already has, so rerunning a
killed study resumes it.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import queue as queue_module
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from .runner import stored_run
from .store import RunStore
from .study import ConfigWarning, Study, study_from_dict
from .tuning import tune

__all__ = ["expected_runs", "run_study", "batch_schedule"]


def expected_runs(study: Study) -> int:
    """How many runs (trials included) a complete study has."""
    n = len(study.pairs) * (study.trials + study.seeds)
    if batch_pair(study) is not None:
        n += len(study.batch_study.sizes) * 2 * study.seeds
    return n


def batch_pair(study: Study) -> tuple[int, int] | None:
    """Indices of the (problem, optimizer) pair the batch study builds on, if in the study.

    The pair must run: an optimizer restricted away from the batch study's problem is not it.
    """
    b = study.batch_study
    if b is None:
        return None
    for i, p in enumerate(study.problems):
        for j, o in enumerate(study.optimizers):
            if p.name == b.problem and o.name == b.optimizer and not o.schedule \
                    and o.runs_on(p.name):
                return i, j
    return None


def batch_schedule(base_lr: float, batch_size: int, base_batch_size: int, warmup: int):
    """The linear scaling rule: ``lr = base_lr * batch_size / base_batch_size`` after warmup.

    Uses ``ravine.schedules.linear_scaling`` (Goyal et al. 2017).
    """
    from .. import schedules

    _, schedule = schedules.linear_scaling(base_lr, batch_size,
                                           base_batch_size=base_batch_size, warmup=warmup)
    return schedule


class Reporter:
    """Progress sink: ``start(desc)``, ``step(step, steps)``, ``end(desc, row)``; no-ops here."""

    def start(self, desc: str) -> None: ...

    def step(self, step: int, steps: int) -> None: ...

    def end(self, desc: str, row: dict) -> None: ...


class QueueReporter(Reporter):
    """Sends progress events to the main process (throttled to ~10 step events per run)."""

    def __init__(self, q) -> None:
        self.q, self.pid, self.last = q, os.getpid(), 0.0

    def start(self, desc: str) -> None:
        self.q.put(("start", self.pid, desc, None))

    def step(self, step: int, steps: int) -> None:
        now = time.monotonic()
        if now - self.last > 0.2 or step == steps:
            self.last = now
            self.q.put(("step", self.pid, step, steps))

    def end(self, desc: str, row: dict) -> None:
        self.q.put(("end", self.pid, desc, row["status"]))


def _best_params(store: RunStore, study: Study, i: int, j: int, reporter: Reporter) -> dict:
    problem, spec = study.problems[i], study.optimizers[j]
    return tune(store, study.name, problem, spec, study.trials, seed=0, reporter=reporter)


def run_unit(study: Study, store: RunStore, unit: tuple, reporter: Reporter) -> str:
    """Run one unit: ('pair', i, j) or ('batch', size). Returns a one-line summary."""
    if unit[0] == "pair":
        _, i, j = unit
        problem, spec = study.problems[i], study.optimizers[j]
        best = _best_params(store, study, i, j, reporter)
        statuses = []
        for seed in range(study.seeds):
            desc = f"run {problem.name} / {spec.label} seed {seed}"
            reporter.start(desc)
            key = f"{study.name}/{problem.name}/{spec.label}/seed{seed}"
            row = stored_run(store, study.name, key, "final", problem, spec, best, seed,
                             on_step=reporter.step)
            reporter.end(desc, row)
            statuses.append(row["status"])
        lr = best["lr"]
        return f"{problem.name} / {spec.label}: lr={lr:.3g}, " + ", ".join(statuses)
    _, size = unit
    b = study.batch_study
    i, j = batch_pair(study)
    problem, spec = study.problems[i], study.optimizers[j]
    base_lr = _best_params(store, study, i, j, reporter)["lr"]
    base_size = problem.options["batch_size"]
    sized = dataclasses.replace(problem, options={**problem.options, "batch_size": size},
                                log_every=max(1, problem.log_every * base_size // size))
    steps_per_epoch = sized.build(0).steps_per_epoch
    for scaled in (False, True):
        for seed in range(study.seeds):
            variant = "scaled" if scaled else "constant"
            desc = f"batch {size} ({variant} lr) seed {seed}"
            reporter.start(desc)
            schedule = (batch_schedule(base_lr, size, base_size, warmup=steps_per_epoch)
                        if scaled else None)
            key = f"{study.name}/batch/{size}/{variant}/seed{seed}"
            record = {"lr": base_lr, "batch_size": size, "scaling": scaled,
                      "base_batch_size": base_size}
            row = stored_run(store, study.name, key, "batch", sized, spec, {"lr": base_lr}, seed,
                             record_params=record, epochs=b.epochs, lr_schedule=schedule,
                             on_step=reporter.step)
            reporter.end(desc, row)
    return f"batch size {size}: done"


_WORKER_STUDIES: dict[str, Study] = {}


def _worker(definition: dict, store_path: str, unit: tuple, q) -> str:
    import json

    import torch

    torch.set_num_threads(1)
    key = json.dumps(definition, sort_keys=True, default=str)
    if key not in _WORKER_STUDIES:  # validating builds every problem once: once per worker
        with warnings.catch_warnings():  # the main process has shown the study's warnings
            warnings.simplefilter("ignore", ConfigWarning)
            _WORKER_STUDIES[key] = study_from_dict(definition)
    study = _WORKER_STUDIES[key]
    store = RunStore(store_path)
    try:
        return run_unit(study, store, unit, QueueReporter(q))
    finally:
        store.close()


def _units(study: Study) -> tuple[list[tuple], list[tuple]]:
    cost = {"classification": 3, "quadratic": 2, "surface": 1}
    pairs = [("pair", i, j) for i, p in enumerate(study.problems)
             for j, o in enumerate(study.optimizers) if o.runs_on(p.name)]
    pairs.sort(key=lambda u: -cost.get(study.problems[u[1]].kind, 1))
    batch = []
    if batch_pair(study) is not None:
        batch = [("batch", s) for s in sorted(study.batch_study.sizes)]
    return pairs, batch


def run_study(study: Study, store_path: str, jobs: int = 1, quiet: bool = False) -> RunStore:
    """Run (or resume) ``study`` into the store at ``store_path``; return the open store."""
    store = RunStore(store_path)
    store.save_study(study.name, study.definition)
    cleaned = store.clean_unfinished(study.name)
    if cleaned:
        print(f"resuming: removed {cleaned} unfinished run(s) left by an interrupted process")
    pairs, batch = _units(study)
    with _progress(study, quiet) as progress:
        if jobs <= 1:
            for unit in pairs + batch:
                progress.log(run_unit(study, store, unit, progress))
        else:
            _run_parallel(study, store, pairs, batch, jobs, progress)
    return store


def _run_parallel(study, store, pairs, batch, jobs, progress) -> None:
    # create Optuna's tables once, before several processes race to do it
    if pairs:
        from .tuning import open_optuna_study

        i, j = pairs[0][1], pairs[0][2]
        open_optuna_study(store, study.name, study.problems[i], study.optimizers[j], study.trials)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
        q = manager.Queue()
        submit = lambda u: pool.submit(_worker, study.definition, store.path, u, q)  # noqa: E731
        pending = {submit(u) for u in pairs}
        batch_left = list(batch)
        while pending:
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            _drain(q, progress)
            for f in done:
                progress.log(f.result())
            if not pending and batch_left:
                pending = {submit(u) for u in batch_left}
                batch_left = []
        _drain(q, progress)


def _drain(q, progress) -> None:
    while True:
        try:
            kind, pid, a, b = q.get_nowait()
        except queue_module.Empty:
            return
        if kind == "start":
            progress.start(a, pid)
        elif kind == "step":
            progress.step(a, b, pid)
        else:
            progress.end(a, {"status": b}, pid)


class _progress(Reporter):
    """Rich progress bars (the study, one bar per running job), or plain lines with quiet."""

    def __init__(self, study: Study, quiet: bool) -> None:
        self.quiet, self.total = quiet, expected_runs(study)
        self.study = study
        self.bars: dict[Any, Any] = {}
        self.rich = None

    def __enter__(self):
        if not self.quiet:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.rich = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn())
            self.rich.start()
            self.main = self.rich.add_task(f"study {self.study.name}", total=self.total)
        else:
            print(f"study {self.study.name}: {self.total} runs", flush=True)
        return self

    def __exit__(self, *exc) -> None:
        if self.rich is not None:
            self.rich.stop()

    def log(self, line: str) -> None:
        if self.rich is not None:
            self.rich.console.print(line, highlight=False)
        else:
            print(line, flush=True)

    def start(self, desc: str, pid: Any = None) -> None:
        if self.rich is None:
            return
        bar = self.bars.get(pid)
        if bar is None:
            bar = self.bars[pid] = self.rich.add_task(desc, total=1)
        self.rich.reset(bar, description=f"  {desc}", total=1)

    def step(self, step: int, steps: int, pid: Any = None) -> None:
        if self.rich is not None and pid in self.bars:
            self.rich.update(self.bars[pid], completed=step, total=steps)

    def end(self, desc: str, row: dict, pid: Any = None) -> None:
        if self.rich is not None:
            self.rich.advance(self.main)
            if pid in self.bars:
                self.rich.update(self.bars[pid], completed=1, total=1)
