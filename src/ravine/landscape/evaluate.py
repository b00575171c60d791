"""Evaluate a model's loss (and accuracy) at flat parameter vectors without touching the model.

:class:`ModelEvaluator` is the one place the landscape tools run a model: the reference path
evaluates one point at a time; the vectorized path (``chunk_size=``) evaluates a chunk of points
at once with ``torch.func.vmap`` over ``functional_call`` and must agree with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from ..analysis.flat import FlatParams

__all__ = ["LossFn", "ModelEvaluator"]

LossFn = Callable[[Tensor, Tensor], Tensor]


def _is_batch(data: Any) -> bool:
    return isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], Tensor)


def _cast(t: Tensor, dtype: torch.dtype | None) -> Tensor:
    return t.to(dtype) if dtype is not None and t.is_floating_point() else t


def _grid(values: Sequence[float] | Tensor, name: str) -> Tensor:
    grid = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    if grid.numel() == 0 or not torch.isfinite(grid).all():
        raise ValueError(f"{name} must be a non-empty sequence of finite numbers")
    return grid


def _check_chunk_size(chunk_size: int | None) -> None:
    if chunk_size is not None and (
        not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be None or an integer >= 1, got {chunk_size!r}")


class ModelEvaluator:
    """Evaluate ``loss_fn(model(inputs), targets)`` (and accuracy) at any flat parameter vector.

    The batches of ``data`` are read once and kept. The value is the batch-size-weighted mean of
    the per-batch losses (exact for a mean-reduced ``loss_fn``). The model runs in eval mode
    (``train=False``, the default, as in Li et al.'s code) or train mode, on copies of its
    buffers, so BatchNorm running statistics are never updated.

    Args:
        model: the module.
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` with mean reduction.
        data: one batch ``(inputs, targets)`` or an iterable of batches (a ``DataLoader``).
        accuracy: also compute the fraction of ``outputs.argmax(1) == targets``.
        dtype: optional dtype (e.g. ``torch.float64``) for parameters, buffers and inputs.
        train: evaluate the model in train mode (dropout active, batch statistics).

    Example:
        >>> lin = nn.Linear(1, 1, bias=False)
        >>> ev = ModelEvaluator(lin, nn.MSELoss(), (torch.ones(2, 1), torch.zeros(2, 1)))
        >>> ev(torch.tensor([3.0]))
        (9.0, None)
        >>> ev.many(torch.tensor([[1.0], [2.0]]))[0].tolist()
        [1.0, 4.0]
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        data: Any,
        *,
        accuracy: bool = False,
        dtype: torch.dtype | None = None,
        train: bool = False,
    ) -> None:
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        self.flat = FlatParams(model)
        self.model = model
        self.loss_fn = loss_fn
        self.accuracy = bool(accuracy)
        self.dtype = dtype
        self.train = bool(train)
        if _is_batch(data):
            batches = [data]
        elif isinstance(data, Iterable) and not isinstance(data, Tensor):
            batches = list(data)
            for b in batches:
                if not _is_batch(b):
                    raise TypeError("each batch in data must be a pair (inputs, targets)")
        else:
            raise TypeError("data must be a batch (inputs, targets) or an iterable of batches")
        if not batches:
            raise ValueError("data is an empty loader")
        self.batches = [(_cast(x, dtype), y) for x, y in batches]
        sizes = [len(x) for x, _ in self.batches]
        self.weights = [s / float(sum(sizes)) for s in sizes]
        self.center = self.flat.flatten(dtype)

    def point(self, where: Tensor | nn.Module | Mapping[str, Tensor]) -> Tensor:
        """A flat vector from a flat vector, a module of the same architecture, or a state dict."""
        if isinstance(where, Tensor):
            if where.shape != (self.flat.numel,):
                raise ValueError(f"a point must be a flat vector of length {self.flat.numel}")
            return _cast(where.detach(), self.dtype)
        if isinstance(where, nn.Module):
            where = dict(where.named_parameters())
        if isinstance(where, Mapping):
            missing = [n for n in self.flat.names if n not in where]
            if missing:
                raise ValueError(f"the point lacks parameters {missing}")
            vec = torch.cat([where[n].detach().reshape(-1) for n in self.flat.names])
            return _cast(vec, self.dtype) if self.dtype else vec.to(self.center.dtype)
        raise TypeError(f"a point must be a Tensor, nn.Module or state dict, got {type(where)}")

    def _fixed_tensors(self) -> dict[str, Tensor]:
        tensors = {n: _cast(b.clone(), self.dtype) for n, b in self.model.named_buffers()}
        for n, p in self.model.named_parameters():
            if not p.requires_grad:
                tensors[n] = _cast(p.detach(), self.dtype)
        return tensors

    @torch.no_grad()
    def __call__(self, theta: Tensor) -> tuple[float, float | None]:
        """``(loss, accuracy)`` at ``theta`` (accuracy is ``None`` unless asked for); the
        reference path, one point at a time."""
        was_training = self.model.training
        self.model.train(self.train)
        try:
            tensors = self._fixed_tensors()
            tensors.update(self.flat.unflatten(theta))
            loss, correct = 0.0, 0.0
            for w, (x, y) in zip(self.weights, self.batches, strict=True):
                out = functional_call(self.model, tensors, (x,))
                loss += w * float(self.loss_fn(out, y))
                if self.accuracy:
                    correct += w * float((out.argmax(dim=1) == y).double().mean())
        finally:
            self.model.train(was_training)
        return loss, (correct if self.accuracy else None)

    @torch.no_grad()
    def many(self, thetas: Tensor) -> tuple[Tensor, Tensor | None]:
        """Losses (and accuracies) at the rows of ``thetas`` (``(k, p)``), vectorized with
        ``torch.func.vmap``; needs a ``loss_fn`` and model that vmap can batch (no in-place
        buffer updates: eval mode for BatchNorm)."""
        if thetas.ndim != 2 or thetas.shape[1] != self.flat.numel:
            raise ValueError(f"thetas must be a (k, {self.flat.numel}) matrix")
        was_training = self.model.training
        self.model.train(self.train)
        try:
            fixed = self._fixed_tensors()

            def one(theta: Tensor, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
                out = functional_call(self.model, {**fixed, **self.flat.unflatten(theta)}, (x,))
                loss = self.loss_fn(out, y).to(torch.float64)
                if not self.accuracy:
                    return loss, loss
                return loss, (out.argmax(dim=1) == y).to(torch.float64).mean()

            batched = vmap(one, in_dims=(0, None, None))
            loss = torch.zeros(thetas.shape[0], dtype=torch.float64)
            acc = torch.zeros_like(loss)
            for w, (x, y) in zip(self.weights, self.batches, strict=True):
                l_k, a_k = batched(thetas, x, y)
                loss += w * l_k
                acc += w * a_k
        finally:
            self.model.train(was_training)
        return loss, (acc if self.accuracy else None)

    def evaluate(
        self, points: Sequence[Callable[[], Tensor]], chunk_size: int | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Loss (and accuracy) tensors at ``points`` (each a thunk giving a flat vector): one at
        a time (``chunk_size=None``, the reference) or ``chunk_size`` at a time via :meth:`many`.
        """
        _check_chunk_size(chunk_size)
        if chunk_size is None:
            values = [self(make()) for make in points]
            loss = torch.tensor([v[0] for v in values], dtype=torch.float64)
            if not self.accuracy:
                return loss, None
            return loss, torch.tensor([v[1] for v in values], dtype=torch.float64)
        losses, accs = [], []
        for start in range(0, len(points), chunk_size):
            rows = torch.stack([make() for make in points[start : start + chunk_size]])
            l_k, a_k = self.many(rows)
            losses.append(l_k)
            accs.append(a_k)
        loss = torch.cat(losses)
        return loss, (torch.cat(accs) if self.accuracy else None)
