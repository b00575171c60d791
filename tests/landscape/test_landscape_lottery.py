import pytest
import torch
import torch.nn.utils.prune as torch_prune
from helpers_landscape import digits_mlp, digits_split
from torch import nn

from ravine.landscape import (
    apply_masks,
    iterative_magnitude_pruning,
    magnitude_masks,
    mask_sparsity,
    prunable_parameters,
    reinitialize,
)
from ravine.optim import SGD, Adam, AdamW


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(7, 13), nn.ReLU(), nn.Linear(13, 5), nn.ReLU(), nn.Linear(5, 3))


@pytest.mark.parametrize("sparsity", [0.0, 0.2, 0.5, 0.8, 0.95])
def test_masks_hit_the_requested_sparsity_exactly(sparsity):
    model = _mlp()
    n = sum(p.numel() for p in prunable_parameters(model).values())  # 91 + 65 + 15 = 171
    glob = magnitude_masks(model, sparsity)
    assert sum(int((~m).sum()) for m in glob.values()) == round(sparsity * n)
    layer = magnitude_masks(model, sparsity, scope="layerwise")
    for name, p in prunable_parameters(model).items():
        assert int((~layer[name]).sum()) == round(sparsity * p.numel()), name
    assert set(glob) == {"0.weight", "2.weight", "4.weight"}  # biases are never pruned


def test_exact_sparsity_with_ties_and_masks_only_grow():
    lin = nn.Linear(10, 10, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.arange(100.0).view(10, 10) % 3)  # only the values 0, 1, 2
    first = magnitude_masks(lin, 0.5)
    assert int((~first["weight"]).sum()) == 50
    # the 34 zeros go first, then 16 of the ones
    assert bool((lin.weight[~first["weight"]] <= 1).all())
    second = magnitude_masks(lin, 0.7, masks=first)
    assert int((~second["weight"]).sum()) == 70
    assert bool((second["weight"] <= first["weight"]).all())  # pruned weights stay pruned
    with pytest.raises(ValueError, match="lower than that of the current masks"):
        magnitude_masks(lin, 0.3, masks=first)


def test_global_masks_equal_torch_prune_global_unstructured():
    model = _mlp(3)
    params = prunable_parameters(model)
    n = sum(p.numel() for p in params.values())
    ours = magnitude_masks(model, 0.6)
    ref_model = _mlp(3)
    modules = dict(ref_model.named_modules())
    targets = [(modules[name.rsplit(".", 1)[0]], "weight") for name in params]
    torch_prune.global_unstructured(targets, pruning_method=torch_prune.L1Unstructured,
                                    amount=round(0.6 * n))
    for name in params:
        ref_mask = modules[name.rsplit(".", 1)[0]].weight_mask.bool()
        assert torch.equal(ours[name], ref_mask), name
    layer = magnitude_masks(model, 0.6, scope="layerwise")
    for name in params:
        m = _mlp(3)
        mod = dict(m.named_modules())[name.rsplit(".", 1)[0]]
        torch_prune.l1_unstructured(mod, "weight", amount=round(0.6 * mod.weight.numel()))
        assert torch.equal(layer[name], mod.weight_mask.bool()), name


def test_mask_errors():
    model = _mlp()
    for bad in (-0.1, 1.0, "half"):
        with pytest.raises(ValueError, match="sparsity must be a number in"):
            magnitude_masks(model, bad)
    with pytest.raises(ValueError, match="scope"):
        magnitude_masks(model, 0.5, scope="channel")
    with pytest.raises(ValueError, match="does not match"):
        apply_masks(model, {"0.weight": torch.ones(3, 3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="rounds"):
        iterative_magnitude_pruning(model, lambda m: None, lambda m: 0.0, rounds=0)
    with pytest.raises(ValueError, match="rate"):
        iterative_magnitude_pruning(model, lambda m: None, lambda m: 0.0, rounds=1, rate=1.0)


def _reference(opt):
    opt.fast_path = "reference"  # the transform chain rather than the fused kernel
    return opt


@pytest.mark.parametrize("make_opt", [
    lambda ps: SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-2, nesterov=True),
    lambda ps: _reference(SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-2)),
    lambda ps: AdamW(ps, lr=1e-2, weight_decay=0.1),
    lambda ps: Adam(ps, lr=1e-2, weight_decay=1e-2, amsgrad=True),
], ids=["sgd-nesterov-wd", "sgd-momentum-wd-reference", "adamw", "adam-l2-amsgrad"])
def test_pruned_weights_stay_exactly_zero_through_training(make_opt):
    model = _mlp(1)
    masks = magnitude_masks(model, 0.7)
    handle = apply_masks(model, masks)
    opt = make_opt(model.parameters())
    X, y = torch.randn(64, 7), torch.randint(0, 3, (64,))
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    for _ in range(30):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        assert torch.count_nonzero(params[name][~mask]) == 0, name
        assert torch.count_nonzero(params[name].grad[~mask]) == 0, name
        # the kept weights did train
        assert not torch.equal(params[name][mask], start[name][mask]), name
    handle.remove()
    opt.zero_grad()
    nn.functional.cross_entropy(model(X), y).backward()
    assert torch.count_nonzero(params["0.weight"].grad[~masks["0.weight"]]) > 0  # hooks gone


def test_imp_rewinds_to_the_initial_or_given_state():
    model = _mlp(2)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    calls = []

    def train(m):  # a stand-in for training: record the weights it starts from, then move them
        calls.append({k: v.clone() for k, v in m.state_dict().items()})
        with torch.no_grad():
            for p in m.parameters():
                p.add_(torch.randn_like(p))

    res = iterative_magnitude_pruning(model, train, lambda m: 0.5, rounds=3, rate=0.5)
    assert [r.round for r in res.rounds] == [0, 1, 2, 3]
    n = sum(p.numel() for p in prunable_parameters(model).values())
    for r, row in enumerate(res.rounds):
        assert row.remaining == n - round((1 - 0.5**r) * n)
        assert row.sparsity == pytest.approx(mask_sparsity(res.masks[r]))
    for r in (1, 2, 3):  # every pruning round starts from the initial weights, masked
        for k, v in calls[r].items():
            want = init[k] * res.masks[r][k] if k in res.masks[r] else init[k]
            assert torch.equal(v, want), (r, k)
    late = {k: v + 1 for k, v in init.items()}
    calls.clear()
    iterative_magnitude_pruning(_mlp(2), train, lambda m: 0.5, rounds=1, rewind_to=late)
    assert torch.equal(calls[0]["4.bias"], init["4.bias"])  # round 0: dense, from the model
    assert torch.equal(calls[1]["4.bias"], late["4.bias"])  # round 1: rewound to `late`


def _digits_train(X, y):
    def train(model):
        gen = torch.Generator().manual_seed(123)
        opt = Adam(model.parameters(), lr=3e-3)
        for _ in range(10):
            perm = torch.randperm(len(X), generator=gen)
            for i in range(0, len(X), 64):
                idx = perm[i:i + 64]
                opt.zero_grad()
                nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
                opt.step()
    return train


def test_winning_ticket_at_80_percent_matches_dense_and_beats_random_reinit_on_digits():
    Xtr, ytr, Xte, yte = digits_split()
    train = _digits_train(Xtr, ytr)

    def test_accuracy(model):
        with torch.no_grad():
            return float((model(Xte).argmax(1) == yte).double().mean())

    rate = 1 - 0.2**0.5  # two rounds of IMP reach 80% sparsity
    dense, ticket, reinit = [], [], []
    for seed in (0, 1):
        res = iterative_magnitude_pruning(digits_mlp(seed, hidden=16), train, test_accuracy,
                                          rounds=2, rate=rate)
        assert res.rounds[-1].sparsity == pytest.approx(0.8, abs=1e-3)
        control = digits_mlp(seed, hidden=16)
        reinitialize(control, seed=1000 + seed)
        handle = apply_masks(control, res.masks[-1])
        train(control)
        handle.remove()
        dense.append(res.rounds[0].accuracy)
        ticket.append(res.rounds[-1].accuracy)
        reinit.append(test_accuracy(control))
    # observed (seeds 0-3): dense 0.917-0.928, ticket 0.885-0.906, random reinit 0.798-0.848
    for d, t, r in zip(dense, ticket, reinit, strict=True):
        assert t >= d - 0.05
        assert t > r
    assert sum(ticket) / 2 >= sum(reinit) / 2 + 0.03
