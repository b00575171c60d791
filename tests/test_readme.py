"""The README's Python examples run as written (together, in order)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(README), "exec"), namespace)
    out = capsys.readouterr().out
    accuracy = float(re.search(r"train accuracy ([0-9.]+)", out).group(1))
    assert accuracy > 0.9, out
    assert namespace["opt"].param_groups[0]["momentum"] == 0.9
