"""Optimization trajectories: record the iterates of a model, project them onto a plane."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..analysis.flat import FlatParams

__all__ = ["Projection", "TrajectoryRecorder", "project_trajectory"]


class TrajectoryRecorder:
    """Record a model's parameters as flat vectors (call :meth:`record` after each step/epoch).

    Args:
        model: the module whose trainable parameters are recorded.
        dtype: dtype of the stored copies (default: the parameters' dtype).

    Example:
        >>> lin = nn.Linear(2, 1)
        >>> rec = TrajectoryRecorder(lin)
        >>> rec.record(); rec.record()
        >>> rec.points().shape
        torch.Size([2, 3])
    """

    def __init__(self, model: nn.Module, dtype: torch.dtype | None = None) -> None:
        self.flat = FlatParams(model)
        self.dtype = dtype
        self.iterates: list[Tensor] = []

    def record(self) -> None:
        """Append a detached copy of the current parameters."""
        self.iterates.append(self.flat.flatten(self.dtype))

    def points(self) -> Tensor:
        """The recorded iterates as a ``(steps, p)`` matrix."""
        if not self.iterates:
            raise ValueError("no iterates recorded yet; call record() first")
        return torch.stack(self.iterates)

    def __len__(self) -> int:
        return len(self.iterates)


@dataclass
class Projection:
    """Coordinates of iterates in the plane ``origin + x d1 + y d2``.

    Attributes:
        coords: ``(steps, 2)`` least-squares coordinates ``(x, y)``.
        residual: ``(steps,)`` norm of the part of each ``theta - origin`` outside the plane.
        explained_variance_ratio: for PCA directions, the fraction of the trajectory's variance
            each direction explains (else ``None``).
    """

    coords: Tensor
    residual: Tensor
    explained_variance_ratio: Tensor | None = None


def project_trajectory(
    trajectory: Sequence[Tensor] | Tensor,
    d1: Tensor,
    d2: Tensor,
    origin: Tensor,
    *,
    explained_variance_ratio: Tensor | None = None,
) -> Projection:
    """Project iterates onto the plane spanned by two (not necessarily orthogonal) directions.

    Args:
        trajectory: iterates as flat vectors (a list or a ``(steps, p)`` tensor).
        d1, d2: the directions (linearly independent; any norms, any angle).
        origin: the plane's origin (the point the surface is centered at).
        explained_variance_ratio: carried into the result (pass
            ``PCADirections.explained_variance_ratio`` for PCA directions).

    Returns:
        :class:`Projection`: coordinates ``(x_k, y_k)`` minimizing
        ``|| theta_k - origin - x_k d1 - y_k d2 ||`` and the residual norms.

    Math:
        ``D = [d1 d2]`` (``p x 2``), ``c_k = (D^T D)^{-1} D^T (theta_k - origin)``, solved by
        ``torch.linalg.lstsq`` (a QR of ``D``), exact for points in the plane.

    References:
        Li et al., "Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018, section 7.

    Example:
        >>> f64 = {"dtype": torch.float64}
        >>> d1, d2 = torch.tensor([1.0, 0.0, 0.0], **f64), torch.tensor([1.0, 1.0, 0.0], **f64)
        >>> origin = torch.zeros(3, **f64)
        >>> p = project_trajectory([torch.tensor([3.0, 2.0, 0.0], **f64)], d1, d2, origin)
        >>> [[round(x, 12) for x in row] for row in p.coords.tolist()]
        [[1.0, 2.0]]
    """
    points = trajectory if isinstance(trajectory, Tensor) else torch.stack(
        [t.detach().reshape(-1) for t in trajectory]
    )
    if points.ndim != 2 or points.shape[0] == 0:
        raise ValueError("trajectory must be a non-empty (steps, p) matrix or list of vectors")
    p = points.shape[1]
    for name, v in (("d1", d1), ("d2", d2), ("origin", origin)):
        if not isinstance(v, Tensor) or v.shape != (p,):
            raise ValueError(f"{name} must be a flat vector of length {p}")
    dtype = torch.promote_types(points.dtype, d1.dtype)
    basis = torch.stack([d1, d2], dim=1).to(dtype)
    rank = int(torch.linalg.matrix_rank(basis))
    if rank < 2:
        raise ValueError("d1 and d2 must be linearly independent")
    rhs = (points.detach().to(dtype) - origin.to(dtype)).T
    coords = torch.linalg.lstsq(basis, rhs).solution
    residual = (rhs - basis @ coords).norm(dim=0)
    return Projection(coords.T.contiguous(), residual, explained_variance_ratio)
