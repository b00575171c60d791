"""``minimize``: scipy.optimize.minimize for torch tensors, with derivatives from autograd."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from torch import Tensor

from .descent import LINE_SEARCHES, LineSearchSpec, StopRules, line_search_descent
from .direction_rules import (
    BFGSRule,
    LBFGSRule,
    NewtonCGRule,
    NewtonRule,
    NonlinearCGRule,
    SteepestDescentRule,
)
from .objective import Objective, as_start_point
from .result import OptimizeResult
from .trust_region import trust_ncg

__all__ = ["METHODS", "minimize"]

METHODS = ("gd", "newton", "bfgs", "lbfgs", "cg", "newton-cg", "trust-ncg")
_COMMON = {"gtol", "norm", "ftol", "xtol", "maxiter", "maxfev"}
_SEARCH = {"line_search", "c1", "c2"}
_EXTRA = {
    "gd": _SEARCH,
    "newton": _SEARCH,
    "bfgs": _SEARCH,
    "lbfgs": {"m"} | _SEARCH,
    "cg": {"beta", "restart"} | _SEARCH,
    "newton-cg": {"max_cg"} | _SEARCH,
    "trust-ncg": {"initial_trust_radius", "max_trust_radius", "eta"},
}
# Each method's line search. lbfgs: L-BFGS-B's (dcsrch with ftol 1e-3, gtol 0.9, xtol 0.1,
# at most 20 evaluations); newton-cg: scipy's line_search_wolfe1 (dcsrch, c1 1e-4, c2 0.9,
# xtol 1e-14, steps in [1e-8, 50]) falling back to a strong-Wolfe zoom, as _line_search_wolfe12,
# but always from the trial step 1 (NewtonCGRule.first_step).
_KIND_DEFAULTS = {
    "strong-wolfe": {"xtol": 1e-9, "max_evals": 25},
    "more-thuente": {"xtol": 0.1, "stpmin": 0.0, "stpmax": 1e10, "max_evals": 20},
    "armijo": {"max_evals": 30},
}
_METHOD_SEARCH = {
    "gd": LineSearchSpec("strong-wolfe", 1e-4, 0.9),
    "newton": LineSearchSpec("armijo", 1e-4, 0.9, max_evals=30),
    "bfgs": LineSearchSpec("strong-wolfe", 1e-4, 0.9),
    "lbfgs": LineSearchSpec("more-thuente", 1e-3, 0.9, xtol=0.1, max_evals=20),
    "cg": LineSearchSpec("strong-wolfe", 1e-4, 0.1),
    "newton-cg": LineSearchSpec("more-thuente", 1e-4, 0.9, xtol=1e-14, stpmin=1e-8,
                                stpmax=50.0, max_evals=100, fallback=True),
}


def _line_search(method: str, opts: dict[str, Any]) -> LineSearchSpec:
    default = _METHOD_SEARCH[method]
    kind = opts.pop("line_search", default.kind)
    if kind not in LINE_SEARCHES:
        raise ValueError(f"options['line_search'] must be one of {LINE_SEARCHES}, got {kind!r}")
    c1 = opts.pop("c1", default.c1)
    c2 = opts.pop("c2", default.c2)
    if not 0.0 < c1 < 1.0:
        raise ValueError(f"options['c1'] must be in (0, 1), got {c1!r}")
    if not c1 < c2 < 1.0:
        raise ValueError(f"options['c2'] must be in (c1, 1) = ({c1}, 1), got {c2!r}")
    if kind == default.kind:
        return LineSearchSpec(kind, c1, c2, default.xtol, default.stpmin, default.stpmax,
                              default.max_evals, default.fallback)
    return LineSearchSpec(kind, c1, c2, **_KIND_DEFAULTS[kind])


def _stop_rules(method: str, n: int, tol: float | None, opts: dict[str, Any]) -> StopRules:
    gtol = opts.pop("gtol", 1e-5 if tol is None else tol)
    ftol = opts.pop("ftol", 2.220446049250313e-09 if method == "lbfgs" else 0.0)
    xtol = opts.pop("xtol", 0.0)
    maxiter = opts.pop("maxiter", 15000 if method == "lbfgs" else 200 * n)
    maxfev = opts.pop("maxfev", 15000 if method == "lbfgs" else None)
    norm = opts.pop("norm", 2.0 if method == "trust-ncg" else math.inf)
    if isinstance(norm, bool) or not isinstance(norm, (int, float)) or not norm >= 1:
        raise ValueError(f"options['norm'] must be a number >= 1 or math.inf, got {norm!r}")
    for name, value in (("gtol", gtol), ("ftol", ftol), ("xtol", xtol)):
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if not (isinstance(maxiter, int) and maxiter >= 0):
        raise ValueError(f"maxiter must be an integer >= 0, got {maxiter!r}")
    if maxfev is not None and not (isinstance(maxfev, int) and maxfev >= 1):
        raise ValueError(f"maxfev must be None or an integer >= 1, got {maxfev!r}")
    return StopRules(float(gtol), float(ftol), float(xtol), maxiter, maxfev, float(norm))


def minimize(
    fun: Callable[..., Any],
    x0: Any,
    method: str = "lbfgs",
    jac: Callable[..., Any] | bool | None = None,
    hess: Callable[..., Any] | None = None,
    hessp: Callable[..., Any] | None = None,
    tol: float | None = None,
    options: dict[str, Any] | None = None,
    callback: Callable[[Tensor], Any] | None = None,
) -> OptimizeResult:
    """Minimize a scalar function of a tensor, like ``scipy.optimize.minimize`` on torch tensors.

    Args:
        fun: ``fun(x) -> scalar tensor`` (with ``jac=True``, ``(f, grad)``).
        x0: the starting point: a floating-point tensor of any shape (CPU or GPU), finite.
        method: ``"gd"`` (steepest descent + line search), ``"newton"`` (exact Hessian,
            modified to be positive definite, Armijo backtracking), ``"bfgs"``, ``"lbfgs"``
            (two-loop recursion, memory ``m``), ``"cg"`` (nonlinear conjugate gradient),
            ``"newton-cg"`` (truncated, Hessian-free) or ``"trust-ncg"`` (Steihaug-CG trust
            region).
        jac: ``None`` for autograd, ``True`` if ``fun`` returns the gradient, or ``jac(x)``.
        hess: ``hess(x) -> (n, n)``, for ``newton`` (autograd if None).
        hessp: ``hessp(x, p) -> H p``, for ``newton-cg`` / ``trust-ncg`` (autograd if None).
        tol: sets ``gtol``.
        options: ``gtol`` (gradient-norm target, default 1e-5), ``norm`` (the norm of that
            test: ``math.inf``, i.e. ``max|g|``, by default; 2 for ``trust-ncg``, as scipy's
            trust-ncg; any number >= 1), ``ftol`` (relative decrease of
            ``f``; default 2.2e-9 for ``lbfgs`` as scipy's L-BFGS-B, else 0 = off), ``xtol``
            (``|s|_inf <= xtol (1 + |x|_inf)``, default 0 = off), ``maxiter`` (default ``200 n``;
            15000 for ``lbfgs``), ``maxfev`` (default none; 15000 for ``lbfgs``); per method:
            ``m`` (lbfgs memory, 10), ``beta`` (cg: ``"polak-ribiere+"`` (default),
            ``"fletcher-reeves"``, ``"hestenes-stiefel"``, ``"dai-yuan"``), ``restart`` (cg,
            default ``n``), ``line_search`` (``"strong-wolfe"``, ``"more-thuente"`` or
            ``"armijo"``; defaults: ``"more-thuente"`` for lbfgs with L-BFGS-B's c1 1e-3,
            c2 0.9 and newton-cg with scipy's wolfe1 constants, ``"armijo"`` for newton,
            ``"strong-wolfe"`` else), ``c1``, ``c2`` (cg: c2 0.1), ``max_cg`` (newton-cg,
            ``20 n``), ``initial_trust_radius``, ``max_trust_radius``, ``eta``. With its
            defaults ``lbfgs`` follows scipy's L-BFGS-B (no bounds) iterate for iterate and
            ``trust-ncg`` scipy's trust-ncg; ``newton-cg`` is scipy's Newton-CG but for the
            line search's first trial step (always 1), the 2-norm forcing term and a step
            along negative curvature (:class:`~ravine.solvers.direction_rules.NewtonCGRule`).
        callback: ``callback(x)`` after each iteration; raise ``StopIteration`` to stop.

    Returns:
        an :class:`~ravine.solvers.result.OptimizeResult` with ``x, fun, jac, nit, nfev, njev,
        nhev, success, status, message``. Reaching ``maxiter``/``maxfev`` gives
        ``success=False`` (status 1), not an exception.

    Math: ``x_{k+1} = x_k + t_k d_k`` with ``d_k = -B_k^{-1} g_k`` for the method's model ``B_k``
    and ``t_k`` from a line search (strong Wolfe unless noted), or ``x_{k+1} = x_k + p_k`` from
    the trust-region subproblem for ``trust-ncg``.

    Raises:
        ValueError: unknown method or option, non-finite ``x0``, a non-scalar ``fun``.
        TypeError: ``x0`` not a floating tensor, ``fun`` not callable.

    References:
        Nocedal & Wright, Numerical Optimization, 2nd ed., 2006; Liu & Nocedal, "On the limited
        memory BFGS method for large scale optimization", 1989.

    Example:
        >>> import torch
        >>> rosen = lambda x: 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
        >>> r = minimize(rosen, torch.tensor([-1.2, 1.0], dtype=torch.float64), method="bfgs")
        >>> r.success, torch.allclose(r.x, torch.ones(2, dtype=torch.float64), atol=1e-4)
        (True, True)
    """
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    method = method.lower()
    x = as_start_point(x0)
    obj = Objective(fun, x.shape, jac=jac, hess=hess, hessp=hessp)
    x = x.reshape(-1)
    n = x.numel()
    opts = dict(options or {})
    unknown = set(opts) - _COMMON - _EXTRA[method]
    if unknown:
        raise ValueError(
            f"unknown options {sorted(unknown)} for method {method!r}; accepted: "
            f"{sorted(_COMMON | _EXTRA[method])}"
        )
    stop = _stop_rules(method, n, tol, opts)
    if method == "trust-ncg":
        return trust_ncg(obj, x, stop, callback=callback, **opts)
    search = _line_search(method, opts)
    if method == "gd":
        rule: Any = SteepestDescentRule()
    elif method == "newton":
        rule = NewtonRule(obj)
    elif method == "bfgs":
        rule = BFGSRule(n, x.dtype, x.device)
    elif method == "lbfgs":
        m = opts.pop("m", 10)
        if not (isinstance(m, int) and m >= 1):
            raise ValueError(f"options['m'] must be an integer >= 1, got {m!r}")
        rule = LBFGSRule(m)
    elif method == "cg":
        rule = NonlinearCGRule(opts.pop("beta", "polak-ribiere+"), opts.pop("restart", n))
    else:
        max_cg = opts.pop("max_cg", 20 * n)
        if not (isinstance(max_cg, int) and max_cg >= 1):
            raise ValueError(f"options['max_cg'] must be an integer >= 1, got {max_cg!r}")
        rule = NewtonCGRule(obj, max_cg)
    return line_search_descent(obj, x, rule, stop, search, callback=callback)
