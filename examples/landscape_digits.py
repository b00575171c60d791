"""Loss landscapes of a digits MLP: surfaces, trajectories, mode connectivity, lottery tickets.

A 64-32-10 ReLU MLP is trained on scikit-learn's load_digits (1257 training images, 540 test)
from one initialization with ravine's SGD (momentum 0.9) and with ravine's Adam, minibatch 64,
recording the parameters every 5 steps. The script then draws (into ``--out``):

- ``surface_1d.png``: the training loss along a filter-normalized random direction about each
  solution (Li et al. 2018), the usual picture for comparing the width of minima;
- ``surface_2d_filter.png``: the 2-D training-loss surface about the SGD solution on two
  filter-normalized random directions;
- ``trajectories.png``: for each optimizer, the surface on the top-2 PCA directions of its
  trajectory, with the trajectory projected on it (Li et al. section 7) and the explained
  variance in the title;
- ``connectivity.png``: training loss along the straight line and along a trained quadratic
  Bezier curve between two SGD solutions from different seeds (60 epochs each; Garipov et al.
  2018), with the loss barriers printed;

and prints a lottery-ticket table (Frankle & Carbin 2019): iterative magnitude pruning with
rewinding to initialization and, late rewinding (Frankle et al. 2020), to the weights after 40
steps; 40% of the remaining weights per round; the test accuracy of each ticket next to a random
reinitialization of the same mask.

Run: ``python examples/landscape_digits.py [--out DIR]`` (about a minute on one core).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from torch import nn  # noqa: E402

from ravine.landscape import (  # noqa: E402
    TrajectoryRecorder,
    apply_masks,
    curve_path,
    iterative_magnitude_pruning,
    linear_path,
    loss_barrier,
    pca_directions,
    plot_connectivity,
    plot_contour,
    plot_surface_1d,
    project_trajectory,
    random_direction,
    reinitialize,
    surface_1d,
    surface_2d,
    train_bezier,
)
from ravine.optim import SGD, Adam  # noqa: E402

LOSS = nn.CrossEntropyLoss()


def data():
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X / 16.0, y, test_size=0.3, random_state=0,
                                              stratify=y)
    f32 = torch.float32
    return (torch.tensor(X_tr, dtype=f32), torch.tensor(y_tr), torch.tensor(X_te, dtype=f32),
            torch.tensor(y_te))


def mlp(seed: int, hidden: int = 32) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def train(model, make_opt, X, y, epochs, recorder=None, every=5):
    opt = make_opt(model.parameters())
    gen = torch.Generator().manual_seed(123)
    step = 0
    if recorder is not None:
        recorder.record()
    for _ in range(epochs):
        perm = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            LOSS(model(X[idx]), y[idx]).backward()
            opt.step()
            step += 1
            if recorder is not None and step % every == 0:
                recorder.record()
    return model


def accuracy(model, X, y):
    with torch.no_grad():
        return float((model(X).argmax(1) == y).double().mean())


OPTIMIZERS = {
    "SGD": lambda ps: SGD(ps, lr=0.05, momentum=0.9),
    "Adam": lambda ps: Adam(ps, lr=3e-3),
}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    X, y, X_te, y_te = data()
    batch = (X, y)
    t0 = time.perf_counter()

    solutions, paths = {}, {}
    for name, make_opt in OPTIMIZERS.items():
        model = mlp(0)
        rec = TrajectoryRecorder(model)
        train(model, make_opt, X, y, epochs=15, recorder=rec)
        solutions[name], paths[name] = model, rec.points()
        with torch.no_grad():
            train_loss = float(LOSS(model(X), y))
        print(f"{name:5s} train loss {train_loss:.4f}  "
              f"test acc {accuracy(model, X_te, y_te):.4f}  ({len(rec)} iterates)")

    # 1-D filter-normalized curves about each solution
    alphas = torch.linspace(-1, 1, 41)
    ax = None
    for name, model in solutions.items():
        d = random_direction(model, generator=torch.Generator().manual_seed(7))
        ax = plot_surface_1d(surface_1d(model, LOSS, batch, d, alphas), ax=ax, label=name,
                             log=True)
    ax.legend()
    ax.set_title("training loss along a filter-normalized direction", fontsize=9)
    ax.figure.savefig(out / "surface_1d.png", dpi=120)

    # 2-D filter-normalized surface about the SGD solution
    sgd = solutions["SGD"]
    g = torch.Generator().manual_seed(11)
    d1, d2 = random_direction(sgd, generator=g), random_direction(sgd, generator=g)
    grid = torch.linspace(-1, 1, 25)
    surf = surface_2d(sgd, LOSS, batch, d1, d2, grid, grid)
    ax = plot_contour(surf, title="SGD solution, filter-normalized directions")
    ax.figure.savefig(out / "surface_2d_filter.png", dpi=120)
    print(f"filter-normalized 2-D surface: loss {float(surf.loss.min()):.4f} .. "
          f"{float(surf.loss.max()):.2f} on [-1, 1]^2")

    # PCA directions of each trajectory, with the projected path
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    for k, (name, model) in enumerate(solutions.items()):
        pcs = pca_directions(paths[name])
        proj = project_trajectory(paths[name], pcs.d1, pcs.d2, pcs.origin,
                                  explained_variance_ratio=pcs.explained_variance_ratio)
        lo, hi = proj.coords.min(0).values, proj.coords.max(0).values
        pad = 0.2 * (hi - lo)
        a = torch.linspace(float(lo[0] - pad[0]), float(hi[0] + pad[0]), 25)
        b = torch.linspace(float(lo[1] - pad[1]), float(hi[1] + pad[1]), 25)
        surf = surface_2d(model, LOSS, batch, pcs.d1, pcs.d2, a, b)
        plot_contour(surf, trajectories={name: proj}, ax=fig.add_subplot(1, 2, k + 1),
                     title="PCA directions")
        ratio = pcs.explained_variance_ratio
        print(f"{name:5s} PCA explained variance {float(ratio[0]):.3f} + {float(ratio[1]):.3f}; "
              f"max residual off the plane {float(proj.residual.max()):.3f} "
              f"(|theta_0 - theta_n| = {float((paths[name][0] - paths[name][-1]).norm()):.3f})")
    fig.savefig(out / "trajectories.png", dpi=120)

    # mode connectivity between two SGD solutions from different seeds (trained longer)
    end_a, end_b = (train(mlp(seed), OPTIMIZERS["SGD"], X, y, epochs=60) for seed in (0, 1))
    ts = torch.linspace(0, 1, 21)
    linear = linear_path(end_a, LOSS, batch, end_a, end_b, ts, accuracy=True)
    curve = train_bezier(end_a, LOSS, batch, end_a, end_b, steps=600,
                         optimizer=lambda ps: Adam(ps, lr=1e-2),
                         generator=torch.Generator().manual_seed(0))
    bezier = curve_path(end_a, LOSS, batch, curve, ts, accuracy=True)
    print(f"end points: train loss {float(linear.loss[0]):.4f} and {float(linear.loss[-1]):.4f}")
    for label, path in (("linear", linear), ("Bezier", bezier)):
        b_loss, b_err = loss_barrier(path), loss_barrier(path, metric="error")
        print(f"{label:6s} path: max loss {float(path.loss.max()):.4f}, loss barrier "
              f"{b_loss.height:.4f} at t={b_loss.t:.2f}, train-error barrier "
              f"{100 * b_err.height:.2f} points")
    ax = plot_connectivity({"linear": linear, "Bezier (trained)": bezier})
    ax.set_yscale("log")
    ax.set_title("two SGD solutions (seeds 0 and 1)", fontsize=9)
    ax.figure.savefig(out / "connectivity.png", dpi=120)

    # lottery tickets: IMP with rewinding to initialization, vs random reinitialization
    def train_ticket(model):
        train(model, OPTIMIZERS["Adam"], X, y, epochs=10)

    def test_accuracy(model):
        return accuracy(model, X_te, y_te)

    result = iterative_magnitude_pruning(mlp(0, hidden=16), train_ticket, test_accuracy,
                                         rounds=4, rate=0.4)
    # late rewinding (Frankle et al. 2020): rewind to the weights after 40 steps of dense training
    early = mlp(0, hidden=16)
    opt = OPTIMIZERS["Adam"](early.parameters())
    gen = torch.Generator().manual_seed(123)  # the first 40 steps of train_ticket's run
    perm = torch.randperm(len(X), generator=gen)
    for k in range(40):
        idx = perm[64 * (k % 20):64 * (k % 20) + 64]
        opt.zero_grad()
        LOSS(early(X[idx]), y[idx]).backward()
        opt.step()
    late = iterative_magnitude_pruning(mlp(0, hidden=16), train_ticket, test_accuracy,
                                       rounds=4, rate=0.4, rewind_to=early.state_dict())
    print("\nlottery tickets (64-16-10 MLP, Adam, 10 epochs per round, test accuracy)")
    print("round  sparsity  remaining  rewind to init  rewind to step 40  random reinit")
    for row, row_late, masks in zip(result.rounds, late.rounds, result.masks, strict=True):
        control = mlp(0, hidden=16)
        reinitialize(control, seed=1000 + row.round)
        handle = apply_masks(control, masks)
        train_ticket(control)
        handle.remove()
        print(f"{row.round:5d}  {row.sparsity:8.3f}  {row.remaining:9d}  {row.accuracy:14.4f}  "
              f"{row_late.accuracy:17.4f}  {test_accuracy(control):13.4f}")
    print(f"\nfigures in {out}/  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("ravine-runs/landscape_digits"))
    main(parser.parse_args().out)
