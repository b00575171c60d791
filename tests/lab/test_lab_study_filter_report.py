"""A study whose optimizers skip some problems: it runs, resumes and reports only its pairs."""

import re
import sqlite3

from ravine.cli import main

CONFIG = """
trials = 2
seeds = 1
problems = [{name = "ravine", steps = 20, lr_range = [1e-3, 0.5]},
            {name = "rosenbrock", steps = 20},
            {name = "logistic_cancer", steps = 10}]
optimizers = ["sgd",
              {name = "lbfgs", problems = ["ravine", "rosenbrock"]},
              {name = "sam", skip_problems = ["rosenbrock", "logistic_cancer"]}]
"""
PAIRS = {("ravine", "sgd"), ("ravine", "lbfgs"), ("ravine", "sam"), ("rosenbrock", "sgd"),
         ("rosenbrock", "lbfgs"), ("logistic_cancer", "sgd")}


def _compare(tmp_path, *more):
    return main(["compare", "--config", str(tmp_path / "study.toml"), "--store",
                 str(tmp_path / "store.db"), "--out", str(tmp_path / "out"), "--quiet", *more])


def _runs(tmp_path):
    with sqlite3.connect(tmp_path / "store.db") as c:
        return c.execute("SELECT key, id, problem, optimizer, kind, status, params "
                         "FROM ravine_runs ORDER BY id").fetchall()


def _row(md: str, section: str, problem: str) -> list[str]:
    text = md.split(section)[1]
    line = next(x for x in text.splitlines() if x.startswith(f"| {problem} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_lab_filter_study_runs_reports_and_resumes_only_its_pairs(tmp_path, capfd):
    (tmp_path / "study.toml").write_text(CONFIG)
    assert _compare(tmp_path) == 0
    err = capfd.readouterr().err
    assert "warning" in err and "key 'problems[0].lr_range' does not apply to optimizer " \
        "'lbfgs'" in err and "'optimizers[1].lr_range'" in err

    runs = _runs(tmp_path)
    assert {(p, o) for _, _, p, o, *_ in runs} == PAIRS
    assert len(runs) == len(PAIRS) * (2 + 1)
    assert all(status in ("finished", "diverged") for *_, status, _ in runs)
    lrs = {(p, o): [] for p, o in PAIRS}
    for _, _, p, o, _, _, params in runs:
        lrs[p, o].append(float(re.search(r'"lr": ([0-9.e-]+)', params).group(1)))
    assert all(0.5 <= lr <= 2.0 for lr in lrs["ravine", "lbfgs"] + lrs["rosenbrock", "lbfgs"])
    assert all(1e-3 <= lr <= 0.5 for lr in lrs["ravine", "sgd"] + lrs["ravine", "sam"])

    html = (tmp_path / "out" / "report.html").read_text()
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "could not be drawn" not in html
    assert "3 problems x 3 optimizers (6 pairs run)" in html and "(6 pairs run)" in md
    # trajectories on 2 surfaces, 3 loss-curve figures, profiles, lr sensitivity
    assert html.count("data:image/png;base64,") == 7
    targets = "## Steps and time to target"
    cells = _row(md, targets, "logistic_cancer")  # problem, target, steps x3, evals x3, secs x3
    assert [cells[i] for i in (3, 4, 6, 7, 9, 10)] == ["-"] * 6
    assert cells[2] != "-" and cells[5] != "-" and cells[8] != "-"
    assert _row(md, targets, "rosenbrock")[4] == "-" and _row(md, targets, "ravine")[4] != "-"
    best = _row(md, "## Best learning rates", "logistic_cancer")
    assert best[2:] == ["-", "-"] and best[1] != "-"
    fastest = _row(md, "## Fastest to target", "rosenbrock")[2]
    assert fastest in ("sgd", "lbfgs", "none reached the target")

    # rerunning the same definition resumes it: nothing runs again, nothing is added; the
    # worker processes validate the study again without repeating its warning
    assert _compare(tmp_path, "--jobs", "2") == 0
    assert _runs(tmp_path) == runs
    assert capfd.readouterr().err.count("does not apply to optimizer") == 1
