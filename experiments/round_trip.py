"""One round trip between the two searchers on <2,2,2> over Z: the agent -> the flip-graph
walker -> the agent.

    .venv/bin/python experiments/round_trip.py --seeds 61,62,63

Per seed: (1) the agent plays the plain game (`tensorgame train --target 2,2,2` with the defaults
of agents.config, not the built-in <2,2,2> preset) until its first solved game (rank 8: the
plain game does not reach 7) or ``--agent-budget`` seconds;
(2) `tensorgame improve` walks from that file (mod 2, stop at rank 7) and lifts the result to Z;
(3) the agent trains again from scratch with the lifted scheme given to `--replay`, and
(4), the ablation, without it, both for ``--budget`` seconds from a fresh process with an empty
compilation cache. Rows go to results/agent_round_trip.csv: what the walker returned, whether
and when each second run's self-play played a rank-7 game, and how many of the rank-7 schemes it
saved differ from the replayed one (up to the symmetries ``canonical`` removes).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rediscovery import ROOT, append_rows, run_folder, run_seed, with_overrides  # noqa: E402

from tensorgame import io  # noqa: E402
from tensorgame.factorization import same_terms  # noqa: E402


def agent_scheme(seed: int, budget: float, work: Path) -> Path:
    """The first scheme a plain-game run finds (default config; at most ``budget`` seconds)."""
    out = work / f"agent_s{seed}"
    config = with_overrides("default", ["stop_at_rank=8"])
    subprocess.run([sys.executable, "-m", "tensorgame", "train", "--target", "2,2,2", "--seed",
                    str(seed), "--out", str(out), "--seconds", str(budget), "--quiet",
                    "--results", "none", "--config", config], cwd=ROOT, check=True)
    found = sorted((out / "found").glob("*.json"), key=lambda p: io.load(p).rank)
    if not found:
        raise SystemExit(f"seed {seed}: the agent solved no game in {budget} s")
    return found[0]


def walker_scheme(start: Path, seed: int, budget: float, work: Path) -> tuple[Path | None, float]:
    """The rank-7 scheme over Z the walker reaches from ``start`` (None if it does not), and the
    seconds it took."""
    out = work / f"walk_s{seed}"
    begin = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tensorgame", "improve", str(start), "--field", "Z2",
                    "--stop-rank", "7", "--seconds", str(budget), "--seed", str(seed), "--out",
                    str(out)], cwd=ROOT, check=True)
    lifted = out / "2x2x2_rank7_Z.json"
    return (lifted if lifted.exists() else None), time.perf_counter() - begin


def new_rank7_schemes(run: Path, replayed: Path | None) -> int:
    """Rank-7 schemes a run saved that are not the replayed one (all of them without replay)."""
    known = io.load(replayed) if replayed else None
    found = [f for f in map(io.load, (run / "found").glob("*.json")) if f.rank == 7]
    return sum(known is None or not same_terms(f, known) for f in found)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="61,62,63")
    parser.add_argument("--agent-budget", type=float, default=600)
    parser.add_argument("--walk-budget", type=float, default=30)
    parser.add_argument("--budget", type=float, default=120, help="each second agent run (s)")
    parser.add_argument("--output", default=str(ROOT / "results" / "agent_round_trip.csv"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tg_round_trip_"))
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        start = agent_scheme(seed, args.agent_budget, work)
        lifted, walk_s = walker_scheme(start, seed, args.walk_budget, work)
        trip = {"seed": seed, "agent_rank": io.load(start).rank,
                "walker_rank_Z": 7 if lifted else "not reached", "walker_s": round(walk_s, 1)}
        runs = [("replay-walker", lifted)] if lifted else []
        for label, replay in runs + [("no-replay", None)]:
            cache = Path(tempfile.mkdtemp(prefix="tg_cache_"))
            name = f"round-trip-{label}"
            row = run_seed(seed, args.budget, cache, None, name, replay)
            rows.append({**trip, **row,
                         "new_rank7_schemes": new_rank7_schemes(run_folder(name, seed), replay)})
            print(rows[-1], flush=True)
            shutil.rmtree(cache, ignore_errors=True)
    append_rows(Path(args.output), rows)


if __name__ == "__main__":
    main()
