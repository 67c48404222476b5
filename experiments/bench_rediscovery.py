"""Rediscovery benchmark: wall time until self-play from a random network finds a rank-7
<2,2,2> algorithm over Z (Strassen's rank), per seed, from process start (compilation included).

    .venv/bin/python experiments/bench_rediscovery.py [--seeds 0,1,2] [--budget 900] [--warm]
    .venv/bin/python experiments/bench_rediscovery.py --set updates_per_batch=0 \
        --set pretrain_steps=0 --label no-learning      # an ablation: config fields overridden

Each seed runs `tensorgame train --target 2,2,2 --config experiments/strassen_symmetric.py` (or
``--config``; ``--config default`` runs with no config file, as a new user's first command does:
the built-in preset of agents/presets.py; with ``--set`` changes, the defaults of agents.config)
in a fresh process with an empty JAX compilation cache (``--warm`` reuses one cache
across seeds, as a second run on the same machine would). Writes results/agent_rediscovery.csv
(or ``--output``) and the runs' curves (results/agent_rediscovery_s<seed>.png); runs go to
runs/rediscovery_s<seed>.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def with_overrides(config: str, settings: list[str]) -> str | None:
    """A config file: ``config`` ("default": none) with ``field=value`` settings (Python
    literals) on top; None for the defaults alone."""
    if not settings:
        return None if config == "default" else config
    base = ("{}" if config == "default" else
            f"runpy.run_path({str(Path(config).resolve())!r})['OVERRIDES']")
    lines = ["import runpy", f"OVERRIDES = dict({base})"]
    for setting in settings:
        name, value = setting.split("=", 1)
        lines.append(f"OVERRIDES[{name.strip()!r}] = {value.strip()}")
    path = Path(tempfile.mkdtemp(prefix="tg_config_")) / "config.py"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run_folder(label: str, seed: int) -> Path:
    return ROOT / "runs" / f"rediscovery_{label}_s{seed}"


def run_seed(seed: int, budget: float, cache: Path, config: str | None, label: str,
             replay: Path | None = None) -> dict:
    """One training run from a fresh process, in ``run_folder`` (``replay``: a scheme given to
    ``--replay``)."""
    out = run_folder(label, seed)
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "tensorgame", "train", "--target", "2,2,2", "--seed",
               str(seed), "--out", str(out), "--seconds", str(budget), "--quiet"]
    command += ["--config", config] if config else []
    command += ["--replay", str(replay)] if replay else []
    env = {**os.environ, "TENSORGAME_JAX_CACHE": str(cache)}
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    found_at, best = None, ""
    for line in process.stdout:
        print(f"  [seed {seed} {time.perf_counter() - start:6.1f}s] {line.rstrip()}", flush=True)
        if found_at is None and "found a rank-7 algorithm" in line:
            found_at = time.perf_counter() - start
        if "best rank" in line:  # the last line: after the final evaluation games too
            best = line.rsplit("best rank", 1)[1].split(";")[0].strip()
    process.wait()
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x]
    subprocess.run([sys.executable, "-m", "tensorgame", "plot", str(out), "--output",
                    str(ROOT / "results" / f"agent_rediscovery_{label}_s{seed}.png")], cwd=ROOT,
                   check=True)
    games = rows[-1]["games"] if rows else ""
    return {"label": label, "seed": seed, "found_rank7": found_at is not None,
            "seconds_to_rank7": round(found_at, 1) if found_at is not None else "",
            "best_rank": best, "batches": len(rows),
            "games": games,
            "training_seconds": rows[-1]["wall"] if rows else "",
            "budget_s": budget}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--budget", type=float, default=900)
    parser.add_argument("--warm", action="store_true", help="one compilation cache for all")
    parser.add_argument("--config", default="experiments/strassen_symmetric.py")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a config field (repeatable)")
    parser.add_argument("--label", default="full", help="names the runs and plots")
    parser.add_argument("--output", default=str(ROOT / "results" / "agent_rediscovery.csv"))
    args = parser.parse_args()
    config = with_overrides(args.config, args.set)
    rows = []
    shared = Path(tempfile.mkdtemp(prefix="tg_cache_"))
    for seed in (int(s) for s in args.seeds.split(",")):
        cache = shared if args.warm else Path(tempfile.mkdtemp(prefix="tg_cache_"))
        rows.append(run_seed(seed, args.budget, cache, config, args.label))
        print(rows[-1], flush=True)
    times = [r["seconds_to_rank7"] if r["found_rank7"] else float("inf") for r in rows]
    print(f"median seconds to rank 7: {statistics.median(times)}")
    append_rows(Path(args.output), rows)


def append_rows(output: Path, rows: list[dict]) -> None:
    """Append ``rows`` to a CSV (its header written when the file is new)."""
    new = not output.exists()
    with open(output, "a", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
