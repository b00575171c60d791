"""LBFGS: L-BFGS for ``nn.Module`` parameters with a closure; a drop-in ``torch.optim.LBFGS``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from ..solvers.directions import two_loop
from ..solvers.linesearch import strong_wolfe

__all__ = ["LBFGS"]

def _as_float(loss: Any) -> float:
    return float(loss.detach()) if isinstance(loss, Tensor) else float(loss)


_SHARED = ("max_iter", "max_eval", "tolerance_grad", "tolerance_change", "history_size",
           "line_search_fn")


class LBFGS(torch.optim.Optimizer):
    """L-BFGS over all parameters as one vector; several param groups may set their own ``lr``.

    Args:
        params: tensors or param groups. Every group must share ``max_iter``, ``max_eval``,
            ``tolerance_grad``, ``tolerance_change``, ``history_size`` and ``line_search_fn``;
            ``lr`` may differ per group.
        lr: step length (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: function evaluations per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when ``max |g| <= tolerance_grad`` (default 1e-7).
        tolerance_change: stop when the change of ``f`` or ``x`` is below it (default 1e-9).
        history_size: pairs kept by the two-loop recursion (default 100).
        line_search_fn: None (fixed step ``lr``) or ``"strong_wolfe"``.

    With one param group it follows ``torch.optim.LBFGS``'s iterates and keeps the same state
    (``func_evals, n_iter, d, t, old_dirs, old_stps, ro, H_diag, prev_flat_grad, prev_loss``
    under the first parameter). With several groups whose ``lr`` differ, group ``k``'s block of the
    direction is scaled by ``lr_k / lr_0`` and ``lr_0`` plays the role of ``lr``.

    Math: ``d = -H g`` by the two-loop recursion (``H_0 = (s.y / y.y) I``); step
    ``t = min(1, 1/|g|_1) lr`` on the first iteration, ``lr`` after, or a strong Wolfe search.

    References:
        Liu & Nocedal, "On the limited memory BFGS method for large scale optimization", 1989;
        Nocedal & Wright, Numerical Optimization, 2006, Algorithms 3.5, 3.6 and 7.4.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.tensor([3.0, -2.0], dtype=torch.float64))
        >>> opt = LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((w - 1) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> torch.allclose(w.detach(), torch.ones(2, dtype=torch.float64))
        True
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {
            "lr": lr, "max_iter": max_iter, "max_eval": max_eval,
            "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
            "history_size": history_size, "line_search_fn": line_search_fn,
        }
        self._validate(defaults)
        super().__init__(params, defaults)
        for group in self.param_groups[1:]:
            for key in _SHARED:
                if group[key] != self.param_groups[0][key]:
                    raise ValueError(
                        f"all param groups must share {key}; got {group[key]!r} and "
                        f"{self.param_groups[0][key]!r}"
                    )

    @staticmethod
    def _validate(d: dict[str, Any]) -> None:
        if not (isinstance(d["max_iter"], int) and d["max_iter"] >= 1):
            raise ValueError(f"max_iter must be an integer >= 1, got {d['max_iter']!r}")
        if not (isinstance(d["max_eval"], int) and d["max_eval"] >= 1):
            raise ValueError(f"max_eval must be an integer >= 1, got {d['max_eval']!r}")
        if not (isinstance(d["history_size"], int) and d["history_size"] >= 1):
            raise ValueError(f"history_size must be an integer >= 1, got {d['history_size']!r}")
        for key in ("tolerance_grad", "tolerance_change"):
            if not d[key] >= 0:
                raise ValueError(f"{key} must be >= 0, got {d[key]!r}")
        if d["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(
                f"line_search_fn must be None or 'strong_wolfe', got {d['line_search_fn']!r}"
            )

    # -- the parameters as one flat vector --------------------------------------------------
    @property
    def _params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def _gather_flat_grad(self) -> Tensor:
        views = []
        for p in self._params:
            if p.grad is None:
                views.append(p.new_zeros(p.numel()))
            elif p.grad.is_sparse:
                views.append(p.grad.to_dense().view(-1))
            else:
                views.append(p.grad.view(-1))
        return torch.cat(views, 0)

    def _group_scale(self) -> Tensor | None:
        """Per-entry ``lr_k / lr_0`` if the groups' ``lr`` differ, else None."""
        lrs = [float(g["lr"]) for g in self.param_groups]
        if all(lr == lrs[0] for lr in lrs):
            return None
        if lrs[0] == 0:
            raise ValueError("with per-group lr the first group's lr must be > 0")
        parts = [torch.full((p.numel(),), lr / lrs[0], dtype=p.dtype, device=p.device)
                 for g, lr in zip(self.param_groups, lrs, strict=True) for p in g["params"]]
        return torch.cat(parts)

    def _add_grad(self, step_size: float, update: Tensor) -> None:
        offset = 0
        for p in self._params:
            numel = p.numel()
            p.add_(update[offset:offset + numel].view_as(p), alpha=step_size)
            offset += numel

    def _set_param(self, params_data: list[Tensor]) -> None:
        for p, pdata in zip(self._params, params_data, strict=True):
            p.copy_(pdata)

    def _directional_evaluate(self, closure: Callable[[], Any], x: list[Tensor], t: float,
                              d: Tensor) -> tuple[float, Tensor]:
        self._add_grad(t, d)
        with torch.enable_grad():
            loss = _as_float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    @torch.no_grad()
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` iterations; ``closure`` re-evaluates and returns the loss."""
        if closure is None:
            raise ValueError("LBFGS.step needs a closure that re-evaluates the model")
        group = self.param_groups[0]
        lr, max_iter, max_eval = float(group["lr"]), group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        scale = self._group_scale()
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with torch.enable_grad():
            orig_loss = closure()
        loss = _as_float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if flat_grad.abs().max() <= tolerance_grad:
            return orig_loss
        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_flat_grad = state.get("H_diag"), state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = flat_grad.neg()
                old_dirs, old_stps, ro, h_diag = [], [], [], 1
            else:
                y = flat_grad.sub(prev_flat_grad)
                s = d.mul(t)
                ys = y.dot(s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / y.dot(y)
                d = two_loop(flat_grad, old_stps, old_dirs, ro, h_diag)
            if scale is not None:
                d = d * scale
            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.clone(memory_format=torch.contiguous_format)
            else:
                prev_flat_grad.copy_(flat_grad)
            prev_loss = loss
            t = min(1.0, 1.0 / flat_grad.abs().sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:
                break
            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = [p.clone(memory_format=torch.contiguous_format) for p in self._params]

                def phi(step: float, x_init: list[Tensor] = x_init, d: Tensor = d):
                    return self._directional_evaluate(closure, x_init, step, d)

                ls = strong_wolfe(phi, loss, flat_grad, float(gtd), d, t=float(t),
                                  xtol=1e-9, max_evals=max_eval - current_evals)
                loss, flat_grad, t, ls_func_evals = ls.f, ls.g, ls.t, ls.nfev
                self._add_grad(t, d)
                opt_cond = flat_grad.abs().max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                if n_iter != max_iter:
                    with torch.enable_grad():
                        loss = _as_float(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = flat_grad.abs().max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if d.mul(t).abs().max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break
        state.update({"d": d, "t": t, "old_dirs": old_dirs, "old_stps": old_stps, "ro": ro,
                      "H_diag": h_diag, "prev_flat_grad": prev_flat_grad,
                      "prev_loss": prev_loss})
        return orig_loss
