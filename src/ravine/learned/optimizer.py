"""``LearnedOptimizer``: a trained coordinatewise LSTM used as a ``torch.optim.Optimizer``.

Also :func:`save_network` / :func:`load_network`, which store a trained network's architecture
and weights in one file (read back with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from .lstm import CoordinatewiseLSTM

__all__ = ["LearnedOptimizer", "load_network", "save_network"]

_FORMAT = "ravine.learned.CoordinatewiseLSTM"
_VERSION = 1


def save_network(network: CoordinatewiseLSTM, path: str | os.PathLike) -> None:
    """Write ``network``'s constructor arguments and weights to ``path`` (a torch file)."""
    if not isinstance(network, CoordinatewiseLSTM):
        raise TypeError(f"network must be a CoordinatewiseLSTM, got {type(network).__name__}")
    torch.save({"format": _FORMAT, "version": _VERSION, "config": network.config(),
                "state_dict": network.state_dict()}, path)


def load_network(path: str | os.PathLike, map_location: Any = None) -> CoordinatewiseLSTM:
    """Read a network written by :func:`save_network` (with ``weights_only=True``: no code runs).

    Raises:
        ValueError: if the file is not a saved ``CoordinatewiseLSTM``.
    """
    blob = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(blob, dict) or blob.get("format") != _FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not a network saved by ravine.learned."
                         "save_network")
    if blob.get("version") != _VERSION:
        raise ValueError(f"{os.fspath(path)!r} has format version {blob.get('version')!r}; "
                         f"this ravine reads version {_VERSION}")
    network = CoordinatewiseLSTM(**blob["config"])
    dtype = next(iter(blob["state_dict"].values())).dtype
    network.to(dtype)
    network.load_state_dict(blob["state_dict"])
    return network


def _check_lr(lr: Any) -> None:
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0.0 <= lr < float("inf"):
        raise ValueError(f"Invalid lr: {lr!r} (expected a finite number >= 0)")


class LearnedOptimizer(torch.optim.Optimizer):
    """Optimize with a trained coordinatewise LSTM, in any PyTorch training loop.

    Each coordinate of each parameter keeps its own LSTM hidden and cell states, in the
    optimizer's per-parameter ``state`` (keys ``"step"``, ``"hidden"``, ``"cell"``; the last two of
    shape ``(num_layers, numel, hidden_size)`` in the network's dtype, on the parameter's device;
    the network runs on its own device), so ``state_dict()`` /
    ``load_state_dict()`` checkpoint and resume the optimizer exactly. The network itself is not
    part of the state dict: save it with :func:`save_network` (or pass the file's path here).
    Memory: ``2 * num_layers * hidden_size`` numbers per parameter coordinate (80 for the paper's
    network), so this optimizer suits small models, as the paper's experiments were.

    Args:
        params: tensors or param groups, as for any ``torch.optim.Optimizer``.
        network: a :class:`CoordinatewiseLSTM` or the path of a file from :func:`save_network`.
        lr: a multiplier on the network's update (1.0: as meta-trained); a param-group
            hyperparameter, so learning-rate schedulers can anneal it.
        maximize: follow the gradient up instead of down.

    Update, per coordinate ``i`` of a param group, all coordinates through one network call:

    .. math::

        [u_i, h_i] \\leftarrow m(\\nabla_i f, h_i; \\phi), \\qquad
        \\theta_i \\leftarrow \\theta_i + \\mathrm{lr} \\cdot u_i

    References:
        Andrychowicz et al., "Learning to learn by gradient descent by gradient descent",
        NeurIPS 2016.

    Example:
        >>> import torch
        >>> from ravine.learned import CoordinatewiseLSTM, LearnedOptimizer
        >>> w = torch.nn.Parameter(torch.ones(3))
        >>> opt = LearnedOptimizer([w], CoordinatewiseLSTM(hidden_size=20))
        >>> (w ** 2).sum().backward(); _ = opt.step()
        >>> opt.state[w]["hidden"].shape
        torch.Size([2, 3, 20])
    """

    def __init__(
        self,
        params: Iterable[Any],
        network: CoordinatewiseLSTM | str | os.PathLike,
        lr: float = 1.0,
        *,
        maximize: bool = False,
    ) -> None:
        if isinstance(network, (str, os.PathLike)):
            network = load_network(network)
        if not isinstance(network, CoordinatewiseLSTM):
            raise TypeError(
                "network must be a CoordinatewiseLSTM or the path of a saved one, got "
                f"{type(network).__name__}"
            )
        _check_lr(lr)
        if not isinstance(maximize, bool):
            raise TypeError(f"maximize must be a bool, got {type(maximize).__name__}")
        self.network = network
        super().__init__(params, {"lr": lr, "maximize": maximize})

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if isinstance(param_group, dict):  # check first: a refused group is not added
            _check_lr(param_group.get("lr", self.defaults["lr"]))
        super().add_param_group(param_group)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["network"] = self.network
        return state

    def _fresh_state(self, p: Tensor) -> dict[str, Tensor]:
        hidden, cell = self.network.initial_state(p.numel(), device=p.device)
        return {"step": torch.tensor(0.0), "hidden": hidden, "cell": cell}

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step; ``closure`` re-evaluates the model, returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        weight = self.network.output.weight  # the network's dtype and device
        dtype, device = weight.dtype, weight.device
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = []
            for p in params:
                if p.grad.is_sparse:
                    raise RuntimeError("LearnedOptimizer does not support sparse gradients")
                grads.append(-p.grad if group["maximize"] else p.grad)
                if not self.state[p]:
                    self.state[p].update(self._fresh_state(p))
            states = [self.state[p] for p in params]
            flat = torch.cat([g.reshape(-1).to(device, dtype) for g in grads])
            hidden = torch.cat([s["hidden"].to(device, dtype) for s in states], dim=1)
            cell = torch.cat([s["cell"].to(device, dtype) for s in states], dim=1)
            update, (hidden, cell) = self.network(flat, (hidden, cell))
            offset = 0
            for p, s in zip(params, states, strict=True):
                n = p.numel()
                s["hidden"] = hidden[:, offset:offset + n].to(p.device, copy=True)
                s["cell"] = cell[:, offset:offset + n].to(p.device, copy=True)
                s["step"] += 1
                change = update[offset:offset + n].reshape(p.shape).to(p.device, p.dtype)
                p.add_(change, alpha=group["lr"])
                offset += n
        return loss

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict; the LSTM states keep their saved dtype (torch.optim would cast them
        to each parameter's dtype, which for a float16 model would round them)."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            _check_lr(group["lr"])
        saved_ids = [i for g in state_dict["param_groups"] for i in g["params"]]
        params = [p for g in self.param_groups for p in g["params"]]
        for pid, p in zip(saved_ids, params, strict=True):
            saved = state_dict["state"].get(pid)
            if not saved:
                continue
            for key in ("hidden", "cell"):
                if key not in saved:
                    raise ValueError(f"loaded state for parameter {pid} lacks {key!r}")
                self.state[p][key] = saved[key].to(device=p.device, copy=True)
