"""Two-rank scenarios for the distributed tests: the workers and their single-process references.

Every scenario trains the same tiny float64 model on the same global batches (8 samples per
step, 4 per rank) and records the parameters after every step on rank 0; the tests compare them
with a single process stepping the unsharded optimizer on the whole batch. One spawn runs all
scenarios (starting processes is the expensive part on a shared 2-core machine).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.optim import ZeroRedundancyOptimizer
from torch.nn.parallel import DistributedDataParallel

import ravine.optim as ro
from ravine.distributed import (
    assert_replicas_identical,
    check_sharded_scope,
    free_port,
    gather_optimizer_state,
    load_checkpoint,
    process_group,
    replica_mismatches,
    save_checkpoint,
    zero_optimizer,
)
from ravine.optim import ChainOptimizer
from ravine.transforms import chain, clip_by_global_norm, scale_by_lr, scale_by_momentum

WORLD = 2
STEPS = 4
RESUME_AT = 2
GLOBAL_BATCH = 8
INF_STEP = 2  # the step at which the skip_nonfinite scenario plants an inf gradient


class ClipMomentum(ChainOptimizer):
    """SGD with momentum after group-global norm clipping (a chain that couples a group)."""

    def __init__(self, params, lr=0.1, momentum=0.9, max_norm=1.0, *, skip_nonfinite=False):
        super().__init__(params, chain(clip_by_global_norm(), scale_by_momentum(), scale_by_lr()),
                         skip_nonfinite=skip_nonfinite, lr=lr, momentum=momentum,
                         max_norm=max_norm, dampening=0.0, nesterov=False, weight_decay=0.0)


# name -> (optimizer class, hyperparameters, how the 2-rank run wraps it)
#   "ddp": the class as is; "zero": ZeroRedundancyOptimizer(optimizer_class=cls) directly;
#   "zero_helper": ravine.distributed.zero_optimizer (cross-rank clipping);
#   "zero_buckets": zero_optimizer(parameters_as_bucket_view=True) (params become bucket views)
SCENARIOS: dict[str, tuple[type, dict[str, Any], str]] = {
    "ddp_sgd_momentum": (ro.SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-3}, "ddp"),
    "ddp_adamw": (ro.AdamW, {"lr": 0.01, "weight_decay": 0.1}, "ddp"),
    "ddp_clip": (ClipMomentum, {"lr": 0.1, "max_norm": 0.05}, "ddp"),
    "zero_sgd_momentum": (ro.SGD, {"lr": 0.1, "momentum": 0.9}, "zero"),
    "zero_adamw": (ro.AdamW, {"lr": 0.01, "weight_decay": 0.1}, "zero"),
    "zero_adamw_bucket_view": (ro.AdamW, {"lr": 0.01, "weight_decay": 0.1}, "zero_buckets"),
    "zero_lamb": (ro.LAMB, {"lr": 0.02, "weight_decay": 1e-2}, "zero"),
    "zero_lars": (ro.LARS, {"lr": 1.0, "momentum": 0.9, "trust_coefficient": 0.02,
                            "weight_decay": 1e-4}, "zero"),
    "zero_clip_allreduce": (ClipMomentum, {"lr": 0.1, "max_norm": 0.05}, "zero_helper"),
    "zero_clip_raw": (ClipMomentum, {"lr": 0.1, "max_norm": 0.05}, "zero"),
    "zero_skip_nonfinite": (ClipMomentum, {"lr": 0.1, "max_norm": 0.05,
                                           "skip_nonfinite": True}, "zero_helper"),
}


def make_model(seed: int = 1) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.Tanh(),
                               torch.nn.Linear(6, 3)).double()


def scaled_groups(model: torch.nn.Module, hyper: dict) -> list[dict]:
    """Two groups, the second at half the learning rate.

    ZeRO's greedy partition gives rank 0 the first weight (30 elements) and rank 1 the other
    three tensors, so rank 0's shard of the second group is empty (the empty-shard path of the
    cross-rank clipping all_reduce).
    """
    first, second = model[0], model[2]
    return [{"params": [first.weight, first.bias]},
            {"params": [second.weight, second.bias], "lr": hyper["lr"] * 0.5}]


def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + step)
    x = torch.randn(GLOBAL_BATCH, 5, generator=g, dtype=torch.float64) * 3.0
    y = torch.randint(0, 3, (GLOBAL_BATCH,), generator=g)
    return x, y


def rank_batch(step: int, rank: int, world: int = WORLD):
    x, y = batch(step)
    share = GLOBAL_BATCH // world
    return x[rank * share:(rank + 1) * share], y[rank * share:(rank + 1) * share]


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    module = getattr(model, "module", model)
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def train_step(net, optimizer, x, y, step: int, plant_inf: bool = False) -> None:
    optimizer.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(net(x), y).backward()
    if plant_inf and step == INF_STEP:
        module = getattr(net, "module", net)
        module[0].weight.grad[0, 0] = float("inf")  # as after an all-reduce: on every rank
    optimizer.step()


# ---- single-process references ------------------------------------------------------------


def reference_optimizer(name: str, steps: range = range(STEPS)):
    """The single-process run: (parameters after each step, the optimizer at the end)."""
    cls, hyper, _ = SCENARIOS[name]
    model = make_model()
    optimizer = cls(scaled_groups(model, hyper), **hyper)
    history = []
    for step in steps:
        x, y = batch(step)
        train_step(model, optimizer, x, y, step, plant_inf=name == "zero_skip_nonfinite")
        history.append(snapshot(model))
    return history, optimizer


def reference_run(name: str, steps: range = range(STEPS)) -> list[dict[str, torch.Tensor]]:
    return reference_optimizer(name, steps)[0]


# ---- the 2-rank workers -------------------------------------------------------------------


def build(name: str, model_seed: int = 1):
    cls, hyper, kind = SCENARIOS[name]
    model = make_model(model_seed)
    net = DistributedDataParallel(model)
    groups = scaled_groups(model, hyper)
    if kind == "ddp":
        optimizer = cls(groups, **hyper)
    elif kind == "zero":
        optimizer = ZeroRedundancyOptimizer(groups, optimizer_class=cls, **hyper)
    else:
        optimizer = zero_optimizer(groups, cls, parameters_as_bucket_view=kind == "zero_buckets",
                                   **hyper)
    return model, net, optimizer


def run_scenario(name: str, rank: int) -> dict[str, Any]:
    model, net, optimizer = build(name)
    record: dict[str, Any] = {"history": []}
    if isinstance(optimizer, ZeroRedundancyOptimizer):
        local = sum(len(g["params"]) for g in optimizer.optim.param_groups)
        counts: list[Any] = [None] * WORLD
        dist.all_gather_object(counts, local)
        record["local_param_counts"] = counts
        try:
            check_sharded_scope(optimizer)
            record["scope_error"] = None
        except ValueError as err:
            record["scope_error"] = str(err)
    for step in range(STEPS):
        x, y = rank_batch(step, rank)
        train_step(net, optimizer, x, y, step, plant_inf=name == "zero_skip_nonfinite")
        assert_replicas_identical(model)  # raises on every rank if any parameter differs
        record["history"].append(snapshot(model))
    return record


def divergence_probe(rank: int) -> dict[int, list[str]]:
    """Rank 1 nudges one weight by one ulp: the replica check must name it."""
    model = make_model()
    if rank == 1:
        with torch.no_grad():
            w = model[2].weight
            w[0, 0] = torch.nextafter(w[0, 0], torch.tensor(float("inf"), dtype=w.dtype))
    return replica_mismatches(model)


def checkpoint_first_leg(rank: int, directory: Path) -> dict[str, Any]:
    """ZeRO AdamW: save after RESUME_AT steps, then go on to STEPS (the uninterrupted run)."""
    model, net, optimizer = build("zero_adamw")
    for step in range(STEPS):
        if step == RESUME_AT:
            save_checkpoint(directory / "zero_adamw.pt", net, optimizer, extra={"step": step})
        train_step(net, optimizer, *rank_batch(step, rank), step)
    return {"params": snapshot(model), "optimizer": gather_optimizer_state(optimizer)}


def checkpoint_second_leg(rank: int, directory: Path) -> dict[str, Any]:
    """A fresh run (other initial weights) resumed from the checkpoint, on to STEPS."""
    model, net, optimizer = build("zero_adamw", model_seed=7)
    start = load_checkpoint(directory / "zero_adamw.pt", net, optimizer)["step"]
    for step in range(start, STEPS):
        train_step(net, optimizer, *rank_batch(step, rank), step)
    return {"start": start, "params": snapshot(model),
            "optimizer": gather_optimizer_state(optimizer)}


def worker(rank: int, ports: tuple[int, int], directory: str) -> None:
    """All scenarios and the first checkpoint leg in one process group; then a second group
    with freshly built model and optimizer (other initial weights, reseeded RNG) resumes."""
    torch.set_num_threads(1)
    directory = Path(directory)
    with process_group(rank, WORLD, ports[0], timeout_s=60.0):
        results: dict[str, Any] = {name: run_scenario(name, rank) for name in SCENARIOS}
        results["checkpoint_first_leg"] = checkpoint_first_leg(rank, directory)
        results["divergence"] = divergence_probe(rank)
    torch.manual_seed(12345)
    with process_group(rank, WORLD, ports[1], timeout_s=60.0):
        results["checkpoint_second_leg"] = checkpoint_second_leg(rank, directory)
    if rank == 0:
        torch.save(results, directory / "results.pt")


def two_ports() -> tuple[int, int]:
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


def spawn(directory: Path, timeout_s: float = 240.0) -> dict[str, Any]:
    """Run ``worker`` on 2 spawned ranks; return rank 0's results."""
    context = mp.start_processes(worker, args=(two_ports(), str(directory)),
                                 nprocs=WORLD, join=False, start_method="spawn")
    deadline = time.monotonic() + timeout_s
    while not context.join(timeout=1.0):
        if time.monotonic() > deadline:
            for process in context.processes:
                if process.is_alive():
                    process.kill()
            raise TimeoutError(f"the 2-rank workers did not finish in {timeout_s} s")
    return load_results(directory)


def load_results(directory: Path) -> dict[str, Any]:
    return torch.load(directory / "results.pt", weights_only=False)
