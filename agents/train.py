"""The training loop: self-play and learner updates in one jitted step, found algorithms,
checkpoints.

One iteration = every game slot plays ``moves_per_iteration`` moves (ended games go to the device
replay and restart) followed by ``updates_per_batch`` learner updates, all in one jitted call; the
host only verifies and saves the games that ended solved, logs and checkpoints. Iteration i draws
every random number from (seed, i), so a run is reproducible from its seed and a resumed run
continues exactly where its last checkpoint left it (the checkpoint holds the games in progress
and the replay). Found factorizations are saved (atomically, verified) right after the iteration
that found them, before any checkpoint, so a kill loses none.

Data parallel: game slots, replay and the learner's examples are split over all devices
(``jax.sharding`` mesh, ``shard_map``); gradients are averaged with ``pmean``. Multi-host runs call
``jax.distributed.initialize`` first (see ``tensorgame train --coordinator``); process 0 alone
reads and writes the run folder and hands the others what they need (``agents.processes``): the
folder check, the resumed state, the decision to stop.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from agents import learner as learner_lib
from agents import processes
from agents import replay as replay_lib
from agents import selfplay
from agents.bases import untransform
from agents.checkpoints import Checkpoints
from agents.config import AgentConfig, config_changes, config_hash
from agents.setup import RunSetup, init_params
from agents.solutions import SolutionStore
from tensorgame import game, io
from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization, canonical, verify


def make_mesh() -> Mesh:
    return Mesh(np.array(jax.devices()), ("data",))


def replay_games(setup: RunSetup, devices: int) -> int:
    """Games the replay ring holds (a multiple of the device count, and at least one per game
    slot, so the games that end in one step never overwrite each other)."""
    per_device = -(-setup.config.replay_size // (setup.game.max_moves * devices))
    return max(per_device, setup.config.games // devices, 1) * devices


def make_start_fn(setup: RunSetup, mesh: Mesh) -> Callable:
    """start(key) -> (actors, replay): fresh game slots and an empty replay, split over the
    mesh."""
    devices = mesh.devices.size
    slots = setup.config.games // devices
    ring = replay_games(setup, devices) // devices
    target = jnp.asarray(game.pad_target(setup.target, setup.game.size)[0])
    dims = jnp.asarray(setup.dims)

    def local(key):
        key = jax.random.fold_in(key, jax.lax.axis_index("data"))
        actors = selfplay.init_actors(key, target, dims, slots, setup.starts, setup.search)
        return actors, replay_lib.empty(ring, setup.game, setup.config.samples)

    return jax.jit(jax.shard_map(local, mesh=mesh, in_specs=P(), out_specs=P("data"),
                                 check_vma=False))


def _local_update(setup: RunSetup, optimizer, devices: int):
    spec = setup.learner
    local_spec = dataclasses.replace(spec, demo_batch=-(-spec.demo_batch // devices),
                                     solution_batch=-(-spec.solution_batch // devices))
    update = learner_lib.make_update(setup.net, optimizer, local_spec, axis_name="data")
    selfplay_batch = max(setup.config.batch_size - spec.demo_batch - spec.solution_batch, 1)
    return update, -(-selfplay_batch // devices)


def make_act_fn(setup: RunSetup, mesh: Mesh) -> Callable:
    """act(params, actors, replay, key, gumbel_scale) -> (actors, replay, Ended [steps, B, ...]):
    every game slot plays ``moves_per_iteration`` moves, slots and replay split over the mesh."""
    config = setup.config
    steps = config.moves_per_iteration or setup.game.max_moves
    target = jnp.asarray(game.pad_target(setup.target, setup.game.size)[0])
    dims = jnp.asarray(setup.dims)

    def local(params, actors, replay, key, gumbel_scale):
        key = jax.random.fold_in(key, jax.lax.axis_index("data"))
        return selfplay.act(setup.net, params, key, actors, replay, target, dims, steps,
                            setup.starts, setup.search, gumbel_scale)

    sharded = jax.shard_map(local, mesh=mesh, in_specs=(P(), P("data"), P("data"), P(), P()),
                            out_specs=(P("data"), P("data"), P(None, "data")), check_vma=False)
    return jax.jit(sharded, donate_argnums=(1, 2))


def make_learn_fn(setup: RunSetup, mesh: Mesh, optimizer) -> Callable:
    """learn(params, opt_state, replay, solutions, key, count, use_replay, demo_weight) ->
    (params, opt_state, mean metrics): ``count`` learner updates (a traced loop count, so
    pretraining and training share one compiled program); ``use_replay`` 0 trains on
    demonstrations and solutions only; ``demo_weight`` is the demonstrations' loss weight.
    Examples split over the mesh, gradients averaged."""
    update, selfplay_batch = _local_update(setup, optimizer, mesh.devices.size)
    dims, config = jnp.asarray(setup.dims), setup.config

    def local(params, opt_state, replay, solutions, key, count, use_replay, demo_weight):
        key = jax.random.fold_in(key, jax.lax.axis_index("data"))
        if config.policy_quantile:  # a ranked reward: strictly better than most recent games
            below, block_below = replay_lib.rank_quantiles(replay, config.policy_quantile)
        else:
            below, block_below = config.policy_below, config.block_size ** 3

        def one(i, carry):
            params, opt_state, totals = carry
            k_replay, k_update = jax.random.split(jax.random.fold_in(key, i))
            targets = replay_lib.sample(replay, k_replay, selfplay_batch, dims, setup.game,
                                        below, block_below, selfplay.block_dims(setup.starts))
            targets = targets.replace(mask=targets.mask * use_replay)
            params, opt_state, metrics = update(params, opt_state, k_update, targets,
                                                solutions, dims, demo_weight)
            return params, opt_state, jax.tree.map(jnp.add, totals, metrics)

        zeros = {"loss": 0.0, "policy_loss": 0.0, "value_loss": 0.0}
        params, opt_state, totals = jax.lax.fori_loop(0, count, one,
                                                      (params, opt_state, zeros))
        totals = jax.tree.map(lambda x: x / jnp.maximum(count, 1), totals)
        return params, opt_state, {**totals, "policy_below": jnp.float32(below),
                                   "block_policy_below": jnp.float32(block_below)}

    sharded = jax.shard_map(local, mesh=mesh,
                            in_specs=(P(), P(), P("data"), P(), P(), P(), P(), P()),
                            out_specs=(P(), P(), P()), check_vma=False)
    return jax.jit(sharded, donate_argnums=(0, 1))


def demo_weight_at(config: AgentConfig, batches: int) -> float:
    """The demonstrations' loss weight after ``batches`` self-play batches: 1 without
    ``demo_anneal``, else falling geometrically to ``demo_final_weight`` over ``demo_anneal``
    batches (the alphatensor_quantum demo anneals 1 -> 0.01)."""
    if not config.demo_anneal:
        return 1.0
    return config.demo_final_weight ** min(batches / config.demo_anneal, 1.0)


def make_play_fn(setup: RunSetup, mesh: Mesh) -> Callable:
    """play(params, key, targets [B,S,S,S], dims [B,3], gumbel_scale) -> (final states,
    trajectories): a batch of games from the start to the end, split over the mesh."""

    def local(params, key, targets, dims, gumbel_scale):
        key = jax.random.fold_in(key, jax.lax.axis_index("data"))
        return selfplay.play(setup.net, params, key, targets, dims, setup.search, gumbel_scale)

    sharded = jax.shard_map(local, mesh=mesh, in_specs=(P(), P(), P("data"), P("data"), P()),
                            out_specs=(P("data"), P(None, "data")), check_vma=False)
    return jax.jit(sharded)


@dataclasses.dataclass
class Progress:
    iteration: int = 0
    games: int = 0  # games ended
    simulations: int = 0
    updates: int = 0
    best_rank: int = 0  # 0 = none found yet
    found: int = 0  # distinct factorizations saved
    wall: float = 0.0  # seconds of training over all sessions


class Trainer:
    """One training run in ``out_dir``; see ``run``."""

    def __init__(self, setup: RunSetup, out_dir: Path, results_dir: Path | None,
                 resume: bool = False, log: Callable[[str], None] = print,
                 replay: Sequence[tuple[str, np.ndarray]] = ()):
        """``replay``: (name, moves [R, 3, S]) of schemes from elsewhere (``scheme_moves``) put in
        the solution store at the start, replayed like the run's own best games."""
        self.setup = setup
        self.replay = tuple(replay)
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
        self.solutions = SolutionStore(config.solutions_kept, setup.game)
        self.progress = Progress()
        self.saved: set[tuple[bytes, ...]] = set()  # factorizations saved by this process
        root = jax.random.key(setup.seed)
        self.root_key = jax.random.fold_in(root, 1)
        self.pretrain_key = jax.random.fold_in(root, 3)
        self.replicated = NamedSharding(self.mesh, P())
        self.sharded = NamedSharding(self.mesh, P("data"))
        self._open_run_folder(resume)
        self.evaluation = self._evaluation_games()
        # The programs compile from the state's shapes while the state itself is made.
        self.programs = self._compile(jax.eval_shape(self._initial_state, root))
        self.state = self._initial_state(root)
        self.checkpoints = Checkpoints(self.out / "checkpoints") if self.writer else None
        if resume:
            self._restore()
        for _, moves in self.replay:
            self.solutions.offer(moves, len(moves))
        self._place()

    def _initial_state(self, root: jax.Array) -> dict:
        """A new run's training state: initial parameters and optimizer state, fresh game slots
        and an empty replay."""
        params = init_params(self.setup, jax.random.fold_in(root, 0))  # one compiled program
        # Compiled too: run op by op, the optimizer's init is a program per leaf.
        opt_state = jax.jit(self.optimizer.init)(params)
        actors, replay = make_start_fn(self.setup, self.mesh)(jax.random.fold_in(root, 2))
        return {"params": params, "opt_state": opt_state, "actors": actors, "replay": replay}

    # -- files -----------------------------------------------------------------------------

    def _open_run_folder(self, resume: bool) -> None:
        """Check (and for a new run create) the run folder on process 0; every process raises
        its error, and the processes must agree on the run."""
        description = {"target": list(self.setup.shape), "field": self.setup.field,
                       "seed": self.setup.seed, "config_hash": self.hash,
                       "config": dataclasses.asdict(self.setup.config),
                       "replayed": [name for name, _ in self.replay]}
        if not processes.same_on_every_process(json.dumps(description, sort_keys=True)):
            raise TensorgameError("the processes disagree on the run: start every one with the "
                                  "same --target, --field, --seed and --config")
        error = ""
        if self.writer:
            try:
                self._prepare_dirs(description, resume)
            except TensorgameError as problem:
                error = str(problem)
            except OSError as problem:
                error = f"{self.out}: cannot write the run folder ({problem.strerror})"
        error = processes.text_from_process_0(error)
        if error:
            raise TensorgameError(error)

    def _prepare_dirs(self, description: dict, resume: bool) -> None:
        run_file = self.out / "run.json"
        if resume:
            if not run_file.is_file():
                raise TensorgameError(f"{self.out}: nothing to resume (no run.json)")
            try:
                saved = json.loads(run_file.read_text())
            except (OSError, UnicodeDecodeError, ValueError) as error:
                raise TensorgameError(f"{run_file}: not a run description ({error})") from None
            if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
                raise TensorgameError(f"{run_file}: not a run description")
            for field in ("target", "field", "seed"):
                if saved.get(field) != description[field]:
                    raise TensorgameError(
                        f"{self.out}: --resume with a different {field} ({description[field]} "
                        f"vs saved {saved.get(field)})")
            changes = config_changes(saved["config"], self.setup.config)
            if changes:
                raise TensorgameError(f"{self.out}: --resume with a different config: "
                                      f"{', '.join(changes[:3])}")
        elif run_file.exists():
            raise TensorgameError(f"{self.out} already holds a run: pass --resume or another "
                                  f"--out")
        (self.out / "found").mkdir(parents=True, exist_ok=True)
        if not resume:
            io.write_atomic(run_file, json.dumps(description, indent=1))

    def _sharding(self, name: str) -> NamedSharding:
        """Where a part of the training state lives: parameters and optimizer state replicated,
        games and replay split over the mesh."""
        return self.replicated if name in ("params", "opt_state") else self.sharded

    def _place(self) -> None:
        """Put the training state on the mesh (``_sharding``)."""
        for name, tree in self.state.items():
            self.state[name] = jax.device_put(tree, self._sharding(name))

    def _compile(self, shapes: dict) -> "Programs":
        """Start compiling the learner, self-play and evaluation programs in the background,
        lowered from the training state's ``shapes`` (ShapeDtypeStructs) and shardings."""
        state = {name: jax.tree.map(lambda x, where=self._sharding(name): jax.ShapeDtypeStruct(
            x.shape, x.dtype, sharding=where), tree) for name, tree in shapes.items()}
        key = self.root_key
        solutions = self._solutions_on_mesh()
        evaluation = self.evaluation
        learn = make_learn_fn(self.setup, self.mesh, self.optimizer)
        act = make_act_fn(self.setup, self.mesh)
        play = make_play_fn(self.setup, self.mesh)
        lowerings = {
            "learn": lambda: learn.lower(state["params"], state["opt_state"], state["replay"],
                                         solutions, key, jnp.int32(1), jnp.float32(1.0),
                                         jnp.float32(1.0)),
            "act": lambda: act.lower(state["params"], state["actors"], state["replay"], key,
                                     jnp.float32(1.0)),
            "play": lambda: play.lower(state["params"], key, *evaluation, jnp.float32(0.0)),
        }
        if not self.setup.config.eval_every:  # no evaluation games: no program for them
            del lowerings["play"]
        return Programs(lowerings)

    def _restore(self) -> None:
        """Process 0 reads the last checkpoint; every process continues from it (or stops with
        process 0's one-line error)."""
        template = jax.tree.map(lambda x: np.zeros(np.shape(x), x.dtype),
                                self._checkpoint_tree())
        tree, progress, error = None, None, ""
        if self.writer:
            try:
                tree, progress = self._read_checkpoint(template)
            except TensorgameError as problem:
                error = str(problem)
        error = processes.text_from_process_0(error)
        if error:
            raise TensorgameError(error)
        restored = bool(processes.from_process_0(np.array(tree is not None)))
        self.progress = Progress(**json.loads(processes.text_from_process_0(
            json.dumps(dataclasses.asdict(progress or Progress())))))
        if restored:
            tree = processes.from_process_0(template if tree is None else tree)
            self.state = {name: tree[name] for name in self.state}
            self.solutions.restore(tree["solutions"])

    def _read_checkpoint(self, template: dict) -> tuple[dict | None, Progress]:
        """The last checkpoint's tree (None if none) and progress, counting the factorizations
        saved after it; trims the metrics written after it."""
        restored = self.checkpoints.restore(template)
        tree, progress = None, Progress()
        if restored is None:
            self.log(f"no checkpoint in {self.out}: starting from iteration 0")
        else:
            tree, meta = restored
            progress = Progress(**meta)
            self._trim_metrics(progress.iteration)
        found = sorted((self.out / "found").glob("*.json"))
        for path in found:
            rank = io.load(path).rank
            if not progress.best_rank or rank < progress.best_rank:
                progress.best_rank = rank
        progress.found = max(progress.found, len(found))
        return tree, progress

    def _trim_metrics(self, iteration: int) -> None:
        """Drop metrics lines written after ``iteration`` (they will be redone)."""
        path = self.out / "metrics.jsonl"
        if not path.is_file():
            return
        kept = []
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut by the kill
            if isinstance(row, dict) and row.get("iteration", 0) <= iteration:
                kept.append(line)
        io.write_atomic(path, "".join(line + "\n" for line in kept))

    def _checkpoint_tree(self) -> dict:
        return {**self.state, "solutions": self.solutions.state()}

    def save_checkpoint(self) -> None:
        tree = self._to_host(self._checkpoint_tree())
        if self.writer:
            self.checkpoints.save(self.progress.iteration, tree,
                                  dataclasses.asdict(self.progress))

    # -- one iteration -----------------------------------------------------------------------

    def _learn(self, count: int, use_replay: bool, key: jax.Array) -> dict:
        state = self.state
        solutions = self._solutions_on_mesh()
        demo_weight = demo_weight_at(self.setup.config, self.progress.iteration) \
            if use_replay else 1.0  # pretraining: full weight
        state["params"], state["opt_state"], metrics = self.programs["learn"](
            state["params"], state["opt_state"], state["replay"], solutions, key,
            jnp.int32(count), jnp.float32(use_replay), jnp.float32(demo_weight))
        self.progress.updates += count
        return {**{name: float(value) for name, value in metrics.items()},
                "demo_weight": demo_weight}

    def iterate(self) -> dict:
        """One iteration (self-play moves, then the learner updates) and its bookkeeping;
        returns metrics. The first also runs the demonstration-only ``pretrain_steps``."""
        setup, config, progress, state = self.setup, self.setup.config, self.progress, self.state
        start = time.perf_counter()
        if progress.iteration == 0 and config.pretrain_steps:
            self._learn(config.pretrain_steps, False, self.pretrain_key)
        k_act, k_learn = jax.random.split(jax.random.fold_in(self.root_key, progress.iteration))
        state["actors"], state["replay"], ended = self.programs["act"](
            state["params"], state["actors"], state["replay"], k_act,
            jnp.float32(config.gumbel_scale))
        ended = self._to_host(ended)
        played = time.perf_counter()
        ranks, blocks = self._collect(ended, progress.wall + played - start)
        metrics = self._learn(config.updates_per_batch, True, k_learn)
        done = time.perf_counter()
        steps = config.moves_per_iteration or setup.game.max_moves
        simulations = config.games * steps * config.simulations
        progress.iteration += 1
        progress.games += int(ended.ended.sum())
        progress.simulations += simulations
        progress.wall += done - start
        ranks, block_ranks = ranks[~blocks], ranks[blocks]  # games on the target, on blocks
        solved = ranks[ranks > 0]
        metrics.update({
            "iteration": progress.iteration, "wall": round(progress.wall, 3),
            "games": progress.games, "simulations": progress.simulations,
            "games_per_s": int(ended.ended.sum()) / max(played - start, 1e-9),
            "simulations_per_s": simulations / max(played - start, 1e-9),
            "play_s": played - start, "learn_s": done - played,
            "solved_fraction": float(solved.size / max(ranks.size, 1)),
            "mean_rank": float(solved.mean()) if solved.size else None,
            "ranks": {str(r): int((ranks == r).sum()) for r in np.unique(solved)},
            "residual_games": int((ranks == 0).sum()),
            "block_ranks": {str(r): int((block_ranks == r).sum())
                            for r in np.unique(block_ranks[block_ranks > 0])},
            "best_rank": progress.best_rank or None,
        })
        return metrics

    def _collect(self, ended: selfplay.Ended, wall: float) -> tuple[np.ndarray, np.ndarray]:
        """Verify and save every game that ended as an algorithm (found after ``wall`` seconds
        of training), a block game's completed on the whole target; returns the rank on the
        target of each ended game (0: not an algorithm) and which were block games."""
        identity = np.eye(self.setup.game.size, dtype=np.int64)
        ranks, blocks = [], []
        for n, b in zip(*np.nonzero(ended.ended)):
            blocks.append(bool(ended.block[n, b]))
            if not ended.solved[n, b]:
                ranks.append(0)
                continue
            rank, count = int(ended.rank[n, b]), int(ended.count[n, b])
            ranks.append(rank)
            moves = ended.moves[n, b, :count].astype(np.int64)
            residual = ended.residual[n, b]  # what the moves leave of the whole target
            if self.progress.best_rank and rank > self.progress.best_rank:
                continue
            if not residual.any():  # a completed game's moves alone are no algorithm
                self._solution(moves, rank)
            state = game.State(residual=residual, dims=self.setup.dims, moves=moves,
                               move_count=count, rank=rank, terminated=True)
            played = game.to_factorization(state, self.setup.game, self.setup.shape)
            basis = ended.bases[n, b].astype(np.int64)
            changed = not np.array_equal(basis, np.broadcast_to(identity, basis.shape))
            found = untransform(played, _cut(basis, self.setup.dims)) if changed else played
            report = verify(found, field=self.setup.field)
            if not report.valid or found.rank != rank:
                raise TensorgameError(f"internal error: a solved game of rank {rank} does not "
                                      f"verify: {report}")
            self._save_found(found, changed, blocks[-1], wall)
        return np.asarray(ranks, np.int64), np.asarray(blocks, bool)

    def _solution(self, moves: np.ndarray, rank: int) -> None:
        """Keep a solved game for order-shuffled replay only if it beats the naive algorithm and
        is at least as good as what the store keeps (``SolutionStore.offer``: a better one
        clears the worse; a replayed scheme counts): replaying the schoolbook games would teach
        the schoolbook."""
        n, m, p = self.setup.shape
        if rank < n * m * p:
            self.solutions.offer(moves, rank)

    def _save_found(self, f: Factorization, basis_changed: bool, block_game: bool,
                    wall: float) -> None:
        progress = self.progress
        key = canonical(f)
        signature = (key.u.tobytes(), key.v.tobytes(), key.w.tobytes())
        if signature in self.saved:
            return
        self.saved.add(signature)
        new_best = not progress.best_rank or f.rank < progress.best_rank
        progress.best_rank = min(progress.best_rank or f.rank, f.rank)
        progress.found += 1
        if not self.writer:
            return
        n, m, p = self.setup.shape
        meta = {"source": "tensorgame agent self-play", "found_by": "agents.train",
                "target": [n, m, p], "field": self.setup.field, "seed": self.setup.seed,
                "iteration": progress.iteration, "learner_step": progress.updates,
                "wall_time_s": round(wall, 3), "config_hash": self.hash,
                "played_in_changed_basis": basis_changed,
                "block_game_completed": block_game}
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
        while not self._stop(seconds is not None and time.perf_counter() - begin >= seconds,
                             max_iterations):
            metrics = self.iterate()
            if (config.eval_every and self.progress.iteration % config.eval_every == 0
                    and bool(processes.from_process_0(np.array(self.programs.ready("play"))))):
                metrics["eval"] = self.evaluate()
            if self.writer:
                with open(metrics_path, "a") as out:
                    out.write(json.dumps(metrics) + "\n")
            if on_metrics:
                on_metrics(metrics)
            if self.progress.iteration % config.checkpoint_every == 0:
                self.save_checkpoint()
        self.save_checkpoint()
        if self.writer:
            self.checkpoints.wait()
        return self.progress

    def _stop(self, out_of_time: bool, max_iterations: int | None) -> bool:
        """Whether to stop before the next iteration (process 0's clock decides for all)."""
        progress, stop_at = self.progress, self.setup.config.stop_at_rank
        stop = (out_of_time or (max_iterations is not None and progress.iteration >= max_iterations)
                or bool(stop_at and progress.best_rank and progress.best_rank <= stop_at))
        return bool(processes.from_process_0(np.array(stop)))

    def evaluate(self) -> dict:
        """``eval_games`` greedy games (no Gumbel noise) on the target in its own basis."""
        size = self.setup.game.size
        targets, dims = self.evaluation
        games = targets.shape[0]
        key = jax.random.fold_in(jax.random.fold_in(self.root_key, 10**9),
                                 self.progress.iteration)
        final, _ = self.programs["play"](self.state["params"], key, targets, dims,
                                         jnp.float32(0.0))
        final = self._to_host(final)
        solved = np.asarray(game.is_algorithm(final, self.setup.game))
        identity = np.broadcast_to(np.eye(size, dtype=np.int8), (1, games, 3, size, size))
        ended = selfplay.Ended(ended=np.ones((1, games), bool), solved=solved[None],
                               rank=final.rank[None], count=final.move_count[None],
                               residual=final.residual[None],
                               block=np.zeros((1, games), bool),
                               moves=final.moves[None].astype(np.int8), bases=identity)
        ranks, _ = self._collect(ended, self.progress.wall)
        solved_ranks = ranks[ranks > 0]
        return {"solved_fraction": float(solved_ranks.size / games),
                "best_rank": int(solved_ranks.min()) if solved_ranks.size else None}

    def _solutions_on_mesh(self):
        """The solution store's arrays, replicated on every device."""
        return jax.device_put(self.solutions.arrays(), self.replicated)

    def _evaluation_games(self) -> tuple[jax.Array, jax.Array]:
        """The target in its own basis, ``eval_games`` times (rounded up to the devices): (targets
        [B, S, S, S], dims [B, 3]), split over the mesh."""
        size = self.setup.game.size
        games = -(-self.setup.config.eval_games // self.devices) * self.devices
        target = np.broadcast_to(game.pad_target(self.setup.target, size)[0],
                                 (games, size, size, size))
        dims = np.broadcast_to(self.setup.dims, (games, 3))
        return (self._global(np.ascontiguousarray(target)),
                self._global(np.ascontiguousarray(dims)))

    def _to_host(self, tree):
        """``tree`` as numpy arrays, the same on every process: device arrays split over several
        processes are gathered (one program for the whole tree); host arrays (the solution
        store) are kept as they are, not concatenated over the processes."""
        leaves, treedef = jax.tree.flatten(tree)
        spread = [i for i, leaf in enumerate(leaves)
                  if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable]
        if spread:
            gathered = _replicate(self.replicated)([leaves[i] for i in spread])
            for i, leaf in zip(spread, gathered):
                leaves[i] = leaf.addressable_data(0)
        return jax.tree.unflatten(treedef, [np.asarray(leaf) for leaf in leaves])

    def _global(self, array: np.ndarray):
        return jax.make_array_from_callback(array.shape, self.sharded, lambda index: array[index])


def _cut(basis: np.ndarray, dims: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A padded basis [3, S, S] -> the three matrices on the target's real sizes."""
    return tuple(basis[f, : dims[f], : dims[f]] for f in range(3))


class Programs:
    """A run's compiled programs by name, compiled in the background (XLA compiles outside the
    GIL): the first on one thread, the others in the order given on a second, so that two
    compilations at most share the cores. Each is waited for when first used: the
    demonstration-only pretraining starts as soon as the learner is ready while self-play's
    program still compiles, and evaluation's compiles after it, while the first iterations run."""

    def __init__(self, lowerings: dict[str, Callable]):
        first, rest = (ThreadPoolExecutor(1, thread_name_prefix="compile") for _ in range(2))
        self._futures = {name: (rest if index else first).submit(
            lambda lower=lower: lower().compile()) for index, (name, lower) in
            enumerate(lowerings.items())}
        for pool in (first, rest):
            pool.shutdown(wait=False)

    def ready(self, name: str) -> bool:
        """Whether ``name`` has compiled (evaluation games never wait for their program: they
        run at the first multiple of ``eval_every`` after it is ready)."""
        return self._futures[name].done()

    def __getitem__(self, name: str) -> Callable:
        return self._futures[name].result()


@functools.cache
def _replicate(sharding: NamedSharding) -> Callable:
    """A program that copies a list of arrays to ``sharding`` (every device holds all)."""
    return jax.jit(lambda leaves: leaves, out_shardings=sharding)
