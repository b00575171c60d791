"""A study: problems x optimizers (with schedules) x seeds, a tuning budget, a batch-size study.

A study is defined by the command line or by a TOML file (read with ``tomllib``)::

    name = "my-study"            # optional; a hash of the definition is appended
    seeds = 3                    # final runs per (problem, optimizer), seeds 0..seeds-1
    trials = 8                   # Optuna trials per (problem, optimizer)
    problems = ["rosenbrock", {name = "mlp_digits", steps = 500, lr_range = [1e-3, 1.0]}]
    optimizers = ["sgd", "adam",
                  {name = "momentum", schedule = "cosine(base={lr}, total={steps})",
                   search = {momentum = [0.5, 0.99]}}]

    [batch_study]                # time per epoch and accuracy against batch size
    problem = "mlp_digits"
    optimizer = "momentum"
    sizes = [16, 32, 64, 128, 256]
    epochs = 5

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
from dataclasses import dataclass, field
from typing import Any

from .optimizers import OPTIMIZERS, OptimizerSpec, available_optimizers
from .problems import PROBLEMS, Problem, get_problem

__all__ = ["BatchStudy", "ConfigError", "Study", "load_config", "study_from_dict",
           "DEFAULT_STUDY"]


class ConfigError(ValueError):
    """A study definition that cannot be used; the message names the key."""


DEFAULT_STUDY: dict[str, Any] = {
    "name": "default",
    "seeds": 3,
    "trials": 8,
    "problems": [*PROBLEMS],
    "optimizers": ["sgd", "momentum", "adam",
                   {"name": "momentum", "label": "momentum+warmup_cosine",
                    "schedule": "warmup_cosine(peak={lr}, warmup={warmup}, total={steps})"}],
    "batch_study": {"problem": "mlp_digits", "optimizer": "momentum",
                    "sizes": [16, 32, 64, 128, 256, 512], "epochs": 5},
}

_TOP_KEYS = {"name", "seeds", "trials", "problems", "optimizers", "batch_study"}
_PROBLEM_KEYS = {"name", "steps", "log_every", "lr_range", "options"}
_OPT_KEYS = {"name", "schedule", "search", "fixed", "label"}
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
        return [(p, o) for p in self.problems for o in self.optimizers]


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
        r = t["lr_range"]
        ok = (isinstance(r, list) and len(r) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r)
              and 0 < r[0] < r[1] and math.isfinite(r[1]))
        if not ok:
            raise ConfigError(f"key '{key}.lr_range': expected [low, high] with 0 < low < high, "
                              f"got {r!r}")
        over["lr_range"] = (float(r[0]), float(r[1]))
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


def _optimizer(key: str, raw: Any) -> OptimizerSpec:
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
    label = t.get("label")
    if label is not None and (not isinstance(label, str) or not label or "/" in label):
        raise ConfigError(f"key '{key}.label': expected a non-empty string without '/'")
    return OptimizerSpec(name, schedule, tuple(search), tuple(sorted(fixed.items())), label)


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
    optimizers = [_optimizer(f"optimizers[{i}]", o) for i, o in enumerate(raw["optimizers"])]
    for what, items, attr in (("problems", problems, "name"), ("optimizers", optimizers, "label")):
        names = [getattr(x, attr) for x in items]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"key '{what}': {dup} appear(s) twice (give each a distinct label)")
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
