"""Annealed Gaussian gradient noise."""

from __future__ import annotations

import math

import torch

from .base import Transform, non_negative
from .philox import normal


class add_gradient_noise(Transform):
    """Add annealed Gaussian noise to the gradients.

    Update rule (step ``t = 0, 1, 2, ...``; ``eta = noise_eta``, ``gamma = noise_gamma``)::

        u <- u + N(0, sigma_t^2),     sigma_t^2 = eta / (1 + t)^gamma

    Each parameter draws a random 62-bit key (from torch's global generator) when its state is
    created; the noise of element ``i`` at step ``t`` is a pure function of ``(key, t, i)``: the
    counter-based Philox4x32-10 stream of :mod:`ravine.transforms.philox`, turned into normals by
    Box-Muller. The noise is therefore reproducible under ``torch.manual_seed``, a run resumed
    from a ``state_dict`` continues with exactly the noise of an uninterrupted run, and the fused
    kernels generate the same stream in place (float32 bit for bit; float64 within a few ulps,
    as the kernels' ``log``/``cos``/``sin`` are the C library's). State: ``step``,
    ``noise_key`` (an int).

    References:
        Neelakantan et al., "Adding Gradient Noise Improves Learning for Very Deep Networks",
        2015 (eta in {0.01, 0.3, 1.0}, gamma = 0.55).
    """

    defaults = {"noise_eta": 0.01, "noise_gamma": 0.55}
    validators = {"noise_eta": non_negative, "noise_gamma": non_negative}
    uses_step = True

    def init(self, params, group):
        return [{"noise_key": int(torch.randint(0, 2**62, (), dtype=torch.int64))}
                for _ in params]

    def update(self, updates, states, params, group):
        for u, state in zip(updates, states, strict=True):
            t = int(state["step"]) - 1
            std = math.sqrt(group["noise_eta"] / (1 + t) ** group["noise_gamma"])
            if std == 0:
                continue
            noise = normal(u.numel(), state["noise_key"], t, u.dtype)
            u.add_(noise.to(u.device).view(u.shape), alpha=std)
        return updates
