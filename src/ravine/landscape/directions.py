"""Directions in parameter space for loss-landscape plots: random (filter-, layer- or not
normalized) and principal components of an optimization trajectory.

A direction is a flat vector in the layout of :class:`~ravine.analysis.FlatParams` (the model's
trainable parameters concatenated in ``named_parameters()`` order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..analysis.flat import FlatParams

__all__ = [
    "NORMALIZATIONS",
    "PCADirections",
    "normalize_direction",
    "pca_directions",
    "random_direction",
]

NORMALIZATIONS = ("filter", "layer", "none")
_EPS = 1e-10  # as in the reference code of Li et al.: d * |w| / (|d| + 1e-10)


def _check_normalization(normalization: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")


def _as_flat(model: nn.Module | FlatParams) -> FlatParams:
    if isinstance(model, FlatParams):
        return model
    if isinstance(model, nn.Module):
        return FlatParams(model)
    raise TypeError(f"model must be an nn.Module or FlatParams, got {type(model).__name__}")


def normalize_direction(
    direction: Tensor,
    model: nn.Module | FlatParams,
    normalization: str = "filter",
    *,
    keep_bias_bn: bool = False,
) -> Tensor:
    """Rescale a flat direction to the scale of the model's weights (returns a new vector).

    Args:
        direction: flat vector of length ``FlatParams(model).numel``.
        model: the module (or its :class:`FlatParams`) whose current weights set the scale.
        normalization: ``"filter"``: each filter ``d_{i,j}`` (slice ``j`` along dim 0 of
            parameter ``i``: a row of a linear weight, an output channel of a conv kernel) is
            rescaled to the norm of the same filter of the weights; ``"layer"``: each parameter
            tensor is rescaled to the norm of the weight tensor; ``"none"``: unchanged.
        keep_bias_bn: one-dimensional parameters (biases, BatchNorm scales and shifts) are
            zeroed by default; with ``True`` they are kept (``"filter"`` and ``"layer"`` set
            them to a copy of the weights, as in the reference code of Li et al.; ``"none"``
            leaves them unchanged).

    Returns:
        The normalized direction (same dtype as ``direction``).

    Math:
        filter: ``d_{i,j} <- d_{i,j} * ||w_{i,j}|| / (||d_{i,j}|| + 1e-10)``;
        layer: ``d_i <- d_i * ||w_i|| / (||d_i|| + 1e-10)``.

    References:
        Li, Xu, Taylor, Studer & Goldstein, "Visualizing the Loss Landscape of Neural Nets",
        NeurIPS 2018 (section 4, filter normalization).

    Example:
        >>> lin = nn.Linear(3, 2)
        >>> d = normalize_direction(torch.randn(8), lin)
        >>> torch.allclose(d[:6].view(2, 3).norm(dim=1), lin.weight.detach().norm(dim=1))
        True
        >>> d[6:].tolist()  # the bias is zeroed
        [0.0, 0.0]
    """
    _check_normalization(normalization)
    flat = _as_flat(model)
    if not isinstance(direction, Tensor) or direction.shape != (flat.numel,):
        raise ValueError(f"direction must be a flat vector of length {flat.numel}")
    weights = flat.flatten(direction.dtype)
    out = direction.detach().clone()
    for sl, shape in zip(flat.slices.values(), flat.shapes, strict=True):
        d, w = out[sl].view(shape), weights[sl].view(shape)
        if len(shape) <= 1:
            if not keep_bias_bn:
                d.zero_()
            elif normalization != "none":
                d.copy_(w)
        elif normalization == "filter":
            d_norm = d.reshape(shape[0], -1).norm(dim=1)
            w_norm = w.reshape(shape[0], -1).norm(dim=1)
            scale = (w_norm / (d_norm + _EPS)).view(-1, *([1] * (len(shape) - 1)))
            d.mul_(scale)
        elif normalization == "layer":
            d.mul_(w.norm() / (d.norm() + _EPS))
    return out


def random_direction(
    model: nn.Module | FlatParams,
    normalization: str = "filter",
    *,
    keep_bias_bn: bool = False,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """A random Gaussian direction, normalized to the scale of the model's weights.

    Args:
        model: the module (or its :class:`FlatParams`).
        normalization: ``"filter"`` (default), ``"layer"`` or ``"none"``; see
            :func:`normalize_direction`.
        keep_bias_bn: keep (rather than zero) one-dimensional parameters.
        generator: optional ``torch.Generator`` for reproducible directions.
        dtype: dtype of the direction (default: the parameters' dtype).

    Returns:
        A flat vector ``d ~ N(0, I)`` normalized per :func:`normalize_direction`.

    References:
        Li et al., "Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018.

    Example:
        >>> torch.manual_seed(0) and None
        >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        >>> d = random_direction(net)
        >>> d.shape
        torch.Size([23])
    """
    flat = _as_flat(model)
    if dtype is None:
        dtype = flat.flatten().dtype
    raw = torch.randn(flat.numel, generator=generator, dtype=dtype)
    return normalize_direction(raw, flat, normalization, keep_bias_bn=keep_bias_bn)


@dataclass
class PCADirections:
    """The top-2 principal directions of a trajectory.

    Attributes:
        d1, d2: unit-norm flat directions (first and second principal axes).
        origin: the point the directions are taken about (the final iterate).
        explained_variance_ratio: the fraction of the variance each direction explains
            (a tensor of 2 values).
        singular_values: the two largest singular values of the (centered) difference matrix.
    """

    d1: Tensor
    d2: Tensor
    origin: Tensor
    explained_variance_ratio: Tensor
    singular_values: Tensor


def pca_directions(
    trajectory: Sequence[Tensor] | Tensor,
    *,
    origin: Tensor | None = None,
    center: bool = True,
) -> PCADirections:
    """Principal directions of the iterates of an optimizer about the final point.

    Args:
        trajectory: the iterates ``theta_0, ..., theta_n`` as flat vectors (a list, or a
            ``(n + 1, p)`` tensor), in the order they were visited.
        origin: the point to subtract (default: the last iterate ``theta_n``).
        center: subtract the column mean of the difference matrix before the SVD, as
            ``sklearn.decomposition.PCA`` (used by the reference code of Li et al.) does;
            ``False`` takes the singular vectors of the raw differences.

    Returns:
        :class:`PCADirections` with ``d1``, ``d2``, the origin, and the explained variance ratio
        (squared singular values over their total).

    Math:
        ``M = [theta_0 - theta_n; ...; theta_{n-1} - theta_n]`` (rows; the origin row is
        dropped when it is zero), ``M_c = M - mean(M)`` if ``center``;
        ``M_c = U S V^T``, ``d_k = V[:, k]``, ratio ``S_k^2 / sum S^2``.
        Signs follow ``sklearn``'s PCA convention (the largest |entry| of each direction is
        positive).

    References:
        Li et al., "Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018, section 7.

    Example:
        >>> path = [torch.tensor([t, 0.1 * t * t, 0.0]) for t in range(5)]
        >>> pcs = pca_directions(path)
        >>> pcs.d1.abs().argmax().item(), round(float(pcs.explained_variance_ratio.sum()), 6)
        (0, 1.0)
    """
    if isinstance(trajectory, Tensor):
        points = trajectory
    else:
        if len(trajectory) == 0:
            raise ValueError("trajectory must hold at least 3 iterates, got 0")
        points = torch.stack([p.detach().reshape(-1) for p in trajectory])
    if points.ndim != 2:
        raise ValueError(f"trajectory must be a (steps, p) matrix, got shape {tuple(points.shape)}")
    points = points.detach()
    if origin is None:
        origin = points[-1]
        diffs = points[:-1] - origin
    else:
        if origin.shape != points.shape[1:]:
            raise ValueError(f"origin must be a vector of length {points.shape[1]}")
        diffs = points - origin
    if diffs.shape[0] < 2:
        raise ValueError(f"trajectory must hold at least 3 iterates, got {points.shape[0]}")
    if center:
        diffs = diffs - diffs.mean(dim=0, keepdim=True)
    _, s, vh = torch.linalg.svd(diffs, full_matrices=False)
    # sklearn's svd_flip(u_based_decision=False): the largest-|entry| of each direction > 0
    idx = vh.abs().argmax(dim=1)
    signs = torch.sign(vh[torch.arange(vh.shape[0]), idx])
    signs[signs == 0] = 1
    vh = vh * signs[:, None]
    total = (s**2).sum()
    ratio = (s[:2] ** 2) / total if total > 0 else torch.zeros(2, dtype=s.dtype)
    if vh.shape[0] < 2:
        raise ValueError("the trajectory spans fewer than 2 dimensions")
    return PCADirections(vh[0].clone(), vh[1].clone(), origin.clone(), ratio, s[:2].clone())
