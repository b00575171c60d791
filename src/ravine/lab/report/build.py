"""Build the study report: figures and tables from the store into HTML and Markdown."""

from __future__ import annotations

import html
import math
import os
import sys
import time

from ..execution import batch_pair
from ..optimizers import make_schedule
from ..problems import SURFACES
from ..store import RunStore
from ..study import Study
from . import plots
from .data import StudyResults, load_results
from .html import SECTIONS, fmt, image, page, table_html, table_markdown

__all__ = ["write_report"]


def _figure_html(make, alt: str) -> str:
    """``make()`` drawn as an embedded PNG; a figure that fails becomes a visible error note."""
    try:
        return image(plots.to_png_base64(make()), alt)
    except Exception as exc:  # one broken figure must not lose the rest of the report
        print(f"ravine compare: figure {alt!r} failed: {exc!r}", file=sys.stderr)
        return (f'<p class="diverged">Figure "{html.escape(alt)}" could not be drawn: '
                f"{html.escape(repr(exc))}</p>")


def _classify_endpoint(surface, xy: tuple[float, float]) -> str:
    """``ravine.analysis.classify_critical_point`` at a run's end point, where it is built."""
    try:
        import torch

        from ...analysis import classify_critical_point
    except ImportError:
        return "(ravine.analysis not available)"
    x = torch.tensor(xy, dtype=torch.float64)
    try:
        cp = classify_critical_point(lambda v: surface.fn(v[0], v[1]), x, grad_tol=1e-3)
    except Exception as exc:  # the analysis of an odd point must not break the report
        return f"(analysis failed: {type(exc).__name__})"
    eig = ", ".join(f"{e:.3g}" for e in cp.eigenvalues.tolist())
    return f"{cp.kind} (index {cp.index}, |grad| {cp.grad_norm:.2g}, eigenvalues {eig})"


def _present(res: StudyResults, problem: str, labels: list[str]) -> list:
    """The pair results of the optimizers that ran on ``problem`` (in ``labels`` order)."""
    return [res.pairs[problem, o] for o in labels if (problem, o) in res.pairs]


def _trajectories(res: StudyResults, labels: list[str]) -> str:
    out = []
    for problem in res.study.problems:
        if problem.kind != "surface":
            continue
        surface = SURFACES[problem.name]
        prs = _present(res, problem.name, labels)
        out.append(_figure_html(lambda s=surface, q=prs: plots.trajectories(s, q, labels),
                                f"trajectories on {problem.name}"))
        rows = []
        for pr in prs:
            if not pr.finals:
                continue
            run = pr.finals[0]
            last = [m for m in run["metrics"] if m["x"] is not None][-1]
            xy = (last["x"], last["y"])
            kind = ("diverged: " + (run["reason"] or "")) if run["status"] == "diverged" \
                else _classify_endpoint(surface, xy)
            rows.append([pr.optimizer, f"({xy[0]:.4g}, {xy[1]:.4g})", fmt(last["loss"]), kind])
        out.append(table_html(["optimizer (seed 0)", "end point", "loss", "classification"],
                              rows))
    return "\n".join(out) or '<p class="note">No 2-D surface in this study.</p>'


def _targets(res: StudyResults, labels: list[str]):
    header = ["problem", "target", *[f"{o}: steps" for o in labels],
              *[f"{o}: evals" for o in labels], *[f"{o}: seconds" for o in labels]]
    rows, classes, md_rows = [], [], []
    steps: dict[str, dict[str, float]] = {}
    evals: dict[str, dict[str, float]] = {}
    secs: dict[str, dict[str, float]] = {}
    for problem in res.study.problems:
        prs = _present(res, problem.name, labels)
        st = {pr.optimizer: pr.median_to_target("steps_to_target") for pr in prs}
        ev = {pr.optimizer: pr.median_to_target("evals_to_target") for pr in prs}
        tt = {pr.optimizer: pr.median_to_target("time_to_target") for pr in prs}
        steps[problem.name], evals[problem.name], secs[problem.name] = st, ev, tt
        cells, cls = [problem.name, str(problem.target)], ["", ""]
        for table in (st, ev, tt):
            best = min(table.values())
            for o in labels:
                if (problem.name, o) not in res.pairs:  # this optimizer skips this problem
                    cells.append("-")
                    cls.append("")
                    continue
                pr = res.pairs[problem.name, o]
                v = table[pr.optimizer]
                n = len(pr.finals)
                counted = table is not tt and math.isfinite(v)
                text = fmt(int(v) if counted and v == int(v) else v)
                text += f" ({pr.reached()}/{n})"
                if pr.n_diverged:
                    text += f" [{pr.n_diverged} diverged]"
                cells.append(text)
                cls.append("diverged" if pr.n_diverged else
                           ("best" if math.isfinite(v) and v == best else ""))
        rows.append(cells)
        classes.append(cls)
        md_rows.append(cells)
    return rows, classes, header, md_rows, steps, evals, secs


def _schedules(res: StudyResults) -> tuple[str, dict]:
    study = res.study
    curves, steps = {}, max(p.steps for p in study.problems)
    for o in study.optimizers:
        best_lrs = [res.pairs[p.name, o.label].best_params.get("lr") for p in study.problems
                    if (p.name, o.label) in res.pairs]
        lr = next((x for x in best_lrs if x), 0.1)
        if o.schedule:
            curves[f"{o.label} (lr {lr:.3g})"] = make_schedule(o.schedule, lr, steps)
    note = ""
    if res.batch:
        from ... import schedules

        for r in res.batch:
            p = r["params"]
            if p["scaling"] and r["seed"] == 0:
                lr, s = schedules.linear_scaling(p["lr"], p["batch_size"],
                                                 base_batch_size=p["base_batch_size"],
                                                 warmup=max(1, steps // 10))
                curves[f"linear scaling, batch {p['batch_size']}"] = s
        note = ("<p class=\"note\">Linear-scaling curves are drawn with a warmup of a tenth of "
                "the axis; in the batch study the warmup is one epoch.</p>")
    if not curves:
        return '<p class="note">Every optimizer used a constant learning rate.</p>', curves
    text = "<ul>" + "".join(f"<li><code>{html.escape(k)}</code>: <code>{html.escape(repr(v))}"
                            f"</code></li>" for k, v in curves.items()) + "</ul>"
    figure = _figure_html(lambda: plots.schedules_figure(curves, steps), "schedules")
    return figure + note + text, curves


def _batch(res: StudyResults) -> str:
    b = res.study.batch_study
    if b is None or batch_pair(res.study) is None:
        return ('<p class="note">Not run: the batch-size study needs its problem '
                f"({b.problem if b else '-'}) and optimizer ({b.optimizer if b else '-'}, "
                "without a schedule, not restricted away from that problem) in the study.</p>")
    rows = []
    for r in sorted(res.batch, key=lambda r: (r["params"]["batch_size"], r["params"]["scaling"],
                                              r["seed"])):
        p = r["params"]
        lr = p["lr"] * (p["batch_size"] / p["base_batch_size"] if p["scaling"] else 1.0)
        rows.append([p["batch_size"], "scaled" if p["scaling"] else "constant", fmt(lr),
                     r["seed"], fmt(r["wall"] / b.epochs if r["wall"] else None),
                     fmt(r["final_metric"]) if r["status"] == "finished" else "DIVERGED"])
    intro = (f"<p>{b.problem} with {b.optimizer} for {b.epochs} epochs at each batch size. "
             "The base lr is the tuned one at the problem's batch size; the linear scaling rule "
             "(Goyal et al. 2017) multiplies it by batch/base after one epoch of warmup.</p>")
    figure = _figure_html(lambda: plots.batch_figure(res.batch, b.epochs), "batch-size study")
    return intro + figure + table_html(
        ["batch", "lr rule", "lr", "seed", "s / epoch", "test accuracy"], rows)


def write_report(store: RunStore, study: Study, out_dir: str) -> tuple[str, str]:
    """Write ``report.html`` (self-contained) and ``summary.md`` into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    res = load_results(store, study)
    labels = [o.label for o in study.optimizers]
    sec: dict[str, str] = {}
    sec["trajectories"] = _trajectories(res, labels)
    sec["curves"] = "\n".join(
        _figure_html(lambda p=p: plots.loss_curves(p, _present(res, p.name, labels), labels),
                     f"loss curves {p.name}")
        for p in study.problems)
    rows, classes, header, md_rows, steps, evals, secs = _targets(res, labels)
    sec["targets"] = ("<p>Median over seeds (seeds that reached the target / seeds); evals are "
                      "gradient evaluations (backward passes: one per step for first-order "
                      "optimizers, two for SAM, the closure calls of L-BFGS); seconds are "
                      "training time without evaluation. Best per problem shaded; - where the "
                      "study does not run that optimizer on that problem.</p>"
                      + table_html(header, rows, classes))
    sec["profiles"] = ("<p>rho(tau): the fraction of problems on which an optimizer reaches the "
                       "target within tau times the best optimizer's steps, gradient "
                       "evaluations or time (Dolan &amp; Moré 2002; AlgoPerf, Dahl et al. "
                       "2023). An optimizer that the study runs on some problems only is "
                       "profiled over those (its legend says how many).</p>" + _figure_html(
                           lambda: plots.performance_profiles(steps, secs, labels, evals),
                           "profiles"))
    best_rows = [[p.name, *[fmt(res.pairs[p.name, o].best_params.get("lr"))
                            if (p.name, o) in res.pairs else "-" for o in labels]]
                 for p in study.problems]
    sec["sensitivity"] = (
        f"<p>{study.trials} Optuna (TPE) trials per problem and optimizer, on seed 0; "
        "the objective is the final training loss (drawn clipped to +-1e12); diverged "
        "trials are x at the top.</p>"
        + _figure_html(lambda: plots.lr_sensitivity(study.problems, res.pairs, labels),
                       "lr sensitivity")
        + table_html(["best lr", *labels], best_rows))
    sec["schedules"], _ = _schedules(res)
    sec["batch"] = _batch(res)
    div_rows = [[r["kind"], r["problem"], r["optimizer"], r["seed"],
                 fmt(r["params"].get("lr")), r["reason"] or ""] for r in res.diverged]
    sec["diverged"] = (table_html(["kind", "problem", "optimizer", "seed", "lr", "reason"],
                                  div_rows) if div_rows else "<p>No run diverged.</p>")
    winners = []
    for p in study.problems:
        ranked = sorted(secs[p.name], key=lambda o: (secs[p.name][o],
                                                     res.pairs[p.name, o].n_diverged))
        w = ranked[0]
        winners.append([p.name, str(p.target), w if math.isfinite(secs[p.name][w])
                        else "none reached the target", fmt(secs[p.name][w])])
    sec["summary"] = ("<p>Fastest to target (median training seconds over seeds):</p>"
                      + table_html(["problem", "target", "fastest", "seconds"], winners))
    shape = f"{len(study.problems)} problems x {len(labels)} optimizers"
    if len(study.pairs) < len(study.problems) * len(labels):
        shape += f" ({len(study.pairs)} pairs run)"
    intro = (f"<p>Study <b>{html.escape(study.name)}</b>: {shape} "
             f"({html.escape(', '.join(labels))}), {study.trials} "
             f"tuning trials, {study.seeds} seeds. Store: <code>{html.escape(store.path)}"
             f"</code>. Written {time.strftime('%Y-%m-%d %H:%M:%S')}.</p>")
    html_path = os.path.join(out_dir, "report.html")
    with open(html_path, "w") as f:
        f.write(page(f"ravine compare: {study.name}", intro, sec))
    md = [f"# ravine compare: {study.name}", "",
          f"{shape}, {study.trials} trials, "
          f"{study.seeds} seeds. Full report: report.html (sections: "
          f"{', '.join(SECTIONS.values())}).", "", "## Fastest to target", "",
          table_markdown(["problem", "target", "fastest", "seconds"], winners), "",
          "## Steps and time to target, and gradient evaluations (median over seeds)", "",
          table_markdown(header, md_rows),
          "", "## Best learning rates", "", table_markdown(["problem", *labels], best_rows), "",
          "## Diverged runs", "",
          table_markdown(["kind", "problem", "optimizer", "seed", "lr", "reason"], div_rows)
          if div_rows else "none", ""]
    md_path = os.path.join(out_dir, "summary.md")
    with open(md_path, "w") as f:
        f.write("\n".join(md))
    return html_path, md_path
