"""The lab runs the optimizers added after its first version: Adadelta, Rprop, ASGD, Adafactor,
Muon (with AdamW for the non-matrix parameters) and the schedule-free ones, and judges a
schedule-free run at its average x, not at y."""

import math

import pytest
import torch

from ravine.lab.optimizers import OptimizerSpec, available_optimizers
from ravine.lab.problems import get_problem
from ravine.lab.runner import execute_run, seed_everything

NEW = [("adadelta", 1.0), ("rprop", 0.01), ("asgd", 0.01), ("adafactor", 0.01), ("muon", 0.02),
       ("sgd_schedulefree", 0.1), ("adamw_schedulefree", 0.01)]


@pytest.mark.parametrize("name,lr", NEW)
def test_lab_new_optimizer_trains_and_is_seeded(name, lr):
    assert name in available_optimizers()
    problem = get_problem("mlp_digits", steps=20, log_every=10)
    first = execute_run(problem, OptimizerSpec(name), {"lr": lr}, seed=3)
    again = execute_run(problem, OptimizerSpec(name), {"lr": lr}, seed=3)
    assert first.status == "finished"
    assert [r[1] for r in first.rows] == [r[1] for r in again.rows]
    assert first.rows[-1][1] < first.rows[0][1]


@pytest.mark.parametrize("name,lr", [("sgd_schedulefree", 2e-3), ("adamw_schedulefree", 0.05)])
def test_lab_schedule_free_run_is_judged_at_the_average(name, lr):
    """The recorded losses and points are those of x (after eval()), not of y."""
    problem = get_problem("rosenbrock", steps=30, log_every=10)
    result = execute_run(problem, OptimizerSpec(name), {"lr": lr}, seed=0)
    assert result.status == "finished"
    # the same run by hand
    seed_everything(0)
    task = problem.build(0)
    opt = OptimizerSpec(name).build(task.params, {"lr": lr}, 30)
    at_x, at_y = [], []
    for step in range(1, 31):
        opt.zero_grad()
        task.next_batch_objective()().backward()
        opt.step()
        if step % 10 == 0:
            at_y.append(task.evaluate()[0])
            opt.eval()
            at_x.append((task.evaluate()[0], task.point()))
            opt.train()
    recorded = [(r[1], (r[6], r[7])) for r in result.rows[1:]]
    assert [loss for loss, _ in recorded] == pytest.approx([loss for loss, _ in at_x], rel=1e-12)
    assert [c for _, p in recorded for c in p] == pytest.approx(
        [c for _, p in at_x for c in p], rel=1e-12)
    at_x_losses = [loss for loss, _ in at_x]
    assert all(not math.isclose(a, b, rel_tol=1e-9)
               for a, b in zip(at_y, at_x_losses, strict=True))
    assert torch.isfinite(torch.tensor(at_y)).all()
