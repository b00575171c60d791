"""The coordinatewise LSTM optimizer network and its gradient preprocessing.

One small LSTM, with weights shared by every coordinate, reads the gradient of each coordinate
(one coordinate = one row of the LSTM's batch) and writes that coordinate's update; each
coordinate keeps its own hidden state.

References:
    Andrychowicz, Denil, Gomez, Hoffman, Pfau, Schaul, Shillingford & de Freitas, "Learning to
    learn by gradient descent by gradient descent", NeurIPS 2016 (Section 2.1, Appendix A).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["CoordinatewiseLSTM", "LSTMState", "preprocess_gradients"]

# (h, c): hidden and cell states, each of shape (num_layers, n_coordinates, hidden_size)
LSTMState = tuple[Tensor, Tensor]


def _check_positive(name: str, value: Any, *, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not value > 0:
        what = "an integer >= 1" if integer else "a number > 0"
        raise ValueError(f"Invalid {name}: {value!r} (expected {what})")
    if not integer and not math.isfinite(value):
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number > 0)")


def preprocess_gradients(grad: Tensor, p: float = 10.0) -> Tensor:
    """Map each gradient coordinate to two inputs of comparable scale (the paper's Appendix A).

    Gradients of different coordinates and problems span many orders of magnitude; the network
    sees the log-magnitude and the sign instead, with a linear branch for tiny values.

    Args:
        grad: a tensor of gradients, any shape.
        p: the cut-off exponent ``p > 0``: magnitudes below ``exp(-p)`` use the linear branch.

    Returns:
        A tensor of shape ``grad.shape + (2,)``:

        .. math::

            g \\mapsto \\begin{cases}
              \\left(\\frac{\\log |g|}{p},\\ \\operatorname{sgn}(g)\\right)
                & \\text{if } |g| \\ge e^{-p} \\\\
              \\left(-1,\\ e^{p} g\\right) & \\text{otherwise.}
            \\end{cases}

        Both branches are differentiable where they apply (the log is evaluated on
        ``max(|g|, e^{-p})``, so no ``-inf`` enters the graph at ``g = 0``).

    References:
        Andrychowicz et al., "Learning to learn by gradient descent by gradient descent",
        NeurIPS 2016, Appendix A.

    Example:
        >>> import torch
        >>> preprocess_gradients(torch.tensor([math.e ** 5, -1.0, 0.0]), p=10.0)
        tensor([[ 0.5000,  1.0000],
                [ 0.0000, -1.0000],
                [-1.0000,  0.0000]])
    """
    _check_positive("p", p)
    threshold = math.exp(-p)
    magnitude = grad.abs()
    large = magnitude >= threshold
    log_part = torch.log(torch.clamp(magnitude, min=threshold)) / p
    first = torch.where(large, log_part, torch.full_like(grad, -1.0))
    second = torch.where(large, torch.sign(grad), grad * math.exp(p))
    return torch.stack((first, second), dim=-1)


class CoordinatewiseLSTM(nn.Module):
    """A stacked LSTM applied to every coordinate independently, with shared weights.

    Args:
        hidden_size: units per LSTM layer (the paper: 20).
        num_layers: stacked LSTM layers (the paper: 2).
        preprocess: if True the inputs are :func:`preprocess_gradients` (two per coordinate),
            else the raw gradient (one per coordinate).
        p: the preprocessing cut-off exponent (the paper: 10).
        output_scale: the network's linear output is multiplied by this to give the update; it
            sets the size of the first, untrained steps (the paper's code uses 0.1 or less).

    The update rule, for each coordinate ``i`` with its own state ``h_i``:

    .. math::

        [u_i, h_i'] = m(\\rho(\\nabla_i f(\\theta)), h_i; \\phi), \\qquad
        \\theta_i \\leftarrow \\theta_i + \\text{output\\_scale} \\cdot u_i

    where ``m`` is the LSTM followed by a linear layer, ``rho`` the preprocessing and ``phi`` the
    shared weights, learned by :func:`ravine.learned.meta_train`.

    References:
        Andrychowicz et al., "Learning to learn by gradient descent by gradient descent",
        NeurIPS 2016.

    Example:
        >>> import torch
        >>> net = CoordinatewiseLSTM(hidden_size=20, num_layers=2)
        >>> grad = torch.randn(7)
        >>> state = net.initial_state(7)
        >>> update, state = net(grad, state)
        >>> update.shape, state[0].shape
        (torch.Size([7]), torch.Size([2, 7, 20]))
    """

    def __init__(
        self,
        hidden_size: int = 20,
        num_layers: int = 2,
        *,
        preprocess: bool = True,
        p: float = 10.0,
        output_scale: float = 0.1,
    ) -> None:
        super().__init__()
        _check_positive("hidden_size", hidden_size, integer=True)
        _check_positive("num_layers", num_layers, integer=True)
        _check_positive("p", p)
        _check_positive("output_scale", output_scale)
        if not isinstance(preprocess, bool):
            raise TypeError(f"preprocess must be a bool, got {type(preprocess).__name__}")
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.preprocess = preprocess
        self.p = float(p)
        self.output_scale = float(output_scale)
        inputs = 2 if preprocess else 1
        self.cells = nn.ModuleList(
            nn.LSTMCell(inputs if i == 0 else hidden_size, hidden_size) for i in range(num_layers)
        )
        self.output = nn.Linear(hidden_size, 1)
        with torch.no_grad():  # start near "take small steps": a small random output layer
            self.output.weight.mul_(0.1)
            self.output.bias.zero_()

    def config(self) -> dict[str, Any]:
        """The constructor arguments, to rebuild the same architecture (used when saving)."""
        return {
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "preprocess": self.preprocess,
            "p": self.p,
            "output_scale": self.output_scale,
        }

    def initial_state(
        self, n: int, *, dtype: torch.dtype | None = None, device: Any = None
    ) -> LSTMState:
        """Zero hidden and cell states for ``n`` coordinates (the network's dtype by default)."""
        weight = self.output.weight
        dtype = weight.dtype if dtype is None else dtype
        device = weight.device if device is None else device
        shape = (self.num_layers, n, self.hidden_size)
        return torch.zeros(shape, dtype=dtype, device=device), torch.zeros(
            shape, dtype=dtype, device=device
        )

    def forward(
        self, grad: Tensor, state: LSTMState, *, fused: bool | None = None
    ) -> tuple[Tensor, LSTMState]:
        """One step for every coordinate.

        Args:
            grad: the gradients, shape ``(n,)``.
            state: ``(h, c)``, each ``(num_layers, n, hidden_size)``.
            fused: run the layers as :func:`_fused_lstm_cell` (one matrix product per layer,
                ``tanh`` through ``sigmoid``; about 2x faster on CPU) instead of
                ``nn.LSTMCell`` (the reference; it agrees to rounding). Default: fused when
                autograd is off (inference, :class:`~ravine.learned.LearnedOptimizer`).

        Returns:
            ``(update, (h', c'))``: the update to add to the ``n`` coordinates and the new state.
        """
        if grad.dim() != 1:
            raise ValueError(f"grad must be a flat tensor of shape (n,), got {tuple(grad.shape)}")
        h, c = state
        expected = (self.num_layers, grad.shape[0], self.hidden_size)
        if tuple(h.shape) != expected or tuple(c.shape) != expected:
            raise ValueError(
                f"state has shapes {tuple(h.shape)}, {tuple(c.shape)}; expected {expected} "
                "(num_layers, coordinates, hidden_size) for this network and gradient"
            )
        x = preprocess_gradients(grad, self.p) if self.preprocess else grad.unsqueeze(-1)
        if fused is None:
            fused = not torch.is_grad_enabled()
        new_h, new_c = [], []
        for layer, cell in enumerate(self.cells):
            if fused:
                h_l, c_l = _fused_lstm_cell(x, h[layer], c[layer], cell)
            else:
                h_l, c_l = cell(x, (h[layer], c[layer]))
            new_h.append(h_l)
            new_c.append(c_l)
            x = h_l
        update = self.output(x).squeeze(-1) * self.output_scale
        return update, (torch.stack(new_h), torch.stack(new_c))


def _tanh_via_sigmoid(x: Tensor) -> Tensor:
    # tanh(x) = 2 sigmoid(2x) - 1; torch's CPU sigmoid is several times faster than its tanh
    return torch.sigmoid(x * 2).mul_(2).sub_(1)


def _fused_lstm_cell(x: Tensor, h: Tensor, c: Tensor, cell: nn.LSTMCell) -> LSTMState:
    """``nn.LSTMCell``'s equations with one matrix product and in-place activations.

    ``[i, f, g, o] = [x, h] [W_ih, W_hh]^T + b_ih + b_hh``,
    ``c' = sigmoid(f) c + sigmoid(i) tanh(g)``, ``h' = sigmoid(o) tanh(c')`` (Hochreiter &
    Schmidhuber, 1997; the gate order of PyTorch). For inference: the in-place operations do not
    support autograd.
    """
    weight = torch.cat((cell.weight_ih, cell.weight_hh), dim=1).t()
    gates = torch.addmm(cell.bias_ih + cell.bias_hh, torch.cat((x, h), dim=1), weight)
    n = cell.hidden_size
    gate = torch.sigmoid(gates)
    candidate = _tanh_via_sigmoid(gates[:, 2 * n:3 * n])
    c_new = torch.addcmul(gate[:, n:2 * n] * c, gate[:, :n], candidate)
    h_new = gate[:, 3 * n:] * _tanh_via_sigmoid(c_new)
    return h_new, c_new
