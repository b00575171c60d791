"""Families of optimization problems ("optimizees") to meta-train and evaluate learned optimizers.

A *family* draws problems with ``sample(generator)``. A *problem* is functional: it gives the
starting parameters (``init_params()``) and the losses at any parameters (``losses(params,
step)``, a vector with one loss per independent instance in the problem). The optimizer follows
the gradient of ``losses.sum()`` (each instance gets its own exact gradient, since instances share
no parameters), and the meta-loss and the reported loss use ``losses.mean()``.

References:
    Andrychowicz et al., "Learning to learn by gradient descent by gradient descent",
    NeurIPS 2016, Sections 3.1 (quadratics) and 3.2 (MNIST MLP).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor
from torch.nn import functional as F

from .lstm import _check_positive

__all__ = ["DigitsMLPFamily", "DigitsMLPProblem", "QuadraticFamily", "QuadraticProblem"]


@dataclass
class QuadraticProblem:
    """A batch of independent quadratics ``f_b(x_b) = ||W_b x_b - y_b||^2``.

    Attributes:
        W: ``(batch, dim, dim)``; y: ``(batch, dim)``; x0: the start, ``(batch, dim)``.
    """

    W: Tensor
    y: Tensor
    x0: Tensor

    def init_params(self) -> list[Tensor]:
        """A fresh copy of the starting point, as a one-tensor list."""
        return [self.x0.clone()]

    def losses(self, params: list[Tensor], step: int = 0) -> Tensor:
        """``||W_b x_b - y_b||^2`` for each instance ``b`` (``step`` is unused: deterministic)."""
        (x,) = params
        residual = torch.einsum("bij,bj->bi", self.W, x) - self.y
        return (residual * residual).sum(-1)

    def minimum(self) -> Tensor:
        """The exact minimum of each instance (least squares; 0 when ``W_b`` is invertible)."""
        x = torch.linalg.lstsq(self.W, self.y.unsqueeze(-1)).solution
        return self.losses([x.squeeze(-1)])


class QuadraticFamily:
    """Random quadratics as in the paper: ``W, y ~ N(0, 1)`` entrywise, ``x0 ~ N(0, init_std^2)``.

    Args:
        dim: the dimension of ``x`` (the paper: 10).
        batch: independent instances per sampled problem (the paper: 128).
        init_std: standard deviation of the starting point (the paper's code: 0.01).
        dtype: the tensors' dtype.

    Example:
        >>> import torch
        >>> family = QuadraticFamily(dim=10, batch=4)
        >>> problem = family.sample(torch.Generator().manual_seed(0))
        >>> problem.losses(problem.init_params()).shape
        torch.Size([4])
    """

    def __init__(
        self, dim: int = 10, batch: int = 128, init_std: float = 0.01,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        _check_positive("dim", dim, integer=True)
        _check_positive("batch", batch, integer=True)
        _check_positive("init_std", init_std)
        self.dim, self.batch, self.init_std, self.dtype = dim, batch, float(init_std), dtype

    def sample(self, generator: torch.Generator | None = None) -> QuadraticProblem:
        """Draw one batch of quadratics."""
        b, d = self.batch, self.dim
        W = torch.randn(b, d, d, generator=generator, dtype=self.dtype)
        y = torch.randn(b, d, generator=generator, dtype=self.dtype)
        x0 = torch.randn(b, d, generator=generator, dtype=self.dtype) * self.init_std
        return QuadraticProblem(W, y, x0)


@lru_cache(maxsize=4)
def _digits(dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return torch.tensor(X / 16.0, dtype=dtype), torch.tensor(y, dtype=torch.long)


@dataclass
class DigitsMLPProblem:
    """A one-hidden-layer sigmoid MLP on scikit-learn's digits, trained on minibatches.

    The minibatch at step ``t`` is drawn from a generator seeded with ``(seed, t)``, so the
    losses are a deterministic function of ``(params, step)``.
    """

    params0: list[Tensor]
    X: Tensor
    y: Tensor
    batch_size: int
    seed: int

    def init_params(self) -> list[Tensor]:
        return [p.clone() for p in self.params0]

    def minibatch(self, step: int) -> Tensor:
        """The row indices of the minibatch used at ``step``."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        return torch.randint(len(self.X), (self.batch_size,), generator=gen)

    def losses(self, params: list[Tensor], step: int = 0) -> Tensor:
        """The cross-entropy on the minibatch of ``step``, as a one-element vector."""
        idx = self.minibatch(step)
        return self.loss_on(params, self.X[idx], self.y[idx]).reshape(1)

    @staticmethod
    def loss_on(params: list[Tensor], X: Tensor, y: Tensor) -> Tensor:
        W1, b1, W2, b2 = params
        return F.cross_entropy(torch.sigmoid(X @ W1 + b1) @ W2 + b2, y)

    def full_loss(self, params: list[Tensor]) -> Tensor:
        """The cross-entropy on all the digits (for reporting)."""
        return self.loss_on(params, self.X, self.y)


class DigitsMLPFamily:
    """MLPs ``64 -> hidden (sigmoid) -> 10`` on load_digits with fresh random initializations.

    Mirrors the paper's MNIST experiment (one hidden layer of 20 sigmoid units, minibatches of
    128) on the 8x8 digits that ship with scikit-learn.

    Args:
        hidden: hidden units (the paper: 20).
        batch_size: minibatch size (the paper: 128).
        dtype: the tensors' dtype.
    """

    def __init__(
        self, hidden: int = 20, batch_size: int = 128, dtype: torch.dtype = torch.float32
    ) -> None:
        _check_positive("hidden", hidden, integer=True)
        _check_positive("batch_size", batch_size, integer=True)
        self.hidden, self.batch_size, self.dtype = hidden, batch_size, dtype

    def sample(self, generator: torch.Generator | None = None) -> DigitsMLPProblem:
        """A fresh initialization (PyTorch's ``nn.Linear`` uniform scheme) and minibatch seed."""
        X, y = _digits(self.dtype)
        n_in, h = X.shape[1], self.hidden

        def uniform(shape, fan_in):
            bound = fan_in ** -0.5
            return (torch.rand(shape, generator=generator, dtype=self.dtype) * 2 - 1) * bound

        params = [uniform((n_in, h), n_in), uniform((h,), n_in), uniform((h, 10), h),
                  uniform((10,), h)]
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        return DigitsMLPProblem(params, X, y, self.batch_size, seed)
