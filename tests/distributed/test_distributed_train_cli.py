"""``python -m ravine.distributed.train`` alone and under ``torchrun --nproc_per_node=2``.

One torchrun run (2 ranks, ZeRO, float64) trains 2 epochs and checkpoints; a single process
(this one: ``main`` is what ``python -m`` runs) resumes that checkpoint for a third epoch.
Both must follow the single-process run computed here in-process (the 2-rank global batches
are the single-process batches, see ``ShardedBatches``), and the 2-rank
checkpoint must load without ZeRO or DDP.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from ravine.distributed.train import main

TOL = 1e-10
COMMON = ["--optimizer", "adamw", "--dtype", "float64", "--batch-size", "64"]


def torchrun_command() -> list[str]:
    script = Path(sys.executable).with_name("torchrun")
    if script.exists():
        return [str(script)]
    found = shutil.which("torchrun")  # the console script of torch.distributed.run
    return [found] if found else [sys.executable, "-m", "torch.distributed.run"]


def run(command: list[str], cwd: Path) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def losses(text: str) -> list[str]:
    return re.findall(r"train_loss (\S+)", text)


def in_process(epochs: int, path: Path, capsys) -> tuple[dict, str]:
    assert main([*COMMON, "--epochs", str(epochs), "--save-params", str(path)]) == 0
    return torch.load(path, weights_only=True), capsys.readouterr().out


def max_deviation(a: dict, b: dict) -> float:
    assert sorted(a) == sorted(b)
    return max((a[k] - b[k]).abs().max().item() for k in a)


def test_torchrun_two_ranks_then_single_process_resume(tmp_path, capsys):
    checkpoint = tmp_path / "run.pt"
    out_two = run([*torchrun_command(), "--standalone", "--nproc_per_node=2", "-m",
                   "ravine.distributed.train", *COMMON, "--epochs", "2", "--zero",
                   "--checkpoint", str(checkpoint), "--save-params", str(tmp_path / "two.pt")],
                  tmp_path)
    assert "world_size=2, zero=True" in out_two and "(32 per rank)" in out_two
    assert out_two.count("epoch ") == 2, out_two  # printed by rank 0 only
    capsys.readouterr()
    assert main([*COMMON, "--epochs", "3", "--resume", "--checkpoint", str(checkpoint),
                 "--save-params", str(tmp_path / "three.pt")]) == 0
    out_resumed = capsys.readouterr().out
    assert "resumed from" in out_resumed and "world_size=1" in out_resumed
    assert "epoch 3/3" in out_resumed and "epoch 1/3" not in out_resumed

    ref_two, text_two = in_process(2, tmp_path / "ref_two.pt", capsys)
    ref_three, text_three = in_process(3, tmp_path / "ref_three.pt", capsys)
    assert max_deviation(torch.load(tmp_path / "two.pt", weights_only=True), ref_two) <= TOL
    assert max_deviation(torch.load(tmp_path / "three.pt", weights_only=True),
                         ref_three) <= TOL
    assert losses(out_two) == losses(text_two)
    assert losses(out_resumed) == losses(text_three)[2:]
    assert float(losses(text_three)[2]) < float(losses(text_three)[0])


def test_single_process_main_float32(capsys):
    assert main(["--optimizer", "lamb", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "lamb on load_digits: world_size=1, zero=False, float32" in out
    first, second = (float(v) for v in losses(out))
    assert second < first
