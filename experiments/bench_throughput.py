"""Self-play throughput (simulations/s, games/s) against the batch size, on this machine.

    .venv/bin/python experiments/bench_throughput.py [--batches 64,128,256,512] [--repeats 3]

Plays full <2,2,2> games (experiments/strassen.py network and search) with an untrained network;
times ``repeats`` batches after a warm-up (compile) batch and reports the median. Writes
results/agent_throughput.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", default="64,128,256,512")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--config", default=str(ROOT / "experiments" / "strassen.py"))
    parser.add_argument("--output", default=str(ROOT / "results" / "agent_throughput.csv"))
    args = parser.parse_args()

    import dataclasses

    import jax
    import jax.numpy as jnp
    import numpy as np

    from agents.config import load_config
    from agents.train import init_params, make_mesh, make_play_fn, make_setup
    from tensorgame import game

    base = load_config(args.config)
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        setup = make_setup((2, 2, 2), "Z", dataclasses.replace(base, games=batch), seed=0)
        mesh = make_mesh()
        play = make_play_fn(setup, mesh)
        params = init_params(setup, jax.random.key(0))
        target, dims = game.pad_target(setup.target, setup.game.size)
        targets = jnp.asarray(np.broadcast_to(target, (batch,) + target.shape))
        dims = jnp.asarray(np.broadcast_to(dims, (batch, 3)))
        start = time.perf_counter()
        jax.block_until_ready(play(params, jax.random.key(0), targets, dims, jnp.float32(1.0)))
        compile_s = time.perf_counter() - start
        times, sims = [], []
        for r in range(args.repeats):
            start = time.perf_counter()
            final, traj = jax.block_until_ready(
                play(params, jax.random.key(r + 1), targets, dims, jnp.float32(1.0)))
            times.append(time.perf_counter() - start)
            sims.append(int(np.asarray(traj.active).sum()) * setup.config.simulations)
        seconds = statistics.median(times)
        row = {"batch": batch, "simulations": setup.config.simulations,
               "samples": setup.config.samples, "seconds_per_batch": round(seconds, 3),
               "games_per_s": round(batch / seconds, 1),
               "simulations_per_s": round(statistics.median(sims) / seconds),
               "compile_s": round(compile_s, 1), "device": jax.devices()[0].device_kind,
               "cpus": os.cpu_count(), "host": platform.node()}
        print(row, flush=True)
        rows.append(row)
        output = Path(args.output)  # rewritten after every batch size: a stop keeps the rows
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(output, "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(row))
            writer.writeheader()
            writer.writerows(rows)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
