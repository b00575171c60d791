import pytest
import torch
from torch import nn

from ravine.landscape import TrajectoryRecorder, pca_directions, project_trajectory
from ravine.optim import SGD

F64 = torch.float64


def test_projection_recovers_coordinates_on_non_orthogonal_directions():
    gen = torch.Generator().manual_seed(0)
    p = 40
    d1 = torch.randn(p, generator=gen, dtype=F64)
    d2 = 0.8 * d1 + 0.3 * torch.randn(p, generator=gen, dtype=F64)  # far from orthogonal
    origin = torch.randn(p, generator=gen, dtype=F64)
    coords = torch.randn(15, 2, generator=gen, dtype=F64) * 3
    points = origin + coords[:, :1] * d1 + coords[:, 1:] * d2
    proj = project_trajectory(list(points), d1, d2, origin)
    torch.testing.assert_close(proj.coords, coords, rtol=1e-10, atol=1e-10)
    assert float(proj.residual.max()) < 1e-10
    # an orthogonal offset shows up in the residual and leaves the coordinates alone
    basis, _ = torch.linalg.qr(torch.stack([d1, d2], dim=1), mode="complete")
    normal = basis[:, 5]
    moved = project_trajectory(points + 2.5 * normal, d1, d2, origin)
    torch.testing.assert_close(moved.coords, coords, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(moved.residual, torch.full((15,), 2.5, dtype=F64))


def test_projection_errors():
    d = torch.randn(6, dtype=F64)
    with pytest.raises(ValueError, match="linearly independent"):
        project_trajectory(torch.randn(3, 6, dtype=F64), d, 2 * d, torch.zeros(6, dtype=F64))
    with pytest.raises(ValueError, match="origin"):
        project_trajectory(torch.randn(3, 6, dtype=F64), d, d + 1, torch.zeros(5, dtype=F64))
    with pytest.raises(ValueError, match="non-empty"):
        project_trajectory(torch.zeros(0, 6, dtype=F64), d, d + 1, torch.zeros(6, dtype=F64))


def test_recorded_sgd_trajectory_projects_onto_its_pca_plane():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).to(F64)
    X, y = torch.randn(32, 4, dtype=F64), torch.randint(0, 2, (32,))
    opt = SGD(model.parameters(), lr=0.3, momentum=0.9)
    rec = TrajectoryRecorder(model)
    rec.record()
    for _ in range(25):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
        rec.record()
    assert len(rec) == 26
    path = rec.points()
    pcs = pca_directions(path, center=False)
    proj = project_trajectory(path, pcs.d1, pcs.d2, pcs.origin,
                              explained_variance_ratio=pcs.explained_variance_ratio)
    assert torch.equal(proj.explained_variance_ratio, pcs.explained_variance_ratio)
    assert proj.coords[-1].abs().max() < 1e-12  # the final point is the origin
    # orthonormal uncentered PCA directions: the captured energy is S1^2 + S2^2
    diffs = path[:-1] - path[-1]
    captured = (proj.coords[:-1] ** 2).sum() / (diffs**2).sum()
    assert float(captured) == pytest.approx(float(pcs.explained_variance_ratio.sum()), rel=1e-10)
    # and each squared residual is what the plane misses
    total = (diffs**2).sum(dim=1)
    torch.testing.assert_close(proj.residual[:-1] ** 2 + (proj.coords[:-1] ** 2).sum(1), total)
