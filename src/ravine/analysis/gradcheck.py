"""Gradient checking: analytic gradients (hand-written or autograd) against finite differences."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call

__all__ = ["TensorCheck", "GradientReport", "check_gradients", "check_hvp"]

# defaults by working dtype: (eps, rtol, atol)
_DEFAULTS = {torch.float64: (1e-6, 1e-5, 1e-8), torch.float32: (1e-3, 1e-2, 1e-4)}


@dataclass
class TensorCheck:
    """The comparison for one input tensor (or parameter, or the Hessian-vector product).

    Attributes:
        name, shape: which tensor.
        max_abs_error: ``max |analytic - numeric|``.
        max_rel_error: ``max |analytic - numeric| / max(|analytic|, |numeric|)`` (0 where both 0).
        worst: the index of the worst coordinate (full mode) or ``("direction", j)``.
        passed: ``|analytic - numeric| <= atol + rtol * |numeric|`` everywhere.
    """

    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    worst: tuple
    passed: bool


@dataclass
class GradientReport:
    """The outcome of :func:`check_gradients` or :func:`check_hvp`; ``print`` it for a table.

    Attributes:
        passed: the verdict: True when every tensor passed.
        tensors: one :class:`TensorCheck` per tensor.
        mode: ``"full"`` or ``"directional"``.
        dtype: the dtype the check ran in.
        eps, rtol, atol: the finite-difference step and the thresholds.
        notes: remarks such as the promotion to float64.
    """

    passed: bool
    tensors: list[TensorCheck]
    mode: str
    dtype: torch.dtype
    eps: float
    rtol: float
    atol: float
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = (f"{'PASSED' if self.passed else 'FAILED'}: {self.mode} check in "
                f"{str(self.dtype).replace('torch.', '')}, eps={self.eps:g}, "
                f"pass if |analytic - numeric| <= {self.atol:g} + {self.rtol:g} * |numeric|")
        rows = [f"  {'tensor':<20} {'shape':<14} {'max abs err':>12} {'max rel err':>12}  "
                f"{'worst at':<16} verdict"]
        for t in self.tensors:
            rows.append(f"  {t.name:<20} {str(t.shape):<14} {t.max_abs_error:>12.3e} "
                        f"{t.max_rel_error:>12.3e}  {str(t.worst):<16} "
                        f"{'ok' if t.passed else 'FAIL'}")
        return "\n".join([head, *rows, *(f"  note: {n}" for n in self.notes)])


def _compare(name: str, analytic: Tensor, numeric: Tensor, rtol: float, atol: float,
             worst_of: Callable[[int], tuple]) -> TensorCheck:
    diff = (analytic - numeric).abs().reshape(-1)
    scale = torch.maximum(analytic.abs(), numeric.abs()).reshape(-1)
    rel = torch.where(scale > 0, diff / scale.clamp_min(1e-300), torch.zeros_like(diff))
    excess = diff - (atol + rtol * numeric.abs().reshape(-1))
    worst = int(excess.argmax()) if diff.numel() else 0
    ok = bool((excess <= 0).all()) and bool(torch.isfinite(diff).all())
    return TensorCheck(name, tuple(analytic.shape), float(diff.max()) if diff.numel() else 0.0,
                       float(rel.max()) if rel.numel() else 0.0, worst_of(worst), ok)


def _as_inputs(x: Any) -> tuple[list[Any], bool, bool]:
    """Return (inputs, is_numpy, was_sequence)."""
    seq = isinstance(x, (tuple, list))
    items = list(x) if seq else [x]
    if not items:
        raise ValueError("x must hold at least one tensor")
    if all(isinstance(t, np.ndarray) for t in items):
        return items, True, seq
    if all(isinstance(t, Tensor) for t in items):
        return items, False, seq
    raise TypeError("x must be a tensor, a NumPy array, or a tuple/list of one of them")


def _tuple(out: Any, n: int, what: str) -> list[Any]:
    out = list(out) if isinstance(out, (tuple, list)) else [out]
    if len(out) != n:
        raise ValueError(f"{what} returned {len(out)} gradients for {n} inputs")
    return out


def check_gradients(
    f: Callable[..., Any] | nn.Module,
    x: Any = None,
    grad: Callable[..., Any] | None = None,
    *,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    data: tuple[Tensor, Tensor] | None = None,
    mode: str = "full",
    num_directions: int = 10,
    eps: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    dtype: torch.dtype | None = torch.float64,
    seed: int = 0,
) -> GradientReport:
    """Compare an analytic gradient with central finite differences, tensor by tensor.

    Three forms:

    - ``check_gradients(f, x, grad)``: a hand-written gradient ``grad(x)`` (NumPy or torch) of
      ``f(x) -> scalar``; ``x`` may be a tuple of tensors/arrays, then ``f(*x)`` and
      ``grad(*x)`` returns one gradient per input.
    - ``check_gradients(f, x)``: the gradient that autograd computes for the torch function
      ``f`` (e.g. one that uses a custom ``torch.autograd.Function``).
    - ``check_gradients(model, loss_fn=..., data=(inputs, targets))``: autograd's gradient of
      ``loss_fn(model(inputs), targets)`` for each parameter tensor (the model is copied; the
      original is not touched).

    Args:
        f: the function, or an ``nn.Module``.
        x: the point (tensor, NumPy array, or a tuple of them); unused for a module.
        grad: the hand-written gradient function, or None for autograd.
        loss_fn, data: for the module form.
        mode: ``"full"``: every coordinate (``2 n`` evaluations); ``"directional"``:
            ``num_directions`` random unit directions ``v`` per tensor, comparing ``g·v`` with
            ``(f(x + eps v) - f(x - eps v)) / (2 eps)`` (``2 k`` evaluations per tensor; it
            detects an error of relative size ``r`` in a single one of ``n`` coordinates only
            when ``r`` is well above ``rtol * sqrt(n)``).
        num_directions: directions per tensor in directional mode.
        eps: finite-difference step (default 1e-6 in float64, 1e-3 in float32).
        rtol, atol: thresholds (defaults 1e-5 and 1e-8 in float64, 1e-2 and 1e-4 in float32):
            a coordinate passes when ``|analytic - numeric| <= atol + rtol * |numeric|``, the
            criterion of ``torch.autograd.gradcheck``. In float64 central differences are
            accurate to about ``eps^2 |f'''| + 1e-16 |f| / eps``, far below these thresholds
            for well-scaled functions, so an error of 1e-4 relative in one coordinate fails.
        dtype: the dtype to check in. Inputs of lower precision are promoted (default float64;
            the report says so). ``None`` keeps the inputs' dtype.
        seed: seed of the random directions.

    Returns:
        A :class:`GradientReport`; ``report.passed`` is the verdict.

    Math:
        ``numeric_i = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``, error ``O(eps^2)``.

    References:
        Nocedal & Wright, Numerical Optimization (2006), sec. 8.1; CS231n notes,
        "Gradient checks" (2016).

    Example:
        >>> import numpy as np
        >>> rep = check_gradients(lambda x: (x ** 3).sum(), np.array([1.0, 2.0]),
        ...                       grad=lambda x: 3 * x ** 2)
        >>> rep.passed
        True
        >>> check_gradients(lambda x: (x ** 3).sum(), np.array([1.0, 2.0]),
        ...                 grad=lambda x: 3 * x).passed
        False
    """
    if mode not in ("full", "directional"):
        raise ValueError(f"mode must be 'full' or 'directional', got {mode!r}")
    if not isinstance(num_directions, int) or num_directions < 1:
        raise ValueError(f"num_directions must be an integer >= 1, got {num_directions!r}")
    notes: list[str] = []
    if isinstance(f, nn.Module):
        names, inputs, fn, grad_fn, is_np = _module_form(f, loss_fn, data, dtype, notes)
    else:
        if not callable(f):
            raise TypeError(f"f must be callable or an nn.Module, got {type(f).__name__}")
        if x is None:
            raise TypeError("x is required for a function f")
        items, is_np, seq = _as_inputs(x)
        inputs = [_promote(t, dtype, is_np, notes, f"x[{i}]" if seq else "x")
                  for i, t in enumerate(items)]
        names = [f"x[{i}]" for i in range(len(items))] if seq else ["x"]
        fn, grad_fn = _function_form(f, grad, inputs, is_np, seq)
    work = inputs[0].dtype
    is64 = work == np.float64 if is_np else work == torch.float64
    key = torch.float64 if is64 else torch.float32
    d_eps, d_rtol, d_atol = _DEFAULTS[key]
    eps = d_eps if eps is None else eps
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    for arg, value in (("eps", eps), ("rtol", rtol), ("atol", atol)):
        if not value >= 0 or (arg == "eps" and value == 0):
            raise ValueError(f"{arg} must be {'> 0' if arg == 'eps' else '>= 0'}, got {value}")
    analytic = [_to_torch(g) for g in grad_fn(inputs)]
    gen = torch.Generator().manual_seed(seed)
    checks = []
    for i, name in enumerate(names):
        a = analytic[i]
        if tuple(a.shape) != tuple(inputs[i].shape):
            raise ValueError(f"gradient for {name} has shape {tuple(a.shape)}, expected "
                             f"{tuple(inputs[i].shape)}")

        def shifted(delta: Any, i: int = i) -> float:
            return float(fn([t + delta if j == i else t for j, t in enumerate(inputs)]))

        base = inputs[i]
        if mode == "full":
            numeric = torch.zeros(base.size if is_np else base.numel(), dtype=a.dtype)
            for c in range(numeric.numel()):
                e = np.zeros_like(base) if is_np else torch.zeros_like(base)
                e.reshape(-1)[c] = eps
                numeric[c] = (shifted(e) - shifted(-e)) / (2 * eps)
            shape = tuple(base.shape)
            checks.append(_compare(
                name, a, numeric.view(a.shape), rtol, atol,
                lambda c, shape=shape: tuple(int(v) for v in np.unravel_index(c, shape)),
            ))
        else:
            ana, num = [], []
            for _ in range(num_directions):
                v = torch.randn(a.shape, dtype=a.dtype, generator=gen)
                v = v / v.norm()
                step = v.numpy() * eps if is_np else (v * eps).to(base.dtype)
                num.append((shifted(step) - shifted(-step)) / (2 * eps))
                ana.append(float((a * v).sum()))
            checks.append(_compare(name, torch.tensor(ana, dtype=torch.float64),
                                   torch.tensor(num, dtype=torch.float64), rtol, atol,
                                   lambda j: ("direction", j)))
            checks[-1].shape = tuple(a.shape)
    return GradientReport(all(c.passed for c in checks), checks, mode,
                          torch.float64 if key == torch.float64 else torch.float32,
                          eps, rtol, atol, notes)


def _to_torch(g: Any) -> Tensor:
    if isinstance(g, Tensor):
        return g.detach()
    return torch.from_numpy(np.asarray(g, dtype=np.float64))


def _promote(t: Any, dtype: torch.dtype | None, is_np: bool, notes: list[str], name: str) -> Any:
    if is_np:
        if dtype == torch.float64 and t.dtype != np.float64:
            notes.append(f"{name} promoted from {t.dtype} to float64")
            return t.astype(np.float64)
        if dtype == torch.float32 and t.dtype != np.float32:
            notes.append(f"{name} cast from {t.dtype} to float32")
            return t.astype(np.float32)
        return t.copy()
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
    if dtype is not None and t.dtype != dtype:
        notes.append(f"{name} promoted from {str(t.dtype).replace('torch.', '')} to "
                     f"{str(dtype).replace('torch.', '')}")
        return t.detach().to(dtype)
    return t.detach().clone()


def _function_form(f, grad, inputs, is_np, seq):
    def fn(xs):
        with torch.no_grad():
            out = f(*xs) if seq else f(xs[0])
        return float(out)

    if grad is not None:
        def grad_fn(xs):
            with torch.no_grad():
                out = grad(*xs) if seq else grad(xs[0])
            return _tuple(out, len(xs), "grad")
        return fn, grad_fn
    if is_np:
        raise TypeError("for a NumPy function pass grad= (autograd needs torch tensors)")

    def autograd_fn(xs):
        leaves = [t.detach().requires_grad_(True) for t in xs]
        with torch.enable_grad():
            out = f(*leaves) if seq else f(leaves[0])
            grads = torch.autograd.grad(out, leaves, allow_unused=True)
        return [torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads, strict=True)]

    return fn, autograd_fn


def _module_form(model, loss_fn, data, dtype, notes):
    if loss_fn is None or data is None:
        raise TypeError("for an nn.Module, pass loss_fn=... and data=(inputs, targets)")
    inputs_, targets = data
    work = copy.deepcopy(model)
    old = next(work.parameters()).dtype
    if dtype is not None and old != dtype:
        work = work.to(dtype)
        notes.append(f"model copied and promoted from {str(old).replace('torch.', '')} to "
                     f"{str(dtype).replace('torch.', '')}")

    def cast(t: Tensor) -> Tensor:
        return t.to(dtype) if dtype is not None and t.is_floating_point() else t

    inputs_, targets = cast(inputs_), cast(targets)
    named = [(n, p) for n, p in work.named_parameters() if p.requires_grad]
    names = [n for n, _ in named]
    params = [p.detach().clone() for _, p in named]

    def loss(xs):
        params = dict(zip(names, xs, strict=True))
        return loss_fn(functional_call(work, params, (inputs_,)), targets)

    def fn(xs):
        with torch.no_grad():
            return float(loss(xs))

    def grad_fn(xs):
        leaves = [t.detach().requires_grad_(True) for t in xs]
        with torch.enable_grad():
            grads = torch.autograd.grad(loss(leaves), leaves, allow_unused=True)
        return [torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads, strict=True)]

    return names, params, fn, grad_fn, False


def check_hvp(
    f: Callable[[Tensor], Tensor],
    x: Tensor,
    hvp_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    *,
    num_directions: int = 5,
    eps: float = 1e-5,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    dtype: torch.dtype | None = torch.float64,
    seed: int = 0,
) -> GradientReport:
    """Check Hessian-vector products against finite differences of autograd gradients.

    Args:
        f: a torch function of one tensor ``f(x) -> scalar``.
        x: the point.
        hvp_fn: ``hvp_fn(x, v) -> H v`` to check (default: :func:`ravine.analysis.hvp`, by
            double backward).
        num_directions: random unit directions ``v``.
        eps, rtol, atol: step and thresholds, as in :func:`check_gradients`.
        dtype: dtype to check in (default float64, promoting ``x``).
        seed: seed of the directions.

    Returns:
        A :class:`GradientReport` with one entry, ``"Hv"``, over all directions' coordinates.

    Math:
        ``H v ≈ (∇f(x + eps v) - ∇f(x - eps v)) / (2 eps)``.

    Example:
        >>> rep = check_hvp(lambda x: (x ** 4).sum(), torch.tensor([1.0, -2.0]))
        >>> rep.passed, rep.notes
        (True, ['x promoted from float32 to float64'])
    """
    from .hvp import hvp as default_hvp

    if not isinstance(num_directions, int) or num_directions < 1:
        raise ValueError(f"num_directions must be an integer >= 1, got {num_directions!r}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    notes: list[str] = []
    x = _promote(x, dtype, False, notes, "x")
    if hvp_fn is None:
        def hvp_fn(p, v):
            return default_hvp(f, p, v)

    def gradient(p: Tensor) -> Tensor:
        leaf = p.detach().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(f(leaf), leaf)
        return g

    gen = torch.Generator().manual_seed(seed)
    ana, num = [], []
    for _ in range(num_directions):
        v = torch.randn(x.shape, dtype=x.dtype, generator=gen)
        v = v / v.norm()
        ana.append(_to_torch(hvp_fn(x, v)).reshape(-1).to(x.dtype))
        num.append(((gradient(x + eps * v) - gradient(x - eps * v)) / (2 * eps)).reshape(-1))
    a, n = torch.stack(ana), torch.stack(num)
    check = _compare("Hv", a, n, rtol, atol,
                     lambda c: ("direction", c // x.numel(), "coord", c % x.numel()))
    check.shape = tuple(x.shape)
    return GradientReport(check.passed, [check], "hvp", x.dtype, eps, rtol, atol, notes)
