"""The lab's problems against closed forms and scikit-learn."""

import math

import numpy as np
import pytest
import torch

from ravine.lab.problems import PROBLEMS, SURFACES, get_problem
from ravine.lab.problems.classification import ClassificationTask
from ravine.lab.problems.quadratics import NoisyQuadraticTask, QuadraticTask, deep_hessian


@pytest.mark.parametrize("name,xy", [("ravine", (0.0, 0.0)), ("rosenbrock", (1.0, 1.0)),
                                     ("beale", (3.0, 0.5)), ("himmelblau", (3.0, 2.0)),
                                     ("himmelblau", (-2.805118, 3.131312))])
def test_lab_surface_minima_are_zero_with_zero_gradient(name, xy):
    x = torch.tensor(xy, dtype=torch.float64, requires_grad=True)
    f = SURFACES[name].fn(x[0], x[1])
    (g,) = torch.autograd.grad(f, x)
    assert f.item() == pytest.approx(0.0, abs=1e-9)
    assert float(g.norm()) < 1e-4


def test_lab_ravine_condition_number_is_50():
    x = torch.zeros(2, dtype=torch.float64)
    h = torch.func.hessian(lambda v: SURFACES["ravine"].fn(v[0], v[1]))(x)
    eig = torch.linalg.eigvalsh(h)
    assert eig.tolist() == pytest.approx([1.0, 50.0])


def test_lab_deep_hessian_has_the_deepobs_spectrum():
    eig = torch.linalg.eigvalsh(deep_hessian(100)).sort().values
    assert (eig[:90] > 0).all() and (eig[:90] < 1).all()
    assert (eig[90:] > 30).all() and (eig[90:] < 60).all()


def test_lab_quadratic_gradient_is_h_theta():
    task = QuadraticTask(seed=3)
    task.loss().backward()
    expected = task.hessian @ task.theta.detach()
    torch.testing.assert_close(task.theta.grad, expected)


def test_lab_noisy_quadratic_full_loss_closed_form_and_batches_cover_epoch():
    task = NoisyQuadraticTask(seed=1, n_samples=64, batch_size=16)
    theta, x, h = task.theta.detach(), task.samples, task.hessian
    # mean_i 0.5 (theta - x_i)^T H (theta - x_i) = 0.5 (theta - m)^T H (theta - m) + 0.5 tr(H S)
    m = x.mean(0)
    s = (x - m).T @ (x - m) / x.shape[0]
    closed = 0.5 * (theta - m) @ h @ (theta - m) + 0.5 * torch.trace(h @ s)
    assert task.evaluate()[0] == pytest.approx(float(closed), rel=1e-10)
    batch_means = [float(task.loss().detach()) for _ in range(4)]  # one epoch, every sample once
    assert np.mean(batch_means) == pytest.approx(float(closed), rel=1e-10)


def test_lab_logistic_objective_matches_sklearn_optimum():
    from sklearn.linear_model import LogisticRegression

    task = ClassificationTask(0, "breast_cancer", "linear", penalty="l2", strength=1e-2)
    x, y = task.xtr.double().numpy(), task.ytr.numpy()
    # sklearn: 0.5 ||w||^2 + C sum log-loss  ==  n C (mean log-loss + ||w||^2 / (2 n C))
    c = 1.0 / (1e-2 * x.shape[0])
    ref = LogisticRegression(C=c, tol=1e-10, max_iter=10_000).fit(x, y)
    task.model.double()
    with torch.no_grad():
        task.model.weight.copy_(torch.tensor(ref.coef_))
        task.model.bias.copy_(torch.tensor(ref.intercept_))
    task.xtr = task.xtr.double()
    loss = task.loss()
    grads = torch.autograd.grad(loss, task.params)
    assert max(float(g.abs().max()) for g in grads) < 1e-5


def test_lab_split_and_batch_order_follow_the_seed():
    a, b, c = (ClassificationTask(s, "digits", "mlp", batch_size=32) for s in (0, 0, 1))
    assert torch.equal(a.xtr, b.xtr) and not torch.equal(a.xtr, c.xtr)
    torch.testing.assert_close(a.loss(), b.loss())
    first = [int(i) for i in a._order[:5]]
    for _ in range(a.steps_per_epoch - 1):
        a.loss()
    a.loss()  # a new epoch: reshuffled
    assert [int(i) for i in a._order[:5]] != first


def test_lab_every_problem_builds_and_evaluates_finite():
    for name, problem in PROBLEMS.items():
        task = problem.build(0)
        loss, acc = task.evaluate()
        assert math.isfinite(loss), name
        assert (acc is None) == (problem.kind != "classification"), name


def test_lab_bad_problem_arguments_raise():
    with pytest.raises(ValueError, match="unknown problem 'nope'"):
        get_problem("nope")
    with pytest.raises(ValueError, match="penalty"):
        ClassificationTask(0, "digits", "linear", penalty="l3")
    with pytest.raises(ValueError, match="batch_size"):
        ClassificationTask(0, "digits", "linear", batch_size=0)
