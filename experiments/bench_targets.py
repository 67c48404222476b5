"""Best rank reached by self-play per target within a wall-time budget, on this machine.

    .venv/bin/python experiments/bench_targets.py [--budget 300] [--targets 2,2,3:Z,...]

Runs `tensorgame train` per target (configs experiments/larger.py for 2x2x3 and 2x3x3, and the
cyclic-symmetric game of experiments/symmetric.py for the square 3x3x3 and 4x4x4 over Z2) and
records the best rank found and the training time at which it was found (from the saved
factorization's meta). Writes results/agent_targets.csv and per-run curves
results/agent_<target>.png; runs go to runs/bench_<target>.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BEST_KNOWN = {"2,2,3": 11, "2,3,3": 15, "3,3,3": 23, "4,4,4": 47}
CONFIGS = {"3,3,3:Z": "experiments/symmetric.py", "4,4,4:Z2": "experiments/symmetric.py"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=300)
    parser.add_argument("--targets", default="2,2,3:Z;2,3,3:Z;3,3,3:Z;4,4,4:Z2")
    parser.add_argument("--output", default=str(ROOT / "results" / "agent_targets.csv"))
    args = parser.parse_args()
    from tensorgame import io

    rows = []
    for item in args.targets.split(";"):
        target, field = item.split(":")
        name = target.replace(",", "x") + "_" + field
        out = ROOT / "runs" / f"bench_{name}"
        shutil.rmtree(out, ignore_errors=True)
        config = CONFIGS.get(item, "experiments/larger.py")
        command = [sys.executable, "-m", "tensorgame", "train", "--target", target, "--field",
                   field, "--config", config, "--out", str(out), "--seconds", str(args.budget),
                   "--quiet"]
        print(" ".join(command), flush=True)
        subprocess.run(command, cwd=ROOT, check=True)
        found = [io.load(p) for p in (out / "found").glob("*.json")]
        best = min(found, key=lambda f: (f.rank, f.meta["wall_time_s"])) if found else None
        metrics = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x]
        subprocess.run([sys.executable, "-m", "tensorgame", "plot", str(out), "--output",
                        str(ROOT / "results" / f"agent_{name}.png")], cwd=ROOT, check=True)
        rows.append({"target": target, "field": field, "config": config,
                     "best_known": BEST_KNOWN[target], "best_rank": best.rank if best else "",
                     "found_after_training_s": best.meta["wall_time_s"] if best else "",
                     "batches": len(metrics), "games": metrics[-1]["games"] if metrics else 0,
                     "budget_s": args.budget})
        print(rows[-1], flush=True)
    with open(args.output, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
