"""Plots of loss landscapes (matplotlib, through ``matplotlib.figure.Figure``: no pyplot, any
backend): a 1-D curve, a 2-D contour with projected trajectories, connectivity curves.

matplotlib is imported inside the functions, so ``import ravine.landscape`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .surface import PathCurve, Surface1D, Surface2D
from .trajectory import Projection

__all__ = ["plot_connectivity", "plot_contour", "plot_surface_1d"]


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained").add_subplot()


def plot_surface_1d(surface: Surface1D, *, ax: Any = None, label: str | None = None,
                    log: bool = False) -> Any:
    """Draw ``loss(alpha)`` (and accuracy, dashed, on a twin axis when present); returns the Axes.

    Call it again with the same ``ax`` and a ``label`` to overlay several curves.

    Example:
        >>> s = Surface1D(torch.linspace(-1, 1, 5), torch.linspace(-1, 1, 5) ** 2 + 0.1)
        >>> ax = plot_surface_1d(s)
        >>> len(ax.lines)
        1
    """
    ax = _axes(ax, (5, 3.5))
    (line,) = ax.plot(surface.alphas.numpy(), surface.loss.numpy(), label=label or "loss")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("alpha")
    ax.set_ylabel("loss")
    if surface.accuracy is not None:
        twin = ax.twinx()
        twin.plot(surface.alphas.numpy(), surface.accuracy.numpy(), color=line.get_color(),
                  ls="--", label=f"{label} accuracy" if label else "accuracy")
        twin.set_ylabel("accuracy")
    return ax


def plot_contour(
    surface: Surface2D,
    *,
    trajectories: Mapping[str, Projection | torch.Tensor] | None = None,
    ax: Any = None,
    levels: int = 30,
    log: bool = True,
    title: str | None = None,
) -> Any:
    """Draw the contour of a 2-D surface and the projected trajectories over it.

    Args:
        surface: a :class:`Surface2D` (``loss[i, j]`` at ``alphas[i]``, ``betas[j]``).
        trajectories: ``label -> Projection`` (or a ``(steps, 2)`` coordinate tensor); each
            is drawn as a line with a dot at each iterate and a star at the last.
        ax: Axes to draw on (default: a new Figure's).
        levels: number of contour levels.
        log: contour ``log10(loss)`` (clearer for losses spanning decades).
        title: optional title; with PCA projections, the explained variance is appended.

    Returns:
        The Axes.
    """
    ax = _axes(ax, (5.5, 4.5))
    z = surface.loss.clamp_min(1e-12).log10() if log else surface.loss
    aa, bb = torch.meshgrid(surface.alphas, surface.betas, indexing="ij")
    cs = ax.contourf(aa.numpy(), bb.numpy(), z.numpy(), levels=levels, cmap="viridis")
    ax.contour(aa.numpy(), bb.numpy(), z.numpy(), levels=levels, colors="k", linewidths=0.3)
    ax.figure.colorbar(cs, ax=ax, label="log10 loss" if log else "loss")
    notes = []
    for k, (label, traj) in enumerate((trajectories or {}).items()):
        coords = traj.coords if isinstance(traj, Projection) else traj
        xy = coords.detach().double().numpy()
        ax.plot(xy[:, 0], xy[:, 1], "-o", ms=2.5, lw=1.2, color=f"C{k + 1}", label=label)
        ax.plot(xy[-1, 0], xy[-1, 1], "*", ms=12, color=f"C{k + 1}", mec="k")
        ratio = getattr(traj, "explained_variance_ratio", None)
        if ratio is not None:
            notes.append(f"{label}: {100 * float(ratio[0]):.0f}%/{100 * float(ratio[1]):.0f}%")
    if trajectories:
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("direction 1")
    ax.set_ylabel("direction 2")
    if title or notes:
        ax.set_title("  ".join([title or ""] + notes).strip(), fontsize=9)
    return ax


def plot_connectivity(paths: Mapping[str, PathCurve], *, ax: Any = None,
                      metric: str = "loss") -> Any:
    """Draw the loss (or error) along several paths between two solutions; returns the Axes.

    Example:
        >>> t = torch.linspace(0, 1, 5)
        >>> ax = plot_connectivity({"linear": PathCurve(t, 1 - 4 * t * (t - 1))})
        >>> ax.get_legend_handles_labels()[1]
        ['linear']
    """
    if metric not in ("loss", "error"):
        raise ValueError(f"metric must be 'loss' or 'error', got {metric!r}")
    ax = _axes(ax, (5, 3.5))
    for label, path in paths.items():
        if metric == "error":
            if path.accuracy is None:
                raise ValueError(f"path {label!r} has no accuracy; compute it with accuracy=True")
            values = 1.0 - path.accuracy
        else:
            values = path.loss
        ax.plot(path.ts.numpy(), values.numpy(), "-o", ms=3, label=label)
    ax.set_xlabel("t")
    ax.set_ylabel("train loss" if metric == "loss" else "error")
    ax.legend()
    return ax
