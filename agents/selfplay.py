"""Actors: games played with the search, batched over games, on the device.

``act`` advances a fixed set of game slots by a number of moves (``lax.scan``). A slot whose game
ends is written to the replay (``agents.replay``) and restarts at once on a fresh target, so no
search is spent on finished games. Each step also reports the games that ended in it, for the
host to verify and save. How games start is a ``StartSpec``.

Changes of basis (AlphaTensor's recipe): with probability ``basis_prob`` a game plays the target
in a random basis, one of ``basis_pool`` fixed bases of the run (basis i is drawn from the key
(seed, i), so the pool needs no memory and survives a resume) or, with ``basis_pool`` = 0, a
fresh one; unimodular matrices with entries up to ``basis_entries``, one matrix for the three
modes when ``shared_basis`` (A = B = C: the symmetric game, and a square target with rotations,
whose cyclic invariance it keeps).

Block games (``block_games``, AlphaTensor's training on several targets at once): with that
probability a slot plays a random square block <s,s,s> of the target <n,m,p> (s =
``block_size``, by default min(n, m, p): s of the rows, inner indices and columns, the rest of
the target zeroed), a smaller game whose algorithms (Strassen's inside <2,2,3> or <3,3,3>) the
network learns first; the slot keeps what the target has beyond its block (``Actors.rests``):
an ended block game is reported on the whole target (its residual plus that rest, its rank the
moves plus the completion's fibres of it), so the host saves an algorithm of the block as one
of the target. With ``block_as_game`` a block game is the <s,s,s> game itself: a permutation of
each mode's coordinates (``block_layout``, kept as the game's basis, so the host maps its moves
back like any basis change) puts the block at the first s*s coordinates in <s,s,s>'s own
layout, and the game's sizes (s*s, s*s, s*s) keep its moves there; whichever block was drawn,
the network sees the same game.

``play`` plays one batch of games from the start to the end (greedy evaluation, tests).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import chex
import jax
import jax.numpy as jnp

from agents import demos
from agents import reuse
from agents.config import AgentConfig
from agents import replay as replay_lib
from agents.network import PolicyValueNet
from agents.search import SearchSpec, no_trees, search_step
from tensorgame import game


@dataclasses.dataclass(frozen=True)
class StartSpec:
    """How a self-play game starts (static)."""

    basis_prob: float = 0.0  # chance of a game in a random basis
    basis_pool: int = 0  # > 0: that many fixed bases to draw from (0: a fresh one per game)
    basis_entries: int = 1  # largest |entry| of the basis matrices
    shared_basis: bool = False  # one matrix for the three modes (A = B = C)
    seed: int = 0  # the pool's
    block_prob: float = 0.0  # chance of a game on a random square block (``random_block``)
    block_side: int = 0
    block_as_game: bool = False  # block games in <s,s,s>'s own layout (``block_layout``)


def start_spec(config: AgentConfig, shape: tuple[int, int, int], seed: int) -> StartSpec:
    """The StartSpec of a resolved config for a target of ``shape`` and a run's ``seed``."""
    square = shape[0] == shape[1] == shape[2]
    return StartSpec(basis_prob=config.basis_change_prob, basis_pool=config.basis_pool,
                     basis_entries=config.basis_change_entries,
                     shared_basis=bool(config.symmetric or (config.rotations and square)),
                     seed=seed, block_prob=config.block_games, block_side=config.block_size,
                     block_as_game=bool(config.block_as_game))


def block_dims(starts: StartSpec) -> chex.Array | None:
    """[3] int32: the sizes of a block game played as its own game (None unless
    ``block_as_game``)."""
    return jnp.full(3, starts.block_side ** 2, jnp.int32) if starts.block_as_game else None


_POOL_STREAM = 0x62617365  # the pool's keys: fold_in(fold_in(key(seed), this), i)


def game_bases(key: jax.Array, dims: chex.Array, count: int, starts: StartSpec,
               config: game.GameConfig) -> chex.Array:
    """[count, 3, S, S]: bases for ``count`` games (the key is consumed), from the run's pool
    or fresh (``StartSpec``)."""
    if starts.basis_pool:
        pool = jax.random.fold_in(jax.random.key(starts.seed), _POOL_STREAM)
        index = jax.random.randint(key, (count,), 0, starts.basis_pool)
        keys = jax.vmap(lambda i: jax.random.fold_in(pool, i))(index)
    else:
        keys = jax.random.split(key, count)
    return jax.vmap(lambda k: demos.random_bases(k, dims, config.size, starts.shared_basis,
                                                 max_entry=starts.basis_entries))(keys)


@chex.dataclass(frozen=True)
class Actors:
    """The game slots and the search records of their current games."""

    states: game.State  # [B, ...]
    targets: chex.Array  # [B, S, S, S] int32: what each slot's game started from
    bases: chex.Array  # [B, 3, S, S] int32: the basis of that target (identity: T itself)
    rests: chex.Array  # [B, S, S, S] int32: the whole target (same basis) minus a block game's
    #                    target; zero for games on the whole target
    candidates: chex.Array  # [B, T, K, 3, S] int8: the search's candidate moves per move
    weights: chex.Array  # [B, T, K] float32: the search's visit distribution over them
    rewards: chex.Array  # [B, T] float32


@chex.dataclass(frozen=True)
class Ended:
    """Games that ended during one step of ``act`` (arrays [B, ...]; only ``ended`` rows)."""

    ended: chex.Array  # [B] bool
    solved: chex.Array  # [B] bool: an algorithm (game.is_algorithm)
    rank: chex.Array  # [B] int32: multiplications used, on the whole target
    count: chex.Array  # [B] int32: moves played
    residual: chex.Array  # [B, S, S, S] int32: what the moves left of the whole target (the
    #                       completion's part; a block game's rest of the target included)
    block: chex.Array  # [B] bool: a block game (its rank counts the completion of that rest)
    moves: chex.Array  # [B, T, 3, S] int8: the moves played (in the game's basis)
    bases: chex.Array  # [B, 3, S, S] int32


@chex.dataclass(frozen=True)
class Trajectories:
    """Per move t and game b of ``play`` (arrays [T, B, ...])."""

    moves: chex.Array  # [T, B, K, 3, S] candidate moves of the search
    weights: chex.Array  # [T, B, K] search policy (visit distribution) over them
    returns: chex.Array  # [T, B] return to the end of the game
    active: chex.Array  # [T, B] bool: the game was still running before move t


def block_choice(key: jax.Array, shape: tuple[int, int, int], side: int
                 ) -> tuple[chex.Array, chex.Array, chex.Array]:
    """A random square block of <n,m,p>: ``side`` (s <= min(n, m, p)) rows I, inner indices K
    and columns J, each drawn uniformly, as bool masks ([n], [m], [p]; the key is consumed); of
    a square target one draw for all three (I = K = J, a block the cyclic rotations of
    ``search.with_rotations`` keep)."""
    keys = jax.random.split(key, 3)
    if shape[0] == shape[1] == shape[2]:
        keys = jnp.stack([keys[0]] * 3)
    return tuple(jnp.argsort(jnp.argsort(jax.random.uniform(k, (length,)))) < side
                 for k, length in zip(keys, shape))


def _pairs(left: chex.Array, right: chex.Array) -> chex.Array:
    """[a * b] bool: the pairs (x, y) of a mode's coordinates (x * b + y) inside the block."""
    return (left[:, None] & right[None, :]).ravel()


def random_block(key: jax.Array, shape: tuple[int, int, int], size: int, side: int
                 ) -> chex.Array:
    """[3, S] int32 0/1 masks of the three modes for a random square block of <n,m,p>
    (``block_choice``; the key is consumed): ``block_masks`` of it."""
    return block_masks(*block_choice(key, shape, side), size)


def block_masks(rows: chex.Array, inner: chex.Array, cols: chex.Array, size: int
                ) -> chex.Array:
    """[3, S] int32 0/1 masks of the three modes for a block (``block_choice``'s masks). The
    target times them (u on I x K, v on K x J, w on J x I) is <s,s,s> on the block."""

    def mode(left, right):  # [S]: the pairs inside the block, padded
        return jnp.zeros(size, jnp.int32).at[: left.size * right.size].set(
            _pairs(left, right).astype(jnp.int32))

    return jnp.stack([mode(rows, inner), mode(inner, cols), mode(cols, rows)])


def block_layout(rows: chex.Array, inner: chex.Array, cols: chex.Array, size: int
                 ) -> chex.Array:
    """[3, S, S] int32 permutation matrices (a basis for ``demos.tensor_in_basis``) that move a
    block (``block_choice``'s masks, s indices each) to the first s*s coordinates of each mode
    in <s,s,s>'s layout: u's (i, k) to i'*s + k', v's (k, j) to k'*s + j', w's (j, i) to
    j'*s + i', where i' is i's place among the block's rows (and so on); the other coordinates
    follow in their order and the padding stays. The block of the target becomes <s,s,s>."""
    side = jnp.sum(rows)

    def mode(left, right):  # [S(new), S(old)]
        inside = _pairs(left, right)
        local = ((jnp.cumsum(left) - 1)[:, None] * side + (jnp.cumsum(right) - 1)[None, :])
        position = jnp.where(inside, local.ravel(), side * side + jnp.cumsum(~inside) - 1)
        position = jnp.concatenate([position, jnp.arange(inside.size, size)])
        return jax.nn.one_hot(position, size, dtype=jnp.int32).T

    return jnp.stack([mode(rows, inner), mode(inner, cols), mode(cols, rows)])


def new_games(key: jax.Array, target: chex.Array, dims: chex.Array, count: int,
              starts: StartSpec, spec: SearchSpec):
    """``count`` start states on ``target`` [S, S, S], each on a random square block
    (``random_block``) with probability ``starts.block_prob`` and in a random basis with
    probability ``starts.basis_prob`` (the key is consumed; with ``starts.block_as_game`` a
    block game's basis is its ``block_layout``, followed with ``starts.basis_prob`` by a basis
    of the <s,s,s> game with one matrix for its three modes, and its sizes the block's).
    Returns (states, targets [N, S, S, S], bases [N, 3, S, S], rests [N, S, S, S]: the whole
    target in that basis minus the game's)."""
    config = spec.game
    k_basis, k_pick, k_block, k_blocked = jax.random.split(key, 4)
    identity = jnp.broadcast_to(jnp.eye(config.size, dtype=jnp.int32), (count, 3) +
                                (config.size,) * 2)
    pick = jax.random.bernoulli(k_pick, starts.basis_prob, (count, 1, 1, 1))
    if starts.basis_prob > 0:
        bases = jnp.where(pick, game_bases(k_basis, dims, count, starts, config), identity)
    else:
        bases = identity
    games = jnp.broadcast_to(target, (count,) + target.shape)
    game_dims = jnp.broadcast_to(dims, (count, 3))
    if starts.block_prob > 0:
        chosen = jax.vmap(lambda k: block_choice(k, spec.shape, starts.block_side))(
            jax.random.split(k_block, count))  # ([N, n], [N, m], [N, p])
        masks = jax.vmap(lambda r, i, c: block_masks(r, i, c, config.size))(*chosen)  # [N, 3, S]
        blocks = jnp.einsum("ijk,ni,nj,nk->nijk", target, masks[:, 0], masks[:, 1], masks[:, 2])
        blocked = jax.random.bernoulli(k_blocked, starts.block_prob, (count, 1, 1, 1))
        games = jnp.where(blocked, blocks, games)
        if starts.block_as_game:  # the layout of that block
            layouts = jax.vmap(lambda r, i, c: block_layout(r, i, c, config.size))(*chosen)
            if starts.basis_prob > 0:  # then a basis of the <s,s,s> game (A = B = C)
                own = game_bases(jax.random.fold_in(k_basis, 1), block_dims(starts), count,
                                 dataclasses.replace(starts, shared_basis=True), config)
                layouts = jnp.einsum("nfab,nfbc->nfac", jnp.where(pick, own, identity), layouts)
            bases = jnp.where(blocked, layouts, bases)
            game_dims = jnp.where(blocked[:, :, 0, 0], block_dims(starts), game_dims)
    in_basis = jax.vmap(lambda b, t: demos.tensor_in_basis(t, b))
    targets = in_basis(bases, games)
    rests = in_basis(bases, jnp.broadcast_to(target, games.shape) - games)
    if config.field == "Z2":
        targets, rests = targets % 2, rests % 2
    states = jax.vmap(lambda t, d: game.init(t, d, config))(targets, game_dims)
    return states, targets, bases, rests


def init_actors(key: jax.Array, target: chex.Array, dims: chex.Array, count: int,
                starts: StartSpec, spec: SearchSpec) -> Actors:
    """``count`` fresh game slots (the key is consumed)."""
    cfg = spec.game
    states, targets, bases, rests = new_games(key, target, dims, count, starts, spec)
    t, k, s = cfg.max_moves, spec.samples, cfg.size
    return Actors(states=states, targets=targets, bases=bases, rests=rests,
                  candidates=jnp.zeros((count, t, k, 3, s), jnp.int8),
                  weights=jnp.zeros((count, t, k), jnp.float32),
                  rewards=jnp.zeros((count, t), jnp.float32))


def proposals(key: jax.Array, dims: chex.Array, count: int, spec: SearchSpec
              ) -> chex.Array | None:
    """[count, E, 3, S] root proposals drawn like demonstration moves (None when E = 0); the
    key is consumed."""
    if not spec.proposals:
        return None
    return jax.vmap(lambda k: demos.random_terms(k, dims, spec.proposals, spec.game,
                                                 spec.proposal_zero_prob,
                                                 spec.proposal_fixed_prob))(
        jax.random.split(key, count))


def act(net: PolicyValueNet, params: Any, key: jax.Array, actors: Actors,
        replay: replay_lib.Replay, target: chex.Array, dims: chex.Array, steps: int,
        starts: StartSpec, spec: SearchSpec, explore: chex.Numeric = 1.0
        ) -> tuple[Actors, replay_lib.Replay, Ended]:
    """Advance every slot by ``steps`` moves (the key is consumed). Ended games go to the replay
    and their slots restart. With ``spec.tree_reuse`` each slot's search tree goes on from move
    to move (``agents.reuse``) until its game ends or the call returns.
    Returns (actors, replay, Ended stacked over steps [steps, B, ...])."""
    cfg = spec.game
    rows = jnp.arange(actors.weights.shape[0])

    def one_move(carry, move_key):
        actors, replay, trees = carry
        k_search, k_new, k_proposals = jax.random.split(move_key, 3)
        states = actors.states
        moves, weights, action, trees = search_step(
            net, params, states, trees, k_search, spec, explore,
            proposals(k_proposals, dims, rows.shape[0], spec))
        chosen = jnp.take_along_axis(moves, action[:, None, None, None], axis=1)[:, 0]
        after, reward, done = game.step_batch(states, chosen, cfg)
        t = states.move_count
        actors = actors.replace(
            states=after,
            candidates=actors.candidates.at[rows, t].set(moves.astype(jnp.int8)),
            weights=actors.weights.at[rows, t].set(weights),
            rewards=actors.rewards.at[rows, t].set(reward))
        residual, rank = after.residual, after.rank
        block = jnp.zeros_like(done)
        if starts.block_prob > 0:  # a block game on the whole target: the plain game, a term a move
            block = jnp.any(actors.rests != 0, axis=(1, 2, 3))
            whole = residual + actors.rests
            residual = whole % 2 if cfg.field == "Z2" else whole
            rank = jnp.where(block, after.move_count + jax.vmap(game.fibre_count)(residual),
                             rank)
        ended = Ended(ended=done, solved=game.is_algorithm(after, cfg), rank=rank,
                      count=after.move_count, residual=residual, block=block,
                      moves=after.moves.astype(jnp.int8), bases=actors.bases)
        # t + 1 searched moves: an endgame's appended terms (game.GameConfig.endgame) were not
        # searched and teach nothing here (they count in the rewards, hence the returns).
        replay = replay_lib.add(replay, done, actors.targets, after.moves, t + 1,
                                actors.candidates, actors.weights, actors.rewards, block)
        fresh = init_actors(k_new, target, dims, rows.shape[0], starts, spec)
        actors = jax.tree.map(
            lambda new, old: jnp.where(done.reshape((-1,) + (1,) * (old.ndim - 1)), new, old),
            fresh, actors)
        if spec.tree_reuse:  # a restarted slot's tree belongs to its old game
            trees = reuse.forget(trees, done)
        return (actors, replay, trees), ended

    trees = no_trees(net, params, actors.states, spec) if spec.tree_reuse else None
    (actors, replay, _), ended = jax.lax.scan(one_move, (actors, replay, trees),
                                              jax.random.split(key, steps))
    return actors, replay, ended


def play(net: PolicyValueNet, params: Any, key: jax.Array, targets: chex.Array,
         dims: chex.Array, spec: SearchSpec, explore: chex.Numeric = 1.0
         ) -> tuple[game.State, Trajectories]:
    """Play games on targets [B, S, S, S] with sizes dims [B, 3] to the end (the key is
    consumed); ``explore`` 0 plays greedily. Returns the final states and the
    trajectories."""
    cfg = spec.game
    states = jax.vmap(lambda t, d: game.init(t, d, cfg))(targets, dims)

    def one_move(carry, move_key):
        states, trees = carry
        moves, weights, action, trees = search_step(net, params, states, trees, move_key, spec,
                                                    explore)
        chosen = jnp.take_along_axis(moves, action[:, None, None, None], axis=1)[:, 0]
        after, reward, _ = game.step_batch(states, chosen, cfg)
        return (after, trees), (moves, weights, reward, ~states.terminated)

    trees = no_trees(net, params, states, spec) if spec.tree_reuse else None
    (final, _), (moves, weights, rewards, active) = jax.lax.scan(
        one_move, (states, trees), jax.random.split(key, cfg.max_moves))
    returns = jnp.flip(jnp.cumsum(jnp.flip(rewards, 0), axis=0), 0)
    return final, Trajectories(moves=moves, weights=weights, returns=returns, active=active)
