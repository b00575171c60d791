"""End to end: a small study through `ravine compare`, its report rendered in headless Chromium."""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

from ravine.cli import main
from ravine.lab.report import SECTIONS

CONFIG = """
trials = 2
seeds = 2
problems = [{name = "ravine", steps = 60},
            {name = "rosenbrock", steps = 30, lr_range = [5.0, 10.0]},   # diverges
            {name = "mlp_digits", steps = 40}]
optimizers = ["sgd", "momentum", {name = "momentum", label = "momentum+cosine", schedule = "S"}]

[batch_study]
problem = "mlp_digits"
optimizer = "momentum"
sizes = [64, 256]
epochs = 1
""".replace('"S"', '"cosine(peak={lr}, total={steps})"')


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


def _render(browser: str, page: str, *flags: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", *flags, f"file://{page}"],
            capture_output=True, text=True, timeout=120)


def test_lab_compare_end_to_end_report_in_chromium(tmp_path):
    # one test (not a module fixture shared by two) so that pytest-xdist runs the study once
    (tmp_path / "study.toml").write_text(CONFIG)
    code = main(["compare", "--config", str(tmp_path / "study.toml"), "--store",
                 str(tmp_path / "runs" / "store.db"), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 0
    report = tmp_path / "out"
    html = (report / "report.html").read_text()
    md = (report / "summary.md").read_text()
    assert 'src="http' not in html and "<link" not in html  # self-contained
    # 2 surfaces + 3 curve figures + profiles + sensitivity + schedules + batch
    assert html.count("data:image/png;base64,") == 9
    assert "## Steps and time to target" in md and "| ravine |" in md
    assert "rosenbrock" in md.split("## Diverged runs")[1]  # the diverging setting is listed
    _check_in_chromium(report)


def _check_in_chromium(report):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium found (install Debian's chromium package to run this check)")
    page = str(report / "report.html")
    dom = _render(browser, page, "--virtual-time-budget=10000", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    for key, heading in SECTIONS.items():
        assert re.search(f'<section id="{key}"><h2>{re.escape(heading)}</h2>', dom.stdout), key
    check = re.search(r'id="image-check" data-loaded="(\d+)" data-total="(\d+)"', dom.stdout)
    assert check, "the page's image check did not run"
    loaded, total = map(int, check.groups())
    assert total == loaded == 9
    diverged = dom.stdout.split('<section id="diverged">')[1].split("</section>")[0]
    assert "rosenbrock" in diverged and "non-finite" in diverged
    batch = dom.stdout.split('<section id="batch">')[1].split("</section>")[0]
    assert "<img" in batch and "scaled" in batch
    shot = report / "shot.png"
    res = _render(browser, page, f"--screenshot={shot}", "--window-size=1400,3000")
    assert res.returncode == 0 and shot.stat().st_size > 10_000
