"""Closure-based and wrapper optimizers in the lab: SAM, LBFGS, Lookahead.

Seeded runs are reproducible, each row counts the gradient evaluations (SAM 2 per step, LBFGS
the closure calls it reports), the closure re-evaluates the same mini-batch, LBFGS follows
torch.optim.LBFGS, and a blow-up is a 'diverged' run, never an exception.
"""

import math

import numpy as np
import pytest
import torch

from ravine.lab.optimizers import OptimizerSpec, available_optimizers
from ravine.lab.problems import get_problem
from ravine.lab.runner import execute_run, stored_run
from ravine.lab.store import RunStore
from ravine.lab.study import ConfigError, study_from_dict
from ravine.lab.tuning import search_space

CLOSURE_OPTIMIZERS = [("sam", 0.05), ("lbfgs", 1.0), ("lookahead", 0.01)]


def _without_wall(rows):
    # wall time (index 5) is the only unseeded field; repr: exact, and nan equals nan
    return [repr(r[:5] + r[6:]) for r in rows]


def test_lab_closure_entries_are_listed_and_built():
    have = available_optimizers()
    assert {"sam", "lbfgs", "lookahead"} <= set(have)
    assert have["sam"].needs_closure and have["lbfgs"].needs_closure
    assert not have["lookahead"].needs_closure
    w = [torch.zeros(3, requires_grad=True)]
    sam = OptimizerSpec("sam").build(w, {"lr": 0.1}, 10)
    assert sam.param_groups[0]["rho"] == 0.05 and sam.param_groups[0]["momentum"] == 0.9
    la = OptimizerSpec("lookahead").build(w, {"lr": 0.01}, 10)
    assert (la.k, la.alpha, type(la.optimizer).__name__) == (5, 0.5, "Adam")
    assert la.param_groups[0]["lr"] == 0.01
    lb = OptimizerSpec("lbfgs").build(w, {"lr": 1.0}, 10)
    group = lb.param_groups[0]
    assert (group["max_iter"], group["line_search_fn"]) == (1, "strong_wolfe")
    # a tuned wrapper argument goes to the wrapper, the rest to the inner optimizer
    tuned = OptimizerSpec("sam", fixed=(("momentum", 0.5),)).build(w, {"lr": 0.2, "rho": 0.1}, 5)
    assert tuned.param_groups[0]["rho"] == 0.1 and tuned.optimizer.defaults["momentum"] == 0.5


@pytest.mark.parametrize("name,lr", CLOSURE_OPTIMIZERS)
def test_lab_closure_runs_are_seeded_and_deterministic(name, lr):
    problem = get_problem("mlp_digits", steps=20, log_every=5)  # mini-batches of 64
    first = execute_run(problem, OptimizerSpec(name), {"lr": lr}, seed=1)
    again = execute_run(problem, OptimizerSpec(name), {"lr": lr}, seed=1)
    other = execute_run(problem, OptimizerSpec(name), {"lr": lr}, seed=2)
    assert first.status == again.status == "finished"
    assert _without_wall(first.rows) == _without_wall(again.rows)
    assert [r[0] for r in first.rows] == [0, 5, 10, 15, 20]
    assert first.rows[-1][1] < first.rows[0][1]  # it trains
    assert [r[1] for r in other.rows] != [r[1] for r in first.rows]


def test_lab_closure_sam_counts_two_gradients_per_step():
    problem = get_problem("quadratic_deep", steps=100)
    result = execute_run(problem, OptimizerSpec("sam"), {"lr": 0.01}, seed=0)
    assert result.status == "finished"
    assert [r[-1] for r in result.rows] == [2 * r[0] for r in result.rows]
    s = result.summary
    assert s["grad_evals"] == 200
    assert s["steps_to_target"] is not None and s["evals_to_target"] == 2 * s["steps_to_target"]
    plain = execute_run(problem, OptimizerSpec("momentum"), {"lr": 0.01}, seed=0)
    assert [r[-1] for r in plain.rows] == [r[0] for r in plain.rows]  # one per step


def test_lab_closure_sam_rho0_is_its_inner_optimizer_on_the_same_batches():
    # with rho = 0 the ascent point is the iterate: both closure calls must see the same
    # mini-batch, and the batch order must be the one the first-order path draws
    problem = get_problem("mlp_digits", steps=30, log_every=5)
    sam = execute_run(problem, OptimizerSpec("sam", fixed=(("rho", 0.0),)), {"lr": 0.05}, 3)
    momentum = execute_run(problem, OptimizerSpec("momentum"), {"lr": 0.05}, 3)
    assert [r[1:3] for r in sam.rows] == [r[1:3] for r in momentum.rows]
    assert sam.rows[-1][-1] == 2 * momentum.rows[-1][-1] == 60


def test_lab_closure_lookahead_alpha1_is_adam():
    problem = get_problem("noisy_quadratic", steps=40)
    look = execute_run(problem, OptimizerSpec("lookahead", fixed=(("alpha", 1.0),)),
                       {"lr": 0.01}, 0)
    adam = execute_run(problem, OptimizerSpec("adam"), {"lr": 0.01}, 0)
    np.testing.assert_allclose([r[1] for r in look.rows], [r[1] for r in adam.rows], rtol=1e-10)
    default = execute_run(problem, OptimizerSpec("lookahead"), {"lr": 0.01}, 0)
    assert [r[1] for r in default.rows] != [r[1] for r in adam.rows]  # alpha 0.5 differs


@pytest.mark.parametrize("name", ["quadratic_deep", "rosenbrock"])
def test_lab_closure_lbfgs_follows_torch_and_counts_its_closure_calls(name):
    steps = 25
    problem = get_problem(name, steps=steps, log_every=1)
    result = execute_run(problem, OptimizerSpec("lbfgs"), {"lr": 1.0}, seed=0)
    assert result.status == "finished"
    # anchor: torch.optim.LBFGS, one iteration per step, the same line search, in float64
    torch.manual_seed(0)
    task = problem.build(0)
    opt = torch.optim.LBFGS(task.params, lr=1.0, max_iter=1, max_eval=26,
                            line_search_fn="strong_wolfe")
    calls, evals, losses = [0], [0], [task.evaluate()[0]]

    def closure():
        calls[0] += 1
        opt.zero_grad()
        loss = task.loss()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
        losses.append(task.evaluate()[0])
        evals.append(calls[0])
    np.testing.assert_allclose([r[1] for r in result.rows], losses, rtol=1e-8, atol=1e-12)
    assert [r[-1] for r in result.rows] == evals
    assert evals[-1] == opt.state[task.params[0]]["func_evals"] > steps  # line-search calls
    assert result.summary["grad_evals"] == evals[-1]


def test_lab_closure_lbfgs_blowup_is_recorded_as_diverged(tmp_path):
    store = RunStore(tmp_path / "s.db")
    problem = get_problem("rosenbrock")
    no_search = OptimizerSpec("lbfgs", fixed=(("line_search_fn", None),))
    row = stored_run(store, "st", "st/lbfgs-div", "final", problem, no_search, {"lr": 1e4},
                     seed=0)
    assert row["status"] == "diverged" and row["objective"] == math.inf
    assert "non-finite" in row["reason"] and row["steps"] < problem.steps
    metrics = store.metrics(row["id"])
    assert metrics and math.isfinite(metrics[0]["loss"])
    assert [m["grad_evals"] for m in metrics] == [m["step"] for m in metrics]  # 1 call/step
    assert row["grad_evals"] >= metrics[-1]["grad_evals"]


def test_lab_closure_lbfgs_line_search_survives_non_finite_trial_points():
    # lr 1e300 makes the first trial step overflow; the strong Wolfe search backs off and the
    # run carries on: a non-finite *trial* point is not a diverged run
    problem = get_problem("rosenbrock", steps=30)
    result = execute_run(problem, OptimizerSpec("lbfgs"), {"lr": 1e300}, seed=0)
    assert result.status == "finished"
    assert all(math.isfinite(r[1]) for r in result.rows)


def test_lab_closure_lbfgs_tunes_lr_around_one_and_takes_no_schedule():
    lr = search_space(get_problem("mlp_digits"), OptimizerSpec("lbfgs"))["lr"]
    assert (lr.low, lr.high, lr.log) == (0.5, 2.0, True)
    sam_lr = search_space(get_problem("mlp_digits"), OptimizerSpec("sam"))["lr"]
    assert (sam_lr.low, sam_lr.high) == get_problem("mlp_digits").lr_range
    with pytest.raises(ConfigError, match=r"optimizers\[0\].schedule.*constant lr"):
        study_from_dict({"problems": ["ravine"], "optimizers": [
            {"name": "lbfgs", "schedule": "cosine(peak={lr}, total={steps})"}]})
    with pytest.raises(ConfigError, match="batch_study.optimizer"):
        study_from_dict({"problems": ["mlp_digits"], "optimizers": ["lbfgs"],
                         "batch_study": {"optimizer": "lbfgs"}})
    with pytest.raises(ValueError, match="constant lr"):
        execute_run(get_problem("ravine", steps=2), OptimizerSpec("lbfgs"), {"lr": 1.0}, 0,
                    lr_schedule=lambda step: 1.0)


def test_lab_closure_lbfgs_on_an_unbounded_surface_is_recorded_not_a_crash():
    # x^2 - y^2 has no minimum: the line search extrapolates down the unbounded direction. The
    # run must end as a record, never an exception: finished with a loss that fell without
    # bound (finite), or diverged if the numbers break down
    result = execute_run(get_problem("saddle"), OptimizerSpec("lbfgs"), {"lr": 1.0}, seed=0)
    assert result.status in ("finished", "diverged")
    if result.status == "finished":
        assert result.summary["final_loss"] < result.rows[0][1] - 1e6
    else:
        assert result.summary["objective"] == math.inf
