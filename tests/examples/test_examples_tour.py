"""The tour's scripts (examples/tour) run in quick mode, write their figure, and show their
phenomenon in the numbers they return."""

import importlib.util
import math
from pathlib import Path

import pytest

TOUR = Path(__file__).resolve().parents[2] / "examples" / "tour"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"tour_{name}", TOUR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name: str, tmp_path: Path) -> dict:
    result = load(name).main(tmp_path, quick=True)
    png = tmp_path / f"{name}.png"
    assert png.is_file() and png.stat().st_size > 10_000
    return result


def test_every_script_is_tested():
    scripts = {p.stem for p in TOUR.glob("*.py")}
    tested = {n[len("test_"):] for n in globals() if n.startswith("test_")}
    assert scripts and scripts <= tested, scripts - tested


def test_ravine_momentum(tmp_path):
    r = run("ravine_momentum", tmp_path)
    assert r["kappa"] == pytest.approx(100.0)
    gd, hb, nag = r["iterations_gradient"], r["iterations_heavy"], r["iterations_nesterov"]
    # GD's rate is exact on a quadratic; momentum needs ~sqrt(kappa) times fewer iterations
    assert abs(gd - r["theory_gradient"]) <= 2
    assert hb < gd / 5 and nag < gd / 3
    sk = math.sqrt(r["kappa"])
    assert r["rho_heavy"] == pytest.approx((sk - 1) / (sk + 1), rel=1e-6)
    assert hb >= r["theory_heavy"]  # the double root adds a t * rho^t transient


def test_adaptive_steps(tmp_path):
    r = run("adaptive_steps", tmp_path)
    adam, sgd = r["steps_to_shrink_adam"], r["steps_to_shrink_sgd"]
    assert None not in adam and len(set(adam)) == 1  # every coordinate alike, whatever d_i
    assert sgd[-1] == 1 and sgd[0] is None  # SGD: the steep one at once, the flat one never
    assert r["loss_sgd_rotated"] == pytest.approx(r["loss_sgd_diagonal"], rel=1e-6)
    assert r["loss_adam_rotated"] > 1e3 * r["loss_adam_diagonal"]


def test_saddle_escape(tmp_path):
    r = run("saddle_escape", tmp_path)
    assert r["kind"] == "saddle"
    assert r["eigenvalues"] == pytest.approx([-1.0, 1.0], abs=1e-6)
    assert r["stuck_y"] == 0.0 and r["stuck_grad_norm"] < 1e-10
    steps = [r["escape_steps"][d] for d in sorted(r["escape_steps"], reverse=True)]
    assert None not in steps and steps == sorted(steps)  # smaller delta, longer plateau
    for d, s in r["escape_steps"].items():
        assert s == pytest.approx(r["predicted_steps"][d], rel=0.1)
    assert None not in r["noisy_escape_steps"]
    assert r["noisy_final_f"] == pytest.approx([-0.25] * 3, abs=1e-3)
    assert r["escape_saddle_how"] == "negative curvature"
    assert r["escape_saddle_loss_after"] < 0 and r["after_escape_f"] == pytest.approx(-0.25)


def test_second_order(tmp_path):
    r = run("second_order", tmp_path)
    for m in ("newton", "bfgs", "lbfgs"):
        assert r[m]["success"] and r[m]["error"] < 1e-8
    assert r["newton"]["nit"] < r["bfgs"]["nit"] < r["gd"]["nit"]
    assert r["newton"]["order"] > 1.4  # quadratic
    assert r["bfgs"]["last_ratio"] < 0.05  # superlinear
    assert r["gd"]["last_ratio"] > 0.9 and r["gd"]["error"] > 1e-3  # linear, and slow


def test_lr_schedules(tmp_path):
    r = run("lr_schedules", tmp_path)
    assert r["final_cosine"] < r["final_constant"] / 3
    assert r["final_sgdr"] < r["final_constant"] / 3
    assert any(after > before for before, after in r["restart_jumps"])
    assert r["scaling_scaled"] < r["scaling_unscaled"] / 2


def test_schedule_free(tmp_path):
    r = run("schedule_free", tmp_path)
    T = r["steps"]
    sf, cos = r["schedule_free"], r["cosine_at_horizon"]
    assert sf[T] < 1.5 * cos[T]  # as good as the cosine tuned for T ...
    assert sf[T // 2] < r["cosine_full_at_half"]  # ... and better than it halfway
    assert sf[T] < r["constant"][T] / 1.5


def test_edge_of_stability(tmp_path):
    r = run("edge_of_stability", tmp_path)
    for lr, s in r.items():
        assert 0.9 < s["ratio"] < 1.15, (lr, s)
    flat, sharp = max(r), min(r)
    assert r[flat]["final_mean"] < r[sharp]["final_mean"]
    assert r[sharp]["max"] > 1.3 * r[sharp]["initial"]  # progressive sharpening
