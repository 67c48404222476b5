"""Where the search puts its visits at the root of T_{2,2,2} (the cyclic-symmetric game).

    .venv/bin/python experiments/root_visits.py [--pretrain 1500] [--seed 100] [--games 512]
    .venv/bin/python experiments/root_visits.py --run runs/rediscovery_full_s11

Trains a network on synthetic demonstrations only (``--pretrain`` updates of
experiments/strassen_symmetric.py's learner, ``--seed``), or takes the network of a training
run's last checkpoint (``--run``, a copy of the folder is resumed), then searches the first move of
``--games`` independent games with each setting below and reports, per setting, the search
policy the learner is trained on (PUCT: the visit distribution; Gumbel MuZero: its improved
policy over the considered moves, each of which gets one visit at 16 simulations and 16
considered actions): the mean share of its largest entry and its effective number of moves
(exp of the entropy), how often the candidates hold a move of a rank-7 scheme, the share such
moves get, and how often the chosen move is one. Appends to results/agent_root_visits.md.

The rank-7 moves: the cyclic-symmetric game has exactly two rank-7 schemes with coefficients in
{-1, 0, 1} (found by enumerating every orbit), both made of the symmetric term I (x) I (x) I and
two orbits; their five distinct moves are listed below and checked to sum to T. They serve only
this measurement: the agent never sees them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import runpy
import shutil
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from agents.config import make_config
from agents.learner import make_optimizer
from agents.search import search
from agents.selfplay import proposals
from agents.setup import init_params, make_setup
from agents.solutions import SolutionStore
from agents.train import Trainer, make_learn_fn, make_mesh, make_start_fn
from tensorgame import game

ROOT = Path(__file__).resolve().parents[1]
IDENTITY_TERM = ((1, 0, 0, 1),) * 3
SCHEMES = (  # (symmetric term, orbit, orbit) per scheme
    (IDENTITY_TERM, ((-1, -1, 0, 0), (0, 0, 0, -1), (-1, 0, 1, 0)),
     ((-1, 0, 0, 0), (0, -1, 0, 1), (0, 0, 1, 1))),
    (IDENTITY_TERM, ((-1, 0, -1, 0), (-1, 1, 0, 0), (0, 0, 0, -1)),
     ((-1, 0, 0, 0), (0, -1, 0, -1), (0, 0, 1, -1))),
)
SETTINGS = {  # label -> config changes
    "Gumbel MuZero, 16 simulations, 16 considered (before)": dict(),
    "PUCT, 64 simulations": dict(search="puct", simulations=64),
    "PUCT, 64 simulations, 4 root proposals": dict(search="puct", simulations=64,
                                                   root_proposals=4),
}


def rank7_moves(target: np.ndarray, config: game.GameConfig) -> jnp.ndarray:
    """[5, 3, S] canonical moves of the two schemes (checked: each sums to ``target``)."""
    moves = {}
    for scheme in SCHEMES:
        canonical = [game.canonicalize(jnp.asarray(m), config) for m in scheme]
        total = sum(np.asarray(game.move_tensor(m, config)) for m in canonical)
        assert np.array_equal(total, target), "not a scheme of T_{2,2,2}"
        moves.update({np.asarray(m).tobytes(): m for m in canonical})
    return jnp.stack(list(moves.values()))


def pretraining(overrides: dict, seed: int, shape: tuple[int, int, int] = (2, 2, 2)):
    """A random network of ``overrides``'s config on ``shape`` over Z (``seed``) and
    ``advance(steps) -> (params, metrics)``, which trains it by ``steps`` more
    demonstration-only updates (the optimizer's state carried between calls)."""
    setup = make_setup(shape, "Z", make_config(overrides), seed)
    mesh = make_mesh()
    optimizer = make_optimizer(setup.config)
    learn = make_learn_fn(setup, mesh, optimizer)
    _, replay = make_start_fn(setup, mesh)(jax.random.key(seed + 1))
    solutions = SolutionStore(1, setup.game).arrays()
    params = init_params(setup, jax.random.key(seed))
    state = {"params": params, "opt": optimizer.init(params), "key": jax.random.key(seed + 2)}

    def advance(steps: int):
        # The first call uses key(seed + 2) itself, as the single-call pretraining always did.
        key, state["key"] = state["key"], jax.random.fold_in(state["key"], 1)
        state["params"], state["opt"], metrics = learn(
            state["params"], state["opt"], replay, solutions, key, jnp.int32(steps),
            jnp.float32(0.0), jnp.float32(1.0))  # no replay, demonstrations' weight 1
        return state["params"], {name: float(value) for name, value in metrics.items()}

    return setup, advance


def pretrained(overrides: dict, seed: int, steps: int):
    """``steps`` demonstration-only updates of a random <2,2,2> network (``pretraining``)."""
    return pretraining(overrides, seed)[1](steps)


def from_run(run: Path):
    """``run``'s config (overrides), setup, last checkpoint's network and its iteration (resumed
    from a copy of the folder)."""
    description = json.loads((run / "run.json").read_text())
    overrides = description["config"]
    setup = make_setup(tuple(description["target"]), description["field"],
                       make_config(overrides), description["seed"])
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "run"
        shutil.copytree(run, copy)
        trainer = Trainer(setup, copy, None, resume=True, log=lambda _: None)
        return overrides, setup, trainer.state["params"], trainer.progress.iteration


def network(run: Path | None, config: str, seed: int, steps: int, changes: dict | None = None):
    """The network to measure: ``run``'s last checkpoint (``from_run``), else ``steps``
    demonstration-only updates from ``seed`` (``pretrained``) of experiments/``config``'s
    learner with ``changes``. Returns (its config's overrides, params, the source in words)."""
    if run:
        base, _, params, iteration = from_run(run)
        return base, params, f"the network of {run.name} after {iteration} iterations"
    base = {**runpy.run_path(str(ROOT / "experiments" / config))["OVERRIDES"], **(changes or {})}
    params, metrics = pretrained(base, seed, steps)
    print(f"pretrained: {metrics}")
    return base, params, f"{steps} demonstration-only updates"


def measure(overrides: dict, params, games: int, seed: int) -> dict:
    setup = make_setup((2, 2, 2), "Z", make_config(overrides), seed)
    config, spec = setup.game, setup.search
    padded = game.pad_target(setup.target, config.size)[0]
    target, dims = jnp.asarray(padded), jnp.asarray(setup.dims)
    roots = jax.vmap(lambda _: game.init(target, dims, config))(jnp.arange(games))
    good = rank7_moves(padded, config)

    @jax.jit
    def first_move(params, key):
        k_props, k_search = jax.random.split(key)
        extra = proposals(k_props, dims, games, spec)
        moves, weights, action, _ = search(setup.net, params, roots, k_search, spec, 1.0, extra)
        is_good = jnp.any(jnp.all(moves[:, :, None] == good[None, None], axis=(3, 4)), -1)
        entropy = -jnp.sum(jnp.where(weights > 0, weights * jnp.log(weights), 0.0), -1)
        chosen = jnp.take_along_axis(is_good, action[:, None], 1)[:, 0]
        return (jnp.max(weights, -1), jnp.exp(entropy), jnp.any(is_good & (weights > 0), -1),
                jnp.sum(weights * is_good, -1), chosen)

    top, spread, present, share, chosen = first_move(params, jax.random.key(seed + 3))
    return {"top share": float(top.mean()), "effective moves": float(spread.mean()),
            "rank-7 move among candidates": float(present.mean()),
            "share on rank-7 moves": float(share.mean()),
            "rank-7 move chosen": float(chosen.mean())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pretrain", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--games", type=int, default=512)
    parser.add_argument("--run", type=Path, help="a training run folder: measure its network")
    parser.add_argument("--output", default=str(ROOT / "results" / "agent_root_visits.md"))
    args = parser.parse_args()
    base, params, source = network(args.run, "strassen_symmetric.py", args.seed, args.pretrain)
    rows = []
    for label, changes in SETTINGS.items():
        row = measure({**base, **changes}, params, args.games, args.seed)
        print(label, row, flush=True)
        rows.append((label, row))
    columns = list(rows[0][1])
    lines = [f"\n### Root of T_2,2,2, symmetric game: {args.games} searches, {source} (seed "
             f"{args.seed}, {datetime.date.today().isoformat()})\n",
             "| setting | " + " | ".join(columns) + " |",
             "|---|" + "---|" * len(columns)]
    lines += [f"| {label} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + " |"
              for label, row in rows]
    with open(args.output, "a") as out:
        out.write("\n".join(lines) + "\n")
    print(f"appended to {args.output}")


if __name__ == "__main__":
    main()
