"""Muon's pieces: EMA momentum, Newton–Schulz orthogonalization, a shape-dependent step ratio.

``chain(scale_by_ema_momentum(), orthogonalize_newton_schulz(), scale_by_shape_ratio(),
add_decayed_weights(), scale_by_lr())`` is torch.optim.Muon. The orthogonalization is the
costly part (a few matrix products per step and matrix); outside bfloat16 it stacks the
matrices of one shape and runs the iteration as batched matrix products.
"""

from __future__ import annotations

import math
import numbers
from collections import defaultdict

import torch
from torch import Tensor

from .adaptive import flag
from .base import Transform, non_negative

__all__ = ["newton_schulz", "orthogonalize_newton_schulz", "require_matrices",
           "scale_by_ema_momentum", "scale_by_shape_ratio"]

# Jordan's quintic coefficients (slope 3.4445 at zero), torch.optim.Muon's defaults
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
ADJUST_LR_FNS = (None, "original", "match_rms_adamw")


def _ns_coefficients(name, value):
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise ValueError(f"Invalid {name}: {value!r} (expected a tuple of exactly 3 numbers "
                         "(a, b, c))")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"Invalid {name}: {value!r} (expected 3 real numbers)")


def _ns_steps(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 100:
        raise ValueError(f"Invalid {name}: {value!r} (expected an integer 0 <= {name} < 100)")


def _adjust_lr_fn(name, value):
    if value not in ADJUST_LR_FNS:
        raise ValueError(f"Invalid {name}: {value!r} (expected one of {ADJUST_LR_FNS}); "
                         f"Adjust learning rate function {value} is not supported")


def newton_schulz(matrices: Tensor, coefficients=NS_COEFFICIENTS, steps: int = 5,
                  eps: float = 1e-7) -> Tensor:
    """Approximately orthogonalize a wide matrix, or a batch of them, by the quintic
    Newton–Schulz map.

    Args:
        matrices: shape ``(m, n)`` or ``(k, m, n)``, ``m <= n``, in the dtype to compute in
            (changed in place: each matrix is first divided by its Frobenius norm).
        coefficients: ``(a, b, c)`` of the quintic.
        steps: number of iterations.
        eps: floor of the norm (a zero matrix stays zero).

    Returns:
        The iterates ``X_steps``, the shape of ``matrices``.

    Update rule, per matrix ``G``::

        X_0 = G / max(||G||_F, eps)
        A = X_k X_k^T;   X_{k+1} = a X_k + (b A + c A^2) X_k

    On the singular values this is ``s <- a s + b s^3 + c s^5``; Jordan's coefficients drive
    every ``s`` in ``(0, 1]`` into about ``[0.7, 1.2]`` within 5 steps (below: 0.986 -> 0.71,
    0.164 -> 1.04), so ``X`` approximates ``U V^T`` of the SVD ``G = U S V^T``. A 2-D input
    runs torch.optim.Muon's exact sequence of operations (``addmm``); a batch runs ``baddbmm``,
    whose bfloat16 roundings differ from ``addmm``'s in about 1% of small matrices.

    Example:
        >>> import torch
        >>> g = torch.tensor([[3.0, 0.0], [0.0, 0.5]], dtype=torch.float64)
        >>> newton_schulz(g, steps=5).diagonal().round(decimals=2)
        tensor([0.7100, 1.0400], dtype=torch.float64)

    References:
        Jordan et al., "Muon: An optimizer for hidden layers in neural networks", 2024.
        Bernstein & Newhouse, "Old Optimizer, New Norm: An Anthology", 2024.
    """
    a, b, c = coefficients
    x = matrices
    if x.dim() == 2:
        addmm = torch.addmm
        x.div_(x.norm().clamp(min=eps))
    else:
        addmm = torch.baddbmm
        x.div_(torch.linalg.vector_norm(x, dim=(-2, -1), keepdim=True).clamp_(min=eps))
    for _ in range(steps):
        gram = x @ x.mT
        x = addmm(x, addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x


class scale_by_ema_momentum(Transform):
    """Momentum as an exponential moving average, optionally Nesterov (torch.optim.Muon's).

    Update rule (``mu`` = momentum)::

        b_t = mu b_{t-1} + (1 - mu) g_t          (b_0 = 0)
        u_t = (1 - mu) g_t + mu b_t   (nesterov)      u_t = b_t   (otherwise)

    State: ``momentum_buffer``.

    References:
        Polyak, 1964 (heavy ball); Nesterov, 1983; Jordan et al., "Muon", 2024.
    """

    defaults = {"momentum": 0.95, "nesterov": True}
    validators = {"momentum": non_negative, "nesterov": flag}

    def init(self, params, group):
        return [{"momentum_buffer": torch.zeros_like(p, memory_format=torch.preserve_format)}
                for p in params]

    def update(self, updates, states, params, group):
        mu = group["momentum"]
        out = []
        for g, state in zip(updates, states, strict=True):
            buf = state["momentum_buffer"]
            buf.lerp_(g, 1 - mu)
            out.append(g.lerp_(buf, mu) if group["nesterov"] else g.copy_(buf))
        return out


def require_matrices(tensors) -> None:
    """``ValueError`` (torch.optim.Muon's message) unless every tensor is 2-D."""
    for t in tensors:
        if t.ndim != 2:
            raise ValueError("Muon only supports 2D parameters whereas we found a parameter "
                             f"with size: {t.size()}")


class orthogonalize_newton_schulz(Transform):
    """Replace each 2-D update by its approximate orthogonalization (Muon's core).

    Update rule, per matrix update ``U`` (transposed first when it has more rows than columns,
    so the Gram matrix is the smaller one): ``update = NS_k(U)``, ``k = ns_steps`` iterations of
    :func:`newton_schulz` with ``(a, b, c) = ns_coefficients`` and norm floor ``eps``,
    computed in ``compute_dtype`` and returned in the update's dtype.

    Args:
        compute_dtype: the dtype of the iteration (a constructor argument, not a group
            hyperparameter). ``torch.bfloat16``, the default, is torch.optim.Muon's choice;
            ``torch.float32`` is faster on CPUs without bfloat16 arithmetic; ``torch.float64``
            gives the exact arithmetic of the same map.
        batched: stack the matrices of one shape (and device) and iterate them with batched
            matrix products. Default: batched unless ``compute_dtype`` is bfloat16, where the
            per-matrix products reproduce torch.optim.Muon bit for bit (bfloat16 ``baddbmm``
            rounds differently from ``addmm`` in about 1% of small matrices, and one flipped
            bit grows along a trajectory).

    Updates that are not 2-D raise ``ValueError``.

    References:
        Jordan et al., "Muon: An optimizer for hidden layers in neural networks", 2024.
    """

    defaults = {"ns_coefficients": NS_COEFFICIENTS, "ns_steps": 5, "eps": 1e-7}
    validators = {"ns_coefficients": _ns_coefficients, "ns_steps": _ns_steps,
                  "eps": non_negative}

    def __init__(self, *, compute_dtype: torch.dtype = torch.bfloat16,
                 batched: bool | None = None, **hyperparameters):
        if not isinstance(compute_dtype, torch.dtype) or not compute_dtype.is_floating_point:
            raise TypeError(f"Invalid compute_dtype: {compute_dtype!r} (expected a floating "
                            "torch.dtype)")
        if batched is not None and not isinstance(batched, bool):
            raise TypeError(f"Invalid batched: {batched!r} (expected None, True or False)")
        super().__init__(**hyperparameters)
        self.compute_dtype = compute_dtype
        self.batched = compute_dtype != torch.bfloat16 if batched is None else batched

    def update(self, updates, states, params, group):
        require_matrices(updates)
        hp = group["ns_coefficients"], group["ns_steps"], group["eps"]
        if not self.batched:
            for u in updates:
                x = u.to(self.compute_dtype)
                tall = u.shape[0] > u.shape[1]
                x = newton_schulz(x.T if tall else x, *hp)
                u.copy_(x.T if tall else x)
            return updates
        by_shape = defaultdict(list)
        for i, u in enumerate(updates):
            by_shape[(min(u.shape), max(u.shape), u.device)].append(i)
        for (rows, cols, device), indices in by_shape.items():
            stack = torch.empty((len(indices), rows, cols), dtype=self.compute_dtype,
                                device=device)
            for j, i in enumerate(indices):
                u = updates[i]
                stack[j].copy_(u.mT if u.shape[0] > u.shape[1] else u)
            result = newton_schulz(stack, *hp)
            for j, i in enumerate(indices):
                u = updates[i]
                u.copy_(result[j].mT if u.shape[0] > u.shape[1] else result[j])
        return updates

    def __repr__(self) -> str:
        return (super().__repr__()[:-1]
                + f", compute_dtype={self.compute_dtype}, batched={self.batched})")


class scale_by_shape_ratio(Transform):
    """Scale each matrix update by a factor of its shape ``(A, B)`` (Muon's ``adjust_lr_fn``).

    Update rule::

        None or "original":   update = sqrt(max(1, A / B)) u        (Jordan et al.)
        "match_rms_adamw":    update = 0.2 sqrt(max(A, B)) u        (Liu et al.: the RMS of
                                                                     AdamW's update)

    References:
        Jordan et al., "Muon", 2024; Liu et al., "Muon is Scalable for LLM Training", 2025.
    """

    defaults = {"adjust_lr_fn": None}
    validators = {"adjust_lr_fn": _adjust_lr_fn}

    def update(self, updates, states, params, group):
        for u, p in zip(updates, params, strict=True):
            rows, cols = p.shape[:2]
            if group["adjust_lr_fn"] == "match_rms_adamw":
                u.mul_(0.2 * math.sqrt(max(rows, cols)))
            else:
                u.mul_(math.sqrt(max(1, rows / cols)))
        return updates
