"""Learning to learn on random quadratics, then the same LSTM on a digits MLP.

Meta-trains the paper's coordinatewise LSTM optimizer (2 layers of 20 units, log/sign gradient
preprocessing with p = 10) on 10-D quadratics ``||W x - y||^2`` (W, y standard normal; batches of
128; unrolls of 100 steps cut every 20; Adam on the meta-loss), then compares it, on held-out
quadratics, with Adam, RMSprop and SGD with momentum 0.9, each with the learning rate from a
grid that gives the smallest mean loss along the 100 steps on those same held-out problems (an
advantage for the baselines). It then applies the quadratic-trained LSTM, unchanged, to a
64-20-10 sigmoid MLP on scikit-learn's digits (minibatches of 128, 100 steps): the
generalization the paper found limited; an LSTM meta-trained on the MLP family itself is shown
for contrast. Prints the figures and writes a plot.

Run: ``python examples/learned_quadratics.py [--iterations 100] [--out learned_quadratics.png]``
(about two to four minutes on one CPU core).

Reference: Andrychowicz et al., "Learning to learn by gradient descent by gradient descent",
NeurIPS 2016.
"""

from __future__ import annotations

import argparse
import time

import torch

from ravine.learned import (
    CoordinatewiseLSTM,
    DigitsMLPFamily,
    LearnedOptimizer,
    QuadraticFamily,
    meta_train,
    optimizer_curves,
    save_network,
    tune_lr,
)
from ravine.optim import SGD, Adam, RMSprop

STEPS = 100
GRID = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0, 10.0]
BASELINES = {
    "Adam": lambda p, lr: Adam(p, lr=lr),
    "RMSprop": lambda p, lr: RMSprop(p, lr=lr),
    "SGD momentum 0.9": lambda p, lr: SGD(p, lr=lr, momentum=0.9),
}


def compare(problems, networks):
    """Curves (mean over problems) of each learned network and each tuned baseline."""
    rows = {}
    for name, net in networks.items():
        curves = optimizer_curves(problems, lambda p, lr, net=net: LearnedOptimizer(p, net),
                                  STEPS)
        rows[name] = (None, curves.mean(0))
    for name, factory in BASELINES.items():
        lr, curves = tune_lr(problems, factory, GRID, STEPS)
        rows[name] = (lr, curves.mean(0))
    return rows


def report(title, rows):
    print(f"\n{title}: mean loss after t steps (tuned lr in brackets); "
          "'along' = mean over t = 1..100 (the meta-loss)")
    print(f"  {'optimizer':<28} {'t=0':>8} {'t=10':>8} {'t=30':>8} {'t=100':>9} {'along':>8}")
    for name, (lr, curve) in rows.items():
        label = name if lr is None else f"{name} [{lr:g}]"
        c = curve.tolist()
        print(f"  {label:<28} {c[0]:8.4f} {c[10]:8.4f} {c[30]:8.4f} {c[100]:9.5f} "
              f"{float(curve[1:].mean()):8.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100, help="meta-iterations (quadratics)")
    parser.add_argument("--digits-iterations", type=int, default=40,
                        help="meta-iterations of the LSTM trained on the digits MLP family")
    parser.add_argument("--out", default="learned_quadratics.png", help="the plot")
    parser.add_argument("--save", default=None, help="write the quadratic-trained network here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    quadratics = QuadraticFamily(dim=10, batch=128)
    held_out = [quadratics.sample(torch.Generator().manual_seed(10_000 + i)) for i in range(2)]
    net = CoordinatewiseLSTM(hidden_size=20, num_layers=2)
    untrained = CoordinatewiseLSTM(hidden_size=20, num_layers=2)
    untrained.load_state_dict(net.state_dict())
    start = time.perf_counter()
    result = meta_train(net, quadratics, meta_iterations=args.iterations, unroll=STEPS,
                        truncation=20, meta_lr=1e-2, seed=0, validation=held_out,
                        validate_every=max(1, args.iterations // 5))
    print(f"meta-trained on quadratics: {args.iterations} iterations in "
          f"{time.perf_counter() - start:.0f} s; held-out meta-loss per step "
          + ", ".join(f"{v:.3f} (it {i})" for i, v in result.validation))
    if args.save:
        save_network(net, args.save)
    quad_rows = compare(held_out, {"LSTM (trained on quadratics)": net,
                                   "LSTM (untrained)": untrained})
    report("held-out 10-D quadratics (256)", quad_rows)

    digits = DigitsMLPFamily(hidden=20, batch_size=128)
    digits_net = CoordinatewiseLSTM(hidden_size=20, num_layers=2)
    start = time.perf_counter()
    meta_train(digits_net, digits, meta_iterations=args.digits_iterations, unroll=STEPS,
               truncation=20, meta_lr=1e-2, seed=1)
    print(f"\nmeta-trained on the digits MLP family: {args.digits_iterations} iterations in "
          f"{time.perf_counter() - start:.0f} s")
    mlps = [digits.sample(torch.Generator().manual_seed(20_000 + i)) for i in range(4)]
    mlp_rows = compare(mlps, {"LSTM (trained on quadratics)": net,
                              "LSTM (trained on digits MLP)": digits_net})
    report("digits MLP 64-20-10, minibatch cross-entropy (4 inits)", mlp_rows)
    plot(args.out, quad_rows, mlp_rows)
    print(f"\nwrote {args.out}")


def plot(path, quad_rows, mlp_rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, rows, title in ((axes[0], quad_rows, "held-out 10-D quadratics"),
                            (axes[1], mlp_rows, "digits MLP (minibatch loss)")):
        for name, (lr, curve) in rows.items():
            label = name if lr is None else f"{name} (lr {lr:g})"
            style = "-" if name.startswith("LSTM") else "--"
            ax.plot(curve.clamp(max=1e3).numpy(), style, label=label)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("mean loss")
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
