import sys
from pathlib import Path

# the tests import their shared models from helpers_analysis.py next to this file
sys.path.insert(0, str(Path(__file__).parent))
