"""Classification problems on scikit-learn's bundled data sets (offline).

Logistic regression on ``load_breast_cancer`` and softmax regression on ``load_digits`` with an
L1 or L2 penalty; an MLP and a small CNN on the 8x8 ``load_digits`` images. Each seed draws its
own stratified 75/25 train/test split, its own initialization and its own batch order
(reshuffled every epoch).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .base import Problem, Target, Task

__all__ = ["ClassificationTask", "classification_problems", "make_model"]


@lru_cache(maxsize=2)
def _dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loader = {"breast_cancer": datasets.load_breast_cancer, "digits": datasets.load_digits}[name]
    data = loader()
    return data.data.astype(np.float64), data.target.astype(np.int64)


def _split(name: str, seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    from sklearn.model_selection import train_test_split

    x, y = _dataset(name)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)
    mean, std = xtr.mean(0), xtr.std(0)
    std[std == 0] = 1.0
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    as_x = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return as_x(xtr), torch.tensor(ytr), as_x(xte), torch.tensor(yte)


def make_model(arch: str, n_in: int, n_classes: int) -> nn.Module:
    """'linear' (logistic/softmax regression), 'mlp' (64-64-10, ReLU) or 'cnn' (two 3x3 convs)."""
    if arch == "linear":
        return nn.Linear(n_in, 1 if n_classes == 2 else n_classes)
    if arch == "mlp":
        return nn.Sequential(nn.Linear(n_in, 64), nn.ReLU(), nn.Linear(64, n_classes))
    if arch == "cnn":
        return nn.Sequential(
            nn.Unflatten(1, (1, 8, 8)),
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 8 x 4 x 4
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16 x 2 x 2
            nn.Flatten(), nn.Linear(64, n_classes),
        )
    raise ValueError(f"arch must be 'linear', 'mlp' or 'cnn', got {arch!r}")


class ClassificationTask(Task):
    """Cross-entropy (plus an optional L1/L2 penalty on the weights) on a seeded split.

    Loss on a batch B: ``mean_{i in B} CE(model(x_i), y_i) + strength * P(w)``, where
    ``P(w) = ||w||_1`` for 'l1' and ``0.5 ||w||_2^2`` for 'l2' (w: weight matrices, not biases).

    Args:
        seed: split, initialization and batch order.
        dataset: 'breast_cancer' or 'digits'.
        arch: see :func:`make_model`.
        batch_size: mini-batch size; None for full batch.
        penalty: None, 'l1' or 'l2'; strength: its coefficient (>= 0).
    """

    def __init__(self, seed: int, dataset: str, arch: str, batch_size: int | None = None,
                 penalty: str | None = None, strength: float = 0.0) -> None:
        if penalty not in (None, "l1", "l2"):
            raise ValueError(f"penalty must be None, 'l1' or 'l2', got {penalty!r}")
        if not strength >= 0:
            raise ValueError(f"strength must be >= 0, got {strength!r}")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be an integer >= 1 or None, got {batch_size!r}")
        self.xtr, self.ytr, self.xte, self.yte = _split(dataset, seed)
        self.n_classes = int(max(self.ytr.max(), self.yte.max())) + 1
        torch.manual_seed(seed)
        self.model = make_model(arch, self.xtr.shape[1], self.n_classes)
        self.params = list(self.model.parameters())
        self.penalty, self.strength = penalty, float(strength)
        n = self.xtr.shape[0]
        self.batch_size = n if batch_size is None else min(batch_size, n)
        self.steps_per_epoch = math.ceil(n / self.batch_size)
        self.gen = torch.Generator().manual_seed(seed)
        self._order: Tensor | None = None
        self._pos = 0

    def _objective(self, x: Tensor, y: Tensor) -> Tensor:
        out = self.model(x)
        if out.shape[1] == 1:
            loss = F.binary_cross_entropy_with_logits(out[:, 0], y.to(out.dtype))
        else:
            loss = F.cross_entropy(out, y)
        if self.penalty and self.strength:
            weights = [p for p in self.model.parameters() if p.dim() > 1]
            if self.penalty == "l1":
                loss = loss + self.strength * sum(w.abs().sum() for w in weights)
            else:
                loss = loss + 0.5 * self.strength * sum((w * w).sum() for w in weights)
        return loss

    def loss(self) -> Tensor:
        return self.next_batch_objective()()

    def next_batch_objective(self) -> Callable[[], Tensor]:
        n = self.xtr.shape[0]
        if self.batch_size >= n:
            return lambda: self._objective(self.xtr, self.ytr)
        if self._order is None or self._pos >= n:
            self._order = torch.randperm(n, generator=self.gen)
            self._pos = 0
        idx = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        x, y = self.xtr[idx], self.ytr[idx]
        return lambda: self._objective(x, y)

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float | None]:
        loss = float(self._objective(self.xtr, self.ytr))
        out = self.model(self.xte)
        pred = (out[:, 0] > 0).long() if out.shape[1] == 1 else out.argmax(1)
        return loss, float((pred == self.yte).float().mean())


def _builder(dataset: str, arch: str, **fixed):
    def build(seed: int, **options) -> Task:
        return ClassificationTask(seed, dataset, arch, **{**fixed, **options})

    return build


def classification_problems() -> list[Problem]:
    """logistic_cancer, softmax_digits, mlp_digits, cnn_digits."""
    return [
        Problem("logistic_cancer", "classification",
                "logistic regression + L2 (1e-3) on breast_cancer, full batch",
                steps=200, target=Target("accuracy", 0.95), log_every=5, lr_range=(1e-3, 3.0),
                build_fn=_builder("breast_cancer", "linear"),
                options={"penalty": "l2", "strength": 1e-3}),
        Problem("softmax_digits", "classification",
                "softmax regression + L1 (1e-4) on digits, batch 128",
                steps=200, target=Target("accuracy", 0.93), log_every=5, lr_range=(1e-3, 3.0),
                build_fn=_builder("digits", "linear"),
                options={"penalty": "l1", "strength": 1e-4, "batch_size": 128}),
        Problem("mlp_digits", "classification", "MLP 64-64-10 on digits, batch 64",
                steps=300, target=Target("accuracy", 0.95), log_every=10, lr_range=(1e-4, 1.0),
                build_fn=_builder("digits", "mlp"), options={"batch_size": 64}),
        Problem("cnn_digits", "classification", "small CNN (2 conv layers) on digits, batch 64",
                steps=300, target=Target("accuracy", 0.95), log_every=10, lr_range=(1e-4, 1.0),
                build_fn=_builder("digits", "cnn"), options={"batch_size": 64}),
    ]
