"""Ensembles and weight averaging: snapshot ensembles, SWA and EMA, for any training loop.

- :class:`SnapshotEnsemble` keeps the weights at the end of each cycle of a restart schedule
  (state dicts on CPU, optionally on disk) and predicts with the mean of their softmax outputs.
- :class:`SWA` averages weights with equal weight over a window of steps; :func:`update_bn`
  recomputes BatchNorm statistics for the averaged weights.
- :class:`EMA` keeps an exponential moving average of the weights, with an optional warmup of
  the decay.

``SWA`` and ``EMA`` follow ``torch.optim.swa_utils.AveragedModel`` (the first update copies the
weights; ``use_buffers`` averages buffers too, otherwise buffers are copied from the model).
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .schedules import SGDR, Join, Schedule, Warmup

__all__ = ["EMA", "SWA", "SnapshotEnsemble", "restart_steps", "update_bn"]


class _WeightAverage(nn.Module):
    """A copy of a model whose weights are a running average of another model's."""

    n_averaged: Tensor

    def __init__(self, model: nn.Module, use_buffers: bool = False) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        self.module = copy.deepcopy(model)
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.register_buffer("n_averaged", torch.tensor(0, dtype=torch.long))
        self.use_buffers = bool(use_buffers)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def _averaged(self, module: nn.Module) -> list[Tensor]:
        tensors = list(module.parameters())
        if self.use_buffers:
            tensors += list(module.buffers())
        return tensors

    def _average(self, avg: Tensor, cur: Tensor, n: int) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the current weights of ``model`` into the average."""
        ours, theirs = self._averaged(self.module), self._averaged(model)
        if len(ours) != len(theirs):
            raise ValueError(f"model has {len(theirs)} averaged tensors, the average holds "
                             f"{len(ours)}: not the same architecture")
        n = int(self.n_averaged)
        for avg, cur in zip(ours, theirs, strict=True):
            cur = cur.detach().to(avg.device)
            if n == 0 or not (avg.is_floating_point() or avg.is_complex()):
                avg.copy_(cur)  # first update, and integer buffers (e.g. num_batches_tracked)
            else:
                self._average(avg, cur, n)
        if not self.use_buffers:
            for b_avg, b_model in zip(self.module.buffers(), model.buffers(), strict=True):
                b_avg.copy_(b_model.detach().to(b_avg.device))
        self.n_averaged += 1


class SWA(_WeightAverage):
    """Stochastic weight averaging: the equal-weight mean of the weights over a window of steps.

    Update rule (the ``n``-th model folded in, ``n = 0, 1, ...``):
    ``w_swa <- w`` for ``n = 0``, else ``w_swa <- w_swa + (w - w_swa) / (n + 1)``.
    After training, call :meth:`update_bn` so BatchNorm layers see statistics of the averaged
    weights.

    Args:
        model: the model being trained (copied; the copy holds the average).
        start: first step of the window (integer >= 0), used by ``update(model, step)``.
        end: the window ends before this step (``None``: no end).
        every: average every ``every`` steps inside the window (integer >= 1).
        use_buffers: average buffers too (else they are copied from ``model`` at each update).

    References:
        Izmailov et al., "Averaging Weights Leads to Wider Optima and Better Generalization",
        UAI 2018.

    Example:
        >>> import torch
        >>> from ravine.ensembles import SWA
        >>> model = torch.nn.Linear(2, 1)
        >>> swa = SWA(model, start=2)
        >>> for step in range(4):
        ...     with torch.no_grad():
        ...         _ = model.bias.fill_(float(step))
        ...     _ = swa.update(model, step)
        >>> swa.module.bias.item(), int(swa.n_averaged)
        (2.5, 2)
    """

    def __init__(self, model: nn.Module, start: int = 0, end: int | None = None, every: int = 1,
                 use_buffers: bool = False) -> None:
        super().__init__(model, use_buffers)
        _check_int("start", start, 0)
        _check_int("every", every, 1)
        if end is not None:
            _check_int("end", end, start + 1)
        self.start, self.end, self.every = start, end, every

    def in_window(self, step: int) -> bool:
        """Whether ``step`` is one at which the window averages."""
        if step < self.start or (self.end is not None and step >= self.end):
            return False
        return (step - self.start) % self.every == 0

    def update(self, model: nn.Module, step: int | None = None) -> bool:
        """Fold ``model`` into the average (only inside the window if ``step`` is given).

        Returns:
            Whether the average was updated.
        """
        if step is not None and not self.in_window(step):
            return False
        super().update(model)
        return True

    def _average(self, avg, cur, n):
        avg.copy_(avg + (cur - avg) / (n + 1))

    def update_bn(self, loader: Iterable[Any], device: torch.device | str | None = None) -> None:
        """Recompute the BatchNorm statistics of the averaged model (see :func:`update_bn`)."""
        update_bn(loader, self.module, device)


class EMA(_WeightAverage):
    """Exponential moving average of the weights, with an optional warmup of the decay.

    Update rule (the ``n``-th model folded in): ``w_ema <- w`` for ``n = 0``, else
    ``w_ema <- d_n * w_ema + (1 - d_n) * w`` with ``d_n = decay``, or with warmup
    ``d_n = min(decay, (1 + n) / (warmup + n))`` so that early averages forget the random
    initialization quickly (``warmup=10`` is TensorFlow's ``ExponentialMovingAverage`` with
    ``num_updates``).

    Args:
        model: the model being trained (copied; the copy holds the average).
        decay: the decay, in [0, 1].
        warmup: the warmup constant (integer >= 0; 0 disables the warmup).
        use_buffers: average buffers too (else they are copied from ``model`` at each update).

    References:
        Polyak & Juditsky, "Acceleration of Stochastic Approximation by Averaging", 1992;
        TensorFlow ``tf.train.ExponentialMovingAverage``.

    Example:
        >>> import torch
        >>> from ravine.ensembles import EMA
        >>> model = torch.nn.Linear(1, 1)
        >>> ema = EMA(model, decay=0.5)
        >>> for value in (0.0, 1.0, 1.0):
        ...     with torch.no_grad():
        ...         _ = model.bias.fill_(value)
        ...     ema.update(model)
        >>> ema.module.bias.item()
        0.75
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: int = 0,
                 use_buffers: bool = False) -> None:
        super().__init__(model, use_buffers)
        if (isinstance(decay, bool) or not isinstance(decay, numbers.Real)
                or not 0.0 <= decay <= 1.0):
            raise ValueError(f"decay must be a number in [0, 1], got {decay!r}")
        _check_int("warmup", warmup, 0)
        self.decay, self.warmup = float(decay), warmup

    def decay_at(self, n: int) -> float:
        """The decay used when folding in the ``n``-th model (``n >= 1``)."""
        if self.warmup == 0:
            return self.decay
        return min(self.decay, (1 + n) / (self.warmup + n))

    def _average(self, avg, cur, n):
        avg.lerp_(cur, 1 - self.decay_at(n))


@torch.no_grad()
def update_bn(loader: Iterable[Any], model: nn.Module,
              device: torch.device | str | None = None) -> None:
    """Recompute BatchNorm running statistics with one pass over ``loader``.

    The running mean and variance of every BatchNorm layer are reset and re-estimated as the
    plain average over the batches (``momentum=None``), in train mode; the mode and momenta
    are restored after. Each batch is a tensor or a list/tuple whose first item is the input.
    Same contract as ``torch.optim.swa_utils.update_bn``.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = {m: m.momentum for m in norms}
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was_training = model.training
    model.train()
    try:
        for batch in loader:
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            model(x.to(device) if device is not None else x)
    finally:
        for m, momentum in momenta.items():
            m.momentum = momentum
        model.train(was_training)


def restart_steps(schedule: Schedule, total: int) -> list[int]:
    """The step counts ``<= total`` after which a restart cycle of ``schedule`` ends.

    Understands :func:`~ravine.schedules.sgdr`, and ``warmup``/``join`` around it. Snapshot
    when ``step + 1`` (the number of steps taken) is in the list.

    Example:
        >>> from ravine.schedules import sgdr, warmup
        >>> restart_steps(warmup(sgdr(peak=0.1, T_0=100, T_mult=2), warmup=10), 710)
        [110, 310, 710]
    """
    _check_int("total", total, 0)
    if isinstance(schedule, SGDR):
        return schedule.cycle_ends(total)
    if isinstance(schedule, Warmup):
        inner = restart_steps(schedule.schedule, max(total - schedule.warmup, 0))
        return [schedule.warmup + s for s in inner]
    if isinstance(schedule, Join):
        starts = (0, *schedule.boundaries)
        ends = (*schedule.boundaries, math.inf)
        out: list[int] = []
        for piece, lo, hi in zip(schedule.schedules, starts, ends, strict=True):
            if lo >= total:
                break
            span = int(min(hi, total) - lo)
            try:
                out += [lo + s for s in restart_steps(piece, span)]
            except ValueError:
                continue  # a piece without restarts (e.g. the warmup)
        if out:
            return out
    raise ValueError(f"schedule {schedule!r} has no warm restarts that restart_steps knows; "
                     f"pass the snapshot steps explicitly")


class SnapshotEnsemble:
    """Snapshot ensemble: weights saved at the end of each restart cycle, predictions averaged.

    Prediction: ``p(y | x) = (1/M) sum_m softmax(f(x; w_m))`` over the ``M`` snapshots.

    Args:
        model: a model of the architecture the snapshots belong to (copied as a template).
        directory: if given, snapshots are written there with ``torch.save`` and only their
            paths are kept in memory; else they are CPU state dicts in memory.
        max_snapshots: keep only the most recent ones (``None``: all).

    References:
        Huang et al., "Snapshot Ensembles: Train 1, Get M for Free", ICLR 2017.

    Example:
        >>> import torch
        >>> from ravine.ensembles import SnapshotEnsemble
        >>> model = torch.nn.Linear(3, 4)
        >>> ens = SnapshotEnsemble(model)
        >>> ens.add(model); ens.add(model)
        >>> probs = ens.predict_proba(torch.zeros(2, 3))
        >>> len(ens), probs.shape, torch.allclose(probs.sum(dim=1), torch.ones(2))
        (2, torch.Size([2, 4]), True)
    """

    def __init__(self, model: nn.Module, directory: str | Path | None = None,
                 max_snapshots: int | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if max_snapshots is not None:
            _check_int("max_snapshots", max_snapshots, 1)
        self.template = copy.deepcopy(model)
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.max_snapshots = max_snapshots
        self.snapshots: list[dict[str, Tensor] | Path] = []
        self._count = 0

    def __len__(self) -> int:
        return len(self.snapshots)

    def add(self, model: nn.Module) -> None:
        """Snapshot the current weights of ``model``."""
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        entry: dict[str, Tensor] | Path = state
        if self.directory is not None:
            entry = self.directory / f"snapshot_{self._count:04d}.pt"
            torch.save(state, entry)
        self._count += 1
        self.snapshots.append(entry)
        if self.max_snapshots is not None and len(self.snapshots) > self.max_snapshots:
            old = self.snapshots.pop(0)
            if isinstance(old, Path):
                old.unlink(missing_ok=True)

    def state(self, i: int) -> dict[str, Tensor]:
        """The state dict of snapshot ``i``."""
        entry = self.snapshots[i]
        if isinstance(entry, Path):
            return torch.load(entry, map_location="cpu", weights_only=True)
        return entry

    def model(self, i: int, device: torch.device | str | None = None) -> nn.Module:
        """A copy of the template holding snapshot ``i``, in eval mode."""
        m = copy.deepcopy(self.template)
        m.load_state_dict(self.state(i))
        return m.to(device).eval() if device is not None else m.eval()

    @torch.no_grad()
    def log_proba(self, x: Tensor, last: int | None = None) -> Tensor:
        """Log of the mean softmax output of the snapshots (the ``last`` most recent if given).

        Computed as ``logsumexp_m log_softmax(f(x; w_m)) - log M`` (stable for tiny probabilities).
        """
        if not self.snapshots:
            raise ValueError("the ensemble has no snapshots yet; call add(model) first")
        idx = range(len(self.snapshots))
        if last is not None:
            _check_int("last", last, 1)
            idx = idx[-last:]
        logs = torch.stack([torch.log_softmax(self.model(i, x.device)(x), dim=-1) for i in idx])
        return torch.logsumexp(logs, dim=0) - math.log(len(idx))

    def predict_proba(self, x: Tensor, last: int | None = None) -> Tensor:
        """Mean softmax output of the snapshots (the ``last`` most recent ones if given)."""
        return self.log_proba(x, last).exp()

    def nll(self, x: Tensor, y: Tensor, last: int | None = None) -> float:
        """Mean negative log-likelihood of the integer labels ``y`` under the ensemble."""
        logp = self.log_proba(x, last)
        return float(-logp.gather(-1, y.long().unsqueeze(-1)).mean())


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
