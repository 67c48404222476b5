"""Everything static about a training run: target, configs, network, search and learner specs."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from agents import learner as learner_lib
from agents import selfplay
from agents.config import AgentConfig
from agents.network import PolicyValueNet, network_spec
from agents.search import Observation, SearchSpec, features
from agents.tokens import make_tokenizer
from tensorgame import game
from tensorgame.errors import TensorgameError
from tensorgame.tensors import matmul_tensor

# Largest padded size S the agent accepts: the network's input is S^3 per history plane, and
# the replay keeps S^3 per game (<4,4,4> is S = 16; <5,5,5> is S = 25).
MAX_SIZE = 36


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
    starts: selfplay.StartSpec
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
    n, m, p = shape
    if max(n * m, m * p, p * n) > MAX_SIZE:
        raise TensorgameError(f"<{n},{m},{p}> is too large for the agent (a mode of size "
                              f"{max(n * m, m * p, p * n)} > {MAX_SIZE})")
    config = config.resolved(shape, field)
    target = matmul_tensor(*shape)
    size = max(target.shape)
    game_config = game.GameConfig(size=size, max_moves=config.max_moves, field=field,
                                  coefficients=config.coefficients, history=config.history,
                                  symmetric=bool(config.symmetric), endgame=config.endgame,
                                  completion=bool(config.completion),
                                  symmetry=(game.symmetry_maps(
                                      shape, *(np.asarray(x) for x in config.symmetry), size)
                                      if config.symmetry else ()))
    tokenizer = make_tokenizer(size, game_config.coefficients, config.token_entries,
                               config.max_vocabulary)
    net = PolicyValueNet(network_spec(config, size, tokenizer))
    search = SearchSpec(game=game_config, samples=config.samples,
                        simulations=config.simulations,
                        considered_actions=min(config.considered_actions, config.samples),
                        temperature=config.sample_temperature, risk_seeking=config.risk_seeking,
                        bound_value=bool(config.bound_value), value_scale=config.value_scale,
                        algorithm=config.search, dirichlet_fraction=config.dirichlet_fraction,
                        dirichlet_alpha=config.dirichlet_alpha, pb_c_init=config.pb_c_init,
                        proposals=config.root_proposals, proposal_share=config.proposal_share,
                        proposal_zero_prob=config.demo_zero_prob,
                        proposal_fixed_prob=config.demo_fixed_prob,
                        rotation_share=config.rotations, shape=tuple(shape),
                        tree_reuse=bool(config.tree_reuse))
    _, dims = game.pad_target(target, size)
    starts = selfplay.start_spec(config, tuple(shape), seed)
    return RunSetup(shape=tuple(shape), field=field, seed=seed, config=config, game=game_config,
                    search=search, net=net,
                    learner=learner_lib.learner_spec(config, game_config, starts.shared_basis),
                    starts=starts, target=target, dims=dims)


def init_params(setup: RunSetup, key: jax.Array) -> Any:
    s, h = setup.game.size, setup.game.history
    obs = Observation(residual=jnp.zeros((1, s, s, s), jnp.int32),
                      recent=jnp.zeros((1, h, 3, s), jnp.int32),
                      move_count=jnp.zeros((1,), jnp.int32), dims=jnp.asarray(setup.dims)[None])
    tokens = jnp.zeros((1, 1, setup.net.spec.tokenizer.length), jnp.int32)
    # One compiled program: run op by op, Flax's init compiles every initializer separately.
    return jax.jit(setup.net.init)(key, *features(obs, setup.game.max_moves), tokens)
