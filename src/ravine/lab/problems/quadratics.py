"""DeepOBS-style 100-D quadratics: deterministic and with stochastic (mini-batch) gradients."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .base import Problem, Target, Task

__all__ = ["deep_hessian", "QuadraticTask", "NoisyQuadraticTask", "quadratic_problems"]


def deep_hessian(dim: int = 100, seed: int = 42) -> Tensor:
    """The Hessian of DeepOBS's ``quadratic_deep``: ``Q^T diag(lambda) Q``, Q a random rotation.

    90% of the eigenvalues are drawn from U(0, 1) and 10% from U(30, 60), as in DeepOBS
    (Schneider, Balles & Hennig 2019). The instance is fixed (``seed``) across runs.

    Example:
        >>> H = deep_hessian(10)
        >>> bool(torch.allclose(H, H.T)) and bool(torch.linalg.eigvalsh(H).min() > 0)
        True
    """
    g = torch.Generator().manual_seed(seed)
    n_big = max(1, dim // 10)
    small = torch.rand(dim - n_big, generator=g, dtype=torch.float64)
    big = 30.0 + 30.0 * torch.rand(n_big, generator=g, dtype=torch.float64)
    eig = torch.cat([small, big])
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
    return q.T @ torch.diag(eig) @ q


class QuadraticTask(Task):
    """``f(theta) = 0.5 theta^T H theta``, theta started at ``N(0, I)`` drawn from the seed."""

    def __init__(self, seed: int, dim: int = 100) -> None:
        self.hessian = deep_hessian(dim)
        g = torch.Generator().manual_seed(seed)
        self.theta = torch.randn(dim, generator=g, dtype=torch.float64).requires_grad_(True)
        self.params = [self.theta]

    def loss(self) -> Tensor:
        return 0.5 * self.theta @ (self.hessian @ self.theta)


class NoisyQuadraticTask(Task):
    """DeepOBS's noisy quadratic: ``mean_i 0.5 (theta - x_i)^T H (theta - x_i)``, x_i ~ N(0, I).

    ``n_samples`` points are drawn once from the seed and visited in mini-batches of
    ``batch_size``, reshuffled every epoch; the full loss averages over all of them.
    """

    def __init__(self, seed: int, dim: int = 100, n_samples: int = 1000, batch_size: int = 32):
        self.hessian = deep_hessian(dim)
        self.gen = torch.Generator().manual_seed(seed)
        self.samples = torch.randn(n_samples, dim, generator=self.gen, dtype=torch.float64)
        self.theta = torch.randn(dim, generator=self.gen, dtype=torch.float64).requires_grad_(True)
        self.params = [self.theta]
        self.batch_size = batch_size
        self.steps_per_epoch = math.ceil(n_samples / batch_size)
        self._order: Tensor | None = None
        self._pos = 0

    def _loss_on(self, x: Tensor) -> Tensor:
        d = self.theta.unsqueeze(0) - x
        return 0.5 * ((d @ self.hessian) * d).sum(1).mean()

    def loss(self) -> Tensor:
        return self.next_batch_objective()()

    def next_batch_objective(self) -> Callable[[], Tensor]:
        n = self.samples.shape[0]
        if self._order is None or self._pos >= n:
            self._order = torch.randperm(n, generator=self.gen)
            self._pos = 0
        idx = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        batch = self.samples[idx]
        return lambda: self._loss_on(batch)

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float | None]:
        return float(self._loss_on(self.samples)), None


def _quadratic(seed: int, dim: int = 100) -> Task:
    return QuadraticTask(seed, dim)


def _noisy(seed: int, dim: int = 100, n_samples: int = 1000, batch_size: int = 32) -> Task:
    return NoisyQuadraticTask(seed, dim, n_samples, batch_size)


def quadratic_problems() -> list[Problem]:
    """``quadratic_deep`` (deterministic) and ``noisy_quadratic`` (stochastic gradients)."""
    return [
        Problem("quadratic_deep", "quadratic",
                "100-D quadratic, DeepOBS spectrum (90% in [0,1], 10% in [30,60])",
                steps=300, target=Target("loss", 0.5), build_fn=_quadratic,
                lr_range=(1e-4, 0.1), log_every=5),
        Problem("noisy_quadratic", "quadratic",
                "the same quadratic with mini-batch noise (1000 samples, batch 32)",
                steps=300, target=Target("loss", 262.0), build_fn=_noisy,
                lr_range=(1e-4, 0.1), log_every=5),
    ]
