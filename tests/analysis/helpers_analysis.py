"""Small float64 models shared by the analysis tests."""

import torch
from torch import nn


def small_mlp(seed: int = 0, d_in: int = 4, hidden: int = 6, d_out: int = 3, n: int = 48):
    """A tanh MLP in float64 with a classification batch; returns (model, loss_fn, (X, y))."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(d_in, hidden), nn.Tanh(), nn.Linear(hidden, d_out)).double()
    X = torch.randn(n, d_in, dtype=torch.float64, generator=gen)
    y = torch.randint(0, d_out, (n,), generator=gen)
    return model, nn.functional.cross_entropy, (X, y)


def exact_hessian(model, loss_fn, data):
    """Dense Hessian by torch.func.hessian over a dict of parameters (independent of ravine)."""
    names = [n for n, _ in model.named_parameters()]
    params = {n: p.detach() for n, p in model.named_parameters()}
    shapes = [params[n].shape for n in names]
    theta = torch.cat([params[n].reshape(-1) for n in names])

    def f(t):
        chunks = torch.split(t, [s.numel() for s in shapes])
        p = {n: c.view(s) for n, c, s in zip(names, chunks, shapes, strict=True)}
        return loss_fn(torch.func.functional_call(model, p, (data[0],)), data[1])

    return torch.func.hessian(f)(theta)


def random_quadratic(eigenvalues, seed: int = 0):
    """f(x) = 0.5 x^T A x with A = Q diag(eigenvalues) Q^T for a random orthogonal Q."""
    gen = torch.Generator().manual_seed(seed)
    lam = torch.as_tensor(eigenvalues, dtype=torch.float64)
    Q, _ = torch.linalg.qr(torch.randn(len(lam), len(lam), dtype=torch.float64, generator=gen))
    A = Q @ torch.diag(lam) @ Q.T
    A = 0.5 * (A + A.T)
    return (lambda x: 0.5 * x @ A @ x), A
