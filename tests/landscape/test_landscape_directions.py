import numpy as np
import pytest
import torch
from helpers_landscape import tiny_convnet
from sklearn.decomposition import PCA
from torch import nn

from ravine.analysis import FlatParams
from ravine.landscape import normalize_direction, pca_directions, random_direction

F64 = torch.float64


def _blocks(model, d):
    flat = FlatParams(model)
    pairs = zip(flat.slices.items(), flat.shapes, strict=True)
    return {n: d[s].view(shape) for (n, s), shape in pairs}


def test_filter_normalized_direction_has_the_filter_norms_of_the_weights():
    model = tiny_convnet()
    d = random_direction(model, "filter", generator=torch.Generator().manual_seed(3))
    params = dict(model.named_parameters())
    blocks = _blocks(model, d)
    for name, block in blocks.items():
        w = params[name].detach()
        if w.ndim <= 1:  # conv/linear biases, BatchNorm weight and bias
            assert torch.count_nonzero(block) == 0, name
        else:
            got = block.reshape(w.shape[0], -1).norm(dim=1)
            want = w.reshape(w.shape[0], -1).norm(dim=1)
            # exact up to the 1e-10 guard in |w| / (|d| + 1e-10) (Li et al.'s code)
            torch.testing.assert_close(got, want, rtol=1e-9, atol=0)
    # the conv kernel has 4 filters of 9 weights: check one by hand
    k = blocks["0.weight"][2]
    assert torch.isclose(k.norm(), params["0.weight"][2].detach().norm(), rtol=1e-9)


def test_keep_bias_bn_copies_one_dimensional_parameters():
    model = tiny_convnet()
    d = random_direction(model, "filter", keep_bias_bn=True)
    params = dict(model.named_parameters())
    for name, block in _blocks(model, d).items():
        if block.ndim <= 1:
            torch.testing.assert_close(block, params[name].detach(), rtol=0, atol=0)


def test_layer_normalization_and_none():
    model = tiny_convnet()
    raw = torch.randn(FlatParams(model).numel, dtype=F64)
    layer = normalize_direction(raw, model, "layer")
    params = dict(model.named_parameters())
    for name, block in _blocks(model, layer).items():
        if block.ndim > 1:
            assert torch.isclose(block.norm(), params[name].detach().norm(), rtol=1e-9)
            # layer normalization is one scale per tensor: the direction inside is unchanged
            ratio = block / _blocks(model, raw)[name]
            torch.testing.assert_close(ratio, torch.full_like(ratio, float(ratio.flatten()[0])))
    none = normalize_direction(raw, model, "none", keep_bias_bn=True)
    torch.testing.assert_close(none, raw, rtol=0, atol=0)
    zeroed = normalize_direction(raw, model, "none")
    assert torch.count_nonzero(_blocks(model, zeroed)["1.weight"]) == 0
    assert torch.equal(_blocks(model, zeroed)["0.weight"], _blocks(model, raw)["0.weight"])


def test_direction_errors():
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="normalization"):
        random_direction(model, "batch")
    with pytest.raises(ValueError, match="length 8"):
        normalize_direction(torch.randn(7), model)
    with pytest.raises(TypeError, match="model"):
        random_direction("not a model")


def test_pca_directions_match_sklearn_pca():
    gen = torch.Generator().manual_seed(0)
    # a trajectory with two dominant directions plus noise, in 50 dimensions
    t = torch.linspace(0, 1, 30, dtype=F64)
    a, b = torch.randn(50, generator=gen, dtype=F64), torch.randn(50, generator=gen, dtype=F64)
    noise = 0.01 * torch.randn(30, 50, generator=gen, dtype=F64)
    path = torch.outer(t, a) + torch.outer(t**2 - 0.3, b) + noise
    pcs = pca_directions(path)
    ref = PCA(n_components=2, svd_solver="full").fit((path[:-1] - path[-1]).numpy())
    np.testing.assert_allclose(pcs.d1.numpy(), ref.components_[0], atol=1e-10)
    np.testing.assert_allclose(pcs.d2.numpy(), ref.components_[1], atol=1e-10)
    np.testing.assert_allclose(pcs.explained_variance_ratio.numpy(),
                               ref.explained_variance_ratio_, rtol=1e-10)
    torch.testing.assert_close(pcs.origin, path[-1])
    assert float(pcs.explained_variance_ratio.sum()) > 0.99


def test_pca_directions_uncentered_are_singular_vectors_of_the_differences():
    gen = torch.Generator().manual_seed(1)
    path = torch.randn(12, 20, generator=gen, dtype=F64).cumsum(dim=0)
    pcs = pca_directions(path, center=False)
    diffs = (path[:-1] - path[-1]).numpy()
    _, s, vt = np.linalg.svd(diffs, full_matrices=False)
    for got, want in ((pcs.d1, vt[0]), (pcs.d2, vt[1])):
        sign = np.sign(want[np.abs(want).argmax()])
        np.testing.assert_allclose(got.numpy(), sign * want, atol=1e-10)
    np.testing.assert_allclose(pcs.explained_variance_ratio.numpy(), s[:2] ** 2 / (s**2).sum())
    assert abs(float(pcs.d1 @ pcs.d2)) < 1e-12


def test_pca_directions_errors():
    with pytest.raises(ValueError, match="at least 3"):
        pca_directions([torch.zeros(4), torch.ones(4)])
    with pytest.raises(ValueError, match="origin"):
        pca_directions(torch.zeros(5, 4), origin=torch.zeros(3))
