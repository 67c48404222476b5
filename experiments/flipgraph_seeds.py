"""Robustness of flip-graph walks: CPU time to a target rank over several seeds.

One walker (one thread) per seed from the naive scheme, stopping at the target rank or after a
budget of CPU seconds (process time, robust to a shared machine). Every new best is verified by
``search._checked``. Writes ``results/ranks_seeds.json`` (one entry per format, field, config and
seed, merged with earlier runs) and prints one line per seed.

    .venv/bin/python experiments/flipgraph_seeds.py --format 4x4x4 --field Z2 --target 47 \\
        --seeds 101,102,103 --cpu 300 --label reporting
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.flipgraph import WalkConfig, Walker  # noqa: E402
from agents.flipgraph.search import _checked  # noqa: E402
from agents.flipgraph.starts import start_for  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"


def run_seed(shape, config: WalkConfig, seed: int, target: int, cpu_budget: float) -> dict:
    start = start_for(shape, config.field)
    walker = Walker(start, config, seed)
    c0, t0 = time.process_time(), time.monotonic()
    path = []
    while walker.best_rank > target and time.process_time() - c0 < cpu_budget:
        better = walker.step()
        if better is not None:
            _checked(better, {"seed": seed})  # exact verification of every new best
            path.append({"rank": better.rank, "cpu_s": round(time.process_time() - c0, 2),
                         "wall_s": round(time.monotonic() - t0, 2), "flips": walker.flips})
    return {"seed": seed, "start_rank": start.rank, "best_rank": walker.best_rank,
            "reached": walker.best_rank <= target, "cpu_s": round(time.process_time() - c0, 2),
            "wall_s": round(time.monotonic() - t0, 2), "flips": walker.flips,
            "resets": walker.resets, "path": path}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", default="4x4x4")
    parser.add_argument("--field", default="Z2", choices=("Z2", "Z"))
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--seeds", required=True, help="comma-separated")
    parser.add_argument("--cpu", type=float, default=300.0, help="CPU seconds per seed")
    parser.add_argument("--label", default="", help="e.g. tuning or reporting")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a WalkConfig field, e.g. --set walk_length=5000000")
    args = parser.parse_args()
    shape = tuple(int(x) for x in args.format.split("x"))
    overrides = {}
    for item in args.set:
        name, value = item.split("=")
        overrides[name] = type(getattr(WalkConfig(), name))(value)
    config = WalkConfig(field=args.field, **overrides)
    out_file = RESULTS / "ranks_seeds.json"
    data = json.loads(out_file.read_text()) if out_file.exists() else {}
    key = f"{args.format} {args.field} -> {args.target}"
    for seed in (int(s) for s in args.seeds.split(",")):
        row = run_seed(shape, config, seed, args.target, args.cpu)
        row.update(label=args.label, cpu_budget_s=args.cpu, config=dataclasses.asdict(config),
                   load=os.getloadavg()[0], date=time.strftime("%Y-%m-%d %H:%M"))
        print(json.dumps({k: v for k, v in row.items() if k not in ("path", "config")}),
              flush=True)
        entry = data.setdefault(key, [])
        entry[:] = [r for r in entry if not (r["seed"] == seed and r["config"] == row["config"])]
        entry.append(row)
        tmp = out_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, out_file)


if __name__ == "__main__":
    main()
