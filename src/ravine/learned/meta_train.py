"""Meta-training of the coordinatewise LSTM by truncated backpropagation through the unroll.

The optimizee's parameters follow ``theta_{t+1} = theta_t + m(grad f(theta_t), h_t; phi)``. The
meta-loss of an unroll of ``T`` steps is the sum of the losses along it,

.. math::

    \\mathcal{L}(\\phi) = \\sum_{t=1}^{T} w_t\\, f(\\theta_t), \\qquad w_t = 1,

and ``phi`` is trained by Adam on ``d L / d phi``, computed by backpropagation through the
unrolled steps. As in the paper, by default the optimizee's gradients are inputs to the network
whose dependence on ``phi`` is dropped (``d grad_t / d phi = 0``, no second derivatives of
``f``); ``second_order=True`` keeps it (the exact meta-gradient, at a higher cost). Long unrolls
are cut every ``truncation`` steps: the parameters and LSTM states are carried over but detached,
and the meta-optimizer steps once per segment on that segment's losses.

References:
    Andrychowicz et al., "Learning to learn by gradient descent by gradient descent",
    NeurIPS 2016, Section 2 and 3.
    Williams & Peng, "An efficient gradient-based algorithm for on-line training of recurrent
    network trajectories", Neural Computation, 1990 (truncated BPTT).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from .lstm import CoordinatewiseLSTM, LSTMState, _check_positive

__all__ = ["MetaTrainResult", "evaluate", "learned_step", "meta_loss", "meta_train"]


def learned_step(
    network: CoordinatewiseLSTM, params: list[Tensor], grads: list[Tensor], state: LSTMState
) -> tuple[list[Tensor], LSTMState]:
    """One step of the learned optimizer on a list of tensors (functional, differentiable).

    Args:
        network: the LSTM.
        params: the optimizee's tensors.
        grads: their gradients.
        state: the LSTM state of all coordinates, in the order of ``params`` flattened.

    Returns:
        ``(new_params, new_state)`` with ``new_params[i] = params[i] + update[i]``.
    """
    weight = network.output.weight  # the network's dtype and device
    flat = torch.cat([g.reshape(-1) for g in grads]).to(weight.device, weight.dtype)
    update, state = network(flat, state)
    new_params, offset = [], 0
    for p in params:
        n = p.numel()
        new_params.append(p + update[offset:offset + n].reshape(p.shape).to(p.device, p.dtype))
        offset += n
    return new_params, state


def meta_loss(
    network: CoordinatewiseLSTM,
    problem: Any,
    steps: int,
    *,
    params: list[Tensor] | None = None,
    state: LSTMState | None = None,
    start: int = 0,
    second_order: bool = False,
) -> tuple[Tensor, list[Tensor], LSTMState]:
    """The summed loss of ``steps`` learned-optimizer steps, differentiable in the network weights.

    Args:
        network: the LSTM.
        problem: has ``init_params()`` and ``losses(params, step)`` (see
            :mod:`ravine.learned.problems`).
        steps: the number of updates ``T``.
        params, state: where to start (default: ``problem.init_params()`` and zero states);
            they are detached first, which is how truncation cuts the graph.
        start: the step index of the first update (selects minibatches in stochastic problems).
        second_order: keep the dependence of the optimizee's gradients on the network weights.

    Returns:
        ``(L, params_T, state_T)`` with ``L = sum_{t=1}^{T} mean(losses(theta_t, start + t))``.
    """
    _check_positive("steps", steps, integer=True)
    params = problem.init_params() if params is None else params
    params = [p.detach().requires_grad_(True) for p in params]
    n = sum(p.numel() for p in params)
    if state is None:
        state = network.initial_state(n)
    state = (state[0].detach(), state[1].detach())
    total = None
    losses = problem.losses(params, start)
    for t in range(steps):
        grads = torch.autograd.grad(
            losses.sum(), params, create_graph=second_order, retain_graph=True
        )
        if not second_order:
            grads = [g.detach() for g in grads]
        params, state = learned_step(network, params, grads, state)
        losses = problem.losses(params, start + t + 1)
        total = losses.mean() if total is None else total + losses.mean()
    return total, params, state


@dataclass
class MetaTrainResult:
    """What :func:`meta_train` returns.

    Attributes:
        network: the trained network (the same object that was passed in).
        losses: per meta-iteration, the mean optimizee loss along its unroll.
        validation: ``(iteration, mean loss after each step of the unroll)`` on the validation
            problems, when a validation set was given (iteration 0: before training).
    """

    network: CoordinatewiseLSTM
    losses: list[float] = field(default_factory=list)
    validation: list[tuple[int, float]] = field(default_factory=list)


def meta_train(
    network: CoordinatewiseLSTM,
    family: Any,
    *,
    meta_iterations: int = 100,
    unroll: int = 100,
    truncation: int = 20,
    meta_lr: float = 1e-2,
    second_order: bool = False,
    max_grad_norm: float | None = None,
    seed: int = 0,
    validation: list[Any] | None = None,
    validate_every: int = 10,
    callback: Callable[[int, float], None] | None = None,
) -> MetaTrainResult:
    """Meta-train ``network`` on problems drawn from ``family`` (truncated BPTT, Adam).

    Per meta-iteration, a problem is drawn and optimized by the network for ``unroll`` steps from
    its start; every ``truncation`` steps the segment's meta-loss (the sum of the losses after each
    of its updates) is backpropagated, Adam updates the network weights, and the unroll continues
    from the detached parameters and LSTM states.

    Args:
        network: the LSTM to train (in place).
        family: has ``sample(generator)`` returning a problem (see :mod:`ravine.learned.problems`).
        meta_iterations: problems to train on.
        unroll: steps ``T`` per problem (the paper: 100).
        truncation: steps per backpropagation segment (the paper: 20).
        meta_lr: Adam's learning rate for the network weights.
        second_order: see :func:`meta_loss`.
        max_grad_norm: if given, the meta-gradient is clipped to this global norm.
        seed: seeds the problem draws.
        validation: fixed problems on which the mean loss along an unroll is recorded every
            ``validate_every`` iterations (and before the first).
        callback: called as ``callback(iteration, mean_loss)`` after each meta-iteration.

    Returns:
        A :class:`MetaTrainResult`.

    Example:
        >>> import torch
        >>> from ravine.learned import CoordinatewiseLSTM, QuadraticFamily
        >>> net = CoordinatewiseLSTM(hidden_size=8)
        >>> result = meta_train(net, QuadraticFamily(dim=5, batch=8), meta_iterations=2,
        ...                     unroll=10, truncation=5)
        >>> len(result.losses)
        2
    """
    from ..optim import Adam

    if not isinstance(network, CoordinatewiseLSTM):
        raise TypeError(f"network must be a CoordinatewiseLSTM, got {type(network).__name__}")
    for name, value in (("meta_iterations", meta_iterations), ("unroll", unroll),
                        ("truncation", truncation), ("validate_every", validate_every)):
        _check_positive(name, value, integer=True)
    _check_positive("meta_lr", meta_lr)
    if max_grad_norm is not None:
        _check_positive("max_grad_norm", max_grad_norm)
    if not hasattr(family, "sample"):
        raise TypeError(f"family must have a sample(generator) method, got {family!r}")

    generator = torch.Generator().manual_seed(seed)
    optimizer = Adam(network.parameters(), lr=meta_lr)
    result = MetaTrainResult(network)
    for it in range(meta_iterations):
        if validation is not None and it % validate_every == 0:
            result.validation.append((it, _mean_along(network, validation, unroll)))
        problem = family.sample(generator)
        params, state, total = None, None, 0.0
        for start in range(0, unroll, truncation):
            steps = min(truncation, unroll - start)
            loss, params, state = meta_loss(
                network, problem, steps, params=params, state=state, start=start,
                second_order=second_order,
            )
            optimizer.zero_grad()
            loss.backward()
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(network.parameters(), max_grad_norm)
            optimizer.step()
            total += float(loss.detach())
        result.losses.append(total / unroll)
        if callback is not None:
            callback(it, result.losses[-1])
    if validation is not None:
        result.validation.append((meta_iterations, _mean_along(network, validation, unroll)))
    return result


def _mean_along(network: CoordinatewiseLSTM, problems: list[Any], steps: int) -> float:
    """The meta-loss per step: the mean of the losses after each of the ``steps`` updates."""
    return float(evaluate(network, problems, steps)[:, 1:].mean())


def evaluate(network: CoordinatewiseLSTM, problems: list[Any], steps: int) -> Tensor:
    """Loss curves of the learned optimizer: ``(len(problems), steps + 1)`` mean losses.

    Column ``t`` is ``mean(losses(theta_t, t))``; column 0 is the start. No graph is kept (the
    optimizee's gradients are computed, the network runs without recording).
    """
    _check_positive("steps", steps, integer=True)
    curves = []
    for problem in problems:
        params = problem.init_params()
        state = network.initial_state(sum(p.numel() for p in params))
        curve = []
        for t in range(steps + 1):
            params = [p.detach().requires_grad_(True) for p in params]
            losses = problem.losses(params, t)
            curve.append(float(losses.detach().mean()))
            if t == steps:
                break
            grads = torch.autograd.grad(losses.sum(), params)
            with torch.no_grad():
                params, state = learned_step(network, params, list(grads), state)
        curves.append(curve)
    return torch.tensor(curves, dtype=torch.float64)
