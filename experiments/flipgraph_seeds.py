"""Robustness of flip-graph walks: CPU time to a target rank over several seeds.

Per seed, ``--walkers`` walkers (one process each, sharing new best schemes; one walker runs in
this process) from the start ``improve --target`` uses (``--naive``: the naive scheme; with ``--set
symmetric=True`` the best symmetric scheme at hand), stopping at the target rank or once the
walkers together have used a budget of CPU seconds (process time, each walker its share: robust
to a shared machine). Every new best is verified exactly by ``search``; ``kill -TERM`` ends the
run, recording the current seed as stopped early. A best rank below every scheme under
``results/flipgraph/`` of its format and field is saved there. Writes
``results/ranks_seeds.json`` (one entry per format, field, config, walkers and seed, merged with
earlier runs) and prints one line per seed; ``experiments/ranks.py --table`` turns it into the
robustness table of ``results/ranks.md``.

    .venv/bin/python experiments/flipgraph_seeds.py --format 4x4x4 --field Z2 --target 47 \\
        --naive --walkers 2 --seeds 301,302,303 --cpu 1200 --label reporting
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.flipgraph import WalkConfig, search  # noqa: E402
from agents.flipgraph.starts import start_for, symmetric_start  # noqa: E402
from tensorgame import io, library  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"
KERNEL = "flip index by buckets (2026-12-02)"  # rows without it are from the kernel before


class Stopped(Exception):
    """SIGTERM arrived: end the current seed (a shared machine's deadline)."""


def _stop(number, frame):
    raise Stopped


def run_seed(shape, config: WalkConfig, seed: int, target: int, cpu_budget: float,
             naive: bool = False, walkers: int = 1) -> dict:
    """One seed: the walk's path of new best ranks (CPU s of all walkers, wall s, flips of the
    finder), the best rank and whether it reached ``target`` within ``cpu_budget`` CPU s."""
    if naive:
        start = library.naive(*shape)
    else:
        start = symmetric_start(shape[0]) if config.symmetric else start_for(shape, config.field)
    path, last = [], []
    t0 = time.monotonic()
    stopped = False
    signal.signal(signal.SIGTERM, _stop)
    try:
        found = search(start, config, float("inf"), walkers=walkers, seed=seed, stop_rank=target,
                       cpu_seconds=cpu_budget, on_progress=last.append,
                       on_found=lambda f: path.append(f))
    except Stopped:
        found, stopped = path, True
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    end = last[-1] if last else None
    best = found[-1].scheme if found else start
    return {"seed": seed, "start_rank": start.rank, "best_rank": best.rank,
            "reached": best.rank <= target,
            "cpu_s": round(end.cpu_seconds if end else 0.0, 2),
            "wall_s": round(time.monotonic() - t0, 2), "flips": end.flips if end else 0,
            "walkers": walkers, "stopped_early": stopped,
            "path": [{"rank": f.scheme.rank, "cpu_s": round(f.cpu_seconds, 2),
                      "wall_s": round(f.seconds, 2), "flips": f.flips} for f in found],
            "scheme": best if found else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", default="4x4x4")
    parser.add_argument("--field", default="Z2", choices=("Z2", "Z"))
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--seeds", required=True, help="comma-separated")
    parser.add_argument("--cpu", type=float, default=300.0, help="CPU seconds per seed")
    parser.add_argument("--naive", action="store_true", help="start from the naive scheme")
    parser.add_argument("--walkers", type=int, default=1, help="walker processes per seed")
    parser.add_argument("--label", default="", help="e.g. tuning or reporting")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a WalkConfig field, e.g. --set walk_length=5000000")
    args = parser.parse_args()
    shape = tuple(int(x) for x in args.format.split("x"))
    overrides = {}
    for item in args.set:
        name, value = item.split("=")
        kind = type(getattr(WalkConfig(), name))
        overrides[name] = value == "True" if kind is bool else kind(value)
    config = WalkConfig(field=args.field, **overrides)
    key = f"{args.format} {args.field} -> {args.target}"
    for seed in (int(s) for s in args.seeds.split(",")):
        row = run_seed(shape, config, seed, args.target, args.cpu, args.naive, args.walkers)
        scheme = row.pop("scheme")
        if scheme is not None and _beats_saved(scheme):
            scheme = dataclasses.replace(scheme, meta={
                **scheme.meta, "found_by": "experiments/flipgraph_seeds.py",
                "config": dataclasses.asdict(config), "walkers": args.walkers})
            name = f"{args.format}_rank{scheme.rank}_{scheme.field}.json"
            io.save(scheme, RESULTS / "flipgraph" / name)
        row.update(label=args.label, cpu_budget_s=args.cpu, config=dataclasses.asdict(config),
                   kernel=KERNEL, load=os.getloadavg()[0], date=time.strftime("%Y-%m-%d %H:%M"))
        print(json.dumps({k: v for k, v in row.items() if k not in ("path", "config")}),
              flush=True)
        _merge(RESULTS / "ranks_seeds.json", key, row)
        if row["stopped_early"]:
            break


def _beats_saved(f) -> bool:
    """Whether ``f`` has a lower rank than every scheme saved for its format and field."""
    key = "x".join(map(str, f.shape))
    saved = [int(p.name.split("_rank")[1].split("_")[0])
             for p in (RESULTS / "flipgraph").glob(f"{key}_rank*_{f.field}.json")]
    return f.rank < min(saved, default=f.rank + 1)


def _merge(out_file: Path, key: str, row: dict) -> None:
    """Add ``row`` under ``key`` (replacing a run of the same seed, config and walkers),
    re-reading the file first so that several runs in parallel keep each other's rows."""
    with open(Path(tempfile.gettempdir()) / f"{out_file.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(out_file.read_text()) if out_file.exists() else {}
        entry = data.setdefault(key, [])
        entry[:] = [r for r in entry
                    if not (r["seed"] == row["seed"] and r["config"] == row["config"]
                            and r.get("walkers", 1) == row["walkers"])]
        entry.append(row)
        tmp = out_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, out_file)


if __name__ == "__main__":
    main()
