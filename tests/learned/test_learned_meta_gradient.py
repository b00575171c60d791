"""Gradients flow through the unroll: meta-gradients against finite differences, in float64."""

from dataclasses import dataclass

import torch
from torch.func import functional_call

from ravine.learned import CoordinatewiseLSTM, DigitsMLPFamily, QuadraticFamily, meta_loss


def _tiny_network():
    torch.manual_seed(3)
    net = CoordinatewiseLSTM(hidden_size=3, num_layers=2, output_scale=0.5).double()
    with torch.no_grad():  # a larger output layer, so the unroll really moves the parameters
        net.output.weight.mul_(10.0)
        net.output.bias.fill_(0.05)
    return net


def _tiny_quadratic():
    family = QuadraticFamily(dim=3, batch=2, init_std=1.0, dtype=torch.float64)
    return family.sample(torch.Generator().manual_seed(7))


class _MetaLossModule(torch.nn.Module):
    """meta_loss as a module of the network's weights, for torch.func.functional_call."""

    def __init__(self, net, problem, steps, second_order):
        super().__init__()
        self.net, self.problem, self.steps, self.second_order = net, problem, steps, second_order

    def forward(self):
        with torch.enable_grad():
            loss, _, _ = meta_loss(self.net, self.problem, self.steps,
                                   second_order=self.second_order)
        return loss


def _meta_loss_of_weights(net, problem, steps, second_order):
    module = _MetaLossModule(net, problem, steps, second_order)
    names = [n for n, _ in module.named_parameters()]

    def f(*weights):
        return functional_call(module, dict(zip(names, weights, strict=True)), ())

    return names, f


def test_exact_meta_gradient_matches_finite_differences():
    net, problem = _tiny_network(), _tiny_quadratic()
    names, f = _meta_loss_of_weights(net, problem, steps=4, second_order=True)
    weights = tuple(p.detach().clone().requires_grad_(True) for p in net.parameters())
    _, params, _ = meta_loss(net, problem, 4)
    assert (params[0] - problem.x0).abs().min() > 1e-3  # every coordinate moved
    assert torch.autograd.gradcheck(f, weights, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_meta_loss_backward_equals_functional_gradient():
    # the meta-gradient that meta_train uses (loss.backward() on the module) is the same one
    net, problem = _tiny_network(), _tiny_quadratic()
    loss, _, _ = meta_loss(net, problem, 4, second_order=True)
    loss.backward()
    names, f = _meta_loss_of_weights(net, problem, steps=4, second_order=True)
    weights = tuple(p.detach().clone().requires_grad_(True) for p in net.parameters())
    expected = torch.autograd.grad(f(*weights), weights)
    for p, g in zip(net.parameters(), expected, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-10, atol=1e-12)


@dataclass
class _Linear:
    """f(x) = a . x: the gradient does not depend on x, so dropping d grad / d phi is exact."""

    a: torch.Tensor

    def init_params(self):
        return [torch.zeros_like(self.a)]

    def losses(self, params, step=0):
        return (self.a * params[0]).sum().reshape(1)


def _meta_grads(net, problem, steps, second_order):
    net.zero_grad()
    loss, _, _ = meta_loss(net, problem, steps, second_order=second_order)
    loss.backward()
    return [p.grad.clone() for p in net.parameters()]


def test_first_order_meta_gradient_is_exact_when_the_gradient_is_constant():
    net = _tiny_network()
    problem = _Linear(torch.tensor([0.7, -1.3, 2e-3], dtype=torch.float64))
    first = _meta_grads(net, problem, 5, second_order=False)
    exact = _meta_grads(net, problem, 5, second_order=True)
    for a, b in zip(first, exact, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_first_order_meta_gradient_drops_the_curvature_term_on_quadratics():
    net, problem = _tiny_network(), _tiny_quadratic()
    first = torch.cat([g.reshape(-1) for g in _meta_grads(net, problem, 4, False)])
    exact = torch.cat([g.reshape(-1) for g in _meta_grads(net, problem, 4, True)])
    assert (first - exact).norm() > 1e-3 * exact.norm()
    assert torch.nn.functional.cosine_similarity(first, exact, dim=0) > 0  # still a descent cue


def test_truncated_segments_compose_to_the_full_unroll():
    net, problem = _tiny_network(), _tiny_quadratic()
    full, params_full, state_full = meta_loss(net, problem, 6)
    first, params, state = meta_loss(net, problem, 3)
    second, params, state = meta_loss(net, problem, 3, params=params, state=state, start=3)
    torch.testing.assert_close(first + second, full, rtol=1e-12, atol=0)
    torch.testing.assert_close(params[0], params_full[0], rtol=1e-12, atol=0)
    torch.testing.assert_close(state[0], state_full[0], rtol=1e-12, atol=0)
    # truncation cuts the graph: segment two's gradient ignores how segment one got there
    net.zero_grad()
    second.backward()
    g_truncated = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    _, params, state = meta_loss(net, problem, 3)
    second_again, _, _ = meta_loss(net, problem, 3, params=[p.detach() for p in params],
                                   state=(state[0].detach(), state[1].detach()), start=3)
    second_again.backward()
    for a, p in zip(g_truncated, net.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad, rtol=1e-12, atol=0)


def test_meta_gradient_flows_on_the_digits_mlp_family():
    net = CoordinatewiseLSTM(hidden_size=4)
    problem = DigitsMLPFamily(hidden=5, batch_size=16).sample(torch.Generator().manual_seed(0))
    torch.testing.assert_close(problem.losses(problem.init_params(), 3),
                               problem.losses(problem.init_params(), 3), rtol=0, atol=0)
    assert not torch.equal(problem.minibatch(0), problem.minibatch(1))
    loss, params, _ = meta_loss(net, problem, 4)
    loss.backward()
    assert torch.isfinite(loss)
    assert [p.shape for p in params] == [(64, 5), (5,), (5, 10), (10,)]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
