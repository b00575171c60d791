import pytest
import torch
from helpers_landscape import digits_mlp, digits_split, train_full_batch
from torch import nn

from ravine.landscape import (
    BezierCurve,
    PathCurve,
    curve_path,
    linear_path,
    loss_barrier,
    train_bezier,
)
from ravine.optim import Adam

F64 = torch.float64


def test_bezier_curve_formula_and_gradient():
    w1, w2 = torch.randn(5, dtype=F64), torch.randn(5, dtype=F64)
    theta = torch.randn(5, dtype=F64)
    curve = BezierCurve(w1, w2, bend=theta)
    torch.testing.assert_close(curve(0.0), w1, rtol=0, atol=0)
    torch.testing.assert_close(curve(1.0), w2, rtol=0, atol=0)
    t = 0.3
    torch.testing.assert_close(curve(t), 0.49 * w1 + 0.42 * theta + 0.09 * w2)
    curve(t).sum().backward()
    torch.testing.assert_close(curve.bend.grad, torch.full((5,), 0.42, dtype=F64))
    assert [n for n, _ in curve.named_parameters()] == ["bend"]
    straight = BezierCurve(w1, w2)  # default bend: the midpoint, i.e. the straight line
    torch.testing.assert_close(straight(t).detach(), 0.7 * w1 + 0.3 * w2)


def test_loss_barrier_closed_form_and_errors():
    ts = torch.linspace(0, 1, 11, dtype=F64)
    loss = 1.0 + ts + 4 * ts * (1 - ts)  # chord 1 + t, excess 4 t (1 - t): barrier 1 at 0.5
    b = loss_barrier(PathCurve(ts, loss, 1 - 0.1 * loss))
    assert b.height == pytest.approx(1.0) and b.t == pytest.approx(0.5)
    e = loss_barrier(PathCurve(ts, loss, 1 - 0.1 * loss), metric="error")
    assert e.height == pytest.approx(0.1)
    flat = loss_barrier(PathCurve(ts, 2 - ts))  # on the chord: zero barrier
    assert flat.height == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(ValueError, match="from exactly 0 to exactly 1"):
        loss_barrier(PathCurve(ts[1:], loss[1:]))
    with pytest.raises(ValueError, match="accuracy=True"):
        loss_barrier(PathCurve(ts, loss), metric="error")
    with pytest.raises(ValueError, match="metric"):
        loss_barrier(PathCurve(ts, loss), metric="acc")


def test_untrained_bezier_path_is_the_linear_path():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to(F64)
    X, y = torch.randn(10, 3, dtype=F64), torch.randint(0, 2, (10,))
    n = sum(p.numel() for p in model.parameters())
    w1, w2 = torch.randn(n, dtype=F64), torch.randn(n, dtype=F64)
    ts = torch.linspace(0, 1, 6)
    lin = linear_path(model, nn.CrossEntropyLoss(), (X, y), w1, w2, ts)
    bez = curve_path(model, nn.CrossEntropyLoss(), (X, y), BezierCurve(w1, w2), ts)
    torch.testing.assert_close(bez.loss, lin.loss, rtol=1e-12, atol=1e-14)


def test_trained_bezier_curve_has_a_lower_barrier_than_the_linear_path_on_digits():
    X, y, _, _ = digits_split()
    loss_fn = nn.CrossEntropyLoss()
    a = train_full_batch(digits_mlp(0), X, y, steps=250)
    b = train_full_batch(digits_mlp(1), X, y, steps=250)
    ts = torch.linspace(0, 1, 11)
    linear = linear_path(a, loss_fn, (X, y), a, b, ts, accuracy=True)
    curve = train_bezier(a, loss_fn, (X, y), a, b, steps=200,
                         optimizer=lambda ps: Adam(ps, lr=1e-2),
                         generator=torch.Generator().manual_seed(0))
    bezier = curve_path(a, loss_fn, (X, y), curve, ts, accuracy=True)
    torch.testing.assert_close(bezier.loss[[0, -1]], linear.loss[[0, -1]])
    lin_b, bez_b = loss_barrier(linear), loss_barrier(bezier)
    # observed with this setup for seed pairs (0,1) (2,3) (4,5) (6,7): linear barrier
    # 0.33-1.04 nats (error barrier 11-37 points), Bezier 0.006-0.024 nats (0.1-0.2 points)
    assert lin_b.height > 0.2
    assert bez_b.height < 0.25 * lin_b.height
    assert loss_barrier(bezier, metric="error").height < loss_barrier(linear, metric="error").height
