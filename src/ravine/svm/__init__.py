"""Support vector machines trained by SMO: ``SVC``, the solvers, and dual-problem diagnostics.

``import ravine.svm`` (numba-compiled; not imported by ``import ravine``).
"""

from .estimator import SVC
from .kernels import Kernel, make_kernel, resolve_gamma
from .objective import (
    binary_problems,
    dual_objective,
    dual_objectives,
    kkt_violation,
    kkt_violations,
)
from .pairs import solve_pairs
from .smo import SMOResult, solve_smo
from .smo_reference import solve_smo_reference

__all__ = [
    "SVC",
    "Kernel",
    "SMOResult",
    "binary_problems",
    "dual_objective",
    "dual_objectives",
    "kkt_violation",
    "kkt_violations",
    "make_kernel",
    "resolve_gamma",
    "solve_pairs",
    "solve_smo",
    "solve_smo_reference",
]
