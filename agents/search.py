"""Sampled AlphaZero on mctx: the real TensorGame is the model, K sampled moves are the actions.

At every node the policy samples K moves (canonicalised, duplicates and illegal ones masked);
the node's embedding keeps them, so mctx searches over K action indices and ``recurrent_fn`` maps
an index back to its move, steps the game and samples K moves for the child. The prior over the
sampled set follows Sampled MuZero (Hubert et al. 2021): pi_hat(a) ~ (beta_hat(a) / beta(a)) pi(a),
with beta_hat the empirical distribution of the K samples and beta the sampling distribution.
``search_reusing`` is the PUCT search on trees kept from the last move (``agents.reuse``).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import chex
import jax
import jax.numpy as jnp
import mctx

from agents import reuse
from agents.network import PolicyValueNet, risk_seeking_value
from tensorgame import game

INVALID_LOGIT = -1e9


@dataclasses.dataclass(frozen=True)
class SearchSpec:
    """Static search settings (hashable)."""

    game: game.GameConfig
    samples: int  # K
    simulations: int
    considered_actions: int
    temperature: float
    risk_seeking: float
    bound_value: bool  # floor the value at -game.end_penalty(residual), a reachable return
    value_scale: float  # Gumbel: 0 = mctx's rescaled completed Q; > 0 = raw Q times this scale
    algorithm: str = "gumbel"  # "gumbel" (Gumbel MuZero) or "puct" (AlphaZero's PUCT)
    dirichlet_fraction: float = 0.25  # PUCT: share of Dirichlet noise in the root prior
    dirichlet_alpha: float = 0.3
    pb_c_init: float = 1.25  # PUCT exploration constant
    proposals: int = 0  # E: root candidates drawn like demonstration moves (self-play only)
    proposal_share: float = 0.0  # their share of the root prior
    proposal_zero_prob: float = 0.75  # their distribution (agents.demos.random_terms)
    proposal_fixed_prob: float = 0.0
    rotation_share: float = 0.0  # > 0: the last move's two rotations join every node's candidates
    shape: tuple[int, int, int] = (1, 1, 1)  # the target <n,m,p>: the block of those rotations
    tree_reuse: bool = False  # PUCT: a move's search starts from the last one's sub-tree


@chex.dataclass(frozen=True)
class Observation:
    """What the network sees of a state (compact: moves, not rank-1 tensors)."""

    residual: chex.Array  # [..., S, S, S] int32
    recent: chex.Array  # [..., h, 3, S] int32: last h moves, most recent first, zeros before 1st
    move_count: chex.Array  # [...] int32
    dims: chex.Array  # [..., 3] int32


@chex.dataclass(frozen=True)
class Node:
    """mctx embedding: a batch of game states and the K candidate moves of each."""

    state: game.State  # batched [B, ...]
    moves: chex.Array  # [B, K, 3, S] int32, canonical


def observe(state: game.State, config: game.GameConfig) -> Observation:
    """One unbatched state -> its Observation."""
    recent = game.recent_moves(state.moves, state.move_count, config.history)
    return Observation(residual=state.residual, recent=recent, move_count=state.move_count,
                       dims=state.dims)


def features(obs: Observation, max_moves: int):
    """Batched Observation -> network inputs (residual [B,S,S,S], history [B,h,S,S,S],
    scalars [B, 2])."""
    history = jnp.einsum("bhi,bhj,bhk->bhijk", obs.recent[:, :, 0], obs.recent[:, :, 1],
                         obs.recent[:, :, 2])
    count = obs.move_count.astype(jnp.float32)
    scalars = jnp.stack([count / max_moves, (max_moves - count) / max_moves], axis=-1)
    return obs.residual, history, scalars


def _equal(a: chex.Array, b: chex.Array) -> chex.Array:
    """[B, I, F], [B, J, F] -> [B, I, J]: row i of a equals row j of b."""
    return jnp.all(a[:, :, None, :] == b[:, None, :, :], axis=-1)


def _repeats(same: chex.Array) -> chex.Array:
    """[B, K, K] equalities of K rows among themselves -> [B, K]: the row repeats an earlier one."""
    k = same.shape[-1]
    return jnp.any(same & jnp.tril(jnp.ones((k, k), bool), -1), axis=-1)


def _legal(moves: chex.Array, states: game.State, cfg: game.GameConfig) -> chex.Array:
    """[B, E, 3, S] candidate moves of batched states -> [B, E]: each is legal in its state."""
    return jax.vmap(lambda ms, s: jax.vmap(lambda a: game.is_legal(a, s, cfg))(ms))(moves, states)


def sampled_prior(moves: chex.Array, legal: chex.Array, log_p: chex.Array,
                  log_beta: chex.Array) -> tuple[chex.Array, chex.Array]:
    """Prior logits over K sampled moves with the Sampled MuZero correction.

    moves [B, K, 3, S] (canonical), legal [B, K], log_p / log_beta [B, K] (log-probability of
    each sample under the policy / the sampling distribution) -> (logits [B, K], invalid [B, K]):
    each distinct legal move gets log(count / K) + log_p - log_beta at its first occurrence
    (normalised over distinct moves), repeats and illegal moves are invalid.
    """
    k = moves.shape[1]
    flat = moves.reshape(moves.shape[0], k, -1)
    same = _equal(flat, flat)  # [B, K, K]
    repeat = _repeats(same)
    counts = jnp.sum(same, axis=-1).astype(jnp.float32)
    invalid = repeat | ~legal
    logits = jnp.log(counts / k) + log_p - log_beta
    logits = jnp.where(invalid, INVALID_LOGIT, logits)
    logits = jax.nn.log_softmax(logits, axis=-1)
    return jnp.where(invalid, INVALID_LOGIT, logits), invalid


def expand(net: PolicyValueNet, params: Any, states: game.State, key: jax.Array,
           spec: SearchSpec):
    """Evaluate a batch of states with one network call: (prior logits [B, K], invalid [B, K],
    value [B], moves [B, K, 3, S]); with ``spec.rotation_share`` the last two of the K are the
    last move's rotations (``with_rotations``). The key is consumed."""
    cfg = spec.game
    obs = jax.vmap(lambda s: observe(s, cfg))(states)
    fits = net.spec.tokenizer.fits(states.dims)  # [B, L, V]
    quantiles, tokens, log_p, log_beta = net.apply(
        params, *features(obs, cfg.max_moves), fits, key, spec.samples, spec.temperature,
        method=PolicyValueNet.evaluate)
    raw = net.spec.tokenizer.decode(tokens)  # [B, K, 3, S]
    moves = jax.vmap(jax.vmap(lambda a: game.canonicalize(a, cfg)))(raw)
    legal = _legal(moves, states, cfg)
    logits, invalid = sampled_prior(moves, legal, log_p, log_beta)
    value = risk_seeking_value(quantiles, spec.risk_seeking)
    if spec.bound_value:
        bound = jax.vmap(lambda r: game.end_penalty(r, cfg))(states.residual)
        value = jnp.maximum(value, -bound.astype(jnp.float32))
    value = jnp.where(states.terminated, 0.0, value)
    if spec.rotation_share > 0:
        logits, invalid, moves = with_rotations(logits, invalid, moves, states, spec)
    return logits, invalid, value, moves


def make_recurrent_fn(net: PolicyValueNet, spec: SearchSpec):
    def recurrent_fn(params, key, action, node: Node):
        chex.assert_shape(action, (node.moves.shape[0],))
        move = jnp.take_along_axis(node.moves, action[:, None, None, None], axis=1)[:, 0]
        states, reward, done = game.step_batch(node.state, move, spec.game)
        logits, _, value, moves = expand(net, params, states, key, spec)
        output = mctx.RecurrentFnOutput(reward=reward, discount=1.0 - done.astype(jnp.float32),
                                        prior_logits=logits, value=value)
        return output, Node(state=states, moves=moves)

    return recurrent_fn


def with_proposals(logits: chex.Array, invalid: chex.Array, moves: chex.Array,
                   proposals: chex.Array, legal: chex.Array, share: chex.Numeric):
    """Root exploration beyond the policy's samples: the last E of the K candidates give way to
    ``proposals`` [B, E, 3, S] (canonical moves drawn from another distribution; ``legal``
    [B, E]), which share ``share`` of the prior equally, like AlphaZero's root noise; proposals
    that repeat a kept candidate or each other are invalid. logits / invalid [B, K] and moves
    [B, K, 3, S] as ``expand`` returns them -> the same three, mixed."""
    k, e = moves.shape[1], proposals.shape[1]
    kept_invalid = invalid[:, :k - e]
    kept = jnp.where(kept_invalid, INVALID_LOGIT, jax.nn.log_softmax(
        jnp.where(kept_invalid, INVALID_LOGIT, logits[:, :k - e]), axis=-1))
    flat_kept = moves[:, :k - e].reshape(moves.shape[0], k - e, -1)
    flat_new = proposals.reshape(proposals.shape[0], e, -1)
    repeats_kept = jnp.any(_equal(flat_new, flat_kept) & ~kept_invalid[:, None], -1)
    repeats_new = _repeats(_equal(flat_new, flat_new))
    new_invalid = ~legal | repeats_kept | repeats_new | (share <= 0)
    count = jnp.sum(~new_invalid, axis=-1, keepdims=True)
    share = jnp.where(count > 0, share, 0.0)
    new = jnp.log(share / jnp.maximum(count, 1)) * jnp.ones((1, e))
    mixed = jnp.concatenate([kept + jnp.log1p(-share), jnp.where(new_invalid, INVALID_LOGIT,
                                                                   new)], axis=-1)
    mixed_invalid = jnp.concatenate([kept_invalid, new_invalid], axis=-1)
    return (jnp.where(mixed_invalid, INVALID_LOGIT, mixed), mixed_invalid,
            jnp.concatenate([moves[:, :k - e], proposals], axis=1))


def with_rotations(logits: chex.Array, invalid: chex.Array, moves: chex.Array,
                   states: game.State, spec: SearchSpec):
    """Plain game: the last move's two rotations inside its square block
    (``game.rotate_in_block``; for a square target the cyclic shift (v, w, u) and (w, u, v) of
    the whole move), which with it make an orbit of a symmetry of the block, replace the last
    two of the K candidates with ``spec.rotation_share`` of the prior (``with_proposals``; none
    before the first move, after a move its rotation fixes, or one wider than the block). A
    game whose sizes are not the target's is a block game in <s,s,s>'s own layout
    (``selfplay.block_layout``), rotated by ``game.rotate``.
    Arguments and results as ``with_proposals``; states batched [B, ...]."""
    cfg = spec.game
    n, m, p = spec.shape
    own = jnp.any(states.dims != jnp.asarray([n * m, m * p, p * n]), axis=-1)  # [B]
    last = jnp.take_along_axis(states.moves, jnp.maximum(states.move_count - 1, 0)[:, None, None,
                                                                                 None], axis=1)

    def rotate(action, own_layout):  # [3, S], [] -> (rotated [3, S], fits [])
        in_block, fits = game.rotate_in_block(action, spec.shape)
        return jnp.where(own_layout, game.rotate(action), in_block), own_layout | fits

    once, fits = jax.vmap(rotate)(last[:, 0], own)  # [B, 3, S], [B]
    rotations = jnp.stack([once, jax.vmap(rotate)(once, own)[0]], axis=1)  # [B, 2, 3, S]
    rotations = jax.vmap(jax.vmap(lambda a: game.canonicalize(a, cfg)))(rotations)
    fixed = jnp.all(rotations[:, 0] == last[:, 0], axis=(-2, -1))
    first = (states.move_count == 0) | fixed | ~fits
    return with_proposals(logits, invalid, moves, rotations,
                          _legal(rotations, states, cfg) & ~first[:, None], spec.rotation_share)


def search(net: PolicyValueNet, params: Any, states: game.State, key: jax.Array,
           spec: SearchSpec, explore: chex.Numeric = 1.0, proposals: chex.Array | None = None):
    """Search from a batch of states (the key is consumed). ``explore`` 0 plays greedily: Gumbel
    MuZero without Gumbel noise, or PUCT without root noise, taking the most visited move, and
    no proposals; otherwise it scales the Gumbel noise (PUCT: noise as configured, a move drawn
    in proportion to the visits). ``proposals`` [B, E, 3, S]: extra root candidates
    (``with_proposals``) with ``spec.proposal_share`` of the root prior.

    Returns (moves [B, K, 3, S], action weights [B, K], chosen action index [B], root value [B]).
    """
    root_key, search_key = jax.random.split(key)
    logits, invalid, value, moves = expand(net, params, states, root_key, spec)
    if proposals is not None:
        logits, invalid, moves = with_proposals(logits, invalid, moves, proposals,
                                                _legal(proposals, states, spec.game),
                                                spec.proposal_share * (explore > 0))
    root = mctx.RootFnOutput(prior_logits=logits, value=value,
                             embedding=Node(state=states, moves=moves))
    common = dict(num_simulations=spec.simulations, invalid_actions=invalid.astype(jnp.float32),
                  max_depth=spec.game.max_moves)
    recurrent_fn = make_recurrent_fn(net, spec)
    if spec.algorithm == "puct":
        out = mctx.muzero_policy(params, search_key, root, recurrent_fn, **common,
                                 dirichlet_fraction=spec.dirichlet_fraction * (explore > 0),
                                 dirichlet_alpha=spec.dirichlet_alpha, pb_c_init=spec.pb_c_init)
        weights = jnp.where(invalid, 0.0, out.action_weights)
        action = jnp.where(explore > 0, out.action, jnp.argmax(weights, axis=-1))
        return moves, weights, action, value
    if spec.value_scale > 0:  # raw Q values: a multiplication saved weighs the same everywhere
        qtransform = functools.partial(mctx.qtransform_completed_by_mix_value,
                                       value_scale=spec.value_scale, rescale_values=False)
    else:
        qtransform = mctx.qtransform_completed_by_mix_value
    out = mctx.gumbel_muzero_policy(
        params, search_key, root, recurrent_fn, **common,
        max_num_considered_actions=spec.considered_actions, gumbel_scale=explore,
        qtransform=qtransform)
    weights = jnp.where(invalid, 0.0, out.action_weights)
    return moves, weights, out.action, value


def _fresh_trees(net: PolicyValueNet, params: Any, states: game.State, key: jax.Array,
                 spec: SearchSpec) -> mctx.Tree:
    """Reusable trees [B, ...] holding only the states' roots (the key is consumed)."""
    logits, invalid, value, moves = expand(net, params, states, key, spec)
    root = mctx.RootFnOutput(prior_logits=logits, value=value,
                             embedding=Node(state=states, moves=moves))
    return reuse.new_tree(root, invalid, spec.simulations)


def no_trees(net: PolicyValueNet, params: Any, states: game.State, spec: SearchSpec
             ) -> mctx.Tree:
    """Trees for ``search_reusing`` with none in use (every slot's next search starts afresh);
    nothing is computed."""
    shapes = jax.eval_shape(lambda: _fresh_trees(net, params, states, jax.random.key(0), spec))
    return jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), shapes)


def search_reusing(net: PolicyValueNet, params: Any, states: game.State, trees: mctx.Tree,
                   key: jax.Array, spec: SearchSpec, explore: chex.Numeric = 1.0):
    """PUCT with sub-tree reuse (``agents.reuse``): a slot whose tree is in use searches on from
    it (its root is the slot's state: the child chosen last time), the others from a fresh root;
    Dirichlet noise on the root prior, a move drawn in proportion to the root's visits, old and
    new (``explore`` 0: no noise, the most visited move). From fresh trees, exactly ``search``
    with ``algorithm="puct"`` (same key, same results).

    Returns (moves [B, K, 3, S], action weights [B, K], chosen action [B], root value [B],
    the searched trees: ``reuse.reroot`` them at the chosen moves for the next move)."""
    root_key, search_key = jax.random.split(key)
    fresh = _fresh_trees(net, params, states, root_key, spec)
    kept = reuse.in_use(trees)
    tree = jax.tree.map(
        lambda old, new: jnp.where(kept.reshape((-1,) + (1,) * (old.ndim - 1)), old, new),
        trees, fresh)
    logits = tree.children_prior_logits[:, reuse.ROOT]  # [B, K]
    invalid = logits <= INVALID_LOGIT / 2
    # mctx.muzero_policy's steps, on a tree that may already hold visits.
    action_key, noise_key, simulate_key = jax.random.split(search_key, 3)
    noise = jax.random.dirichlet(noise_key, jnp.full(logits.shape[-1], spec.dirichlet_alpha),
                                 shape=logits.shape[:1])
    fraction = spec.dirichlet_fraction * (explore > 0)
    noisy = jnp.log(jnp.maximum((1 - fraction) * jax.nn.softmax(logits) + fraction * noise,
                                jnp.finfo(logits.dtype).tiny))
    noisy = noisy - jnp.max(noisy, axis=-1, keepdims=True)
    noisy = jnp.where(invalid, jnp.finfo(logits.dtype).min, noisy)
    tree = tree.replace(
        children_prior_logits=tree.children_prior_logits.at[:, reuse.ROOT].set(noisy),
        root_invalid_actions=invalid.astype(jnp.float32))
    tree = reuse.simulate(params, simulate_key, tree, make_recurrent_fn(net, spec),
                          spec.simulations, spec.game.max_moves, spec.pb_c_init)
    visits = tree.children_visits[:, reuse.ROOT].astype(jnp.float32)
    weights = jnp.where(invalid, 0.0, visits / jnp.sum(visits, axis=-1, keepdims=True))
    drawn_logits = jnp.log(jnp.maximum(weights, jnp.finfo(weights.dtype).tiny))
    drawn = jax.random.categorical(action_key, drawn_logits - jnp.max(drawn_logits, -1,
                                                                      keepdims=True))
    action = jnp.where(explore > 0, drawn, jnp.argmax(weights, axis=-1))
    moves = tree.embeddings.moves[:, reuse.ROOT]
    value = tree.raw_values[:, reuse.ROOT]
    return moves, weights, action, value, tree


def search_step(net: PolicyValueNet, params: Any, states: game.State, trees: mctx.Tree | None,
                key: jax.Array, spec: SearchSpec, explore: chex.Numeric = 1.0,
                proposals: chex.Array | None = None):
    """One move's search in self-play and evaluation: ``search``, or with ``spec.tree_reuse``
    ``search_reusing`` on ``trees`` (``no_trees`` at first), re-rooted at the chosen moves.
    Returns (moves [B, K, 3, S], action weights [B, K], chosen action [B], the trees for the
    next move: ``trees`` unchanged without reuse)."""
    if spec.tree_reuse:
        moves, weights, action, _, tree = search_reusing(net, params, states, trees, key, spec,
                                                         explore)
        return moves, weights, action, reuse.reroot(tree, action, spec.simulations)
    moves, weights, action, _ = search(net, params, states, key, spec, explore, proposals)
    return moves, weights, action, trees
