"""Draw schedules with matplotlib (Agg canvas; the global backend is left alone)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .base import Schedule

__all__ = ["plot"]


def plot(
    schedules: Schedule | Iterable[Schedule] | Mapping[str, Schedule],
    steps: int | Iterable[int],
    path: str | Path | None = None,
    ax: Any = None,
    *,
    log: bool = False,
) -> Any:
    """Plot the learning rate against the step for one or more schedules.

    Args:
        schedules: a Schedule, a list of them (labelled by their SPEC), or a dict label -> Schedule.
        steps: the number of steps (plots ``0 .. steps - 1``) or the steps to plot.
        path: if given, save the figure there (the format follows the suffix, e.g. ``.png``).
        ax: a matplotlib Axes to draw into; by default a new Figure with an Agg canvas.
        log: use a log scale for the learning rate.

    Returns:
        The matplotlib ``Figure``.

    Example:
        >>> from ravine.schedules import plot, sgdr, cosine
        >>> curves = {"sgdr": sgdr(peak=0.1, T_0=100), "cosine": cosine(peak=0.1, total=300)}
        >>> fig = plot(curves, 300)
        >>> [line.get_label() for line in fig.axes[0].get_lines()]
        ['sgdr', 'cosine']
    """
    if isinstance(schedules, Schedule):
        items = [(repr(schedules), schedules)]
    elif isinstance(schedules, Mapping):
        items = [(str(k), v) for k, v in schedules.items()]
    else:
        items = [(repr(s), s) for s in schedules]
    if not items:
        raise ValueError("schedules must hold at least one Schedule")
    for label, s in items:
        if not isinstance(s, Schedule):
            raise TypeError(f"schedules: {label!r} is not a Schedule but {type(s).__name__}")
    if isinstance(steps, int) and not isinstance(steps, bool):
        if steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {steps}")
        xs = list(range(steps))
    else:
        xs = [int(t) for t in steps]
        if not xs:
            raise ValueError("steps must not be empty")
    if ax is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.0, 4.0), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    for label, s in items:
        ax.plot(xs, [s(t) for t in xs], label=label, linewidth=1.5)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    if log:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small" if len(items) > 1 else "x-small", loc="best")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
