"""Shared data and small models for the landscape tests."""

from functools import lru_cache

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from ravine.optim import Adam


@lru_cache(maxsize=1)
def digits_split():
    """load_digits scaled to [0, 1], split 70/30 (stratified, fixed seed), float32."""
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)
    f32 = torch.float32
    return (torch.tensor(Xtr, dtype=f32), torch.tensor(ytr),
            torch.tensor(Xte, dtype=f32), torch.tensor(yte))


def digits_mlp(seed: int, hidden: int = 32) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def train_full_batch(model: nn.Module, X, y, steps: int, lr: float = 1e-2) -> nn.Module:
    opt = Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    return model


def accuracy(model: nn.Module, X, y) -> float:
    with torch.no_grad():
        return float((model(X).argmax(1) == y).double().mean())


def tiny_convnet(dtype=torch.float64) -> nn.Module:
    """Conv + BatchNorm + Linear, for direction and no-side-effect checks."""
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)
    ).to(dtype)
