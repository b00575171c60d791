"""LearnedOptimizer as a torch.optim.Optimizer: checkpoints, saved networks, bad input."""

import copy
import io
import pickle

import pytest
import torch
from torch import nn

from ravine.learned import CoordinatewiseLSTM, LearnedOptimizer, load_network, save_network


def _model():
    torch.manual_seed(11)
    return nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2))


def _data():
    g = torch.Generator().manual_seed(2)
    return torch.randn(16, 5, generator=g), torch.randn(16, 2, generator=g)


def _train(model, optimizer, steps):
    X, y = _data()
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(X), y).backward()
        optimizer.step()


def _network():
    torch.manual_seed(4)
    return CoordinatewiseLSTM(hidden_size=7)


def test_state_dict_round_trip_resumes_bit_exactly():
    net = _network()
    model = _model()
    opt = LearnedOptimizer(model.parameters(), net)
    _train(model, opt, 5)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buffer)
    _train(model, opt, 5)
    expected = [p.detach().clone() for p in model.parameters()]

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    resumed = _model()
    resumed.load_state_dict(saved["model"])
    opt2 = LearnedOptimizer(resumed.parameters(), net)
    opt2.load_state_dict(saved["opt"])
    _train(resumed, opt2, 5)
    for a, b in zip(resumed.parameters(), expected, strict=True):
        assert torch.equal(a, b)
    for p, q in zip(model.parameters(), resumed.parameters(), strict=True):
        for key in ("step", "hidden", "cell"):
            assert torch.equal(opt.state[p][key], opt2.state[q][key])


def test_state_layout():
    net = _network()
    model = _model()
    opt = LearnedOptimizer(model.parameters(), net)
    _train(model, opt, 2)
    sd = opt.state_dict()
    assert sd["param_groups"][0]["lr"] == 1.0 and sd["param_groups"][0]["maximize"] is False
    state = sd["state"][0]  # the first Linear's weight, 4 x 5
    assert sorted(state) == ["cell", "hidden", "step"]
    assert state["hidden"].shape == (2, 20, 7) and state["step"].item() == 2.0
    # without a restart (fresh hidden state) the second step differs from the first
    assert state["hidden"].abs().sum() > 0


def test_state_keeps_the_network_dtype_through_load_for_half_precision_params():
    net = _network()  # float32 network
    w = nn.Parameter(torch.linspace(-1, 1, 6, dtype=torch.float16))
    opt = LearnedOptimizer([w], net)
    (w.float() ** 2).sum().backward()
    opt.step()
    sd = copy.deepcopy(opt.state_dict())
    w2 = nn.Parameter(w.detach().clone())
    opt2 = LearnedOptimizer([w2], net)
    opt2.load_state_dict(sd)
    assert opt2.state[w2]["hidden"].dtype == torch.float32
    assert torch.equal(opt2.state[w2]["hidden"], opt.state[w]["hidden"])


def test_saved_network_file_round_trip(tmp_path):
    net = _network().double()
    path = tmp_path / "lstm.pt"
    save_network(net, path)
    loaded = load_network(path)
    assert loaded.config() == net.config()
    assert next(loaded.parameters()).dtype == torch.float64
    for (name, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
    model_a, model_b = _model().double(), _model().double()
    opt_a = LearnedOptimizer(model_a.parameters(), net)
    opt_b = LearnedOptimizer(model_b.parameters(), str(path))  # a path works as the network
    X, y = (t.double() for t in _data())
    for model, opt in ((model_a, opt_a), (model_b, opt_b)):
        for _ in range(3):
            opt.zero_grad()
            nn.functional.mse_loss(model(X), y).backward()
            opt.step()
    for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
        assert torch.equal(a, b)


def test_lr_scales_the_update_and_maximize_flips_it():
    net = _network()
    updates = {}
    for lr, maximize in ((1.0, False), (0.5, False), (1.0, True)):
        w = nn.Parameter(torch.tensor([0.5, -1.0, 2.0]))
        opt = LearnedOptimizer([w], net, lr=lr, maximize=maximize)
        (w ** 2).sum().backward()
        opt.step()
        updates[lr, maximize] = w.detach() - torch.tensor([0.5, -1.0, 2.0])
    torch.testing.assert_close(updates[0.5, False], 0.5 * updates[1.0, False])
    w = nn.Parameter(torch.tensor([0.5, -1.0, 2.0]))
    opt = LearnedOptimizer([w], net)
    (-(w ** 2).sum()).backward()  # the negated objective's gradient, minimized
    opt.step()
    torch.testing.assert_close(updates[1.0, True], w.detach() - torch.tensor([0.5, -1.0, 2.0]))


def test_works_with_torch_schedulers_param_groups_and_pickle():
    net = _network()
    model = _model()
    opt = LearnedOptimizer([{"params": model[0].parameters()},
                            {"params": model[2].parameters(), "lr": 0.5}], net)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    _train(model, opt, 1)
    scheduler.step()
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.25]
    clone = pickle.loads(pickle.dumps(opt))
    assert isinstance(clone.network, CoordinatewiseLSTM)
    assert clone.param_groups[1]["lr"] == 0.25


def test_bad_input():
    net = _network()
    w = nn.Parameter(torch.ones(2))
    with pytest.raises(TypeError, match="network must be a CoordinatewiseLSTM"):
        LearnedOptimizer([w], nn.LSTM(2, 3))
    with pytest.raises(ValueError, match="Invalid lr"):
        LearnedOptimizer([w], net, lr=-0.1)
    with pytest.raises(ValueError, match="Invalid lr"):
        LearnedOptimizer([w], net, lr=float("nan"))
    with pytest.raises(TypeError, match="maximize"):
        LearnedOptimizer([w], net, maximize=1)
    opt = LearnedOptimizer([w], net)
    with pytest.raises(ValueError, match="Invalid lr"):
        opt.add_param_group({"params": [nn.Parameter(torch.ones(1))], "lr": -1})
    with pytest.raises(TypeError, match="network"):
        save_network(nn.Linear(1, 1), "unused.pt")
    # state from a network of another size is refused with the shapes, not silently reshaped
    w.grad = torch.ones(2)
    opt.step()
    other = LearnedOptimizer([w], CoordinatewiseLSTM(hidden_size=3))
    other.load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="hidden_size"):
        other.step()
    sparse = nn.Embedding(3, 2, sparse=True)
    opt_sparse = LearnedOptimizer(sparse.parameters(), net)
    sparse(torch.tensor([0, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        opt_sparse.step()


def test_loading_a_file_that_is_not_a_saved_network(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.ones(2)}, path)
    with pytest.raises(ValueError, match="not a network saved"):
        load_network(path)
    with pytest.raises(ValueError, match="not a network saved"):
        LearnedOptimizer([nn.Parameter(torch.ones(1))], path)
    with pytest.raises(FileNotFoundError):
        load_network(tmp_path / "missing.pt")
