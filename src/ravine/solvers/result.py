"""OptimizeResult: the record a solver returns, shaped like ``scipy.optimize.OptimizeResult``."""

from __future__ import annotations

from typing import Any

__all__ = ["OptimizeResult"]


class OptimizeResult(dict):
    """A dict whose keys are also attributes: ``x, fun, jac, nit, nfev, njev, nhev, success, ...``.

    Fields (as in ``scipy.optimize.OptimizeResult``):
        x: the solution, a tensor shaped like ``x0``.
        fun: the objective at ``x`` (a Python float).
        jac: the gradient at ``x`` (a tensor shaped like ``x0``).
        nit: iterations taken.
        nfev, njev, nhev: evaluations of the function, gradient and Hessian (or
            Hessian-vector products).
        success: whether a convergence test was met.
        status: 0 converged, 1 iteration/evaluation limit, 2 line search or other failure.
        message: the reason the solver stopped.

    Example:
        >>> r = OptimizeResult(fun=1.5, nit=3)
        >>> r.fun, r["nit"]
        (1.5, 3)
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    __setattr__ = dict.__setitem__
    __delattr__ = dict.__delitem__

    def __repr__(self) -> str:
        if not self:
            return "OptimizeResult()"
        width = max(len(k) for k in self) + 1
        return "\n".join(f"{k.rjust(width)}: {v!r}" for k, v in self.items())

    def __dir__(self) -> list[str]:
        return list(self.keys())
