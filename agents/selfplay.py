"""Actors: a batch of games played with the search, ``lax.scan`` over moves, batched over games.

Every game runs exactly ``max_moves`` scan steps; stepping a finished game is a no-op with reward
0, and its records are marked inactive. Returns-to-go come from a reverse cumulative sum.
"""

from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp

from agents.network import PolicyValueNet
from agents.search import Observation, SearchSpec, observe, search
from tensorgame import game


@chex.dataclass(frozen=True)
class Trajectories:
    """Per move t and game b (arrays [T, B, ...])."""

    obs: Observation
    moves: chex.Array  # [T, B, K, 3, S] candidate moves of the search
    weights: chex.Array  # [T, B, K] search policy (visit distribution) over them
    returns: chex.Array  # [T, B] return to the end of the game
    active: chex.Array  # [T, B] bool: the game was still running before move t


def play(net: PolicyValueNet, params: Any, key: jax.Array, targets: chex.Array,
         dims: chex.Array, spec: SearchSpec, gumbel_scale: chex.Numeric = 1.0
         ) -> tuple[game.State, Trajectories]:
    """Play games on targets [B, S, S, S] with sizes dims [B, 3] (the key is consumed);
    ``gumbel_scale`` 0 plays greedily.

    Returns the final states (batched) and the trajectories."""
    cfg = spec.game
    states = jax.vmap(lambda t, d: game.init(t, d, cfg))(targets, dims)

    def one_move(states, move_key):
        moves, weights, action, _ = search(net, params, states, move_key, spec, gumbel_scale)
        chosen = jnp.take_along_axis(moves, action[:, None, None, None], axis=1)[:, 0]
        obs = jax.vmap(lambda s: observe(s, cfg))(states)
        after, reward, _ = jax.vmap(lambda s, a: game.step(s, a, cfg))(states, chosen)
        record = (obs, moves, weights, reward, ~states.terminated)
        return after, record

    final, (obs, moves, weights, rewards, active) = jax.lax.scan(
        one_move, states, jax.random.split(key, cfg.max_moves))
    returns = jnp.flip(jnp.cumsum(jnp.flip(rewards, 0), axis=0), 0)
    return final, Trajectories(obs=obs, moves=moves, weights=weights, returns=returns,
                               active=active)
