"""Search directions: the L-BFGS two-loop recursion, the BFGS inverse update, nonlinear-CG betas."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["CG_BETAS", "bfgs_inverse_update", "cg_beta", "two_loop"]


def two_loop(
    g: Tensor,
    s_history: Sequence[Tensor],
    y_history: Sequence[Tensor],
    rho_history: Sequence[float | Tensor],
    gamma: float | Tensor = 1.0,
) -> Tensor:
    """The L-BFGS direction ``-H g`` by the two-loop recursion over the stored pairs.

    Args:
        g: the gradient (flat).
        s_history, y_history: steps ``s_i = x_{i+1} - x_i`` and gradient changes
            ``y_i = g_{i+1} - g_i``, oldest first.
        rho_history: ``1 / (y_i . s_i)`` for each pair.
        gamma: the initial inverse Hessian ``H_0 = gamma I``, usually ``s.y / y.y`` of the
            newest pair.

    Returns:
        the search direction ``d = -H g``.

    Math: ``q = -g``; newest to oldest ``a_i = rho_i s_i.q, q -= a_i y_i``; ``r = gamma q``;
    oldest to newest ``b = rho_i y_i.r, r += (a_i - b) s_i``; ``d = r``. It equals ``-H g`` with
    ``H`` the BFGS update of ``gamma I`` by the pairs in order.

    References:
        Nocedal, "Updating quasi-Newton matrices with limited storage", 1980;
        Nocedal & Wright, Numerical Optimization, 2006, Algorithm 7.4.

    Example:
        >>> import torch
        >>> s, y = [torch.tensor([1.0, 0.0])], [torch.tensor([2.0, 0.0])]
        >>> two_loop(torch.tensor([4.0, 1.0]), s, y, [0.5], gamma=0.5)
        tensor([-2.0000, -0.5000])
    """
    q = g.neg()
    alphas = [None] * len(s_history)
    for i in range(len(s_history) - 1, -1, -1):
        alphas[i] = s_history[i].dot(q) * rho_history[i]
        q.add_(y_history[i] * -alphas[i])
    r = torch.mul(q, gamma)
    for i in range(len(s_history)):
        beta = y_history[i].dot(r) * rho_history[i]
        r.add_(s_history[i] * (alphas[i] - beta))
    return r


def bfgs_inverse_update(h: Tensor, s: Tensor, y: Tensor) -> Tensor:
    """The BFGS update of an inverse Hessian approximation ``H`` by the pair ``(s, y)``.

    Args:
        h: the ``(n, n)`` inverse Hessian approximation.
        s: the step ``x_{k+1} - x_k``.
        y: the gradient change ``g_{k+1} - g_k``; requires ``y . s > 0``.

    Returns:
        ``H+ = (I - rho s y^T) H (I - rho y s^T) + rho s s^T`` with ``rho = 1 / (y . s)``,
        expanded as ``H + (1 + rho y.Hy) rho s s^T - rho (Hy s^T + s (Hy)^T)``.

    References:
        Broyden, Fletcher, Goldfarb, Shanno, 1970; Nocedal & Wright, 2006, eq. (6.17).

    Example:
        >>> import torch
        >>> s, y = torch.tensor([1.0, 0.0]), torch.tensor([2.0, 0.0])
        >>> h = bfgs_inverse_update(torch.eye(2), s, y)
        >>> h @ torch.tensor([2.0, 0.0])  # the secant equation H+ y = s
        tensor([1., 0.])
    """
    rho = 1.0 / y.dot(s)
    hy = h @ y
    yhy = y.dot(hy)
    return h + ((1.0 + rho * yhy) * rho) * torch.outer(s, s) - rho * (
        torch.outer(hy, s) + torch.outer(s, hy)
    )


CG_BETAS = ("fletcher-reeves", "polak-ribiere+", "hestenes-stiefel", "dai-yuan")


def cg_beta(kind: str, g_new: Tensor, g_old: Tensor, d: Tensor) -> float:
    """The nonlinear conjugate gradient ``beta`` for the new direction ``d+ = -g_new + beta d``.

    Args:
        kind: ``"fletcher-reeves"``, ``"polak-ribiere+"``, ``"hestenes-stiefel"`` or
            ``"dai-yuan"``.
        g_new, g_old: the gradients at the new and the previous point.
        d: the previous direction.

    Returns:
        ``beta`` (a float; 0 when its denominator vanishes, which restarts along ``-g``).

    Math, with ``y = g_new - g_old``: FR ``|g_new|^2 / |g_old|^2``; PR+
    ``max(0, g_new.y / |g_old|^2)``; HS ``g_new.y / d.y``; DY ``|g_new|^2 / d.y``.

    References:
        Fletcher & Reeves 1964; Polak & Ribiere 1969 with Powell's nonnegative restart 1986;
        Hestenes & Stiefel 1952; Dai & Yuan 1999; Nocedal & Wright 2006, section 5.2.

    Example:
        >>> import torch
        >>> cg_beta("fletcher-reeves", torch.tensor([1.0, 0.0]), torch.tensor([2.0, 0.0]),
        ...         torch.tensor([-2.0, 0.0]))
        0.25
    """
    y = g_new - g_old
    if kind == "fletcher-reeves":
        num, den = float(g_new.dot(g_new)), float(g_old.dot(g_old))
    elif kind == "polak-ribiere+":
        num, den = float(g_new.dot(y)), float(g_old.dot(g_old))
    elif kind == "hestenes-stiefel":
        num, den = float(g_new.dot(y)), float(d.dot(y))
    elif kind == "dai-yuan":
        num, den = float(g_new.dot(g_new)), float(d.dot(y))
    else:
        raise ValueError(f"beta must be one of {CG_BETAS}, got {kind!r}")
    if den == 0.0:
        return 0.0
    beta = num / den
    return max(beta, 0.0) if kind == "polak-ribiere+" else beta
