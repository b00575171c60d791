"""One run of an optimizer on a problem: the training loop, its records and the stored result.

:func:`execute_run` is pure (problem, optimizer, hyperparameters, seed -> :class:`RunResult`);
:func:`stored_run` wraps it with the run store so that a finished run is never run twice and a
run's rows land atomically with its 'finished' (or 'diverged') mark.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .optimizers import OptimizerSpec
from .problems import Problem
from .store import RunStore

__all__ = ["RunResult", "execute_run", "stored_run"]


@dataclass
class RunResult:
    """What a run produced.

    Attributes:
        status: 'finished' or 'diverged' (a non-finite loss; the run stops there).
        rows: ``(step, loss, metric, lr, grad_norm, wall, x, y, grad_evals)`` per recorded
            step; ``wall`` is the training time so far in seconds (evaluation excluded),
            ``grad_evals`` the gradient evaluations (backward passes) so far, ``grad_norm`` the
            gradient norm at the iterate of the step's batch.
        summary: objective (final full training loss, inf when diverged), final_loss,
            final_metric, steps_to_target, time_to_target, evals_to_target (None when not
            reached), wall, steps, grad_evals (in all), reason (why it diverged).
    """

    status: str
    rows: list[tuple] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _grad_norm(params) -> float:
    grads = [p.grad.detach().reshape(-1) for p in params if p.grad is not None]
    if not grads:
        return 0.0
    return float(torch.linalg.vector_norm(torch.cat(grads).double()))


def _current_lr(optimizer: torch.optim.Optimizer, step: int) -> float:
    lr = optimizer.param_groups[0]["lr"]
    return float(lr(step)) if callable(lr) else float(lr)


class _NonFinite(Exception):
    """A non-finite loss or gradient at the current iterate (raised inside a closure)."""


def execute_run(problem: Problem, spec: OptimizerSpec, params: dict[str, Any], seed: int,
                steps: int | None = None, epochs: int | None = None, lr_schedule: Any = None,
                on_step: Any = None) -> RunResult:
    """Train ``problem`` (seeded by ``seed``) with ``spec`` at hyperparameters ``params``.

    Each step draws one mini-batch. A first-order optimizer gets one ``backward`` on it and
    ``step()``; an optimizer that needs a closure (SAM, L-BFGS) gets ``step(closure)``, where
    the closure zero-grads, computes the loss on the same batch, calls ``backward`` and returns
    the loss, as many times as the optimizer asks. Every row records the cumulative number of
    gradient evaluations (backward passes) so that optimizers are compared per gradient too.

    Args:
        problem: the problem; its ``log_every`` sets how often a row is recorded.
        spec: the optimizer (and schedule).
        params: tuned hyperparameters (at least ``lr``).
        seed: seeds torch, NumPy, the data split, the initialization and the batch order.
        steps: number of steps (default ``problem.steps``).
        epochs: alternatively, a number of epochs (``epochs * task.steps_per_epoch`` steps).
        lr_schedule: a schedule (``step -> lr``) that replaces ``params["lr"]`` in every group.
        on_step: called as ``on_step(step, steps)`` after each recorded step (progress).

    Returns:
        a :class:`RunResult`. A non-finite loss or gradient at an iterate (the first closure
        call of a step is at the iterate) ends the run as 'diverged', and so does an
        ``ArithmeticError`` raised by the optimizer's step (a line search that breaks down
        on an unbounded problem); it never raises for either.
        Closure calls at trial points (a line search, SAM's ascent point) return their value
        to the optimizer unchecked: a line search backs off from a non-finite trial, and an
        iterate that ends up non-finite is caught at the next evaluation.
    """
    torch.set_num_threads(1)
    seed_everything(seed)
    task = problem.build(seed)
    if epochs is not None:
        steps = epochs * int(getattr(task, "steps_per_epoch", 1) or 1)
    steps = problem.steps if steps is None else int(steps)
    if lr_schedule is not None and not spec.entry.schedulable:
        raise ValueError(f"optimizer {spec.name!r} takes a constant lr, not lr_schedule")
    optimizer = spec.build(task.params, params, steps)
    if lr_schedule is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr_schedule
    target = problem.target
    rows: list[tuple] = []
    train_time = 0.0
    reached: tuple[int, float, int] | None = None
    grad_norm = float("nan")
    evals = 0  # gradient evaluations (backward passes) so far
    calls_this_step = 0

    def record(step: int) -> tuple[float, float | None]:
        nonlocal reached
        # a schedule-free optimizer trains at y and is judged at its average x: eval() moves the
        # parameters there (and train() back), as a user of it evaluates
        to_x = getattr(optimizer, "eval", None)
        if to_x is not None:
            to_x()
        loss, acc = task.evaluate()
        xy = task.point() or (None, None)
        if to_x is not None:
            optimizer.train()
        lr = _current_lr(optimizer, max(step - 1, 0))
        rows.append((step, loss, acc, lr, grad_norm, train_time, *xy, evals))
        if reached is None and math.isfinite(loss) and target.met(loss, acc):
            reached = (step, train_time, evals)
        return loss, acc

    def diverged(step: int, what: str, reason: str | None = None) -> RunResult:
        summary = {"objective": math.inf, "final_loss": None, "final_metric": None,
                   "wall": train_time, "steps": step, "grad_evals": evals,
                   "reason": reason or f"non-finite {what} at step {step}"}
        if reached is not None:
            (summary["steps_to_target"], summary["time_to_target"],
             summary["evals_to_target"]) = reached
        return RunResult("diverged", rows, summary)

    def evaluate_gradient(batch_loss) -> Tensor:
        """``backward`` on the step's batch; at the iterate, check the loss and gradient."""
        nonlocal evals, grad_norm, calls_this_step
        optimizer.zero_grad(set_to_none=True)
        loss = batch_loss()
        at_iterate = calls_this_step == 0
        calls_this_step += 1
        if at_iterate and not bool(torch.isfinite(loss)):
            raise _NonFinite("loss")
        loss.backward()
        evals += 1
        if at_iterate:
            grad_norm = _grad_norm(task.params)
            if not math.isfinite(grad_norm):
                raise _NonFinite("gradient")
        return loss

    loss, acc = record(0)
    if not math.isfinite(loss):
        return diverged(0, "loss")
    for step in range(1, steps + 1):
        t0 = time.perf_counter()
        batch_loss = task.next_batch_objective()
        calls_this_step = 0
        try:
            if spec.needs_closure:
                with torch.enable_grad():
                    optimizer.step(lambda b=batch_loss: evaluate_gradient(b))
                if calls_this_step == 0:
                    raise RuntimeError(f"{spec.name}.step did not call its closure")
            else:
                evaluate_gradient(batch_loss)
                optimizer.step()
        except _NonFinite as exc:
            train_time += time.perf_counter() - t0
            return diverged(step, str(exc))
        except ArithmeticError as exc:  # e.g. a line search dividing by zero far out
            train_time += time.perf_counter() - t0
            return diverged(step, "", f"numerical failure in the optimizer step at step {step}: "
                                      f"{type(exc).__name__}: {exc}")
        train_time += time.perf_counter() - t0
        if step % problem.log_every == 0 or step == steps:
            loss, acc = record(step)
            if on_step is not None:
                on_step(step, steps)
            if not math.isfinite(loss):
                return diverged(step, "loss")
    summary = {"objective": loss, "final_loss": loss, "final_metric": acc, "wall": train_time,
               "steps": steps, "grad_evals": evals, "steps_to_target": None,
               "time_to_target": None, "evals_to_target": None}
    if reached is not None:
        (summary["steps_to_target"], summary["time_to_target"],
         summary["evals_to_target"]) = reached
    return RunResult("finished", rows, summary)


def stored_run(store: RunStore, study: str, key: str, kind: str, problem: Problem,
               spec: OptimizerSpec, params: dict[str, Any], seed: int,
               trial: int | None = None, record_params: dict | None = None,
               **run_kwargs: Any) -> dict:
    """Run unless ``key`` already finished in ``store``; return the stored run row.

    The run's row is 'running' while it trains; its metrics and summary are committed together
    with its final status in one transaction. ``record_params`` (default ``params``) is what the
    store records as the run's setting.
    """
    stored = params if record_params is None else record_params
    run_id = store.start_run(study, key, kind, problem.name, spec.label, seed, trial, stored)
    if run_id is not None:
        result = execute_run(problem, spec, params, seed, **run_kwargs)
        store.finish_run(run_id, result.status, result.rows, result.summary)
    row = store.get_run(key)
    assert row is not None
    return row
