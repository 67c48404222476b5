"""Several hosts as the README runs them: the same `tensorgame train` in two processes on localhost
(jax.distributed, CPU collectives over gloo), one run folder written by process 0, a resume."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ("OVERRIDES = dict(width=16, heads=2, torso_layers=1, decoder_layers=1, quantiles=4, "
        "samples=8, simulations=4, considered_actions=4, games=4, batch_size=16, "
        "updates_per_batch=2, checkpoint_every=2, eval_every=0, replay_size=512, "
        "solutions_kept=8, pretrain_steps=2)\n")
TIMEOUT = 900  # a guard against a hang, not a time limit (a loaded 2-core CPU is slow)
pytestmark = pytest.mark.xdist_group("multihost")  # one worker runs first_run, once


@pytest.fixture(scope="module")
def env():
    return {**os.environ, "JAX_PLATFORMS": "cpu"}  # the session's cache and flags: conftest.py


def _command(config: Path, run: Path, iterations: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tensorgame", "train", "--target", "2,2,2", "--quiet",
            "--results", "none", "--seed", "5", "--config", str(config), "--out", str(run),
            "--iterations", str(iterations), *extra]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(command: list[str], env: dict) -> list[subprocess.Popen]:
    """Start ``command`` as processes 0 and 1 of one job."""
    port = _free_port()
    return [subprocess.Popen(
        command + ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
                   "--process-id", str(index)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for index in range(2)]


def _finish(processes: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    """(returncode, stdout, stderr) of each process."""
    try:
        outputs = [p.communicate(timeout=TIMEOUT) for p in processes]
        return [(p.returncode, *output) for p, output in zip(processes, outputs)]
    finally:
        for p in processes:
            p.kill()


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _checkpoint_steps(run: Path) -> list[int]:
    return sorted(int(p.name) for p in (run / "checkpoints").iterdir() if p.name.isdigit())


def _returncodes(results) -> list[int]:
    return [code for code, _, _ in results]


TIMING = {"wall", "play_s", "learn_s", "games_per_s", "simulations_per_s"}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, env):
    """Two processes train four iterations from a fresh start (checkpoints at 2 and 4); what
    they printed and wrote, read right after the run."""
    folder = tmp_path_factory.mktemp("multihost")
    config = folder / "tiny.py"
    config.write_text(TINY)
    run = folder / "run"
    results = _finish(_start(_command(config, run, 4), env))
    assert _returncodes(results) == [0, 0], [err[-3000:] for _, _, err in results]
    return {"config": config, "run": run, "results": results, "metrics": _metrics(run),
            "steps": _checkpoint_steps(run), "files": sorted(p.name for p in run.iterdir())}


def test_two_processes_train_as_one_job(first_run, env):
    """Fresh start: process 0 alone reports and writes the run folder; a second start without
    --resume fails in both processes with the same one-line error."""
    config, run, results = first_run["config"], first_run["run"], first_run["results"]
    assert "2 device(s)" in results[0][1]
    assert [line for line in results[1][1].splitlines() if not line.startswith("[Gloo]")] == []
    assert first_run["files"] == ["checkpoints", "found", "metrics.jsonl", "run.json"]
    assert json.loads((run / "run.json").read_text())["seed"] == 5
    rows = first_run["metrics"]
    assert [m["iteration"] for m in rows] == [1, 2, 3, 4] and rows[0]["games"] >= 4
    assert all(np.isfinite(m["loss"]) and m["simulations_per_s"] > 0 for m in rows)
    assert first_run["steps"] == [2, 4]

    again = _finish(_start(_command(config, run, 6), env))
    assert _returncodes(again) == [2, 2]
    for _, _, err in again:
        assert err.strip().splitlines()[-1].endswith("already holds a run: pass --resume or "
                                                     "another --out")


def test_two_processes_resume(first_run, env, tmp_path):
    """--resume with two processes after a stop past checkpoint 2 (checkpoint 4 removed, as if
    killed before it): both processes continue from batch 2 with the saved state, so batches 3
    and 4 are redone exactly (same losses, games, ranks), written once, and checkpointed."""
    run = tmp_path / "run"
    shutil.copytree(first_run["run"], run)
    shutil.rmtree(run / "checkpoints" / "4")
    results = _finish(_start(_command(first_run["config"], run, 4, "--resume"), env))
    assert _returncodes(results) == [0, 0], [err[-3000:] for _, _, err in results]
    assert "stopped after 4 batches" in results[0][1]
    rows, before = _metrics(run), first_run["metrics"]
    assert [m["iteration"] for m in rows] == [1, 2, 3, 4]
    assert rows[:2] == before[:2]
    assert [{k: v for k, v in m.items() if k not in TIMING} for m in rows[2:]] == \
        [{k: v for k, v in m.items() if k not in TIMING} for m in before[2:]]
    assert rows[2]["wall"] > rows[1]["wall"]  # the training time goes on from the checkpoint
    assert _checkpoint_steps(run) == [2, 4]


@pytest.mark.parametrize("flags,message", [
    (["--num-processes", "2"], "--coordinator, --num-processes and --process-id go together"),
    (["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"],
     "--coordinator must be HOST:PORT, got 'localhost'"),
    (["--coordinator", "h:1", "--num-processes", "0", "--process-id", "0"],
     "--num-processes must be at least 1"),
    (["--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"],
     "--process-id must lie in [0, 1], got 2"),
])
def test_bad_process_flags_are_one_line(flags, message, capsys):
    from tensorgame.cli import main

    assert main(["train", "--target", "2,2,2", *flags]) == 2
    assert capsys.readouterr().err == f"tensorgame train: error: {message}\n"
