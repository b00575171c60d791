"""The gradient preprocessing (paper's Appendix A) and the coordinatewise LSTM network."""

import math

import pytest
import torch

from ravine.learned import CoordinatewiseLSTM, preprocess_gradients


def test_preprocessing_matches_the_papers_formula_on_hand_checked_values():
    # p = 10: threshold exp(-10) = 4.54e-5
    g = torch.tensor([math.e ** 5, -math.e ** -3, 1e-2, 1e-5, -2e-5, 0.0, math.exp(-10)],
                     dtype=torch.float64)
    out = preprocess_gradients(g, p=10.0)
    expected = torch.tensor([
        [0.5, 1.0],                       # log(e^5)/10, sign
        [-0.3, -1.0],                     # log(e^-3)/10, sign
        [-0.46051701859880914, 1.0],      # log(0.01)/10
        [-1.0, 0.22026465794806716],      # below threshold: (-1, e^10 * 1e-5)
        [-1.0, -0.44052931589613433],     # (-1, e^10 * -2e-5)
        [-1.0, 0.0],
        [-1.0, 1.0],                      # exactly at the threshold: the log branch
    ], dtype=torch.float64)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


def test_preprocessing_with_other_p_and_shape():
    g = torch.tensor([[1e-2, -1.0], [0.0, 1e-3]], dtype=torch.float64)
    out = preprocess_gradients(g, p=5.0)  # threshold exp(-5) = 6.7e-3
    assert out.shape == (2, 2, 2)
    torch.testing.assert_close(out[0, 0], torch.tensor([math.log(1e-2) / 5, 1.0],
                                                       dtype=torch.float64))
    torch.testing.assert_close(out[1, 1], torch.tensor([-1.0, math.exp(5) * 1e-3],
                                                       dtype=torch.float64))
    torch.testing.assert_close(out[0, 1], torch.tensor([0.0, -1.0], dtype=torch.float64))


def test_preprocessing_gradient_is_finite_at_zero():
    g = torch.tensor([0.0, 1e-9, 3.0], dtype=torch.float64, requires_grad=True)
    preprocess_gradients(g).sum().backward()
    assert torch.isfinite(g.grad).all()
    # d/dg of (log|g|/p + sign g) = 1/(p g) on the log branch; e^p on the linear branch
    torch.testing.assert_close(g.grad, torch.tensor([math.e ** 10, math.e ** 10, 1 / 30.0],
                                                    dtype=torch.float64))


def test_network_is_a_stacked_torch_lstm_run_per_coordinate():
    torch.manual_seed(1)
    net = CoordinatewiseLSTM(hidden_size=6, num_layers=2).double()
    ref = torch.nn.LSTM(2, 6, num_layers=2).double()
    with torch.no_grad():
        for layer, cell in enumerate(net.cells):
            getattr(ref, f"weight_ih_l{layer}").copy_(cell.weight_ih)
            getattr(ref, f"weight_hh_l{layer}").copy_(cell.weight_hh)
            getattr(ref, f"bias_ih_l{layer}").copy_(cell.bias_ih)
            getattr(ref, f"bias_hh_l{layer}").copy_(cell.bias_hh)
    grads = torch.randn(8, 5, dtype=torch.float64) * torch.logspace(-6, 1, 5, dtype=torch.float64)
    state = net.initial_state(5)
    updates = []
    for t in range(8):
        u, state = net(grads[t], state)
        updates.append(u)
    seq, (h, c) = ref(preprocess_gradients(grads))  # (T, coordinates, 2) -> (T, coords, 6)
    expected = net.output(seq).squeeze(-1) * net.output_scale
    torch.testing.assert_close(torch.stack(updates), expected, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(state[0], h)
    torch.testing.assert_close(state[1], c)


def test_coordinates_are_independent_and_share_weights():
    net = CoordinatewiseLSTM(hidden_size=5).double()
    g = torch.tensor([0.3, -2.0, 1e-7, 4.0], dtype=torch.float64)
    together, _ = net(g, net.initial_state(4))
    alone = [net(g[i:i + 1], net.initial_state(1))[0] for i in range(4)]
    torch.testing.assert_close(together, torch.cat(alone), rtol=1e-13, atol=1e-15)
    perm = torch.tensor([2, 0, 3, 1])
    permuted, _ = net(g[perm], net.initial_state(4))
    torch.testing.assert_close(permuted, together[perm], rtol=1e-13, atol=1e-15)


def test_raw_gradient_input_without_preprocessing():
    net = CoordinatewiseLSTM(hidden_size=4, num_layers=1, preprocess=False)
    assert net.cells[0].input_size == 1
    u, (h, _) = net(torch.randn(3), net.initial_state(3))
    assert u.shape == (3,) and h.shape == (1, 3, 4)


@pytest.mark.parametrize("kwargs, match", [
    ({"hidden_size": 0}, "hidden_size"),
    ({"hidden_size": 2.5}, "hidden_size"),
    ({"num_layers": 0}, "num_layers"),
    ({"num_layers": True}, "num_layers"),
    ({"p": 0.0}, "p"),
    ({"p": float("inf")}, "p"),
    ({"output_scale": -0.1}, "output_scale"),
])
def test_bad_network_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CoordinatewiseLSTM(**kwargs)


def test_bad_network_inputs():
    with pytest.raises(TypeError, match="preprocess"):
        CoordinatewiseLSTM(preprocess="yes")
    with pytest.raises(ValueError, match="p"):
        preprocess_gradients(torch.ones(2), p=-1.0)
    net = CoordinatewiseLSTM(hidden_size=4)
    with pytest.raises(ValueError, match="flat"):
        net(torch.ones(2, 2), net.initial_state(4))
    with pytest.raises(ValueError, match="expected"):
        net(torch.ones(3), net.initial_state(4))


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-13), (torch.float32, 2e-6)])
def test_fused_inference_cell_agrees_with_the_lstmcell_reference(dtype, tol):
    torch.manual_seed(2)
    net = CoordinatewiseLSTM(hidden_size=9, num_layers=3).to(dtype)
    with torch.no_grad():
        net.output.weight.mul_(10.0)  # make the update sensitive to the last hidden state
    grads = torch.randn(6, 50, dtype=dtype) * torch.logspace(-7, 2, 50, dtype=dtype)
    ref_state = fused_state = net.initial_state(50)
    with torch.no_grad():
        for g in grads:
            ref, ref_state = net(g, ref_state, fused=False)
            fused, fused_state = net(g, fused_state)  # the default without autograd
            torch.testing.assert_close(fused, ref, rtol=tol, atol=tol)
            for a, b in zip(fused_state, ref_state, strict=True):
                torch.testing.assert_close(a, b, rtol=tol, atol=tol)
    with torch.enable_grad():  # with autograd the default is the reference cell
        out, _ = net(grads[0], net.initial_state(50))
    assert out.grad_fn is not None
