"""Does more demonstration training teach the network <2,3,3>'s rank-15 orbits?

    .venv/bin/python experiments/orbit_scaling.py --seeds 341,342,343 \
        [--schedule 0,1500,6000,24000] [--samples 512] [--games 256] \
        [--label L --set FIELD=VALUE ...]

The orbit game of <2,3,3> (experiments/bench_targets.py ``--orbits``: 5 orbit moves, the
completion, the endgame up to 6 terms) makes the bundled rank-15 scheme any three of its five
orbits followed by the endgame; self-play never found them because the policy gives them
e^-12 to e^-20 (experiments/orbit_prior.py). This asks whether that is a matter of training
compute: per seed, a random network of that config is trained by demonstration-only updates
(the synthetic demonstrations AlphaTensor learns from; no self-play), and after each cumulative
step count of ``--schedule`` it measures

- ``orbit_prior.measure`` at the start and after 1 and 2 of the scheme's orbits: the largest
  log-probability of a scheme orbit against the median and largest of ``--samples`` drawn moves,
  and how many drawn moves are scheme orbits;
- ``--games`` games with the search (self-play exploration) from T minus k random scheme orbits,
  k = 2, 1, 0 (1, 2 or 3 right moves before the endgame): the share that ends at rank
  <= 15 - 3k;
- a control on the training distribution: games from random demonstration tensors of three
  orbit moves, the share solved within three moves.

The scheme serves the measurement only: the network never sees it. Appends one row per (seed,
step count) to results/agent_orbit_scaling.csv.
"""

from __future__ import annotations

import argparse
import runpy
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from agents.compilation import enable_compilation_cache
from agents.train import make_mesh, make_play_fn
from bench_rediscovery import append_rows, with_overrides  # sibling scripts
from bench_targets import target_settings
from decomposer import demonstration_tensors, solved_share
from orbit_prior import measure as prior_row
from orbit_prior import orbit_moves
from root_visits import pretraining
from tensorgame import game

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (2, 3, 3)
RANK = 15


def orbit_game_overrides(changes: tuple[str, ...] = ()) -> dict:
    """experiments/bench_targets.py's config of <2,3,3> in the orbit game, with ``changes``
    ("field=value") on top, made as the benchmark makes it (``with_overrides``)."""
    config, settings = target_settings(",".join(map(str, SHAPE)), orbits=True)
    return runpy.run_path(with_overrides(config, [*settings, *changes]))["OVERRIDES"]


def minus_orbits(target: np.ndarray, orbit_tensors: np.ndarray, removed: int,
                 rng: np.random.Generator, games: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts [games, S, S, S], picks [games, removed]): ``target`` minus ``removed`` random
    distinct orbits (``orbit_tensors`` [R', S, S, S]) per game."""
    picks = np.stack([rng.permutation(len(orbit_tensors))[:removed] for _ in range(games)])
    return target[None] - orbit_tensors[picks].sum(1), picks


def measure(setup, play, params, moves: np.ndarray, games: int, samples: int,
            seed: int) -> dict:
    """One row: the prior at 0 / 1 / 2 scheme orbits played, the games (``play``: the run's
    make_play_fn) from T minus k scheme orbits and from demonstration tensors."""
    cfg = setup.game
    rng = np.random.default_rng(seed)
    key = jax.random.key(seed)
    target = game.pad_target(setup.target, cfg.size)[0]
    dims = jnp.tile(jnp.asarray(setup.dims)[None], (games, 1))
    orbit_tensors = np.stack([np.asarray(game.move_tensor(jnp.asarray(m), cfg)) for m in moves])

    row, state = {}, game.init(jnp.asarray(target), jnp.asarray(setup.dims), cfg)
    for played in range(3):
        prior = prior_row(setup, params, moves, state, samples, jax.random.fold_in(key, played))
        for name in ("scheme_log_p_max", "drawn_log_p_median", "drawn_log_p_max",
                     "drawn_scheme_moves"):
            row[f"{name}_{played}"] = prior[name]
        state = game.step(state, jnp.asarray(moves[played]), cfg)[0]

    def final(targets: np.ndarray, salt: int) -> game.State:
        return play(params, jax.random.fold_in(key, salt), jnp.asarray(targets), dims,
                    jnp.float32(1.0))[0]

    for removed in (2, 1, 0):
        starts, _ = minus_orbits(target, orbit_tensors, removed, rng, games)
        ranks = np.asarray(final(starts, 10 + removed).rank)
        row[f"rank{RANK - 3 * removed}_from_T_minus_{removed}"] = float(
            np.mean(ranks <= RANK - 3 * removed))
    ended = final(demonstration_tensors(setup, jax.random.fold_in(key, 20), 3, games), 30)
    row["demo_3_in_3"] = solved_share(ended, 3)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="341,342,343")
    parser.add_argument("--schedule", default="0,1500,6000,24000",
                        help="cumulative demonstration updates at which to measure")
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--games", type=int, default=256)
    parser.add_argument("--label", default="orbit game")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a config field changed (a Python literal), e.g. width=256")
    parser.add_argument("--output", type=Path,
                        default=ROOT / "results" / "agent_orbit_scaling.csv")
    args = parser.parse_args()
    schedule = [int(x) for x in args.schedule.split(",")]
    if schedule != sorted(schedule) or schedule[0] < 0:
        raise SystemExit("--schedule: increasing step counts from 0 up")
    enable_compilation_cache()
    overrides = orbit_game_overrides(args.set)
    for seed in (int(s) for s in args.seeds.split(",")):
        setup, advance = pretraining(overrides, seed, SHAPE)
        moves = orbit_moves(SHAPE, setup.game)
        play = make_play_fn(setup, make_mesh())
        done, trained_s = 0, 0.0
        for steps in schedule:
            begin = time.perf_counter()
            params, metrics = advance(steps - done)
            trained_s += time.perf_counter() - begin
            done = steps
            row = {"label": args.label, "seed": seed, "updates": steps,
                   "train_seconds": round(trained_s, 1),
                   "policy_loss": round(metrics["policy_loss"], 3),
                   **measure(setup, play, params, moves, args.games, args.samples, seed)}
            print(row, flush=True)
            append_rows(args.output, [row])


if __name__ == "__main__":
    main()
