"""The training loop: self-play batches, replay, learner updates, found algorithms, checkpoints.

Iteration i draws every random number from (seed, i), so a run is reproducible from its seed and
a resumed run continues exactly where its last checkpoint left it. Found factorizations are saved
(atomically, verified) right after the batch that found them, before any checkpoint, so a kill
loses none; at most ``checkpoint_every`` iterations of training are lost.

Data parallel: the games of a batch and the learner's examples are split over all devices
(``jax.sharding`` mesh, ``shard_map``); gradients are averaged with ``pmean``. Multi-host runs call
``jax.distributed.initialize`` first (see ``tensorgame train --coordinator``); process 0 writes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from agents import learner as learner_lib
from agents import selfplay
from agents.bases import random_basis, transform_target, untransform
from agents.checkpoints import Checkpoints
from agents.config import AgentConfig, config_hash
from agents.network import PolicyValueNet, network_spec
from agents.search import Observation, SearchSpec, features, observe
from agents.tokens import make_tokenizer
from tensorgame import game, io
from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization, canonical, verify
from tensorgame.tensors import matmul_tensor


@dataclasses.dataclass
class RunSetup:
    """Everything static about a run."""

    shape: tuple[int, int, int]
    field: str
    seed: int
    config: AgentConfig
    game: game.GameConfig
    search: SearchSpec
    net: PolicyValueNet
    learner: learner_lib.LearnerSpec
    target: np.ndarray  # [n*m, m*p, p*n] int64
    dims: np.ndarray  # [3] int32

    @property
    def name(self) -> str:
        n, m, p = self.shape
        return f"{n}x{m}x{p}"


def make_setup(shape: tuple[int, int, int], field: str, config: AgentConfig,
               seed: int) -> RunSetup:
    if field not in ("Z", "Z2"):
        raise TensorgameError(f"field must be Z or Z2 for training, got {field!r}")
    config = config.resolved(shape, field)
    target = matmul_tensor(*shape)
    size = max(target.shape)
    game_config = game.GameConfig(size=size, max_moves=config.max_moves, field=field,
                                  coefficients=config.coefficients, history=config.history,
                                  symmetric=bool(config.symmetric))
    tokenizer = make_tokenizer(size, game_config.coefficients, config.token_entries,
                               config.max_vocabulary)
    net = PolicyValueNet(network_spec(config, size, tokenizer))
    search = SearchSpec(game=game_config, samples=config.samples,
                        simulations=config.simulations,
                        considered_actions=min(config.considered_actions, config.samples),
                        temperature=config.sample_temperature, risk_seeking=config.risk_seeking,
                        bound_value=bool(config.bound_value))
    _, dims = game.pad_target(target, size)
    return RunSetup(shape=tuple(shape), field=field, seed=seed, config=config, game=game_config,
                    search=search, net=net,
                    learner=learner_lib.learner_spec(config, game_config), target=target,
                    dims=dims)


def init_params(setup: RunSetup, key: jax.Array) -> Any:
    s, h = setup.game.size, setup.game.history
    obs = Observation(residual=jnp.zeros((1, s, s, s), jnp.int32),
                      recent=jnp.zeros((1, h, 3, s), jnp.int32),
                      move_count=jnp.zeros((1,), jnp.int32), dims=jnp.asarray(setup.dims)[None])
    tokens = jnp.zeros((1, 1, setup.net.spec.tokenizer.length), jnp.int32)
    return setup.net.init(key, *features(obs, setup.game.max_moves), tokens)


# ---------------------------------------------------------------------------------------------
# Jitted, data-parallel pieces.


def make_mesh() -> Mesh:
    return Mesh(np.array(jax.devices()), ("data",))


def make_play_fn(setup: RunSetup, mesh: Mesh) -> Callable:
    """play(params, key, targets [B,S,S,S], dims [B,3], gumbel_scale) -> (final states,
    trajectories), games split over the mesh."""

    def local(params, key, targets, dims, gumbel_scale):
        key = jax.random.fold_in(key, jax.lax.axis_index("data"))
        return selfplay.play(setup.net, params, key, targets, dims, setup.search, gumbel_scale)

    sharded = jax.shard_map(local, mesh=mesh, in_specs=(P(), P(), P("data"), P("data"), P()),
                            out_specs=(P("data"), P(None, "data")), check_vma=False)
    return jax.jit(sharded)


def make_update_fn(setup: RunSetup, mesh: Mesh, optimizer) -> Callable:
    """update(params, opt_state, key, selfplay Targets, Solutions, dims) -> (params, opt_state,
    metrics); examples split over the mesh, gradients averaged."""
    devices = mesh.devices.size
    spec = setup.learner
    local_spec = dataclasses.replace(spec, demo_batch=-(-spec.demo_batch // devices),
                                     solution_batch=-(-spec.solution_batch // devices))
    local_update = learner_lib.make_update(setup.net, optimizer, local_spec, axis_name="data")

    def local(params, opt_state, key, targets, solutions, dims):
        key = jax.random.fold_in(key, jax.lax.axis_index("data"))
        return local_update(params, opt_state, key, targets, solutions, dims)

    sharded = jax.shard_map(local, mesh=mesh,
                            in_specs=(P(), P(), P(), P("data"), P(), P()),
                            out_specs=(P(), P(), P()), check_vma=False)
    return jax.jit(sharded, donate_argnums=(0, 1))


# ---------------------------------------------------------------------------------------------
# Host-side replay.


class Replay:
    """A ring buffer of self-play examples (numpy, compact dtypes)."""

    def __init__(self, capacity: int, size: int, history: int, samples: int):
        s, h, k = size, history, samples
        self.arrays = {
            "residual": np.zeros((capacity, s, s, s), np.int16),
            "recent": np.zeros((capacity, h, 3, s), np.int8),
            "move_count": np.zeros((capacity,), np.int16),
            "dims": np.zeros((capacity, 3), np.int16),
            "moves": np.zeros((capacity, k, 3, s), np.int8),
            "weights": np.zeros((capacity, k), np.float32),
            "returns": np.zeros((capacity,), np.float32),
        }
        self.capacity = capacity
        self.count = 0  # examples ever added
        self.cursor = 0

    def add(self, traj: selfplay.Trajectories) -> None:
        active = np.asarray(traj.active).reshape(-1)
        flat = {
            "residual": traj.obs.residual, "recent": traj.obs.recent,
            "move_count": traj.obs.move_count, "dims": traj.obs.dims, "moves": traj.moves,
            "weights": traj.weights, "returns": traj.returns,
        }
        rows = {name: np.asarray(value).reshape(active.size, *np.shape(value)[2:])[active]
                for name, value in flat.items()}
        n = int(active.sum())
        index = (self.cursor + np.arange(n)) % self.capacity
        for name, value in rows.items():
            self.arrays[name][index] = value.astype(self.arrays[name].dtype)
        self.cursor = int((self.cursor + n) % self.capacity)
        self.count += n

    def sample(self, rng: np.random.Generator, batch: int) -> learner_lib.Targets:
        filled = min(self.count, self.capacity)
        if filled == 0 or batch == 0:
            return _empty_targets(self.arrays, max(batch, 1))
        index = rng.integers(0, filled, size=batch)
        a = {name: value[index] for name, value in self.arrays.items()}
        # One target move per state, drawn from the search's visit distribution.
        cumulative = np.cumsum(a["weights"], axis=1)
        draw = rng.random(batch) * cumulative[:, -1]
        pick = np.minimum((cumulative < draw[:, None]).sum(axis=1), cumulative.shape[1] - 1)
        a["moves"] = a["moves"][np.arange(batch), pick][:, None]
        a["weights"] = np.ones((batch, 1), np.float32)
        obs = Observation(residual=a["residual"].astype(np.int32),
                          recent=a["recent"].astype(np.int32),
                          move_count=a["move_count"].astype(np.int32),
                          dims=a["dims"].astype(np.int32))
        return learner_lib.Targets(obs=obs, moves=a["moves"].astype(np.int32),
                                   weights=a["weights"], returns=a["returns"],
                                   mask=np.ones(batch, np.float32))

    def state(self) -> dict:
        return {"arrays": self.arrays,
                "counters": np.array([self.count, self.cursor], np.int64)}

    def restore(self, state: dict) -> None:
        self.arrays = {name: np.asarray(value) for name, value in state["arrays"].items()}
        self.count, self.cursor = (int(x) for x in np.asarray(state["counters"]))


def _empty_targets(arrays: dict, batch: int) -> learner_lib.Targets:
    shaped = {name: np.zeros((batch,) + value.shape[1:], np.int32 if value.dtype != np.float32
                             else np.float32) for name, value in arrays.items()}
    shaped["dims"][:] = 1
    shaped["moves"], shaped["weights"] = shaped["moves"][:, :1], shaped["weights"][:, :1]
    obs = Observation(residual=shaped["residual"], recent=shaped["recent"],
                      move_count=shaped["move_count"], dims=shaped["dims"])
    return learner_lib.Targets(obs=obs, moves=shaped["moves"], weights=shaped["weights"],
                               returns=shaped["returns"], mask=np.zeros(batch, np.float32))


class SolutionStore:
    """Found factorizations (as played, in the game's basis) for order-shuffled replay."""

    def __init__(self, capacity: int, max_moves: int, size: int):
        self.terms = np.zeros((capacity, max_moves, 3, size), np.int32)
        self.counts = np.zeros((capacity,), np.int32)
        self.valid = np.zeros((capacity,), bool)
        self.keys: set[bytes] = set()
        self.cursor = 0

    def add(self, moves: np.ndarray) -> bool:
        """Keep a factorization's moves [R, 3, S] unless already kept; True if new."""
        order = np.lexsort(moves.reshape(len(moves), -1).T[::-1])
        moves = moves[order]
        key = moves.tobytes()
        if key in self.keys:
            return False
        self.keys.add(key)
        slot = self.cursor % len(self.counts)
        self.terms[slot] = 0
        self.terms[slot, : len(moves)] = moves
        self.counts[slot] = len(moves)
        self.valid[slot] = True
        self.cursor += 1
        return True

    def arrays(self) -> learner_lib.Solutions:
        return learner_lib.Solutions(terms=self.terms, counts=self.counts, valid=self.valid)

    def state(self) -> dict:
        return {"terms": self.terms, "counts": self.counts, "valid": self.valid,
                "cursor": np.array(self.cursor, np.int64)}

    def restore(self, state: dict) -> None:
        self.terms = np.asarray(state["terms"]).copy()
        self.counts = np.asarray(state["counts"]).copy()
        self.valid = np.asarray(state["valid"]).copy()
        self.cursor = int(state["cursor"])
        self.keys = {self.terms[i, : self.counts[i]].tobytes()
                     for i in range(len(self.counts)) if self.valid[i]}


# ---------------------------------------------------------------------------------------------
# The loop.


@dataclasses.dataclass
class Progress:
    iteration: int = 0
    games: int = 0
    simulations: int = 0
    updates: int = 0
    best_rank: int = 0  # 0 = none found yet
    found: int = 0  # distinct factorizations saved
    wall: float = 0.0  # seconds of training over all sessions


class Trainer:
    """One training run in ``out_dir``; see ``run``."""

    def __init__(self, setup: RunSetup, out_dir: Path, results_dir: Path | None,
                 resume: bool = False, log: Callable[[str], None] = print):
        self.setup = setup
        self.out = Path(out_dir)
        self.results_dir = Path(results_dir) if results_dir else None
        self.log = log
        self.writer = jax.process_index() == 0
        config = setup.config
        self.hash = config_hash(config)
        self.mesh = make_mesh()
        self.devices = self.mesh.devices.size
        if config.games % self.devices:
            raise TensorgameError(f"games ({config.games}) must be a multiple of the number of "
                                  f"devices ({self.devices})")
        self.optimizer = learner_lib.make_optimizer(config)
        self.play_fn = make_play_fn(setup, self.mesh)
        self.update_fn = make_update_fn(setup, self.mesh, self.optimizer)
        self.replay = Replay(config.replay_size, setup.game.size, setup.game.history,
                             config.samples)
        self.solutions = SolutionStore(config.solutions_kept, setup.game.max_moves,
                                       setup.game.size)
        self.progress = Progress()
        root = jax.random.key(setup.seed)
        self.root_key = jax.random.fold_in(root, 1)
        self.params = init_params(setup, jax.random.fold_in(root, 0))
        self.opt_state = self.optimizer.init(self.params)
        self.replicated = NamedSharding(self.mesh, P())
        self.sharded = NamedSharding(self.mesh, P("data"))
        self._prepare_dirs(resume)
        self.checkpoints = Checkpoints(self.out / "checkpoints")
        if resume:
            self._restore()
        self.params = jax.device_put(self.params, self.replicated)
        self.opt_state = jax.device_put(self.opt_state, self.replicated)

    # -- files -----------------------------------------------------------------------------

    def _prepare_dirs(self, resume: bool) -> None:
        run_file = self.out / "run.json"
        description = {"target": list(self.setup.shape), "field": self.setup.field,
                       "seed": self.setup.seed, "config_hash": self.hash,
                       "config": dataclasses.asdict(self.setup.config)}
        if resume:
            if not run_file.is_file():
                raise TensorgameError(f"{self.out}: nothing to resume (no run.json)")
            saved = json.loads(run_file.read_text())
            for field in ("target", "field", "seed", "config_hash"):
                if saved.get(field) != description[field]:
                    raise TensorgameError(
                        f"{self.out}: --resume with a different {field} ({description[field]} "
                        f"vs saved {saved.get(field)})")
        elif run_file.exists():
            raise TensorgameError(f"{self.out} already holds a run: pass --resume or another "
                                  f"--out")
        if self.writer:
            (self.out / "found").mkdir(parents=True, exist_ok=True)
            if not resume:
                _write_atomic(run_file, json.dumps(description, indent=1))

    def _restore(self) -> None:
        restored = self.checkpoints.restore(self._checkpoint_tree())
        if restored is None:
            self.log(f"no checkpoint in {self.out}: starting from iteration 0")
        else:
            tree, meta = restored
            self.params, self.opt_state = tree["params"], tree["opt_state"]
            self.replay.restore(tree["replay"])
            self.solutions.restore(tree["solutions"])
            self.progress = Progress(**meta)
        # Factorizations saved after the last checkpoint still count.
        for path in sorted((self.out / "found").glob("*.json")):
            rank = io.load(path).rank
            if not self.progress.best_rank or rank < self.progress.best_rank:
                self.progress.best_rank = rank
        self.progress.found = max(self.progress.found,
                                  len(list((self.out / "found").glob("*.json"))))

    def _checkpoint_tree(self) -> dict:
        return {"params": self.params, "opt_state": self.opt_state,
                "replay": self.replay.state(), "solutions": self.solutions.state()}

    def save_checkpoint(self) -> None:
        params = jax.device_get(self.params)
        opt_state = jax.device_get(self.opt_state)
        tree = {"params": params, "opt_state": opt_state, "replay": self.replay.state(),
                "solutions": self.solutions.state()}
        self.checkpoints.save(self.progress.iteration, tree, dataclasses.asdict(self.progress))

    # -- one iteration -----------------------------------------------------------------------

    def _targets(self, rng: np.random.Generator):
        """Targets for one batch (host): [B, S, S, S], dims [B, 3], bases (or None) per game."""
        config, setup = self.setup.config, self.setup
        size = setup.game.size
        targets, bases = [], []
        for _ in range(config.games):
            if config.basis_change_prob and rng.random() < config.basis_change_prob:
                basis = random_basis(rng, setup.target.shape, config.basis_change_entries,
                                     symmetric=setup.game.symmetric)
                tensor = transform_target(setup.target, basis)
            else:
                basis, tensor = None, setup.target
            targets.append(game.pad_target(tensor, size)[0])
            bases.append(basis)
        dims = np.broadcast_to(setup.dims, (config.games, 3))
        return np.stack(targets), np.ascontiguousarray(dims), bases

    def _global(self, array: np.ndarray):
        return jax.make_array_from_callback(array.shape, self.sharded, lambda index: array[index])

    def iterate(self, gumbel_scale: float = None) -> dict:
        """One self-play batch, its bookkeeping and the learner updates; returns metrics."""
        setup, config, progress = self.setup, self.setup.config, self.progress
        i = progress.iteration
        rng = np.random.default_rng([setup.seed, i])
        key = jax.random.fold_in(self.root_key, i)
        play_key, update_key = jax.random.split(key)
        start = time.perf_counter()
        if i == 0 and config.pretrain_steps:
            self._updates(rng, update_key, config.pretrain_steps, selfplay_share=False)
        targets, dims, bases = self._targets(rng)
        scale = config.gumbel_scale if gumbel_scale is None else gumbel_scale
        final, traj = self.play_fn(self.params, play_key, self._global(targets),
                                   self._global(dims), jnp.float32(scale))
        final, traj = _to_host(final), _to_host(traj)
        played = time.perf_counter()
        ranks = self._collect(final, bases, progress.wall + played - start)
        self.replay.add(traj)
        metrics = self._updates(rng, jax.random.fold_in(update_key, 1), config.updates_per_batch,
                                selfplay_share=True)
        done = time.perf_counter()
        progress.iteration += 1
        progress.games += config.games
        progress.simulations += int(np.asarray(traj.active).sum()) * config.simulations
        progress.wall += done - start
        solved = ranks[ranks > 0]
        metrics.update({
            "iteration": progress.iteration, "wall": round(progress.wall, 3),
            "games": progress.games, "simulations": progress.simulations,
            "games_per_s": config.games / max(played - start, 1e-9),
            "simulations_per_s": int(np.asarray(traj.active).sum()) * config.simulations
            / max(played - start, 1e-9),
            "play_s": played - start, "learn_s": done - played,
            "solved_fraction": float(solved.size / ranks.size),
            "mean_rank": float(solved.mean()) if solved.size else None,
            "ranks": {str(r): int((ranks == r).sum()) for r in np.unique(solved)},
            "residual_games": int((ranks == 0).sum()),
            "best_rank": progress.best_rank or None,
        })
        return metrics

    def _updates(self, rng, key, count: int, selfplay_share: bool) -> dict:
        config, spec = self.setup.config, self.setup.learner
        selfplay_batch = max(config.batch_size - spec.demo_batch - spec.solution_batch, 0)
        selfplay_batch = -(-max(selfplay_batch, 1) // self.devices) * self.devices
        solutions = jax.device_put(self.solutions.arrays(), self.replicated)
        dims = jax.device_put(self.setup.dims, self.replicated)
        metrics = {}
        for u in range(count):
            targets = self.replay.sample(rng, selfplay_batch)
            if not selfplay_share:
                targets = targets.replace(mask=np.zeros_like(targets.mask))
            targets = jax.tree.map(self._global, targets)
            self.params, self.opt_state, metrics = self.update_fn(
                self.params, self.opt_state, jax.random.fold_in(key, u), targets, solutions,
                dims)
            self.progress.updates += 1
        return {name: float(value) for name, value in metrics.items()}

    def _collect(self, final: game.State, bases: list, wall: float) -> np.ndarray:
        """Verify and save every solved game (found after ``wall`` seconds of training);
        returns ranks per game (0: not solved)."""
        solved = np.all(final.residual == 0, axis=(1, 2, 3))
        ranks = np.where(solved, final.rank, 0)
        for b in np.flatnonzero(solved):
            state = jax.tree.map(lambda x: x[b], final)
            moves = np.asarray(state.moves)[: int(state.move_count)]
            if not self.solutions.add(moves):
                continue
            played = Factorization(self.setup.shape, self.setup.field,
                                   *game.terms(state, self.setup.game))
            found = untransform(played, bases[b]) if bases[b] is not None else played
            report = verify(found, field=self.setup.field)
            if not report.valid:
                raise TensorgameError(f"internal error: a solved game does not verify: {report}")
            self._save_found(found, bases[b] is not None, wall)
        return ranks

    def _save_found(self, f: Factorization, basis_changed: bool, wall: float) -> None:
        progress = self.progress
        if progress.best_rank and f.rank > progress.best_rank:
            return
        new_best = not progress.best_rank or f.rank < progress.best_rank
        progress.best_rank = f.rank
        progress.found += 1
        if not self.writer:
            return
        n, m, p = self.setup.shape
        meta = {"source": "tensorgame agent self-play", "found_by": "agents.train",
                "target": [n, m, p], "field": self.setup.field, "seed": self.setup.seed,
                "iteration": progress.iteration, "learner_step": progress.updates,
                "wall_time_s": round(wall, 3), "config_hash": self.hash,
                "played_in_changed_basis": basis_changed}
        f = canonical(f.replace(meta=meta))
        name = f"{self.setup.name}_rank{f.rank}_{self.setup.field}"
        io.save(f, self.out / "found" / f"{name}_{progress.found:04d}.json")
        if self.results_dir is not None and new_best:
            self.results_dir.mkdir(parents=True, exist_ok=True)
            best_path = self.results_dir / f"{name}.json"
            if not best_path.exists():
                io.save(f, best_path)
        if new_best:
            self.log(f"found a rank-{f.rank} algorithm for <{n},{m},{p}> over {self.setup.field} "
                     f"after {wall:.1f}s (iteration {progress.iteration})")

    # -- the loop --------------------------------------------------------------------------

    def run(self, seconds: float | None, on_metrics: Callable[[dict], None] | None = None,
            max_iterations: int | None = None) -> Progress:
        """Train until ``seconds`` of wall time (this session), ``max_iterations`` in total, or
        ``stop_at_rank``; checkpoints every ``checkpoint_every`` iterations and at the end."""
        config = self.setup.config
        begin = time.perf_counter()
        metrics_path = self.out / "metrics.jsonl"
        while True:
            if seconds is not None and time.perf_counter() - begin >= seconds:
                break
            if max_iterations is not None and self.progress.iteration >= max_iterations:
                break
            if config.stop_at_rank and self.progress.best_rank and \
                    self.progress.best_rank <= config.stop_at_rank:
                break
            metrics = self.iterate()
            if config.eval_every and self.progress.iteration % config.eval_every == 0:
                metrics["eval"] = self.evaluate()
            if self.writer:
                with open(metrics_path, "a") as out:
                    out.write(json.dumps(metrics) + "\n")
            if on_metrics:
                on_metrics(metrics)
            if self.progress.iteration % config.checkpoint_every == 0:
                self.save_checkpoint()
        self.save_checkpoint()
        self.checkpoints.wait()
        return self.progress

    def evaluate(self) -> dict:
        """Greedy games (no Gumbel noise) on the target in its own basis."""
        config = self.setup.config
        size = self.setup.game.size
        games = config.games
        target = np.broadcast_to(game.pad_target(self.setup.target, size)[0],
                                 (games, size, size, size))
        dims = np.broadcast_to(self.setup.dims, (games, 3))
        key = jax.random.fold_in(jax.random.fold_in(self.root_key, 10**9),
                                 self.progress.iteration)
        final, _ = self.play_fn(self.params, key, self._global(np.ascontiguousarray(target)),
                                self._global(np.ascontiguousarray(dims)), jnp.float32(0.0))
        final = _to_host(final)
        ranks = self._collect(final, [None] * games, self.progress.wall)
        solved = ranks[ranks > 0]
        return {"solved_fraction": float(solved.size / games),
                "best_rank": int(solved.min()) if solved.size else None}


def _to_host(tree):
    from jax.experimental import multihost_utils
    if jax.process_count() > 1:
        tree = multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree.map(np.asarray, tree)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
