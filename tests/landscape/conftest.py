import sys
from pathlib import Path

# the tests import their shared data and models from helpers_landscape.py next to this file
sys.path.insert(0, str(Path(__file__).parent))
