"""Optimizers: ``torch.optim``-compatible classes built from transform chains."""

from .base import ChainOptimizer
from .classes import SGD, Adam, AdamW

__all__ = ["SGD", "Adam", "AdamW", "ChainOptimizer"]
