"""The report's figures, drawn with matplotlib's Agg canvas (no global pyplot state).

Each function returns a ``Figure``; :func:`to_png_base64` turns it into an embeddable string.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .data import PairResult, curve_band

__all__ = ["to_png_base64", "trajectories", "loss_curves", "performance_profiles",
           "lr_sensitivity", "schedules_figure", "batch_figure", "profile_ratios"]


# losses beyond this are drawn at the limit: a log axis over 10^270 cannot place its ticks
DISPLAY_LIMIT = 1e12


def clip_for_display(values):
    """Clip to [-DISPLAY_LIMIT, DISPLAY_LIMIT] (a run that blew up to 1e200 stays on the plot).

    Example:
        >>> clip_for_display(np.array([1e300, -5.0, -1e90])).tolist()
        [1000000000000.0, -5.0, -1000000000000.0]
    """
    return np.clip(values, -DISPLAY_LIMIT, DISPLAY_LIMIT)


def _figure(w: float, h: float) -> Figure:
    fig = Figure(figsize=(w, h), dpi=90, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_png_base64(fig: Figure) -> str:
    """PNG bytes of ``fig``, base64-encoded (for ``<img src="data:image/png;base64,...">``)."""
    buf = io.BytesIO()
    with np.errstate(over="ignore"):  # symlog axes over losses like -1e90 (the saddle)
        fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _colors(labels: list[str]) -> dict[str, str]:
    cycle = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
             "#7f7f7f", "#bcbd22", "#17becf"]
    return {lab: cycle[i % len(cycle)] for i, lab in enumerate(labels)}


def trajectories(surface, pairs: list[PairResult], labels: list[str]) -> Figure:
    """Contours of a 2-D surface and each optimizer's path (seed 0 of its final runs)."""
    import torch

    x0, x1, y0, y1 = surface.window
    xs, ys = np.linspace(x0, x1, 200), np.linspace(y0, y1, 200)
    X, Y = np.meshgrid(xs, ys)
    Z = surface.fn(torch.tensor(X), torch.tensor(Y)).numpy()
    fig = _figure(6.5, 5.0)
    ax = fig.add_subplot()
    if Z.min() > 0:
        levels = np.geomspace(max(Z.min(), 1e-3), Z.max(), 25)
        ax.contour(X, Y, Z, levels=levels, cmap="viridis", linewidths=0.7, norm=LogNorm())
    else:
        ax.contour(X, Y, Z, levels=25, cmap="viridis", linewidths=0.7)
    colors = _colors(labels)
    for pr in pairs:
        if not pr.finals:
            continue
        run = pr.finals[0]
        pts = np.array([(m["x"], m["y"]) for m in run["metrics"] if m["x"] is not None])
        if not len(pts):
            continue
        diverged = run["status"] == "diverged"
        label = pr.optimizer + (" (diverged)" if diverged else "")
        ax.plot(pts[:, 0], pts[:, 1], "-", color=colors[pr.optimizer], lw=1.4, label=label,
                marker=".", ms=2.5)
        ax.plot(*pts[-1], "x" if diverged else "o", color=colors[pr.optimizer], ms=8)
    ax.plot(*surface.start, "k*", ms=12, label="start")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_title(f"{surface.name}: {surface.description}", fontsize=9)
    ax.legend(fontsize=8, loc="best")
    return fig


def loss_curves(problem, pairs: list[PairResult], labels: list[str]) -> Figure:
    """Training loss against steps, gradient evaluations and seconds (mean, min-max band).

    Gradient evaluations (backward passes) put optimizers that evaluate more than one gradient
    per step (SAM: 2, L-BFGS: 1 plus its line search) on the same footing as the others.
    """
    has_acc = problem.kind == "classification"
    fig = _figure(16 if has_acc else 13, 3.6)
    axes = fig.subplots(1, 4 if has_acc else 3)
    colors = _colors(labels)
    positive = all(m["loss"] is None or m["loss"] > 0
                   for pr in pairs for r in pr.finals for m in r["metrics"])
    panels = [("loss", "step", "steps"), ("loss", "grad_evals", "gradient evaluations"),
              ("loss", "wall", "seconds (training)")]
    if has_acc:
        panels.append(("metric", "step", "steps"))
    for ax, (key, x, xlabel) in zip(axes, panels, strict=False):
        for pr in pairs:
            band = curve_band(pr.finals, key, x)
            if band is None:
                continue
            xs, mean, lo, hi = band
            if key == "loss":
                mean, lo, hi = (clip_for_display(a) for a in (mean, lo, hi))
            label = pr.optimizer + (f" ({pr.n_diverged} diverged)" if pr.n_diverged else "")
            ax.plot(xs, mean, color=colors[pr.optimizer], label=label, lw=1.4)
            ax.fill_between(xs, lo, hi, color=colors[pr.optimizer], alpha=0.2, lw=0)
        if key == "loss":
            ax.set_yscale("log" if positive else "symlog")
            if problem.target.metric == "loss":
                ax.axhline(problem.target.value, color="k", ls=":", lw=0.8)
            ax.set_ylabel("training loss")
        else:
            ax.set_ylabel("test accuracy")
            ax.axhline(problem.target.value, color="k", ls=":", lw=0.8)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=8)
    fig.suptitle(f"{problem.name} (target {problem.target}, dotted)", fontsize=10)
    return fig


def profile_ratios(times: dict[str, dict[str, float]]) -> dict[str, list[float]]:
    """Per optimizer, the ratio of its time to the best time on each problem (inf: not reached).

    Example:
        >>> profile_ratios({"p": {"a": 1.0, "b": 2.0}, "q": {"a": math.inf, "b": 3.0}})
        {'a': [1.0, inf], 'b': [2.0, 1.0]}
    """
    ratios: dict[str, list[float]] = {}
    for per_opt in times.values():
        finite = [t for t in per_opt.values() if math.isfinite(t)]
        best = min(finite) if finite else math.inf
        for opt, t in per_opt.items():
            ok = math.isfinite(t) and math.isfinite(best)
            ratios.setdefault(opt, []).append(t / best if ok and best > 0 else
                                              (1.0 if ok else math.inf))
    return ratios


def performance_profiles(steps: dict, seconds: dict, labels: list[str],
                         evals: dict | None = None) -> Figure:
    """AlgoPerf-style profiles: the fraction of problems solved within tau x the best.

    One panel each for steps and time to target, and for gradient evaluations if ``evals``.
    """
    panels = [(steps, "steps"), *([(evals, "gradient evaluations")] if evals else []),
              (seconds, "time")]
    fig = _figure(5 * len(panels), 3.6)
    colors = _colors(labels)
    for ax, (data, what) in zip(fig.subplots(1, len(panels)), panels, strict=True):
        ratios = profile_ratios(data)
        finite = [r for rs in ratios.values() for r in rs if math.isfinite(r)]
        tau_max = max(4.0, 1.2 * max(finite)) if finite else 4.0
        taus = np.geomspace(1.0, tau_max, 300)
        for opt in labels:
            rs = np.array(ratios.get(opt, []))
            if not len(rs):
                continue
            rho = [(rs <= t).mean() for t in taus]
            label = opt if len(rs) == len(data) else f"{opt} ({len(rs)} of {len(data)} problems)"
            ax.step(taus, rho, where="post", color=colors[opt], label=label, lw=1.5)
        ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(f"tau ({what} to target / best {what})")
        ax.set_ylabel("fraction of problems")
        ax.set_title(f"performance profile, {what} to target", fontsize=10)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    return fig


def lr_sensitivity(problems, pairs: dict, labels: list[str]) -> Figure:
    """Final training loss of every tuning trial against its lr; diverged trials as x on top.

    ``pairs`` maps ``(problem, label)`` to a :class:`PairResult`; a pair the study does not run
    is simply absent.
    """
    n = len(problems)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig = _figure(3.4 * cols, 2.8 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    colors = _colors(labels)
    for ax, problem in zip(axes, problems, strict=False):
        here = [o for o in labels if (problem.name, o) in pairs]
        finite = [float(clip_for_display(t["objective"])) for o in here
                  for t in pairs[problem.name, o].trials
                  if t["status"] == "finished" and t["objective"] is not None]
        top = max(finite) if finite else 1.0
        for opt in here:
            trials = pairs[problem.name, opt].trials
            ok = sorted((t["params"]["lr"], float(clip_for_display(t["objective"])))
                        for t in trials
                        if t["status"] == "finished" and t["objective"] is not None)
            bad = [t["params"]["lr"] for t in trials if t["status"] == "diverged"]
            if ok:
                lrs, objectives = zip(*ok, strict=True)
                ax.plot(lrs, objectives, "o-", color=colors[opt], ms=3.5, lw=1, label=opt)
            if bad:
                ax.plot(bad, [top] * len(bad), "x", color=colors[opt], ms=7)
        ax.set_xscale("log")
        ax.set_yscale("log" if finite and min(finite) > 0 else "symlog")
        ax.set_title(problem.name, fontsize=9)
        ax.set_xlabel("lr", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[n:]:
        ax.set_visible(False)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=7)
    axes[0].set_ylabel("final training loss")
    return fig


def schedules_figure(curves: dict, steps: int) -> Figure:
    """The learning-rate schedules used, drawn with ``ravine.schedules.plot``."""
    from ... import schedules

    fig = _figure(8, 3.4)
    ax = fig.add_subplot()
    schedules.plot(curves, steps, ax=ax)
    ax.set_xlabel("step")
    ax.set_ylabel("lr")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def batch_figure(rows: list[dict], epochs: int) -> Figure:
    """Time per epoch and final test accuracy against batch size, constant vs scaled lr."""
    fig = _figure(10, 3.6)
    ax_t, ax_a = fig.subplots(1, 2)
    for scaled, color, name in [(False, "#1f77b4", "constant lr"),
                                (True, "#d62728", "linear scaling rule")]:
        by_size: dict[int, list[dict]] = {}
        for r in rows:
            if r["params"]["scaling"] == scaled:
                by_size.setdefault(r["params"]["batch_size"], []).append(r)
        sizes = sorted(by_size)
        if not sizes:
            continue
        t = [np.mean([r["wall"] / epochs for r in by_size[s] if r["wall"]]) for s in sizes]
        acc = [[r["final_metric"] if r["status"] == "finished" else np.nan for r in by_size[s]]
               for s in sizes]
        ax_t.plot(sizes, t, "o-", color=color, label=name)
        mean = [np.nanmean(a) if not all(np.isnan(a)) else np.nan for a in acc]
        ax_a.plot(sizes, mean, "o-", color=color, label=name)
        for s, a in zip(sizes, acc, strict=False):
            if any(np.isnan(a)):
                ax_a.plot([s], [0.0], "x", color=color, ms=9)
    for ax, label in [(ax_t, "seconds per epoch"), (ax_a, f"test accuracy after {epochs} epochs")]:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    return fig
