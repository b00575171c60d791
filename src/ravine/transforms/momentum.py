"""Heavy-ball and Nesterov momentum (the SGD family)."""

from __future__ import annotations

from .base import Transform, closed_unit_interval, is_scheduled, non_negative


def _momentum_flags(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"Invalid {name}: {value!r} (expected True or False)")


class scale_by_momentum(Transform):
    """Heavy-ball momentum with dampening, optionally Nesterov (as ``torch.optim.SGD``).

    Update rule (``mu`` = momentum, ``tau`` = dampening)::

        b_1 = g_1;   b_t = mu * b_{t-1} + (1 - tau) * g_t
        u_t = g_t + mu * b_t   (nesterov)      u_t = b_t   (heavy ball)

    With ``momentum == 0`` the transform is the identity and keeps no state.
    State: ``momentum_buffer`` (torch.optim.SGD's key).

    References:
        Polyak, "Some methods of speeding up the convergence of iteration methods", 1964.
        Sutskever et al., "On the importance of initialization and momentum in deep learning", 2013.
    """

    defaults = {"momentum": 0.0, "dampening": 0.0, "nesterov": False}
    validators = {"momentum": non_negative, "dampening": closed_unit_interval,
                  "nesterov": _momentum_flags}

    def validate(self, group):
        super().validate(group)
        momentum, dampening = group.get("momentum", 0), group.get("dampening", 0)
        if is_scheduled(momentum) or is_scheduled(dampening):
            return  # each scheduled value is checked on its own when evaluated
        if group.get("nesterov") and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def update(self, updates, states, params, group):
        mu = group["momentum"]
        if mu == 0:
            return updates
        tau = group["dampening"]
        out = []
        for g, state in zip(updates, states, strict=True):
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = g.clone().detach()
                state["momentum_buffer"] = buf
            else:
                buf.mul_(mu).add_(g, alpha=1 - tau)
            out.append(g.add_(buf, alpha=mu) if group["nesterov"] else buf.clone())
        return out
