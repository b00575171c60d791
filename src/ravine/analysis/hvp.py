"""Hessian-vector products and dense Hessians of a function or of a model's loss."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .flat import as_objective

__all__ = ["hvp", "hessian"]


def hvp(
    f: Callable[[Tensor], Tensor] | nn.Module,
    x: Tensor | None,
    v: Tensor,
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    data: Any = None,
    method: str = "double_backward",
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Hessian-vector product ``H v`` of ``f`` at ``x``, without forming ``H``.

    Args:
        f: a function ``f(x) -> scalar`` of one tensor, or an ``nn.Module`` (then pass
            ``loss_fn`` and ``data``; the Hessian is that of the mean loss over ``data`` with
            respect to the flat parameter vector, see :class:`~ravine.analysis.flat.FlatParams`).
        x: the point (shape of the function's argument), or for a module ``None`` (the current
            parameters) or a flat parameter vector.
        v: the vector, same shape as ``x`` (a flat vector for a module).
        loss_fn, data: for a module: ``loss_fn(model(inputs), targets)``, and one batch
            ``(inputs, targets)`` or a loader of batches.
        method: ``"double_backward"`` or ``"forward_over_reverse"``.
        dtype: optional dtype to evaluate in (e.g. ``torch.float64``).

    Returns:
        ``H v`` with the shape of ``v``.

    Math:
        double backward (Pearlmutter 1994): ``H v = ∇_x (∇f(x) · v)``;
        forward over reverse: ``H v = d/dt ∇f(x + t v) |_{t=0}`` (a JVP of the gradient).

    References:
        Pearlmutter, "Fast exact multiplication by the Hessian", Neural Computation 1994.

    Example:
        >>> A = torch.tensor([[2.0, 1.0], [1.0, 3.0]])
        >>> hvp(lambda x: 0.5 * x @ A @ x, torch.zeros(2), torch.tensor([1.0, 0.0]))
        tensor([2., 1.])
    """
    obj = as_objective(f, x, loss_fn=loss_fn, data=data, dtype=dtype)
    if not isinstance(v, Tensor):
        raise TypeError(f"v must be a torch.Tensor, got {type(v).__name__}")
    if v.numel() != obj.n:
        raise ValueError(f"v must have {obj.n} elements (like x), got shape {tuple(v.shape)}")
    out = obj.hvp(obj.x0, v.reshape(-1).to(obj.x0.dtype), method=method)
    return out.view(v.shape)


def hessian(
    f: Callable[[Tensor], Tensor] | nn.Module,
    x: Tensor | None = None,
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    data: Any = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Dense Hessian of ``f`` at ``x`` as an ``n x n`` matrix (``n`` = number of elements of x).

    For small problems only (``n`` up to a few thousand); it calls ``torch.func.hessian``.

    Args:
        f, x, loss_fn, data, dtype: as in :func:`hvp`.

    Returns:
        The symmetric matrix ``H[i, j] = ∂²f / ∂x_i ∂x_j`` over the flattened ``x``.

    Example:
        >>> hessian(lambda x: x[0] ** 2 - x[1] ** 2, torch.zeros(2))
        tensor([[ 2.,  0.],
                [ 0., -2.]])
    """
    obj = as_objective(f, x, loss_fn=loss_fn, data=data, dtype=dtype)
    return obj.hessian(obj.x0)
