"""Make ``lab_cli_process`` importable from the lab tests (pytest runs with importlib)."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
