"""Optimizer wrappers: Lookahead, SAM and gradient accumulation around any torch optimizer.

A wrapper is itself a ``torch.optim.Optimizer`` that shares its param groups (the same dicts)
with the inner optimizer, so ``torch.optim.lr_scheduler`` and ravine's schedules drive the
inner learning rate through the wrapper. ``state_dict()`` holds the wrapper's own per-parameter
state and counters plus the inner optimizer's state dict under ``"inner"``; ``load_state_dict``
restores both. With parameter names (``named_parameters()``) on both sides, the wrapper's own
state (Lookahead's ``slow_param``, GradientAccumulation's ``grad_sum``) is matched by name, as
:class:`~ravine.optim.ChainOptimizer` matches the inner state; otherwise by position.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..transforms.base import closed_unit_interval, non_negative, positive_int
from .base import match_state_by_name

__all__ = ["GradientAccumulation", "Lookahead", "OptimizerWrapper", "SAM"]


class OptimizerWrapper(torch.optim.Optimizer):
    """Base class: an optimizer that delegates to ``optimizer`` and shares its param groups.

    Args:
        optimizer: any ``torch.optim.Optimizer`` (ravine's or torch's).
        defaults: the wrapper's own per-group hyperparameters (added to the shared groups).
    """

    _counters: tuple[str, ...] = ()  # attributes saved in the state dict under "wrapper"

    def __init__(self, optimizer: torch.optim.Optimizer, defaults: dict[str, Any] | None = None):
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self._initialized = False
        super().__init__(optimizer.param_groups, {**optimizer.defaults, **(defaults or {})})
        self.param_groups = optimizer.param_groups  # the very same list: one source of truth
        self._initialized = True

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if not self._initialized:  # called by Optimizer.__init__ on the inner groups
            super().add_param_group(param_group)
            return
        self.optimizer.add_param_group(param_group)
        for key, value in self.defaults.items():
            self.optimizer.param_groups[-1].setdefault(key, value)

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        own = super().state_dict()
        own["inner"] = self.optimizer.state_dict()
        own["wrapper"] = {name: getattr(self, name) for name in self._counters}
        return own

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        for key in ("inner", "wrapper"):
            if key not in state_dict:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict needs a state dict saved by "
                    f"{type(self).__name__} (missing key {key!r})")
        own = {"state": state_dict["state"], "param_groups": state_dict["param_groups"]}
        # renumber against the groups as they are before the inner load replaces them
        own = match_state_by_name(own, self.param_groups)
        self.optimizer.load_state_dict(state_dict["inner"])
        super().load_state_dict(own)
        self.param_groups = self.optimizer.param_groups
        for name, value in state_dict["wrapper"].items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.optimizer!r})"


class Lookahead(OptimizerWrapper):
    """Lookahead: every ``k`` inner steps, pull slow weights towards the fast ones.

    Update rule (``phi`` slow weights, ``theta`` fast weights, both start at the initial
    parameters)::

        theta <- inner optimizer step, k times
        phi   <- phi + alpha (theta - phi);    theta <- phi

    The inner optimizer's state is kept across synchronisations. State: ``slow_param`` per
    parameter and the step counter ``lookahead_step``.

    Args:
        optimizer: the inner ("fast") optimizer.
        k: number of inner steps between synchronisations (integer >= 1).
        alpha: slow-weights step size, ``0 <= alpha <= 1``.

    References:
        Zhang, Lucas, Hinton & Ba, "Lookahead Optimizer: k steps forward, 1 step back",
        NeurIPS 2019.
    """

    _counters = ("lookahead_step", "k", "alpha")

    def __init__(self, optimizer: torch.optim.Optimizer, k: int = 5, alpha: float = 0.5):
        positive_int("k", k)
        closed_unit_interval("alpha", alpha)
        self.k, self.alpha = k, float(alpha)
        self.lookahead_step = 0
        super().__init__(optimizer)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One inner step; every ``k``-th call also synchronises the slow weights."""
        for p in self._params():
            if "slow_param" not in self.state[p]:
                self.state[p]["slow_param"] = p.detach().clone()
        loss = self.optimizer.step(closure)
        self.lookahead_step += 1
        if self.lookahead_step % self.k == 0:
            for p in self._params():
                slow = self.state[p]["slow_param"]
                slow.add_(p.detach() - slow, alpha=self.alpha)
                p.copy_(slow)
        return loss


class SAM(OptimizerWrapper):
    """Sharpness-aware minimization: step with the gradient at the worst nearby point.

    Update rule (``rho`` radius; ``adaptive`` gives ASAM with ``T = |w|``)::

        g = grad L(w);   e = rho g / ||g||            (ASAM: e = rho T^2 g / ||T g||)
        g_sam = grad L(w + e);   w <- inner optimizer step with g_sam, taken from w

    ``step(closure)`` needs a closure that recomputes the loss and its gradients (zeroing them
    first, as usual); it is called twice and the first loss is returned. The norm is global over
    all parameters of all groups. ``rho`` and ``adaptive`` live in the param groups.

    Args:
        optimizer: the base optimizer that takes the step.
        rho: neighbourhood radius (>= 0).
        adaptive: scale the perturbation by ``|w|`` (ASAM).
        eps: added to the norm to avoid division by zero.

    References:
        Foret, Kleiner, Mobahi & Neyshabur, "Sharpness-Aware Minimization for Efficiently
        Improving Generalization", ICLR 2021.
        Kwon et al., "ASAM: Adaptive Sharpness-Aware Minimization", ICML 2021.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, rho: float = 0.05,
                 adaptive: bool = False, eps: float = 1e-12):
        non_negative("rho", rho)
        non_negative("eps", eps)
        if not isinstance(adaptive, bool):
            raise ValueError(f"Invalid adaptive: {adaptive!r} (expected True or False)")
        self.eps = float(eps)
        super().__init__(optimizer, {"rho": rho, "adaptive": adaptive})
        for group in self.param_groups:
            non_negative("rho", group["rho"])

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Ascend to ``w + e``, recompute the gradient there, come back and take the step."""
        if closure is None:
            raise ValueError("SAM.step needs a closure that recomputes the loss and gradients")
        with torch.enable_grad():
            loss = closure()
        scaled = []  # (param, T g) with T = |w| (adaptive) or 1
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    tg = p.grad * p.abs() if group["adaptive"] else p.grad
                    scaled.append((p, group, tg))
        if not scaled:
            return loss
        norm = torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(tg) for _, _, tg in scaled]))
        saved = []
        for p, group, tg in scaled:
            e = tg * (group["rho"] / (norm + self.eps))
            if group["adaptive"]:
                e.mul_(p.abs())
            saved.append((p, p.detach().clone()))
            p.add_(e)
        for p in self._params():
            p.grad = None
        with torch.enable_grad():
            closure()
        for p, original in saved:
            p.copy_(original)
        self.optimizer.step()
        return loss


class GradientAccumulation(OptimizerWrapper):
    """Accumulate gradients over ``k`` micro-steps; every ``k``-th call steps with their mean.

    Call ``backward``, ``step`` and ``zero_grad`` on every micro-batch as usual: the wrapper
    keeps the running sum, and on every ``k``-th ``step()`` sets each gradient to the mean of
    the ``k`` micro-batch gradients and steps the inner optimizer. The other calls change no
    parameter. With equal-size micro-batches and a mean loss this is exactly one step on the
    big batch (like optax's ``MultiSteps``). A learning-rate scheduler should be stepped once
    per ``k`` calls. State: ``grad_sum`` per parameter and the counter ``micro_step``.

    Args:
        optimizer: the inner optimizer.
        k: number of micro-steps per real step (integer >= 1).

    References:
        Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", 2017
        (large effective batches); optax.MultiSteps.
    """

    _counters = ("micro_step", "k")

    def __init__(self, optimizer: torch.optim.Optimizer, k: int = 2):
        positive_int("k", k)
        self.k = k
        self.micro_step = 0
        super().__init__(optimizer)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Add this micro-batch's gradients; on every ``k``-th call, step with their mean."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for p in self._params():
            if p.grad is not None:
                if "grad_sum" not in self.state[p]:
                    self.state[p]["grad_sum"] = torch.zeros_like(p)
                self.state[p]["grad_sum"].add_(p.grad)
        self.micro_step += 1
        if self.micro_step % self.k != 0:
            return loss
        for p in self._params():
            total = self.state[p].pop("grad_sum", None)
            p.grad = None if total is None else total.div_(self.k)
        self.optimizer.step()
        return loss
