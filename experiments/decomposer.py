"""How well a demonstration-trained network decomposes tensors in the plain <2,2,2> game.

    .venv/bin/python experiments/decomposer.py --seeds 11,12,13 [--pretrain 4000] \
        [--label L] [--set field=value ...]

Per seed: a random network trained by ``--pretrain`` demonstration-only updates of
experiments/strassen.py's learner (plus ``policy_below=8`` and the ``--set`` changes), then 512
games with its search (16 simulations, self-play exploration) from each of these starts, counting
the games that reach zero within the moves the start needs:

- T_{2,2,2} itself (rank 7: solved within 7 moves; the schoolbook needs 8);
- T minus 1 and minus 3 terms of a rank-7 scheme (rank 6 and 4 residuals: within 6 and 4 moves);
- random demonstration tensors of 2 and 4 terms (as the network was trained on: within 2 and 4).

The rank-7 schemes are every image of the bundled Strassen-rank scheme under the unimodular
changes of basis with entries in {-1, 0, 1} whose terms keep their coefficients in {-1, 0, 1}
(DESIGN.md section 1) and its cyclic shifts; they serve this measurement only (the agent never
sees them). Appends one row per seed to results/agent_decomposer.csv.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import runpy
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from agents import demos
from agents.compilation import enable_compilation_cache
from agents.config import make_config
from agents.setup import make_setup
from agents.train import make_mesh, make_play_fn
from bench_rediscovery import with_overrides  # sibling scripts
from root_visits import pretrained  # (experiments/ is on the path)
from tensorgame import game, library
from tensorgame.tensors import matmul_tensor

ROOT = Path(__file__).resolve().parents[1]
GAMES = 512


def unimodular_2x2() -> list[np.ndarray]:
    matrices = (np.array(m).reshape(2, 2) for m in itertools.product((-1, 0, 1), repeat=4))
    return [m for m in matrices if round(abs(np.linalg.det(m))) == 1]


def rank7_schemes() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every (u, v, w) [7, 4] image of the bundled rank-7 scheme under X, Y, Z in
    unimodular_2x2() that keeps its coefficients in {-1, 0, 1}, checked to sum to T."""
    u0, v0, w0 = (np.asarray(x).reshape(-1, 2, 2) for x in library.get(2, 2, 2).factors)
    target = matmul_tensor(2, 2, 2)
    inverse = {m.tobytes(): np.round(np.linalg.inv(m)).astype(int) for m in unimodular_2x2()}
    schemes = []
    for x, y, z in itertools.product(unimodular_2x2(), repeat=3):
        xi, yi, zi = (inverse[m.tobytes()] for m in (x, y, z))
        u = np.einsum("ab,rbc,cd->rad", x.T, u0, y.T).reshape(-1, 4)
        v = np.einsum("ab,rbc,cd->rad", yi.T, v0, z.T).reshape(-1, 4)
        w = np.einsum("ab,rbc,cd->rad", zi.T, w0, xi.T).reshape(-1, 4)
        if max(abs(u).max(), abs(v).max(), abs(w).max()) > 1:
            continue
        assert np.array_equal(np.einsum("ra,rb,rc->abc", u, v, w), target)
        schemes += [(u, v, w), (v, w, u), (w, u, v)]
    return schemes


def demonstration_tensors(setup, key: jax.Array, terms: int, games: int) -> np.ndarray:
    """[games, S, S, S]: each the sum of ``terms`` random demonstration moves of ``setup``'s
    game (``demos.random_terms``; key consumed)."""
    moves = jax.vmap(lambda k: demos.random_terms(
        k, jnp.asarray(setup.dims), terms, setup.game, setup.config.demo_zero_prob))(
        jax.random.split(key, games))
    return np.asarray(jax.vmap(lambda ts: jnp.sum(jax.vmap(
        lambda a: game.move_tensor(a, setup.game))(ts), 0))(moves))


def solved_share(final: game.State, moves: int) -> float:
    """The share of the ended games ``final`` [B] that reached zero within ``moves`` moves."""
    zero = ~np.asarray(final.residual).reshape(final.residual.shape[0], -1).any(axis=1)
    return float(np.mean(zero & (np.asarray(final.move_count) <= moves)))


def measure(overrides: dict, seed: int, steps: int) -> dict:
    begin = time.perf_counter()
    setup = make_setup((2, 2, 2), "Z", make_config(overrides), seed)
    params, metrics = pretrained(overrides, seed, steps)
    play = make_play_fn(setup, make_mesh())
    dims = jnp.tile(jnp.asarray(setup.dims)[None], (GAMES, 1))
    rng = np.random.default_rng(seed)
    schemes = rank7_schemes()
    target = np.asarray(matmul_tensor(2, 2, 2))

    def solved_within(targets: np.ndarray, moves: int) -> float:
        final, _ = play(params, jax.random.key(int(rng.integers(1 << 30))), jnp.asarray(targets),
                        dims, jnp.float32(1.0))
        return solved_share(final, moves)

    def minus_scheme_terms(k: int) -> np.ndarray:
        out = []
        for index in rng.integers(len(schemes), size=GAMES):
            u, v, w = schemes[index]
            pick = rng.permutation(7)[:k]
            out.append(target - np.einsum("ra,rb,rc->abc", u[pick], v[pick], w[pick]))
        return np.stack(out)

    row = {"policy_loss": round(metrics["policy_loss"], 3),
           "T_in_7": solved_within(np.tile(target[None], (GAMES, 1, 1, 1)), 7),
           "T_in_8": solved_within(np.tile(target[None], (GAMES, 1, 1, 1)), 8),
           "T_minus_1_in_6": solved_within(minus_scheme_terms(1), 6),
           "T_minus_3_in_4": solved_within(minus_scheme_terms(3), 4),
           "demo_2_in_2": solved_within(demonstration_tensors(
               setup, jax.random.key(seed + 12), 2, GAMES), 2),
           "demo_4_in_4": solved_within(demonstration_tensors(
               setup, jax.random.key(seed + 14), 4, GAMES), 4)}
    row["seconds"] = round(time.perf_counter() - begin, 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="11,12,13")
    parser.add_argument("--pretrain", type=int, default=4000)
    parser.add_argument("--label", default="strassen.py")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a config field changed (a Python literal)")
    parser.add_argument("--output", type=Path, default=ROOT / "results" / "agent_decomposer.csv")
    args = parser.parse_args()
    enable_compilation_cache()
    overrides = runpy.run_path(with_overrides(str(ROOT / "experiments" / "strassen.py"),
                                              ["policy_below=8", *args.set]))["OVERRIDES"]
    new_file = not args.output.exists()
    with open(args.output, "a", newline="") as out:
        writer = None
        for seed in (int(s) for s in args.seeds.split(",")):
            row = {"label": args.label, "seed": seed, "pretrain": args.pretrain,
                   **measure(overrides, seed, args.pretrain)}
            print(row, flush=True)
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(row))
                if new_file:
                    writer.writeheader()
            writer.writerow(row)
            out.flush()


if __name__ == "__main__":
    main()
