"""Objective: ``fun`` (and optional ``jac``/``hess``/``hessp``) on flat vectors, with counters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["Objective", "as_start_point"]


def as_start_point(x0: Any) -> Tensor:
    """Return ``x0`` as a detached floating tensor; a clear error for bad input.

    Raises:
        TypeError: ``x0`` is not a floating-point tensor (or a list/number convertible to one).
        ValueError: ``x0`` is empty or holds inf/nan.
    """
    if not isinstance(x0, Tensor):
        try:
            x0 = torch.as_tensor(x0, dtype=torch.get_default_dtype())
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"x0 must be a floating-point tensor, got {type(x0).__name__}") from exc
    if not x0.is_floating_point():
        raise TypeError(f"x0 must be a floating-point tensor, got dtype {x0.dtype}")
    if x0.numel() == 0:
        raise ValueError("x0 must have at least one element, got an empty tensor")
    if not bool(torch.isfinite(x0).all()):
        raise ValueError("x0 must be finite; it holds inf or nan")
    return x0.detach().clone()


def _scalar(value: Any, where: str) -> Tensor:
    if not isinstance(value, Tensor):
        value = torch.as_tensor(value)
    if value.numel() != 1:
        raise ValueError(
            f"{where} must return a scalar (a tensor with one element), "
            f"got shape {tuple(value.shape)}"
        )
    return value.reshape(())


class Objective:
    """Evaluate ``fun`` on flat vectors, with gradients and Hessians from autograd by default.

    Args:
        fun: ``fun(x) -> scalar tensor``, ``x`` shaped like ``x0``. With ``jac=True`` it returns
            ``(f, g)``.
        shape: the shape of ``x0``; the solver works on flat vectors of ``prod(shape)`` elements.
        jac: ``None`` (autograd), ``True`` (``fun`` returns the gradient too), or a callable
            ``jac(x) -> g``.
        hess: ``None`` (autograd, ``torch.func.hessian``) or ``hess(x) -> (n, n)`` matrix.
        hessp: ``None`` (autograd double backward) or ``hessp(x, p) -> H p``.

    The counters ``nfev``, ``njev``, ``nhev`` follow scipy: a value-and-gradient call counts one
    of each of ``nfev`` and ``njev``; a Hessian or a Hessian-vector product counts one ``nhev``.
    """

    def __init__(
        self,
        fun: Callable[..., Any],
        shape: torch.Size,
        jac: Callable[..., Any] | bool | None = None,
        hess: Callable[..., Any] | None = None,
        hessp: Callable[..., Any] | None = None,
    ) -> None:
        if not callable(fun):
            raise TypeError(f"fun must be callable, got {type(fun).__name__}")
        if not (jac is None or jac is True or callable(jac)):
            raise TypeError(f"jac must be None, True or a callable, got {jac!r}")
        for name, value in (("hess", hess), ("hessp", hessp)):
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be None or a callable, got {type(value).__name__}")
        self.fun, self.shape, self.jac, self.hess_fn, self.hessp_fn = fun, shape, jac, hess, hessp
        self.nfev = self.njev = self.nhev = 0

    def _call(self, x: Tensor) -> Any:
        return self.fun(x.view(self.shape))

    def value(self, x: Tensor) -> Tensor:
        """``f(x)`` as a 0-d tensor (no gradient)."""
        self.nfev += 1
        with torch.no_grad():
            out = self._call(x)
        if self.jac is True:
            out = out[0]
        return _scalar(out, "fun").detach()

    def value_and_grad(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(f(x), grad f(x))``: a 0-d tensor and a flat vector."""
        self.nfev += 1
        self.njev += 1
        if self.jac is True:
            with torch.no_grad():
                f, g = self._call(x)
            return _scalar(f, "fun").detach(), self._flat_grad(g, x)
        if callable(self.jac):
            with torch.no_grad():
                f = _scalar(self._call(x), "fun")
                g = self.jac(x.view(self.shape))
            return f.detach(), self._flat_grad(g, x)
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            f = _scalar(self._call(xr), "fun")
            if not f.requires_grad:
                return f.detach(), torch.zeros_like(x)
            (g,) = torch.autograd.grad(f, xr, allow_unused=True)
        return f.detach(), torch.zeros_like(x) if g is None else g

    def _flat_grad(self, g: Any, x: Tensor) -> Tensor:
        g = torch.as_tensor(g, dtype=x.dtype, device=x.device).detach()
        if g.numel() != x.numel():
            raise ValueError(f"jac must return {x.numel()} elements, got shape {tuple(g.shape)}")
        return g.reshape(-1)

    def hessp(self, x: Tensor, p: Tensor) -> Tensor:
        """The Hessian-vector product ``H(x) p`` (double backward unless ``hessp`` was given)."""
        self.nhev += 1
        if self.hessp_fn is not None:
            with torch.no_grad():
                out = self.hessp_fn(x.view(self.shape), p.view(self.shape))
            return self._flat_grad(out, x)
        if self.hess_fn is not None:
            self.nhev -= 1
            return self.hess(x) @ p
        if self.jac is not None:
            raise ValueError("hessp by autograd needs jac=None (the gradient from autograd)")
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            f = _scalar(self._call(xr), "fun")
            (g,) = torch.autograd.grad(f, xr, create_graph=True)
            (hp,) = torch.autograd.grad(g, xr, p, allow_unused=True)
        return torch.zeros_like(x) if hp is None else hp.detach()

    def hessp_at(self, x: Tensor) -> Callable[[Tensor], Tensor]:
        """``p -> H(x) p`` for many ``p`` at one ``x``, reusing one autograd graph."""
        if self.hessp_fn is not None or self.hess_fn is not None or self.jac is not None:
            return lambda p: self.hessp(x, p)
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            f = _scalar(self._call(xr), "fun")
            (g,) = torch.autograd.grad(f, xr, create_graph=True)

        def product(p: Tensor) -> Tensor:
            self.nhev += 1
            if not g.requires_grad:  # fun is linear in x
                return torch.zeros_like(x)
            with torch.enable_grad():
                (hp,) = torch.autograd.grad(g, xr, p, retain_graph=True, allow_unused=True)
            return torch.zeros_like(x) if hp is None else hp.detach()

        return product

    def hess(self, x: Tensor) -> Tensor:
        """The dense Hessian ``(n, n)`` at ``x`` (``torch.func.hessian`` unless ``hess`` given)."""
        self.nhev += 1
        n = x.numel()
        if self.hess_fn is not None:
            with torch.no_grad():
                h = self.hess_fn(x.view(self.shape))
            h = torch.as_tensor(h, dtype=x.dtype, device=x.device)
            if h.numel() != n * n:
                raise ValueError(f"hess must return an ({n}, {n}) matrix, got {tuple(h.shape)}")
            return h.reshape(n, n)
        if self.jac is not None:
            raise ValueError("hess by autograd needs jac=None (the gradient from autograd)")

        def flat_fun(v: Tensor) -> Tensor:
            return _scalar(self._call(v), "fun")

        try:
            return torch.func.hessian(flat_fun)(x.detach()).reshape(n, n)
        except RuntimeError:  # data-dependent control flow in fun: one row per backward pass
            with torch.enable_grad():
                xr = x.detach().requires_grad_(True)
                (g,) = torch.autograd.grad(flat_fun(xr), xr, create_graph=True)
                rows = [torch.autograd.grad(g[i], xr, retain_graph=True)[0] for i in range(n)]
            return torch.stack(rows).detach()
