"""`ravine schedule SPEC --steps N -o file.png`, through ravine.cli.main."""

from __future__ import annotations

import pytest

from ravine.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_cli_writes_png(tmp_path, capsys):
    out = tmp_path / "x.png"
    rc = main(["schedule", "warmup_cosine(peak=0.1, warmup=500, total=10000)",
               "--steps", "10000", "-o", str(out)])
    assert rc == 0
    assert out.read_bytes()[:8] == PNG_MAGIC and out.stat().st_size > 5000
    assert "warmup_cosine(peak=0.1, warmup=500, total=10000)" in capsys.readouterr().out


@pytest.mark.parametrize("spec, message", [
    ("warmup_cosine(peak=0.1, warmup=500", "was never closed"),
    ("cosin(peak=0.1, total=10)", "unknown schedule 'cosin'"),
    ("cosine(peak=0.1, totl=10)", "unknown keyword 'totl'"),
    ("cosine(peak=0.1)", "missing keyword total"),
    ("cosine(peak=-1, total=10)", "peak must be in [0.0, inf)"),
    ("cosine(peak=0.1, total=2.5)", "total must be an integer >= 1"),
    ("__import__('os').system('true')", "expected a schedule call"),
    ("cosine(peak=x, total=10)", "unsupported value 'x'"),
])
def test_cli_malformed_spec_exits_2(tmp_path, capsys, spec, message):
    out = tmp_path / "x.png"
    assert main(["schedule", spec, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "invalid SPEC" in err and message in err
    assert not out.exists()


def test_cli_bad_steps_exits_2(tmp_path, capsys):
    assert main(["schedule", "constant(peak=0.1)", "--steps", "0",
                 "-o", str(tmp_path / "x.png")]) == 2
    assert "--steps must be an integer >= 1" in capsys.readouterr().err
