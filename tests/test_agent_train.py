"""Agent training end to end in subprocesses: play, learn, checkpoint, SIGKILL, resume; 4 devices."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tensorgame import io
from tensorgame.factorization import verify

ROOT = Path(__file__).resolve().parents[1]
TINY = ("OVERRIDES = dict(width=16, heads=2, torso_layers=1, decoder_layers=1, quantiles=4, "
        "samples=8, simulations=4, considered_actions=4, games=4, batch_size=16, "
        "updates_per_batch=2, checkpoint_every=2, eval_every=0, replay_size=512, "
        "solutions_kept=8, pretrain_steps=2)\n")


@pytest.fixture(scope="module")
def env():
    return {**os.environ, "JAX_PLATFORMS": "cpu"}  # the session's cache and flags: conftest.py


def _train(args, env, **kwargs):
    command = [sys.executable, "-m", "tensorgame", "train", "--target", "2,2,2", "--quiet",
               "--results", "none", *args]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def _metrics(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _checkpoint_steps(run: Path) -> list[int]:
    folder = run / "checkpoints"
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() \
        else []


def test_train_kill_resume_and_reproducible(tmp_path, env):
    config = tmp_path / "tiny.py"
    config.write_text(TINY)
    run = tmp_path / "run"
    process = _train(["--config", str(config), "--out", str(run), "--seed", "3",
                      "--iterations", "1000"], env)
    deadline = time.time() + 200
    while time.time() < deadline and not [s for s in _checkpoint_steps(run) if s >= 2]:
        assert process.poll() is None, process.communicate()
        time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved_step = max(_checkpoint_steps(run))
    assert saved_step >= 2
    before = _metrics(run)
    assert all(np.isfinite(m["loss"]) for m in before) and before[0]["games"] >= 4
    found_before = sorted(p.name for p in (run / "found").glob("*.json"))

    # The resume, a fresh run with the same seed and a resume with another seed run side by
    # side (all three find the programs in the compilation cache).
    again = tmp_path / "again"
    resumed = _train(["--config", str(config), "--out", str(run), "--seed", "3", "--resume",
                      "--iterations", str(saved_step + 2)], env)
    fresh = _train(["--config", str(config), "--out", str(again), "--seed", "3",
                    "--iterations", "2"], env)
    wrong = _train(["--config", str(config), "--out", str(run), "--seed", "4", "--resume"],
                   env)
    out, err = resumed.communicate(timeout=200)
    assert resumed.returncode == 0, err
    # One metrics line per iteration: lines written after the checkpoint (and before the kill)
    # are dropped on resume and redone, not duplicated.
    rows = _metrics(run)
    assert [m["iteration"] for m in rows] == list(range(1, saved_step + 3))
    assert rows[:saved_step] == before[:saved_step]
    assert max(_checkpoint_steps(run)) == saved_step + 2
    # Nothing saved before the kill is lost, and everything saved verifies.
    found_after = sorted(p.name for p in (run / "found").glob("*.json"))
    assert set(found_before) <= set(found_after)
    for name in found_after:
        assert verify(io.load(run / "found" / name)).valid

    # Same seed, fresh folder: the same first iterations, bit for bit.
    out, err = fresh.communicate(timeout=200)
    assert fresh.returncode == 0, err
    assert [m["loss"] for m in _metrics(again)] == [m["loss"] for m in before[:2]]

    # Resuming into a folder with another seed is a one-line error.
    out, err = wrong.communicate(timeout=100)
    assert wrong.returncode == 2 and err.strip().count("\n") == 0 and "seed" in err


FOUR_DEVICES = """
import jax, json, numpy as np, sys
from pathlib import Path
from agents.config import load_config
from agents.setup import make_setup
from agents.solutions import scheme_moves
from agents.train import Trainer
from tensorgame import game, io
assert len(jax.devices()) == 4
setup = make_setup((2, 2, 2), "Z", load_config(sys.argv[1]), seed=0)
strassen = scheme_moves(io.load("results/agent/2x2x2_rank7_Z.json"), (2, 2, 2), "Z", setup.game)
trainer = Trainer(setup, Path(sys.argv[2]), None, replay=[("strassen", strassen)])
metrics = [trainer.iterate() for _ in range(3)]
# The replayed rank-7 scheme is in the solution store, alone, after three training batches.
assert trainer.solutions.rank() == 7 and trainer.solutions.valid.sum() == 1
assert json.loads((Path(sys.argv[2]) / "run.json").read_text())["replayed"] == ["strassen"]
assert all(np.isfinite(m["loss"]) for m in metrics), metrics
state = trainer.state
assert len(state["actors"].states.residual.sharding.device_set) == 4
assert len(state["replay"].counts.sharding.device_set) == 4
# Every game slot holds a legal game: its residual is its target minus its moves.
actors = jax.tree.map(np.asarray, state["actors"])
for b in range(len(actors.targets)):
    count = actors.states.move_count[b]
    moves = actors.states.moves[b][:count]
    one = jax.tree.map(lambda x: x[b], actors.states)
    assert all(bool(game.is_legal(m, one, setup.game)) for m in moves)
    rebuilt = actors.targets[b] - np.einsum("ri,rj,rk->ijk", moves[:, 0], moves[:, 1], moves[:, 2])
    assert np.array_equal(rebuilt, actors.states.residual[b])
replay = jax.tree.map(np.asarray, state["replay"])
assert replay.added.shape == (4,) and replay.added.sum() == metrics[-1]["games"] > 0
print("ok", metrics[-1]["loss"])
"""


def test_four_device_training(tmp_path, env):
    config = tmp_path / "tiny.py"
    config.write_text(TINY.replace("games=4", "games=8"))
    script = tmp_path / "four.py"
    script.write_text(FOUR_DEVICES)
    result = subprocess.run(
        [sys.executable, str(script), str(config), str(tmp_path / "run")], cwd=ROOT,
        env={**env, "XLA_FLAGS": env.get("XLA_FLAGS", "") +
             " --xla_force_host_platform_device_count=4",
             "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")


def test_bad_config_is_one_line(tmp_path, env):
    config = tmp_path / "bad.py"
    config.write_text("OVERRIDES = {'simulations': -1}\n")
    result = subprocess.run([sys.executable, "-m", "tensorgame", "train", "--target", "2,2,2",
                             "--config", str(config), "--out", str(tmp_path / "r")], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=100)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"tensorgame train: error: {config}: config field "
                                     "simulations must lie in [1, 10000], got -1")


def test_replay_of_another_target_is_one_line(tmp_path, env):
    scheme = "results/agent/2x2x2_rank7_Z.json"
    result = subprocess.run([sys.executable, "-m", "tensorgame", "train", "--target", "2,2,3",
                             "--replay", scheme, "--out", str(tmp_path / "r")], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=100)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"tensorgame train: error: --replay {scheme}: a scheme of "
                                     "<2,2,2> over Z cannot be replayed in the game of <2,2,3>")
    assert not (tmp_path / "r").exists()


def test_gpu_check_quick_runs_on_the_cpu(tmp_path, env):
    """experiments/gpu_check.py --quick: the accelerator script's code paths, on the CPU."""
    output = tmp_path / "gpu.md"
    result = subprocess.run([sys.executable, "experiments/gpu_check.py", "--quick", "--output",
                             str(output)], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    text = output.read_text()
    assert "| 2x2x2 | Z | 8 |" in text and "## Short training runs" in text
    row = [line for line in text.splitlines() if line.startswith("| 2x2x2 | Z | 1 |")]
    assert row, text  # one training iteration was run and reported


def test_checkpoint_of_other_shapes_is_one_line(tmp_path):
    """A checkpoint whose arrays do not fit the run (saved with another device count, say) is a
    one-line error before any process uses it (a multi-process resume would otherwise abort in
    the collectives)."""
    from agents.checkpoints import Checkpoints
    from tensorgame.errors import TensorgameError

    saved = {"replay": {"added": np.arange(2, dtype=np.int32)}, "cursor": np.array(3, np.int64)}
    Checkpoints(tmp_path / "checkpoints").save(2, saved, {"iteration": 2})
    checkpoints = Checkpoints(tmp_path / "checkpoints")
    tree, meta = checkpoints.restore(saved)
    assert meta == {"iteration": 2} and np.array_equal(tree["replay"]["added"], [0, 1])
    with pytest.raises(TensorgameError, match=r"\['replay'\]\['added'\] is int32\[2\] in the "
                       r"checkpoint, this run needs int32\[1\]") as error:
        checkpoints.restore({**saved, "replay": {"added": np.zeros(1, np.int32)}})
    assert "\n" not in str(error.value)
