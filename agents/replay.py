"""The self-play replay as device arrays: a ring of finished games, sampled into training pairs.

A game is kept compactly (its start target, its moves, the search's candidates and visit
distribution per move, its returns); a training pair rebuilds the observation after t moves from
the target and the first t moves. Under ``shard_map`` each device holds its own ring.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from agents import learner as learner_lib
from agents.search import Observation
from tensorgame import game


@chex.dataclass(frozen=True)
class Replay:
    targets: chex.Array  # [G, S, S, S] int16: the start residual of each game
    moves: chex.Array  # [G, T, 3, S] int8: moves played
    counts: chex.Array  # [G] int32: moves played (0: empty slot)
    candidates: chex.Array  # [G, T, K, 3, S] int8: the search's candidate moves
    weights: chex.Array  # [G, T, K] float32: the search's visit distribution
    returns: chex.Array  # [G, T] float32: return from move t to the end
    blocks: chex.Array  # [G] bool: a block game (agents.selfplay)
    added: chex.Array  # [1] int32: games ever added (the ring's cursor is added % G)


def empty(games: int, config: game.GameConfig, samples: int) -> Replay:
    s, t = config.size, config.max_moves
    return Replay(targets=jnp.zeros((games, s, s, s), jnp.int16),
                  moves=jnp.zeros((games, t, 3, s), jnp.int8),
                  counts=jnp.zeros((games,), jnp.int32),
                  candidates=jnp.zeros((games, t, samples, 3, s), jnp.int8),
                  weights=jnp.zeros((games, t, samples), jnp.float32),
                  returns=jnp.zeros((games, t), jnp.float32),
                  blocks=jnp.zeros((games,), bool),
                  added=jnp.zeros((1,), jnp.int32))


def add(replay: Replay, ended: chex.Array, targets: chex.Array, moves: chex.Array,
        counts: chex.Array, candidates: chex.Array, weights: chex.Array,
        rewards: chex.Array, blocks: chex.Array) -> Replay:
    """Write the games whose ``ended`` [B] is set (targets [B, S, S, S], moves [B, T, 3, S],
    counts [B], candidates [B, T, K, 3, S], weights [B, T, K], rewards [B, T], blocks [B])
    into the ring."""
    capacity = replay.counts.shape[0]
    order = jnp.cumsum(ended) - 1
    slot = jnp.where(ended, (replay.added[0] + order) % capacity, capacity)  # capacity: dropped
    returns = jnp.flip(jnp.cumsum(jnp.flip(rewards, -1), axis=-1), -1)

    def put(ring, rows):
        return ring.at[slot].set(rows.astype(ring.dtype), mode="drop")

    return Replay(targets=put(replay.targets, targets), moves=put(replay.moves, moves),
                  counts=put(replay.counts, counts),
                  candidates=put(replay.candidates, candidates),
                  weights=put(replay.weights, weights), returns=put(replay.returns, returns),
                  blocks=put(replay.blocks, blocks),
                  added=replay.added + jnp.sum(ended).astype(jnp.int32))


def rank_quantiles(replay: Replay, quantile: float) -> tuple[chex.Array, chex.Array]:
    """The ``quantile`` of the ranks (minus the first return) of the ring's games on the target
    and of its block games ([] float32 each, observed ranks; 0 where the ring holds none), the
    ranked reward of ``sample``: a game strictly better than most recent games of its kind
    teaches the policy, so self-play climbs from whatever rank it plays and never imitates the
    rank it settles on. Under ``shard_map``, of this device's ring."""
    capacity = replay.counts.shape[0]
    filled = jnp.arange(capacity) < jnp.minimum(replay.added[0], capacity)
    ranks = -replay.returns[:, 0]

    def of(kind):
        mine = filled & kind
        value = jnp.nanquantile(jnp.where(mine, ranks, jnp.nan), quantile, method="lower")
        return jnp.where(jnp.any(mine), value, 0.0)

    return of(~replay.blocks), of(replay.blocks)


def sample(replay: Replay, key: jax.Array, batch: int, dims: chex.Array,
           config: game.GameConfig, policy_below: chex.Numeric = 0,
           block_below: chex.Numeric = 0, block_dims: chex.Array | None = None
           ) -> learner_lib.Targets:
    """``batch`` training pairs for a target of sizes ``dims`` [3] (the key is consumed): a
    uniform filled game, a uniform move of it, one target move drawn from the search's visit
    distribution there. Targets are masked out while the ring is empty. ``policy_below`` > 0:
    only games on the target that cost fewer multiplications teach the policy; block games teach
    it only below ``block_below`` (> 0; the block's naive rank: its schoolbook would teach
    nothing the completion does not do, or ``rank_quantiles``); every game still teaches the
    value. ``block_dims`` [3]: the sizes of block games played as their own game
    (``selfplay.block_dims``), their observations' sizes."""
    k_game, k_move, k_pick = jax.random.split(key, 3)
    capacity = replay.counts.shape[0]
    filled = jnp.minimum(replay.added[0], capacity)
    g = jax.random.randint(k_game, (batch,), 0, jnp.maximum(filled, 1))
    count = jnp.maximum(replay.counts[g], 1)
    t = jnp.floor(jax.random.uniform(k_move, (batch,)) * count).astype(jnp.int32)
    moves = replay.moves[g].astype(jnp.int32)  # [N, T, 3, S]
    played = jnp.arange(config.max_moves)[None, :] < t[:, None]  # [N, T]
    tensors = jax.vmap(jax.vmap(lambda a: game.move_tensor(a, config)))(moves)
    residual = replay.targets[g].astype(jnp.int32) - jnp.einsum("nt,ntijk->nijk",
                                                                played.astype(jnp.int32), tensors)
    if config.field == "Z2":
        residual = residual % 2
    recent = jax.vmap(lambda m, c: game.recent_moves(m, c, config.history))(moves, t)
    weights = replay.weights[g, t]  # [N, K]
    pick = jax.random.categorical(k_pick, jnp.log(jnp.maximum(weights, 1e-30)))
    target_move = replay.candidates[g, t, pick].astype(jnp.int32)  # [N, 3, S]
    below = jnp.where(replay.blocks[g], block_below, policy_below)
    teaches = (below == 0) | (replay.returns[g, 0] > -below)
    sizes = jnp.broadcast_to(dims, (batch, 3))
    if block_dims is not None:
        sizes = jnp.where(replay.blocks[g][:, None], block_dims, sizes)
    obs = Observation(residual=residual, recent=recent, move_count=t, dims=sizes)
    return learner_lib.Targets(obs=obs, moves=target_move[:, None],
                               weights=teaches[:, None].astype(jnp.float32),
                               returns=replay.returns[g, t],
                               mask=jnp.broadcast_to((filled > 0).astype(jnp.float32), (batch,)))
