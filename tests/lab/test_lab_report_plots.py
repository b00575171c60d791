"""Report pieces: performance-profile ratios, and figures that survive runs that blew up."""

import math

from ravine.lab.problems import get_problem
from ravine.lab.report import plots
from ravine.lab.report.data import PairResult, curve_band


def _run(seed, losses, status="finished"):
    metrics = [{"step": i, "loss": v, "metric": None, "lr": 0.1, "grad_norm": 1.0,
                "wall": 0.01 * i, "x": None, "y": None} for i, v in enumerate(losses)]
    return {"seed": seed, "status": status, "metrics": metrics, "params": {"lr": 0.1}}


def test_lab_profile_ratios_against_hand_computed():
    times = {"p": {"a": 2.0, "b": 4.0, "c": math.inf},
             "q": {"a": 9.0, "b": 3.0, "c": 3.0},
             "r": {"a": math.inf, "b": math.inf, "c": math.inf}}
    assert plots.profile_ratios(times) == {"a": [1.0, 3.0, math.inf], "b": [2.0, 1.0, math.inf],
                                           "c": [math.inf, 1.0, math.inf]}


def test_lab_curve_band_mean_min_max_over_seeds():
    xs, mean, lo, hi = curve_band([_run(0, [4.0, 2.0, 1.0]), _run(1, [2.0, 1.0, float("nan")])],
                                  "loss")
    assert xs.tolist() == [0, 1, 2]
    assert mean.tolist() == [3.0, 1.5, 1.0] and lo.tolist() == [2.0, 1.0, 1.0]
    assert hi.tolist() == [4.0, 2.0, 1.0]


def test_lab_figures_render_with_losses_that_blew_up():
    problem = get_problem("ravine")
    pr = PairResult("ravine", "sgd")
    pr.finals = [_run(0, [1.0, 1e150, 2.5e271]), _run(1, [1.0, 0.5, 1e-9])]
    pr.trials = [{"status": "finished", "objective": 2.5e271, "params": {"lr": 1.0}},
                 {"status": "finished", "objective": 1e-8, "params": {"lr": 0.01}},
                 {"status": "diverged", "objective": None, "params": {"lr": 3.0}}]
    saddle = PairResult("saddle", "sgd")
    saddle.finals = [_run(0, [1.0, -1e104, -1e300])]
    saddle.trials = [{"status": "finished", "objective": -1e300, "params": {"lr": 1.0}}]
    for fig in (plots.loss_curves(problem, [pr], ["sgd"]),
                plots.loss_curves(get_problem("saddle"), [saddle], ["sgd"]),
                plots.lr_sensitivity([problem, get_problem("saddle")],
                                     {("ravine", "sgd"): pr, ("saddle", "sgd"): saddle},
                                     ["sgd"])):
        assert len(plots.to_png_base64(fig)) > 1000
