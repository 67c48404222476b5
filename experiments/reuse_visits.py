"""What sub-tree reuse adds to each move's search: root visits and tree depth, move by move.

    .venv/bin/python experiments/reuse_visits.py [--pretrain 1500] [--seed 100] [--games 256] \
        [--simulations 32]
    .venv/bin/python experiments/reuse_visits.py --run runs/rediscovery_reuse-puct32-reuse_s321

Takes the network of a training run's last checkpoint (``--run``) or trains one on synthetic
demonstrations only (``--pretrain`` updates of experiments/strassen_rotations.py's learner,
``--seed``), then plays ``--games`` self-play games of the plain <2,2,2> game (exploration on:
root noise, moves drawn in proportion to the visits) with PUCT, ``--simulations`` per move,
without and with sub-tree reuse (the same network and keys). Per move: the root's visits after
the search (with reuse the kept ones plus the new ones), the chosen child's visits (what the
next move keeps), the deepest node below the root, and the share of the visits on the most
visited move; means over the games still running. Appends to results/agent_root_visits.md.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from agents import reuse
from agents.config import make_config
from agents.search import no_trees, search_reusing
from agents.setup import make_setup
from root_visits import network  # a sibling script
from tensorgame import game

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("root visits", "chosen child's visits", "deepest node", "top share")


def depths(parents: jax.Array) -> jax.Array:
    """[B, N] parent indices (a node after its parent; -1: root or unused) -> [B, N] depths."""
    rows = jnp.arange(parents.shape[0])

    def one(i, depth):
        parent = parents[:, i]
        return depth.at[:, i].set(jnp.where(parent >= 0, depth[rows, jnp.maximum(parent, 0)] + 1,
                                            0))

    return jax.lax.fori_loop(1, parents.shape[1], one, jnp.zeros_like(parents))


def measure(overrides: dict, params, games: int, seed: int) -> list[dict]:
    """Per move of ``games`` self-play games: the means of ``COLUMNS`` over running games."""
    setup = make_setup((2, 2, 2), "Z", make_config(overrides), seed)
    config, spec, net = setup.game, setup.search, setup.net
    target, dims = (jnp.asarray(x) for x in game.pad_target(setup.target, config.size))
    states = jax.vmap(lambda _: game.init(target, dims, config))(jnp.arange(games))
    empty = no_trees(net, params, states, spec)

    @jax.jit
    def one_move(params, states, trees, key):
        moves, weights, action, _, tree = search_reusing(net, params, states, trees, key, spec)
        chosen = jnp.take_along_axis(moves, action[:, None, None, None], axis=1)[:, 0]
        after, _, _ = game.step_batch(states, chosen, config)
        used = tree.node_visits > 0
        stats = jnp.stack([tree.node_visits[:, reuse.ROOT],
                           jnp.take_along_axis(tree.children_visits[:, reuse.ROOT],
                                               action[:, None], 1)[:, 0],
                           jnp.max(jnp.where(used, depths(tree.parents), 0), axis=1),
                           jnp.max(weights, axis=1)], axis=1).astype(jnp.float32)
        kept = (reuse.reroot(tree, action, spec.simulations) if spec.tree_reuse else empty)
        return after, reuse.forget(kept, after.terminated), stats, ~states.terminated

    rows, trees = [], empty
    for t, key in enumerate(jax.random.split(jax.random.key(seed + 3), config.max_moves)):
        states, trees, stats, running = one_move(params, states, trees, key)
        running = np.asarray(running)
        if running.any():
            means = np.asarray(stats)[running].mean(axis=0)
            rows.append({"move": t + 1, "games": int(running.sum()),
                         **dict(zip(COLUMNS, means.tolist()))})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pretrain", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--games", type=int, default=256)
    parser.add_argument("--simulations", type=int, default=32)
    parser.add_argument("--run", type=Path, help="a training run folder: measure its network")
    parser.add_argument("--output", default=str(ROOT / "results" / "agent_root_visits.md"))
    args = parser.parse_args()
    search = dict(search="puct", simulations=args.simulations)
    base, params, source = network(args.run, "strassen_rotations.py", args.seed, args.pretrain,
                                   search)
    lines = [f"\n### Move by move, plain <2,2,2> game, PUCT with {args.simulations} simulations: "
             f"{args.games} self-play games, {source} (seed {args.seed}, "
             f"{datetime.date.today().isoformat()})\n",
             "| sub-tree reuse | move | games running | " + " | ".join(COLUMNS) + " |",
             "|---|---|---|" + "---|" * len(COLUMNS)]
    for reused in (0, 1):
        for row in measure({**base, **search, "tree_reuse": reused}, params, args.games,
                           args.seed):
            print("reuse" if reused else "fresh", row, flush=True)
            lines.append(f"| {'yes' if reused else 'no'} | {row['move']} | {row['games']} | "
                         + " | ".join(f"{row[c]:.2f}" for c in COLUMNS) + " |")
    with open(args.output, "a") as out:
        out.write("\n".join(lines) + "\n")
    print(f"appended to {args.output}")


if __name__ == "__main__":
    main()
