"""How likely a trained policy plays the orbits of the best known scheme in an orbit game.

    .venv/bin/python experiments/orbit_prior.py --run runs/targets_orbits_2x3x3_Z_s311 \
        [--samples 512] [--output results/agent_orbit_prior.csv]

Takes the network of a training run's last checkpoint in the orbit game (config field
``symmetry``; experiments/root_visits.py ``from_run``) and the bundled scheme of the target at
the best known rank, which must be made of whole orbits (for <2,3,3>: five, any three before the
endgame). At the start and after k = 1, 2 of the scheme's moves (in canonical order) it reports
the log-probability the policy gives each of the scheme's moves (teacher forcing), the median
and the largest log-probability of ``--samples`` moves drawn from the policy, and how many of
those drawn moves are the scheme's. The scheme serves only this measurement: the agent never
sees it. Appends one row per state to ``--output``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from bench_rediscovery import append_rows  # sibling scripts
from reachable import terms_of
from root_visits import from_run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.network import PolicyValueNet, masked_log_probs  # noqa: E402
from agents.search import features, observe  # noqa: E402
from tensorgame import game, library  # noqa: E402
from tensorgame.errors import TensorgameError  # noqa: E402
from tensorgame.tensors import matmul_tensor  # noqa: E402


def orbit_moves(shape: tuple[int, int, int], config: game.GameConfig) -> np.ndarray:
    """[R', 3, S]: the bundled best scheme's distinct canonical moves (its orbits), checked to
    sum to the target in the orbit game."""
    moves = np.unique([np.asarray(game.canonicalize(jnp.asarray(t), config))
                       for t in terms_of(library.get(*shape), config.size)], axis=0)
    total = sum(np.asarray(game.move_tensor(jnp.asarray(m), config)) for m in moves)
    if not np.array_equal(total, game.pad_target(matmul_tensor(*shape), config.size)[0]):
        raise TensorgameError("the bundled scheme is not made of whole orbits")
    return moves


def measure(setup, params, moves: np.ndarray, state: game.State, samples: int,
            key: jax.Array) -> dict:
    """One state's row: the scheme's moves' log-probabilities and the drawn moves'."""
    net, cfg, tokenizer = setup.net, setup.game, setup.net.spec.tokenizer
    obs = jax.tree.map(lambda x: x[None], observe(state, cfg))
    tokens = jnp.stack([tokenizer.encode(jnp.asarray(m)) for m in moves])[None]  # [1, R', L]
    _, logits = net.apply(params, *features(obs, cfg.max_moves), tokens)
    scheme_log_p = np.asarray(masked_log_probs(logits, obs.dims, tokens, tokenizer))[0]
    _, drawn, log_p, _ = net.apply(params, *features(obs, cfg.max_moves),
                                   tokenizer.fits(obs.dims), key, samples, 1.0,
                                   method=PolicyValueNet.evaluate)
    decoded = jax.vmap(lambda a: game.canonicalize(a, cfg))(tokenizer.decode(drawn)[0])
    hits = sum(any(np.array_equal(d, m) for m in moves) for d in np.asarray(decoded))
    return {"scheme_log_p": " ".join(f"{x:.1f}" for x in scheme_log_p),
            "scheme_log_p_max": round(float(scheme_log_p.max()), 2),
            "drawn_log_p_median": round(float(np.median(log_p)), 2),
            "drawn_log_p_max": round(float(np.max(log_p)), 2), "drawn": samples,
            "drawn_scheme_moves": int(hits)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--output", default=str(ROOT / "results" / "agent_orbit_prior.csv"))
    args = parser.parse_args()
    _, setup, params, iteration = from_run(args.run)
    if not setup.game.orbits:
        raise SystemExit(f"{args.run}: not a run of the orbit game")
    moves = orbit_moves(setup.shape, setup.game)
    state = game.init(jnp.asarray(game.pad_target(setup.target, setup.game.size)[0]),
                      jnp.asarray(setup.dims), setup.game)
    rows = []
    for played in range(3):
        row = {"run": args.run.name, "iterations": iteration, "scheme_moves_played": played,
               **measure(setup, params, moves, state, args.samples, jax.random.key(played))}
        print(row, flush=True)
        rows.append(row)
        state = game.step(state, jnp.asarray(moves[played]), setup.game)[0]
    append_rows(Path(args.output), rows)


if __name__ == "__main__":
    main()
