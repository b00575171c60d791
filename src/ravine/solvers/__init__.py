"""Deterministic solvers: ``minimize`` with autograd derivatives, line searches (backtracking
Armijo, strong Wolfe, Moré-Thuente), linear CG,
directions, trust region, and classic test problems (Moré, Garbow & Hillstrom 1981)."""

from . import problems
from .directions import bfgs_inverse_update, cg_beta, two_loop
from .linear_cg import CGSolveResult, cg_solve
from .linesearch import LineSearchResult, backtracking_armijo, cubic_minimizer, strong_wolfe
from .minimize import METHODS, minimize
from .more_thuente import more_thuente, more_thuente_step
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
    "more_thuente",
    "more_thuente_step",
    "problems",
    "steihaug_cg",
    "strong_wolfe",
    "two_loop",
]
