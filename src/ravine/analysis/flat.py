"""One flat-vector view of a model's parameters, and the objective the analysis tools work on.

Every analysis tool in ravine sees a model as a function of one vector ``theta``: the parameters
are concatenated in ``named_parameters()`` order, and the model is evaluated at any ``theta`` with
``torch.func.functional_call`` (the module itself is never modified). A plain function of one
tensor ``f(x) -> scalar`` is seen the same way, through ``x.reshape(-1)``.

:class:`Objective` is that common view: ``value(theta)``, ``grad(theta)``, ``hvp(theta, v)`` and
the named blocks (one per parameter tensor) used for per-layer spectra.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

__all__ = ["FlatParams", "Objective", "as_objective"]


class FlatParams:
    """The parameters of ``model`` as one flat vector.

    Args:
        model: the module; its parameters with ``requires_grad=True`` form the vector, in
            ``named_parameters()`` order.

    Attributes:
        names, shapes, numels: per parameter tensor.
        slices: name -> ``slice`` of that tensor inside the flat vector.
        numel: length of the flat vector.

    Example:
        >>> model = nn.Linear(3, 2)
        >>> flat = FlatParams(model)
        >>> flat.numel, list(flat.slices)
        (8, ['weight', 'bias'])
        >>> theta = flat.flatten()
        >>> torch.equal(flat.unflatten(theta)["bias"], model.bias)
        True
    """

    def __init__(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        self.model = model
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError("model has no parameters with requires_grad=True")
        self.names = [n for n, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.numels = [p.numel() for _, p in named]
        self.slices: dict[str, slice] = {}
        start = 0
        for name, numel in zip(self.names, self.numels, strict=True):
            self.slices[name] = slice(start, start + numel)
            start += numel
        self.numel = start

    def flatten(self, dtype: torch.dtype | None = None) -> Tensor:
        """Return a detached copy of the current parameters as one vector."""
        params = dict(self.model.named_parameters())
        theta = torch.cat([params[n].detach().reshape(-1) for n in self.names])
        return theta.to(dtype) if dtype is not None else theta.clone()

    def unflatten(self, theta: Tensor) -> dict[str, Tensor]:
        """Split ``theta`` into a name -> tensor dict (views of ``theta``, so gradients flow)."""
        if theta.ndim != 1 or theta.numel() != self.numel:
            raise ValueError(
                f"theta must be a vector of length {self.numel}, got {tuple(theta.shape)}"
            )
        return {
            n: theta[s].view(shape)
            for (n, s), shape in zip(self.slices.items(), self.shapes, strict=True)
        }

    def call(self, theta: Tensor, *args: Any, dtype: torch.dtype | None = None) -> Any:
        """Evaluate the model at ``theta``: ``functional_call(model, params(theta), args)``."""
        tensors: dict[str, Tensor] = dict(self.model.named_buffers())
        frozen = {n: p for n, p in self.model.named_parameters() if not p.requires_grad}
        tensors.update(frozen)
        if dtype is not None:
            tensors = {n: t.to(dtype) if t.is_floating_point() else t for n, t in tensors.items()}
        tensors.update(self.unflatten(theta))
        return functional_call(self.model, tensors, args)

    def assign(self, theta: Tensor) -> None:
        """Copy ``theta`` into the model's parameters (in place, without autograd)."""
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in self.unflatten(theta).items():
                params[name].copy_(value)


def _is_batch(data: Any) -> bool:
    return isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], Tensor)


def _cast(t: Any, dtype: torch.dtype | None) -> Any:
    if dtype is not None and isinstance(t, Tensor) and t.is_floating_point():
        return t.to(dtype)
    return t


class Objective:
    """A scalar function of one flat vector, with its gradient and Hessian-vector products.

    Build it with :func:`as_objective`. For data given as a loader, the batches are read once and
    kept, so that every evaluation (every Lanczos step) sees the same operator; the value is the
    batch-size-weighted mean of the per-batch losses, and gradients and Hessian-vector products
    are accumulated batch by batch.

    Attributes:
        n: length of the vector.
        x0: the point of interest (a flat vector).
        blocks: name -> slice, one per parameter tensor (``{"x": slice(0, n)}`` for a function).
        shape: shape of the original ``x`` for a function, ``None`` for a module.
    """

    def __init__(
        self,
        pieces: list[tuple[float, Callable[[Tensor], Tensor]]],
        x0: Tensor,
        blocks: dict[str, slice],
        shape: torch.Size | None = None,
    ) -> None:
        self.pieces = pieces
        self.x0 = x0
        self.n = x0.numel()
        self.blocks = blocks
        self.shape = shape
        self.hvp_count = 0

    def value(self, theta: Tensor) -> Tensor:
        """The objective at ``theta`` (a 0-d tensor, differentiable)."""
        return sum(w * fn(theta) for w, fn in self.pieces)

    def grad(self, theta: Tensor) -> Tensor:
        """The gradient at ``theta`` by reverse mode (detached)."""
        total = torch.zeros_like(theta)
        for w, fn in self.pieces:
            t = theta.detach().requires_grad_(True)
            with torch.enable_grad():
                (g,) = torch.autograd.grad(fn(t), t)
            total += w * g
        return total

    def hvp(self, theta: Tensor, v: Tensor, method: str = "double_backward") -> Tensor:
        """The Hessian-vector product ``H(theta) v``.

        Args:
            method: ``"double_backward"`` (reverse-over-reverse: the gradient of ``g(theta)·v``)
                or ``"forward_over_reverse"`` (``torch.func.jvp`` of ``torch.func.grad``; needs a
                function that ``torch.func`` can transform).
        """
        if method not in ("double_backward", "forward_over_reverse"):
            raise ValueError(
                f"method must be 'double_backward' or 'forward_over_reverse', got {method!r}"
            )
        self.hvp_count += 1
        total = torch.zeros_like(theta)
        for w, fn in self.pieces:
            if method == "double_backward":
                t = theta.detach().requires_grad_(True)
                with torch.enable_grad():
                    (g,) = torch.autograd.grad(fn(t), t, create_graph=True)
                    (hv,) = torch.autograd.grad(g @ v, t)
            else:
                _, hv = torch.func.jvp(torch.func.grad(fn), (theta.detach(),), (v,))
            total += w * hv.detach()
        return total

    def hessian(self, theta: Tensor) -> Tensor:
        """The dense ``n x n`` Hessian by ``torch.func.hessian`` (for small problems)."""
        return sum(w * torch.func.hessian(fn)(theta.detach()) for w, fn in self.pieces)


def as_objective(
    f: Callable[[Tensor], Tensor] | nn.Module,
    x: Tensor | None = None,
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    data: Any = None,
    dtype: torch.dtype | None = None,
) -> Objective:
    """Turn a function of one tensor, or a module with a loss and data, into an :class:`Objective`.

    Args:
        f: either a function ``f(x) -> scalar tensor`` of one tensor, or an ``nn.Module``.
        x: for a function, the point (any shape; the objective works on ``x.reshape(-1)``).
            For a module, an optional flat parameter vector (default: the current parameters).
        loss_fn: for a module, ``loss_fn(model(inputs), targets) -> scalar`` (mean reduction).
        data: for a module, one batch ``(inputs, targets)`` or an iterable of such batches
            (a ``DataLoader``; it is read once and kept).
        dtype: optional dtype (e.g. ``torch.float64``) for the point, parameters and data.

    Returns:
        The :class:`Objective`, with ``x0`` set to the flat point.

    Example:
        >>> obj = as_objective(lambda x: (x ** 2).sum(), torch.ones(2, 2))
        >>> obj.n, float(obj.value(obj.x0))
        (4, 4.0)
    """
    if isinstance(f, nn.Module):
        if loss_fn is None or data is None:
            raise TypeError(
                "for an nn.Module, pass loss_fn=... and data=(inputs, targets) or a loader"
            )
        flat = FlatParams(f)
        batches = [data] if _is_batch(data) else list(_iter_batches(data))
        if not batches:
            raise ValueError("data is an empty loader")
        sizes = [len(b[0]) for b in batches]
        total = float(sum(sizes))
        pieces = []
        for (inputs, targets), size in zip(batches, sizes, strict=True):
            inputs, targets = _cast(inputs, dtype), _cast(targets, dtype)

            def piece(theta, inputs=inputs, targets=targets):
                return loss_fn(flat.call(theta, inputs, dtype=dtype), targets)

            pieces.append((size / total, piece))
        if x is None:
            x0 = flat.flatten(dtype)
        else:
            if not isinstance(x, Tensor) or x.ndim != 1 or x.numel() != flat.numel:
                raise ValueError(f"x must be a flat parameter vector of length {flat.numel}")
            x0 = _cast(x.detach(), dtype).clone()
        obj = Objective(pieces, x0, dict(flat.slices))
        obj.flat = flat
        return obj
    if not callable(f):
        raise TypeError(
            f"f must be a callable f(x) -> scalar or an nn.Module, got {type(f).__name__}"
        )
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor for a function f, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    shape = x.shape
    x0 = _cast(x.detach(), dtype).reshape(-1).clone()

    def flat_fn(theta: Tensor) -> Tensor:
        out = f(theta.view(shape))
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise ValueError("f must return a scalar tensor")
        return out.reshape(())

    return Objective([(1.0, flat_fn)], x0, {"x": slice(0, x0.numel())}, shape)


def _iter_batches(data: Iterable[Any]) -> Iterable[tuple[Tensor, Tensor]]:
    for batch in data:
        if not _is_batch(batch):
            raise TypeError("each batch in data must be a pair (inputs, targets) of tensors")
        yield batch[0], batch[1]
