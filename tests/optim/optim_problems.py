"""Small deterministic problems shared by the optimizer tests (full batch, float64 by default)."""

from __future__ import annotations

import torch


def make_mlp(dtype=torch.float64, seed=0):
    """A 5-8-1 tanh network and a fixed regression batch; returns (model, loss_fn)."""
    gen = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    model.to(dtype)
    x = torch.randn(32, 5, generator=gen, dtype=dtype)
    y = torch.sin(x.sum(dim=1, keepdim=True))

    def loss_fn(m=model):
        return torch.nn.functional.mse_loss(m(x), y)

    return model, loss_fn


def two_groups(model, group2):
    """Param groups: the first layer with the defaults, the last layer with ``group2``."""
    return [{"params": list(model[0].parameters())},
            {"params": list(model[2].parameters()), **group2}]


def run(opt, params, objective, steps):
    """``steps`` closure-driven steps of ``opt`` on ``objective()``; returns the loss values."""
    losses = []

    def closure():
        opt.zero_grad()
        value = objective()
        value.backward()
        return value

    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
    return losses


def ill_conditioned_quadratic(dtype=torch.float64, dim=10, condition=100.0, top=10.0,
                              shape=None):
    """f(x) = 0.5 sum_i d_i x_i^2, d log-spaced from top/condition to top; returns (x, f).

    ``shape`` (e.g. ``(1, dim)`` for Muon, which takes only matrices) reshapes ``x``."""
    d = top * torch.logspace(-torch.log10(torch.tensor(condition)).item(), 0, dim, dtype=dtype)
    x = torch.nn.Parameter(torch.ones(dim, dtype=dtype).reshape(shape or (dim,)))

    def f():
        return 0.5 * (d * x * x).sum()

    return x, f


def flat(params):
    return torch.cat([p.detach().reshape(-1) for p in params])
