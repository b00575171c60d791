"""``ravine compare``: run a study (tune, rerun over seeds, store) and write its report.

Exit codes: 0 done, 2 bad arguments or config (message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``compare`` options to ``parser``."""
    parser.add_argument("--problems", help="comma-separated problem names (see --list)")
    parser.add_argument("--optimizers", help="comma-separated optimizer names (see --list)")
    parser.add_argument("--seeds", type=int, help="final runs per problem and optimizer")
    parser.add_argument("--trials", type=int, help="Optuna tuning trials per problem and optimizer")
    parser.add_argument("--store", default=os.path.join("ravine-runs", "store.db"),
                        help="SQLite run store (default: ./ravine-runs/store.db)")
    parser.add_argument("--out", default=os.path.join("ravine-runs", "report"),
                        help="report folder (default: ./ravine-runs/report)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel worker processes")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (CI logs)")
    parser.add_argument("--config", help="TOML file defining the study")
    parser.add_argument("--list", action="store_true",
                        help="show the built-in problems and optimizers and exit")


def _list() -> int:
    from .optimizers import OPTIMIZERS, available_optimizers
    from .problems import PROBLEMS

    print("problems:")
    for p in PROBLEMS.values():
        print(f"  {p.name:16s} {p.kind:14s} target {str(p.target):18s} {p.description}")
    have = available_optimizers()
    print("optimizers:")
    classes = {e.name: e.cls_name + (f"({e.inner[0]})" if e.inner else "")
               for e in OPTIMIZERS.values()}
    width, cls_width = max(map(len, classes)), max(map(len, classes.values()))
    for e in OPTIMIZERS.values():
        state = "" if e.name in have else "  (not built yet)"
        print(f"  {e.name:{width}s} ravine.optim.{classes[e.name]:{cls_width}s} "
              f"{e.description}{state}")
    return 0


def _narrow(optimizers: list, chosen: list[str]) -> list:
    """The optimizer tables with ``problems``/``skip_problems`` cut down to ``chosen`` problems.

    Used when ``--problems`` replaces a study's problems: an optimizer restricted to problems
    none of which is chosen is left out, with a note on stderr. Names that are not built-in
    problems are kept, so that validation still reports them.
    """
    from .problems import PROBLEMS

    out = []
    for o in optimizers:
        if not isinstance(o, dict):
            out.append(o)
            continue
        t = dict(o)
        for key in ("problems", "skip_problems"):
            names = t.get(key)
            if not isinstance(names, list):
                continue
            kept = [n for n in names if n in chosen or n not in PROBLEMS]
            if kept:
                t[key] = kept
            elif key == "skip_problems":
                del t[key]
            else:
                print(f"ravine compare: note: optimizer {t.get('label') or t.get('name')!r} "
                      f"runs only on {names}, none of which --problems chose; left out",
                      file=sys.stderr)
                t = None
                break
        if t is not None:
            out.append(t)
    return out


def _definition(args) -> dict:
    from .study import DEFAULT_STUDY, ConfigError, load_config

    raw = load_config(args.config) if args.config else dict(DEFAULT_STUDY)
    for key in ("optimizers", "problems"):
        value = getattr(args, key)
        if value is not None:
            names = [v.strip() for v in value.split(",") if v.strip()]
            if not names:
                raise ConfigError(f"--{key}: expected comma-separated names, got {value!r}")
            if key == "problems":
                raw["optimizers"] = _narrow(raw.get("optimizers", DEFAULT_STUDY["optimizers"]),
                                            names)
            raw[key] = names
    for key in ("seeds", "trials"):
        value = getattr(args, key)
        if value is not None:
            if value < 1:
                raise ConfigError(f"--{key}: expected an integer >= 1, got {value}")
            raw[key] = value
    return raw


def run(args: argparse.Namespace) -> int:
    """Run the study the arguments describe and print where the report is."""
    if args.list:
        return _list()
    from .study import ConfigError, ConfigWarning, study_from_dict

    if args.jobs < 1:
        print(f"ravine compare: --jobs must be an integer >= 1, got {args.jobs}", file=sys.stderr)
        return 2
    where = f" ({args.config})" if args.config else ""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConfigWarning)
            study = study_from_dict(_definition(args))
    except ConfigError as exc:
        print(f"ravine compare: bad study definition{where}: {exc}", file=sys.stderr)
        return 2
    for w in caught:
        if issubclass(w.category, ConfigWarning):
            print(f"ravine compare: warning{where}: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    from .execution import run_study
    from .report import write_report

    t0 = time.perf_counter()
    store = run_study(study, args.store, jobs=args.jobs, quiet=args.quiet)
    html_path, md_path = write_report(store, study, args.out)
    store.close()
    print(f"study {study.name} done in {time.perf_counter() - t0:.0f} s; store {args.store}")
    print(f"report: {os.path.abspath(html_path)}")
    print(f"summary: {os.path.abspath(md_path)}")
    return 0
