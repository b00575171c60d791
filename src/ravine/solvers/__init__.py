"""Deterministic solvers: ``minimize`` with autograd derivatives, line searches, linear CG,
directions, trust region, and classic test problems (Moré, Garbow & Hillstrom 1981)."""

from . import problems
from .directions import bfgs_inverse_update, cg_beta, two_loop
from .linear_cg import CGSolveResult, cg_solve
from .linesearch import LineSearchResult, backtracking_armijo, cubic_minimizer, strong_wolfe
from .minimize import METHODS, minimize
from .result import OptimizeResult
from .trust_region import steihaug_cg

__all__ = [
    "METHODS",
    "CGSolveResult",
    "LineSearchResult",
    "OptimizeResult",
    "backtracking_armijo",
    "bfgs_inverse_update",
    "cg_beta",
    "cg_solve",
    "cubic_minimizer",
    "minimize",
    "problems",
    "steihaug_cg",
    "strong_wolfe",
    "two_loop",
]
