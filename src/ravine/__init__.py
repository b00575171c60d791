"""ravine: optimization for machine learning on PyTorch."""

from . import analysis, ensembles, landscape, learned, optim, schedules, solvers, transforms
from .transforms import chain

__version__ = "0.1.0"
__all__ = [
    "analysis", "chain", "ensembles", "landscape", "learned", "optim", "schedules", "solvers",
    "transforms",
]
