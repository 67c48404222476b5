"""Self-play throughput (simulations/s) against the number of game slots, and a stage profile.

    .venv/bin/python experiments/bench_throughput.py --target 2,2,2 \
        --config experiments/strassen.py --batches 64,256,1024 --repeats 3
    .venv/bin/python experiments/bench_throughput.py --target 3,3,3 \
        --config experiments/symmetric.py --batches 64 --profile

Times the jitted self-play step of training (``agents.train.make_act_fn``: every slot plays
``moves_per_iteration`` moves with the search, ended games go to the device replay and restart)
with an untrained network: one compile call, then ``repeats`` timed calls; reports the median.
``--profile`` also times each stage of one node expansion and one learner update on the batch
(each jitted alone, best of 9 after a warm-up). ``--set FIELD=VALUE`` overrides a config field
(repeatable; the row's config names them). Appends rows to the CSV given by ``--output``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _best(f, *args, repeats: int = 9) -> float:
    """Best wall time of a jitted call (seconds) after one warm-up call."""
    import jax

    jax.block_until_ready(f(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(f(*args))
        times.append(time.perf_counter() - start)
    return min(times)


def profile(setup, mesh, batch: int) -> list[dict]:
    """Per-stage times (ms) for one node expansion of ``batch`` states and one learner
    update."""
    import jax
    import jax.numpy as jnp

    from agents import learner as learner_lib
    from agents import search as S
    from agents.network import PolicyValueNet
    from agents.setup import init_params
    from agents.solutions import SolutionStore
    from agents.train import make_learn_fn, make_start_fn
    from tensorgame import game

    net, spec, cfg = setup.net, setup.search, setup.game
    params = init_params(setup, jax.random.key(0))
    actors, replay = make_start_fn(setup, mesh)(jax.random.key(1))
    states = actors.states
    obs = jax.vmap(lambda s: S.observe(s, cfg))(states)
    fits = net.spec.tokenizer.fits(states.dims)
    moves = jax.jit(lambda p, s, k: S.expand(net, p, s, k, spec))(params, states,
                                                                  jax.random.key(2))[3]
    key = jax.random.key(3)
    stages = {
        "torso + value head": (lambda p, o: net.apply(
            p, *S.features(o, cfg.max_moves),
            method=lambda m, *a: m.value_head(m.torso(*a))), params, obs),
        "network call (torso, K samples)": (lambda p, o, k: net.apply(
            p, *S.features(o, cfg.max_moves), fits, k, spec.samples, spec.temperature,
            method=PolicyValueNet.evaluate), params, obs, key),
        "canonicalisation + legality": (lambda m, s: (
            jax.vmap(jax.vmap(lambda a: game.canonicalize(a, cfg)))(m),
            jax.vmap(lambda ms, s: jax.vmap(lambda a: game.is_legal(a, s, cfg))(ms))(m, s)),
            moves, states),
        "sampled prior (K x K duplicates)": (lambda m: S.sampled_prior(
            m, jnp.ones(m.shape[:2], bool), jnp.zeros(m.shape[:2]), jnp.zeros(m.shape[:2])),
            moves),
        "game step (batch)": (lambda s, m: game.step_batch(s, m, cfg), states, moves[:, 0]),
        "rank bound (when used)": (lambda s: jax.vmap(lambda r: game.rank_bound(r, cfg))(
            s.residual), states),
        "node expansion (all of the above)": (lambda p, s, k: S.expand(net, p, s, k, spec),
                                              params, states, key),
        f"search ({spec.simulations} simulations)": (lambda p, s, k: S.search(
            net, p, s, k, spec), params, states, key),
    }
    rows = [{"stage": name, "ms": round(1e3 * _best(jax.jit(f), *args), 3)}
            for name, (f, *args) in stages.items()]
    optimizer = learner_lib.make_optimizer(setup.config)
    learn = make_learn_fn(setup, mesh, optimizer)
    solutions = SolutionStore(setup.config.solutions_kept, cfg).arrays()
    state = [params, optimizer.init(params)]

    def one_update():
        state[0], state[1], metrics = learn(state[0], state[1], replay, solutions, key,
                                            jnp.int32(1), jnp.float32(1.0))
        return metrics

    rows.append({"stage": "learner update (one, batch_size examples)",
                 "ms": round(1e3 * _best(one_update), 3)})
    return rows


def time_self_play(setup, mesh, repeats: int) -> dict:
    """Time the training self-play step on ``setup``: the first call (compilation included) and
    the median of ``repeats`` calls after it, with an untrained network."""
    import jax
    import jax.numpy as jnp

    from agents.setup import init_params
    from agents.train import make_act_fn, make_start_fn

    act = make_act_fn(setup, mesh)
    params = init_params(setup, jax.random.key(0))
    actors, replay = make_start_fn(setup, mesh)(jax.random.key(1))
    times = []
    for r in range(repeats + 1):
        start = time.perf_counter()
        actors, replay, _ = jax.block_until_ready(
            act(params, actors, replay, jax.random.key(r + 2), jnp.float32(1.0)))
        times.append(time.perf_counter() - start)
    steps = setup.config.moves_per_iteration or setup.game.max_moves
    seconds = statistics.median(times[1:])
    return {"moves": steps, "first_call_s": times[0], "seconds_per_call": seconds,
            "simulations_per_s": setup.config.games * steps * setup.config.simulations / seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default="2,2,2")
    parser.add_argument("--field", default="Z")
    parser.add_argument("--batches", default="64,256,1024")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--config", default=str(ROOT / "experiments" / "strassen.py"))
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a config field (repeatable)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "results" / "agent_throughput.csv"))
    args = parser.parse_args()

    import jax

    from agents.config import load_config
    from agents.setup import make_setup
    from agents.train import make_mesh

    from bench_rediscovery import with_overrides  # a sibling script

    shape = tuple(int(x) for x in args.target.split(","))
    base = load_config(with_overrides(args.config, args.set))
    name = " ".join([Path(args.config).name, *args.set])
    output = Path(args.output)
    for batch in (int(b) for b in args.batches.split(",")):
        setup = make_setup(shape, args.field, dataclasses.replace(base, games=batch), seed=0)
        mesh = make_mesh()
        timing = time_self_play(setup, mesh, args.repeats)
        steps, seconds = timing["moves"], timing["seconds_per_call"]
        row = {"target": args.target, "field": args.field, "config": name,
               "games": batch, "moves": steps, "simulations": setup.config.simulations,
               "samples": setup.config.samples, "seconds_per_call": round(seconds, 3),
               "simulations_per_s": round(timing["simulations_per_s"]),
               "moves_per_s": round(batch * steps / seconds, 1),
               "first_call_s": round(timing["first_call_s"], 1),
               "device": jax.devices()[0].device_kind, "cpus": os.cpu_count()}
        print(row, flush=True)
        _append(output, row)
        if args.profile:
            for stage in profile(setup, mesh, batch):
                stage = {"target": args.target, "config": name,
                         "games": batch, **stage}
                print(stage, flush=True)
                _append(output.with_name(output.stem + "_profile.csv"), stage)
    print(f"wrote {output}")


def _append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with open(path, "a", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


if __name__ == "__main__":
    main()
