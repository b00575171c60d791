"""A study: problems x optimizers (with schedules) x seeds, a tuning budget, a batch-size study.

A study is defined by the command line or by a TOML file (read with ``tomllib``)::

    name = "my-study"            # optional; a hash of the definition is appended
    seeds = 3                    # final runs per (problem, optimizer), seeds 0..seeds-1
    trials = 8                   # Optuna trials per (problem, optimizer)
    problems = ["rosenbrock", {name = "mlp_digits", steps = 500, lr_range = [1e-3, 1.0]}]
    optimizers = ["sgd", "adam",
                  {name = "momentum", schedule = "cosine(base={lr}, total={steps})",
                   search = {momentum = [0.5, 0.99]}},
                  {name = "lbfgs", problems = ["rosenbrock"], lr_range = [0.25, 2.0]},
                  {name = "sam", skip_problems = ["mlp_digits"]}]

    [batch_study]                # time per epoch and accuracy against batch size
    problem = "mlp_digits"
    optimizer = "momentum"
    sizes = [16, 32, 64, 128, 256]
    epochs = 5

A study runs every (problem, optimizer) pair, except where an optimizer's table restricts it:
``problems = [...]`` runs it only on those problems, ``skip_problems = [...]`` on all but those
(both may be given; the names must be problems of the study, and every optimizer and every
problem must keep at least one pair).

The learning rate is always tuned (log-uniform); its range on a pair is, in order:

1. the optimizer table's ``lr_range``, if given (on every problem it runs on);
2. else the registry entry's own range, for an optimizer whose lr is not a plain step size
   (``lbfgs``: a multiplier of the line-search step, ``[0.5, 2]`` on every problem);
3. else the problem's ``lr_range`` (its table's, or the built-in problem's).

A problem's ``lr_range`` set in the study therefore does not reach ``lbfgs``; where that
happens (an ``lbfgs`` without its own ``lr_range`` runs on that problem) the study warns with a
:class:`ConfigWarning` naming both keys. Setting ``lr`` in ``fixed``, or a hyperparameter both
in ``fixed`` and in ``search``, is an error (the tuned value would silently win).

The study's name ends in a hash of the whole definition, restrictions and ranges included, so a
changed definition is a different study and never reuses another one's runs.

Any mistake raises :class:`ConfigError` naming the key and what is wrong.

Example:
    >>> s = study_from_dict({"problems": ["rosenbrock"], "optimizers": ["sgd"], "trials": 2})
    >>> s.name.startswith("study-"), [p.name for p in s.problems], s.trials
    (True, ['rosenbrock'], 2)
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

from .optimizers import OPTIMIZERS, OptimizerSpec, available_optimizers
from .problems import PROBLEMS, SURFACES, Problem, get_problem

__all__ = ["BatchStudy", "ConfigError", "ConfigWarning", "Study", "load_config",
           "study_from_dict", "DEFAULT_STUDY"]


class ConfigError(ValueError):
    """A study definition that cannot be used; the message names the key."""


class ConfigWarning(UserWarning):
    """A study setting that is valid but does not apply where the user may expect it to."""


DEFAULT_STUDY: dict[str, Any] = {
    "name": "default",
    "seeds": 3,
    "trials": 8,
    "problems": [*PROBLEMS],
    # L-BFGS and SAM on the 2-D surfaces only: there they are cheap and their paths are drawn
    # next to the first-order ones (examples/studies/second_order.toml compares them further);
    # schedule-free SGD against momentum with a tuned warmup-cosine schedule
    "optimizers": ["sgd", "momentum", "adam",
                   {"name": "momentum", "label": "momentum+warmup_cosine",
                    "schedule": "warmup_cosine(peak={lr}, warmup={warmup}, total={steps})"},
                   "sgd_schedulefree",
                   # Muon (with AdamW for biases) where there are weight matrices to orthogonalize
                   {"name": "muon", "problems": ["softmax_digits", "mlp_digits", "cnn_digits"]},
                   {"name": "lbfgs", "problems": [*SURFACES]},
                   {"name": "sam", "problems": [*SURFACES]}],
    "batch_study": {"problem": "mlp_digits", "optimizer": "momentum",
                    "sizes": [16, 32, 64, 128, 256, 512], "epochs": 5},
}

_TOP_KEYS = {"name", "seeds", "trials", "problems", "optimizers", "batch_study"}
_PROBLEM_KEYS = {"name", "steps", "log_every", "lr_range", "options"}
_OPT_KEYS = {"name", "schedule", "search", "fixed", "label", "problems", "skip_problems",
             "lr_range"}
_BATCH_KEYS = {"problem", "optimizer", "sizes", "epochs"}


@dataclass(frozen=True)
class BatchStudy:
    """Train ``problem`` with ``optimizer`` for ``epochs`` at each batch size in ``sizes``."""

    problem: str
    optimizer: str
    sizes: tuple[int, ...]
    epochs: int


@dataclass
class Study:
    """A validated study definition (see the module docstring)."""

    name: str
    problems: list[Problem]
    optimizers: list[OptimizerSpec]
    seeds: int
    trials: int
    batch_study: BatchStudy | None
    definition: dict[str, Any] = field(default_factory=dict)

    @property
    def pairs(self) -> list[tuple[Problem, OptimizerSpec]]:
        """The (problem, optimizer) pairs that run, problem by problem."""
        return [(p, o) for p in self.problems for o in self.optimizers if o.runs_on(p.name)]


def _int(key: str, value: Any, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"key '{key}': expected an integer >= {low}, got {value!r}")
    return value


def _table(key: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        raise ConfigError(f"key '{key}': expected a name or a table, got {value!r}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ConfigError(f"key '{key}': unknown field(s) {unknown}; allowed: {sorted(allowed)}")
    if not isinstance(value.get("name"), str):
        raise ConfigError(f"key '{key}.name': expected a string, got {value.get('name')!r}")
    return value


def _lr_range(key: str, r: Any) -> tuple[float, float]:
    ok = (isinstance(r, list) and len(r) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r)
          and 0 < r[0] < r[1] and math.isfinite(r[1]))
    if not ok:
        raise ConfigError(f"key '{key}': expected [low, high] with 0 < low < high, got {r!r}")
    return float(r[0]), float(r[1])


def _problem(key: str, raw: Any) -> Problem:
    t = _table(key, raw, _PROBLEM_KEYS)
    if t["name"] not in PROBLEMS:
        raise ConfigError(f"key '{key}.name': unknown problem {t['name']!r}; "
                          f"built-in: {', '.join(PROBLEMS)}")
    over: dict[str, Any] = {}
    for k in ("steps", "log_every"):
        if k in t:
            over[k] = _int(f"{key}.{k}", t[k], 1)
    if "lr_range" in t:
        over["lr_range"] = _lr_range(f"{key}.lr_range", t["lr_range"])
    if "options" in t:
        if not isinstance(t["options"], dict):
            raise ConfigError(f"key '{key}.options': expected a table, got {t['options']!r}")
        over["options"] = dict(t["options"])
    problem = get_problem(t["name"], **over)
    try:
        problem.build(0)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"key '{key}.options': {exc}") from None
    return problem


def _problem_names(key: str, value: Any, study_problems: list[str]) -> list[str]:
    """A ``problems`` / ``skip_problems`` list: names of problems of this study."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"key '{key}': expected a non-empty list of problem names, "
                          f"got {value!r}")
    for name in value:
        if name not in study_problems:
            what = "is not a problem of this study" if name in PROBLEMS else "is not a problem"
            raise ConfigError(f"key '{key}': {name!r} {what}; valid names (the study's "
                              f"problems): {', '.join(study_problems)}")
    return value


def _restriction(key: str, t: dict, study_problems: list[str]) -> tuple[str, ...] | None:
    """The problems an optimizer table runs on (None: all), from ``problems``/``skip_problems``."""
    if "problems" not in t and "skip_problems" not in t:
        return None
    only = _problem_names(f"{key}.problems", t["problems"], study_problems) \
        if "problems" in t else study_problems
    skip = _problem_names(f"{key}.skip_problems", t["skip_problems"], study_problems) \
        if "skip_problems" in t else []
    both = sorted(set(skip) & set(only)) if "problems" in t else []
    if both:
        raise ConfigError(f"key '{key}': {both} in both 'problems' and 'skip_problems'")
    kept = tuple(p for p in study_problems if p in only and p not in skip)
    if not kept:
        raise ConfigError(f"key '{key}.skip_problems': leaves optimizer {t['name']!r} no "
                          "problem to run on (remove it from 'optimizers' instead)")
    return kept


def _optimizer(key: str, raw: Any, study_problems: list[str]) -> OptimizerSpec:
    t = _table(key, raw, _OPT_KEYS)
    name = t["name"]
    if name not in OPTIMIZERS:
        raise ConfigError(f"key '{key}.name': unknown optimizer {name!r}; "
                          f"known: {', '.join(OPTIMIZERS)}")
    if name not in available_optimizers():
        raise ConfigError(f"key '{key}.name': optimizer {name!r} needs "
                          f"ravine.optim.{OPTIMIZERS[name].cls_name}, which is not built yet")
    schedule = t.get("schedule")
    if schedule is not None:
        if not isinstance(schedule, str):
            raise ConfigError(f"key '{key}.schedule': expected a string, got {schedule!r}")
        if not OPTIMIZERS[name].schedulable:
            raise ConfigError(f"key '{key}.schedule': optimizer {name!r} takes a constant lr "
                              "(no schedule)")
        from .optimizers import make_schedule

        try:
            make_schedule(schedule, 0.1, 100)
        except Exception as exc:  # any parse failure is a config error
            raise ConfigError(f"key '{key}.schedule': {exc}") from None
    search = []
    for hp, r in (t.get("search") or {}).items():
        ok = (isinstance(r, list) and len(r) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r)
              and r[0] < r[1])
        if not ok or hp == "lr":
            raise ConfigError(f"key '{key}.search.{hp}': expected [low, high] with low < high "
                              "(lr is always tuned, over the problem's lr_range or the "
                              "optimizer's own)")
        search.append((hp, float(r[0]), float(r[1]), r[0] > 0 and r[1] / r[0] >= 100))
    fixed = t.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise ConfigError(f"key '{key}.fixed': expected a table, got {fixed!r}")
    if "lr" in fixed:
        raise ConfigError(f"key '{key}.fixed.lr': lr is always tuned, so a fixed lr would be "
                          f"ignored; narrow it with '{key}.lr_range' instead")
    tuned_too = sorted(set(fixed) & {hp for hp, *_ in search})
    if tuned_too:
        raise ConfigError(f"key '{key}.fixed': {tuned_too} also in '{key}.search' (the tuned "
                          "value would replace the fixed one); keep one of the two")
    label = t.get("label")
    if label is not None and (not isinstance(label, str) or not label or "/" in label):
        raise ConfigError(f"key '{key}.label': expected a non-empty string without '/'")
    lr_range = _lr_range(f"{key}.lr_range", t["lr_range"]) if "lr_range" in t else None
    return OptimizerSpec(name, schedule, tuple(search), tuple(sorted(fixed.items())), label,
                         _restriction(key, t, study_problems), lr_range)


def _check_coverage(raw: dict, problems: list[Problem], optimizers: list[OptimizerSpec]) -> None:
    """Every problem keeps an optimizer; warn where a problem's lr_range does not apply."""
    for i, p in enumerate(problems):
        here = [(j, o) for j, o in enumerate(optimizers) if o.runs_on(p.name)]
        if not here:
            raise ConfigError(f"key 'problems[{i}]': no optimizer runs on {p.name!r} (each one's "
                              "'problems' / 'skip_problems' leaves it out)")
        own = isinstance(raw["problems"][i], dict) and "lr_range" in raw["problems"][i]
        for j, o in here:
            if own and o.lr_range is None and o.entry.lr_range is not None:
                lo, hi = o.entry.lr_range
                warnings.warn(
                    f"key 'problems[{i}].lr_range' does not apply to optimizer {o.label!r}, "
                    f"which tunes lr over its own range [{lo:g}, {hi:g}] on every problem; "
                    f"set 'optimizers[{j}].lr_range' to change that", ConfigWarning,
                    stacklevel=3)


def study_from_dict(raw: dict[str, Any]) -> Study:
    """Validate a study definition (a parsed TOML document) and build the :class:`Study`."""
    if not isinstance(raw, dict):
        raise ConfigError("a study definition must be a table")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
    raw = {**{k: v for k, v in DEFAULT_STUDY.items() if k != "batch_study"}, **raw}
    for k in ("problems", "optimizers"):
        if not isinstance(raw[k], list) or not raw[k]:
            raise ConfigError(f"key '{k}': expected a non-empty list, got {raw[k]!r}")
    problems = [_problem(f"problems[{i}]", p) for i, p in enumerate(raw["problems"])]
    names = [p.name for p in problems]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"key 'problems': {dup} appear(s) twice")
    optimizers = [_optimizer(f"optimizers[{i}]", o, names)
                  for i, o in enumerate(raw["optimizers"])]
    labels = [o.label for o in optimizers]
    dup = sorted({n for n in labels if labels.count(n) > 1})
    if dup:
        raise ConfigError(f"key 'optimizers': {dup} appear(s) twice (give each a distinct label)")
    _check_coverage(raw, problems, optimizers)
    seeds = _int("seeds", raw["seeds"], 1)
    trials = _int("trials", raw["trials"], 1)
    if not isinstance(raw["name"], str) or not raw["name"] or "/" in raw["name"]:
        raise ConfigError(f"key 'name': expected a non-empty string without '/', "
                          f"got {raw['name']!r}")
    batch = None
    if raw.get("batch_study") is not None:
        batch = _batch_study(raw["batch_study"])
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    base = "study" if raw["name"] == "default" else raw["name"]
    return Study(f"{base}-{digest[:8]}", problems, optimizers, seeds, trials, batch, raw)


def _batch_study(b: Any) -> BatchStudy:
    if not isinstance(b, dict):
        raise ConfigError(f"key 'batch_study': expected a table, got {b!r}")
    unknown = sorted(set(b) - _BATCH_KEYS)
    if unknown:
        raise ConfigError(f"key 'batch_study': unknown field(s) {unknown}")
    b = {**DEFAULT_STUDY["batch_study"], **b}
    if b["problem"] not in PROBLEMS or PROBLEMS[b["problem"]].kind != "classification" \
            or "batch_size" not in PROBLEMS[b["problem"]].options:
        raise ConfigError(f"key 'batch_study.problem': expected a mini-batched classification "
                          f"problem, got {b['problem']!r}")
    if b["optimizer"] not in OPTIMIZERS:
        raise ConfigError(f"key 'batch_study.optimizer': unknown optimizer {b['optimizer']!r}")
    if not OPTIMIZERS[b["optimizer"]].schedulable:
        raise ConfigError(f"key 'batch_study.optimizer': {b['optimizer']!r} takes a constant lr, "
                          "so the linear scaling rule cannot be applied to it")
    sizes = b["sizes"]
    if not isinstance(sizes, list) or not sizes:
        raise ConfigError(f"key 'batch_study.sizes': expected a list of integers, got {sizes!r}")
    sizes = tuple(_int(f"batch_study.sizes[{i}]", s, 1) for i, s in enumerate(sizes))
    return BatchStudy(b["problem"], b["optimizer"], sizes, _int("batch_study.epochs",
                                                                 b["epochs"], 1))


def load_config(path: str) -> dict[str, Any]:
    """Parse a TOML study file; a syntax error becomes a :class:`ConfigError` with its line."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path!r} is not valid TOML: {exc}") from None
