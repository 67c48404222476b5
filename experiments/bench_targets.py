"""Best rank reached by self-play per target and seed within a wall-time budget, on this machine.

    .venv/bin/python experiments/bench_targets.py --seeds 81,82,83 --budget 3600 \
        [--targets "2,2,3:Z;2,3,3:Z;3,3,3:Z"] [--parallel 3] [--set FIELD=VALUE]

Each (target, seed) runs `tensorgame train` in a fresh process with an empty JAX compilation
cache: experiments/larger.py for rectangular targets (in their own basis, with rotations in the
leading square block, 80% of the games on random <2,2,2> blocks played as the <2,2,2> game
itself, ``block_as_game``), the cyclic-symmetric game of
experiments/symmetric.py for square ones, both with the settings of ``target_settings`` (the
completion after ``COMPLETION_MOVES`` moves, so every game is an algorithm, 1,500 demonstration
updates before self-play, the exact endgame up to the rank Jennrich's method can take, stop at
the best known rank) and any ``--set`` on top; ``--plain`` plays square targets like
rectangular ones; ``--orbits`` plays a target in the orbit game of an order-3 symmetry of it
(agents.presets ``ORBIT_SYMMETRIES``: moves are orbits of three terms). Older rows in
results/agent_targets.csv used
other settings: "full" those of commit d2b49eb (no completion, the naive move limit, only games
below the naive rank teaching the policy, half the rectangular games in a random basis, no
rotations), "completion" those of commit 821c223 (no block games, every game teaching the
policy), "blocks" / "ranked" and the labels of 2026-12-03 before "own-blocks" those without
``block_as_game``. ``--parallel N`` runs N processes side by side (each row records it: they
share the machine). A row is appended to results/agent_targets.csv (or ``--output``) as each
run ends, so a cut-off benchmark keeps its finished runs; curves go to
results/agent_targets_<run>.png and runs to runs/targets_<run>, <run> =
<label>_<target>_<field>_s<seed> (before the completion rows: without the label). Times count
from process start (imports and compilation included).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_rediscovery import append_rows, with_overrides  # a sibling script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.presets import ORBIT_SYMMETRIES  # noqa: E402

BEST_KNOWN = {"2,2,3": 11, "2,3,3": 15, "3,3,3": 23, "2,2,4": 14, "3,3,4": 29, "4,4,4": 47}
# Moves before the completion (0: the naive count): <2,2,3> and <2,3,3> 7, Strassen's in a
# <2,2,2> block (then the rest's 4 or 10 fibres make 11 or 17); <3,3,3> 7 of the symmetric
# game's 11 (orbits of three multiplications).
COMPLETION_MOVES = {"2,2,3": 7, "2,3,3": 7, "3,3,3": 7}
ORBIT_MOVES = {"2,3,3": 5}  # orbits before the completion: the best known rank's


def target_settings(target: str, plain: bool = False, orbits: bool = False
                    ) -> tuple[str, list[str]]:
    """The config file and ``field=value`` settings a target is benchmarked with (``plain``: a
    square target too in the plain game with block games, as a rectangular one; ``orbits``: the
    orbit game of its symmetry in agents.presets ``ORBIT_SYMMETRIES``)."""
    n, m, p = (int(x) for x in target.split(","))
    modes = sorted((n * m, m * p, p * n))
    settings = ["pretrain_steps=1500",
                f"endgame={modes[1]}",  # Jennrich: two factor matrices of full column rank
                f"stop_at_rank={BEST_KNOWN.get(target, 0)}",
                # Every game is an algorithm: after max_moves moves the completion plays the
                # schoolbook rest (one term per fibre).
                "completion=1"]
    if orbits:
        if (n, m, p) not in ORBIT_SYMMETRIES:
            raise SystemExit(f"--orbits: no symmetry of <{target}> in agents.presets")
        return str(ROOT / "experiments" / "larger.py"), settings + [
            f"symmetry={ORBIT_SYMMETRIES[n, m, p]}", f"max_moves={ORBIT_MOVES[target]}",
            "basis_change_prob=0.0", f"policy_below={n * m * p}"]
    settings.append(f"max_moves={COMPLETION_MOVES.get(target, 0)}")
    if n == m == p and not plain:
        return str(ROOT / "experiments" / "symmetric.py"), settings + [
            "games=64", "policy_below=0"]  # every game teaches the policy
    return str(ROOT / "experiments" / "larger.py"), settings + [
        "basis_change_prob=0.0", "rotations=0.5",  # orbits of the leading square block
        # Most games on a random <2,2,2> block, played as <2,2,2> itself (its own layout and
        # sizes), which teach the policy only below its naive rank 8 (Strassen's seven); the
        # games on the target only below n*m*p.
        "block_games=0.8", "block_size=2", "block_as_game=1", f"policy_below={n * m * p}"]


def run_one(target: str, field: str, seed: int, budget: float, config: str, label: str,
            parallel: int, tuning: bool) -> dict:
    """One training run from a fresh process with an empty compilation cache (``tuning``: its
    best algorithms are not copied to results/agent, no plot to results/)."""
    name = f"{label}_{target.replace(',', 'x')}_{field}_s{seed}"
    out = ROOT / "runs" / f"targets_{name}"
    command = [sys.executable, "-m", "tensorgame", "train", "--target", target, "--field", field,
               "--seed", str(seed), "--config", config, "--out", str(out), "--seconds",
               str(budget), "--quiet"] + (["--results", "none"] if tuning else [])
    env = {"TENSORGAME_JAX_CACHE": tempfile.mkdtemp(prefix="tg_cache_")}
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env},
                               stdout=subprocess.PIPE, text=True)
    best, best_at, batches, games = None, None, 0, 0
    for line in process.stdout:
        elapsed = time.perf_counter() - start
        print(f"  [{name} {elapsed:7.1f}s] {line.rstrip()}", flush=True)
        if line.startswith("found a rank-"):
            best, best_at = int(line.split("rank-", 1)[1].split()[0]), round(elapsed, 1)
    process.wait()
    metrics = out / "metrics.jsonl"
    lines = metrics.read_text().splitlines() if metrics.exists() else []
    if lines:
        batches, games = len(lines), json.loads(lines[-1])["games"]
    if lines and not tuning:
        subprocess.run([sys.executable, "-m", "tensorgame", "plot", str(out), "--output",
                        str(ROOT / "results" / f"agent_targets_{name}.png")], cwd=ROOT,
                       check=False)
    return {"label": label, "target": target, "field": field, "seed": seed,
            "best_known": BEST_KNOWN.get(target, ""), "best_rank": best if best else "",
            "seconds_to_best": best_at if best else "", "batches": batches, "games": games,
            "budget_s": budget, "side_by_side": parallel, "exit": process.returncode,
            "commit": _commit()}


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                          capture_output=True)
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", default="2,2,3:Z;2,3,3:Z;3,3,3:Z")
    parser.add_argument("--seeds", default="81,82,83")
    parser.add_argument("--budget", type=float, default=3600)
    parser.add_argument("--parallel", type=int, default=1, help="runs side by side")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a config field on top of the target's settings")
    parser.add_argument("--label", default="full")
    parser.add_argument("--plain", action="store_true",
                        help="square targets in the plain game with <2,2,2> block games too")
    parser.add_argument("--orbits", action="store_true",
                        help="targets in the orbit game of their symmetry (agents.presets)")
    parser.add_argument("--tuning", action="store_true",
                        help="keep results/ untouched but for --output (tuning seeds)")
    parser.add_argument("--output", default=str(ROOT / "results" / "agent_targets.csv"))
    args = parser.parse_args()
    runs = [(target, field, int(seed)) for target, field in
            (item.split(":") for item in args.targets.split(";"))
            for seed in args.seeds.split(",")]
    lock, rows = threading.Lock(), []

    def run(job: tuple[str, str, int]) -> None:
        target, field, seed = job
        config_file, settings = target_settings(target, args.plain, args.orbits)
        config = with_overrides(config_file, settings + args.set)
        row = run_one(target, field, seed, args.budget, config, args.label, args.parallel,
                      args.tuning)
        print(row, flush=True)
        with lock:
            rows.append(row)
            append_rows(Path(args.output), [row])

    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        list(pool.map(run, runs))
    for target, field in {(t, f) for t, f, _ in runs}:
        ranks = [r["best_rank"] or float("inf") for r in rows
                 if (r["target"], r["field"]) == (target, field)]
        print(f"<{target}> over {field}: best ranks {ranks}, median {statistics.median(ranks)}")


if __name__ == "__main__":
    main()
