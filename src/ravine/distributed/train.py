"""Train the ``load_digits`` MLP with any ravine optimizer, alone or data-parallel.

Single process::

    python -m ravine.distributed.train --optimizer adamw --epochs 2

Two processes on CPU (DDP with gloo; add ``--zero`` to shard the optimizer state)::

    torchrun --standalone --nproc_per_node=2 -m ravine.distributed.train --optimizer adamw

Every rank draws the same permutation per epoch and takes its share of each global batch
(:class:`~ravine.distributed.ShardedBatches`); DDP averages the gradients, so a 2-rank run
follows the single-process run with the same ``--batch-size`` (float64: to rounding). Rank 0
prints one line per epoch: mean training loss over the epoch (all ranks) and test accuracy.

References:
    Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel Training",
    VLDB 2020 (DDP); Rajbhandari et al., SC 2020 (ZeRO).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import TensorDataset

from .. import optim as ro
from .checkpoint import load_checkpoint, save_checkpoint
from .data import ShardedBatches
from .launch import init_from_env
from .replicas import assert_replicas_identical
from .sharding import zero_optimizer

__all__ = ["OPTIMIZERS", "digits_data", "digits_mlp", "main", "train"]

# name -> (class, hyperparameters for this problem; --lr overrides "lr")
OPTIMIZERS: dict[str, tuple[type, dict[str, Any]]] = {
    "sgd": (ro.SGD, {"lr": 0.05, "momentum": 0.9}),
    "adagrad": (ro.Adagrad, {"lr": 0.05}),
    "rmsprop": (ro.RMSprop, {"lr": 1e-3}),
    "adam": (ro.Adam, {"lr": 1e-2}),
    "adamw": (ro.AdamW, {"lr": 1e-2, "weight_decay": 1e-2}),
    "nadam": (ro.NAdam, {"lr": 1e-2}),
    "nadamw": (ro.NAdamW, {"lr": 1e-2}),
    "radam": (ro.RAdam, {"lr": 1e-2}),
    "adamax": (ro.Adamax, {"lr": 1e-2}),
    "lion": (ro.Lion, {"lr": 1e-3, "weight_decay": 0.1}),
    "lamb": (ro.LAMB, {"lr": 1e-2, "weight_decay": 1e-2}),
    "lars": (ro.LARS, {"lr": 1.0, "trust_coefficient": 0.02}),
}

TRAIN_SIZE = 1536  # of load_digits' 1797 samples; divisible by every power-of-two batch <= 512
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def digits_data(dtype: torch.dtype = torch.float32,
                seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """``load_digits`` (pixels / 16) split by a seeded permutation into 1536 train, 261 test."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x = torch.tensor(x / 16.0, dtype=dtype)[order]
    y = torch.tensor(y, dtype=torch.long)[order]
    return (TensorDataset(x[:TRAIN_SIZE], y[:TRAIN_SIZE]),
            TensorDataset(x[TRAIN_SIZE:], y[TRAIN_SIZE:]))


def digits_mlp(hidden: int = 64, dtype: torch.dtype = torch.float32,
               seed: int = 0) -> torch.nn.Module:
    """The MLP 64 -> hidden -> hidden -> 10 (tanh), initialized from ``seed``."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(64, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, hidden),
        torch.nn.Tanh(), torch.nn.Linear(hidden, 10)).to(dtype)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ravine.distributed.train",
        description="Train the load_digits MLP with a ravine optimizer (DDP under torchrun).")
    parser.add_argument("--optimizer", default="adamw", choices=sorted(OPTIMIZERS))
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: "
                        "a per-optimizer value for this problem)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch size")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--zero", action="store_true",
                        help="shard optimizer state over the ranks (ZeroRedundancyOptimizer)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--checkpoint", default=None,
                        help="save a checkpoint here after every epoch")
    parser.add_argument("--resume", action="store_true",
                        help="continue from --checkpoint (its epoch count and state)")
    parser.add_argument("--save-params", default=None,
                        help="rank 0 saves the final model state_dict here")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "hidden", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.lr is not None and not args.lr > 0:
        parser.error(f"--lr must be > 0, got {args.lr}")
    if args.resume and not args.checkpoint:
        parser.error("--resume needs --checkpoint PATH")
    return args


def _say(text: str) -> None:
    if not dist.is_initialized() or dist.get_rank() == 0:
        print(text, flush=True)


def train(args: argparse.Namespace) -> dict[str, float]:
    """Run the training described by ``args`` (see :func:`parse_args`); return final metrics."""
    distributed = dist.is_initialized()
    world = dist.get_world_size() if distributed else 1
    if args.zero and not distributed:
        raise ValueError("--zero shards optimizer state over ranks: run under torchrun")
    if args.batch_size % world:
        raise ValueError(f"Invalid --batch-size: {args.batch_size} (expected a multiple of "
                         f"the world size {world})")
    dtype = DTYPES[args.dtype]
    train_set, test_set = digits_data(dtype, seed=args.seed)
    batches = ShardedBatches(train_set, args.batch_size, seed=args.seed)
    model = digits_mlp(args.hidden, dtype, seed=args.seed)
    net = DistributedDataParallel(model) if distributed else model
    cls, hyper = OPTIMIZERS[args.optimizer]
    hyper = {**hyper, **({} if args.lr is None else {"lr": args.lr})}
    if args.zero:
        optimizer = zero_optimizer(net.parameters(), cls, **hyper)
    else:
        optimizer = cls(net.parameters(), **hyper)
    first_epoch = 0
    if args.resume:
        first_epoch = int(load_checkpoint(args.checkpoint, net, optimizer)["epoch"])
        _say(f"resumed from {args.checkpoint} after epoch {first_epoch}")
    _say(f"{args.optimizer} on load_digits: world_size={world}, zero={args.zero}, "
         f"{args.dtype}, global batch {args.batch_size} ({batches.batch_size} per rank), "
         f"{len(batches)} steps/epoch")
    metrics: dict[str, float] = {}
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(first_epoch, args.epochs):
        start = time.perf_counter()
        total = torch.zeros(2, dtype=torch.float64)  # sum of batch losses, batches
        for xb, yb in batches.epoch(epoch):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), yb)
            loss.backward()
            optimizer.step()
            total += torch.tensor([loss.item(), 1.0], dtype=torch.float64)
        if distributed:
            dist.all_reduce(total)
            assert_replicas_identical(model)
        with torch.no_grad():
            x_test, y_test = test_set.tensors
            accuracy = (model(x_test).argmax(1) == y_test).to(torch.float64).mean().item()
        metrics = {"epoch": epoch + 1, "train_loss": (total[0] / total[1]).item(),
                   "test_accuracy": accuracy}
        _say(f"epoch {epoch + 1}/{args.epochs}  train_loss {metrics['train_loss']:.4f}  "
             f"test_acc {accuracy:.4f}  ({time.perf_counter() - start:.2f} s)")
        if args.checkpoint:
            save_checkpoint(args.checkpoint, net, optimizer, extra={"epoch": epoch + 1})
    if args.save_params and (not distributed or dist.get_rank() == 0):
        torch.save(model.state_dict(), args.save_params)
    return metrics


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    distributed = init_from_env("gloo")
    try:
        train(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if distributed:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
