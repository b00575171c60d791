import matplotlib
import pytest
import torch

from ravine.landscape import (
    PathCurve,
    Projection,
    Surface1D,
    Surface2D,
    plot_connectivity,
    plot_contour,
    plot_surface_1d,
)

matplotlib.use("Agg")


def _bowl():
    a, b = torch.linspace(-1, 1, 9, dtype=torch.float64), torch.linspace(-2, 2, 7,
                                                                          dtype=torch.float64)
    loss = 0.1 + a[:, None] ** 2 + 0.5 * b[None, :] ** 2
    return Surface2D(a, b, loss)


def test_contour_draws_the_surface_and_each_trajectory(tmp_path):
    coords = torch.tensor([[0.9, 1.5], [0.5, 0.7], [0.0, 0.0]], dtype=torch.float64)
    proj = Projection(coords, torch.zeros(3), torch.tensor([0.7, 0.2]))
    ax = plot_contour(_bowl(), trajectories={"sgd": proj, "adam": coords * 0.5}, title="bowl")
    lines = {line.get_label(): line for line in ax.lines}
    assert set(lines) >= {"sgd", "adam"}
    assert lines["sgd"].get_xydata().tolist() == coords.tolist()
    assert "sgd: 70%/20%" in ax.get_title()
    path = tmp_path / "contour.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 5000


def test_1d_and_connectivity_plots(tmp_path):
    alphas = torch.linspace(-1, 1, 11, dtype=torch.float64)
    s = Surface1D(alphas, alphas**2 + 0.1, 1 - alphas.abs() / 2)
    ax = plot_surface_1d(s, log=True)
    assert ax.get_yscale() == "log"
    assert ax.lines[0].get_ydata().tolist() == (alphas**2 + 0.1).tolist()
    assert len(ax.figure.axes) == 2  # the accuracy twin axis
    ax = plot_surface_1d(Surface1D(alphas, alphas**2), label="a")
    plot_surface_1d(Surface1D(alphas, 2 * alphas**2), ax=ax, label="b")
    assert ax.lines[0].get_color() != ax.lines[1].get_color()
    t = torch.linspace(0, 1, 5, dtype=torch.float64)
    paths = {"linear": PathCurve(t, 1 + t * (1 - t), 1 - t * (1 - t)),
             "bezier": PathCurve(t, 1 + 0 * t, 1 + 0 * t)}
    ax = plot_connectivity(paths, metric="error")
    assert ax.get_legend_handles_labels()[1] == ["linear", "bezier"]
    assert ax.lines[0].get_ydata().tolist() == (t * (1 - t)).tolist()
    ax.figure.savefig(tmp_path / "paths.png")
    with pytest.raises(ValueError, match="accuracy=True"):
        plot_connectivity({"x": PathCurve(t, t)}, metric="error")
