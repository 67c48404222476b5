"""Accelerator readiness: self-play throughput against the number of game slots and two short
training runs, written as a Markdown report.

    .venv/bin/python experiments/gpu_check.py                 # where JAX sees a GPU (<= 8 min)
    .venv/bin/python experiments/gpu_check.py --quick --output /tmp/gpu.md   # CPU smoke run

Throughput: the training self-play step (``experiments/bench_throughput.py``) on <2,2,2>
(experiments/fast.py) and on <3,3,3> in the symmetric game (experiments/symmetric.py) at
64..4,096 slots. Training: <3,3,3> over Z (symmetric game) and <4,4,4> over Z2 (symmetric game),
``--seconds`` each, seed 0, reporting iterations, games, simulations/s and the best rank.
``--quick`` shrinks everything (tiny network, 8 slots, one iteration) so the test suite runs it
on the CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUICK = dict(width=16, heads=2, torso_layers=1, decoder_layers=0, torso="mlp", quantiles=4,
             samples=4, simulations=2, considered_actions=2, batch_size=16, updates_per_batch=1,
             pretrain_steps=0, replay_size=256, eval_every=0, max_moves=4, history=1)


def throughput(shape, field, config, slots: int, repeats: int) -> dict:
    from agents.setup import make_setup
    from agents.train import make_mesh
    from experiments.bench_throughput import time_self_play

    setup = make_setup(shape, field, dataclasses.replace(config, games=slots), seed=0)
    timing = time_self_play(setup, make_mesh(), repeats)
    return {"slots": slots, "first_call_s": round(timing["first_call_s"], 1),
            "simulations_per_s": round(timing["simulations_per_s"])}


def train(shape, field, config, seconds: float, iterations: int | None) -> dict:
    from agents.setup import make_setup
    from agents.train import Trainer

    setup = make_setup(shape, field, config, seed=0)
    with tempfile.TemporaryDirectory() as out:
        begin = time.perf_counter()
        trainer = Trainer(setup, Path(out) / "run", None, log=lambda message: None)
        rows = []
        progress = trainer.run(seconds, rows.append, max_iterations=iterations)
    rates = [row["simulations_per_s"] for row in rows[1:]] or [rows[0]["simulations_per_s"]]
    return {"iterations": progress.iteration, "games": progress.games,
            "simulations_per_s": round(statistics.median(rates)),
            "best_rank": progress.best_rank or None,
            "wall_s": round(time.perf_counter() - begin, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--output", default=str(ROOT / "results" / "gpu.md"))
    args = parser.parse_args(argv)

    import jax

    from agents.config import load_config, make_config

    device = jax.devices()[0]
    if args.quick:
        small = make_config(QUICK)
        cases = [((2, 2, 2), "Z", small, [8])]
        runs = [((2, 2, 2), "Z", dataclasses.replace(small, games=8), 1)]
        repeats = 1
    else:
        fast = load_config(ROOT / "experiments" / "fast.py")
        symmetric = load_config(ROOT / "experiments" / "symmetric.py")
        slots = [64, 256, 1024, 4096]
        cases = [((2, 2, 2), "Z", fast, slots), ((3, 3, 3), "Z", symmetric, slots)]
        runs = [((3, 3, 3), "Z", dataclasses.replace(symmetric, games=1024), None),
                ((4, 4, 4), "Z2", dataclasses.replace(symmetric, games=512), None)]
        repeats = 3
    lines = [f"# Accelerator check ({'quick, ' if args.quick else ''}{device.platform}: "
             f"{device.device_kind}, {jax.device_count()} device(s))", "",
             "## Self-play throughput (training self-play step, untrained network)", "",
             "| target | field | slots | simulations/s | first call s |", "|---|---|---|---|---|"]
    for shape, field, config, slot_list in cases:
        for slots in slot_list:
            row = throughput(shape, field, config, slots, repeats)
            lines.append(f"| {'x'.join(map(str, shape))} | {field} | {slots} | "
                         f"{row['simulations_per_s']:,} | {row['first_call_s']} |")
            print(lines[-1], flush=True)
    lines += ["", f"## Short training runs (seed 0, {args.seconds:.0f} s each)", "",
              "| target | field | iterations | games | simulations/s | best rank | wall s |",
              "|---|---|---|---|---|---|---|"]
    for shape, field, config, iterations in runs:
        row = train(shape, field, config, args.seconds, iterations)
        lines.append(f"| {'x'.join(map(str, shape))} | {field} | {row['iterations']} | "
                     f"{row['games']} | {row['simulations_per_s']:,} | "
                     f"{row['best_rank'] or 'none'} | {row['wall_s']} |")
        print(lines[-1], flush=True)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
