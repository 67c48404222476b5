"""Losses and optax updates.

Policy loss: cross-entropy of the decoder against target moves (teacher forcing): for self-play
states a move drawn from the search's visit distribution over its K candidates (an unbiased
sample of the cross-entropy to that distribution, K times cheaper than scoring all K), for
demonstrations and order-shuffled solutions the next move. Value loss: quantile regression of the
return. One update draws its self-play part from the replay buffer and generates its
demonstration and solution parts inside the jitted step. Two options from AlphaTensor's and its
quantum demo's recipes: the demonstrations' weight in the loss annealed (``demo_weight``, set by
the caller per update), and every example seen, with probability ``signed_permutations``, under
random signed permutations of the three modes (``permuted``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import chex
import jax
import jax.numpy as jnp
import optax

from agents import demos
from agents.config import AgentConfig
from agents.network import PolicyValueNet, masked_log_probs, quantile_loss
from agents.search import Observation, features
from tensorgame import game


@chex.dataclass(frozen=True)
class Targets:
    """Training examples: observations with target moves, their weights and returns."""

    obs: Observation  # [N, ...]
    moves: chex.Array  # [N, C, 3, S] int32 canonical target moves
    weights: chex.Array  # [N, C] float32, summing to 1
    returns: chex.Array  # [N] float32
    mask: chex.Array  # [N] float32: 1 for real examples


@chex.dataclass(frozen=True)
class Solutions:
    """Found factorizations kept for order-shuffled replay (in the basis they were played)."""

    terms: chex.Array  # [N, max_moves, 3, S] int32: the moves
    counts: chex.Array  # [N] int32: moves used
    valid: chex.Array  # [N] bool


@dataclasses.dataclass(frozen=True)
class LearnerSpec:
    game: game.GameConfig
    demo_batch: int
    solution_batch: int
    demo_max_rank: int
    demo_zero_prob: float
    demo_zero_prob_min: float
    demo_fixed_prob: float
    demo_basis_prob: float
    value_weight: float
    signed_permutations: float  # chance an example is seen under random signed permutations
    shared_permutation: bool  # one permutation for the three modes (as selfplay.StartSpec's
    #                           shared_basis: the cyclic structure of a square target kept)


def learner_spec(config: AgentConfig, game_config: game.GameConfig,
                 shared_permutation: bool) -> LearnerSpec:
    demo = round(config.batch_size * config.demo_fraction)
    solution = round(config.batch_size * config.solution_fraction)
    return LearnerSpec(game=game_config, demo_batch=demo, solution_batch=solution,
                       demo_max_rank=min(config.demo_max_rank, config.max_moves),
                       demo_zero_prob=config.demo_zero_prob,
                       demo_zero_prob_min=config.demo_zero_prob_min,
                       demo_fixed_prob=config.demo_fixed_prob,
                       demo_basis_prob=config.demo_basis_prob, value_weight=config.value_weight,
                       signed_permutations=config.signed_permutations,
                       shared_permutation=shared_permutation)


def make_optimizer(config: AgentConfig) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(1.0),
                       optax.adamw(config.learning_rate, weight_decay=config.weight_decay))


def losses(net: PolicyValueNet, params: Any, targets: Targets, max_moves: int):
    """(policy loss, value loss), each a mean over real examples."""
    tokenizer = net.spec.tokenizer
    tokens = tokenizer.encode(targets.moves)  # [N, C, L]
    quantiles, logits = net.apply(params, *features(targets.obs, max_moves), tokens)
    logp = masked_log_probs(logits, targets.obs.dims, tokens, tokenizer)  # [N, C]
    policy = -jnp.sum(targets.weights * logp, axis=-1)
    value = quantile_loss(quantiles, targets.returns)
    total = jnp.maximum(jnp.sum(targets.mask), 1.0)
    return jnp.sum(policy * targets.mask) / total, jnp.sum(value * targets.mask) / total


def supervised_targets(key: jax.Array, dims: chex.Array, solutions: Solutions,
                       spec: LearnerSpec, demo_weight: chex.Numeric = 1.0) -> Targets | None:
    """Demonstrations (each weighing ``demo_weight`` in the loss) and order-shuffled solutions
    as single-move Targets (key consumed)."""
    k_demo, k_sol = jax.random.split(key)
    parts = []
    if spec.demo_batch:
        obs, move, ret = demos.demonstration_batch(k_demo, dims, spec.demo_batch,
                                                   spec.demo_max_rank, spec.game,
                                                   spec.demo_zero_prob, spec.demo_fixed_prob,
                                                   spec.demo_basis_prob, spec.demo_zero_prob_min)
        parts.append((obs, move, ret, jnp.full(spec.demo_batch, demo_weight, jnp.float32)))
    if spec.solution_batch:
        parts.append(demos.solution_batch(k_sol, solutions.terms, solutions.counts,
                                          solutions.valid, dims, spec.solution_batch,
                                          spec.game))
    if not parts:
        return None
    obs, move, ret, mask = jax.tree.map(lambda *x: jnp.concatenate(x), *parts)
    return Targets(obs=obs, moves=move[:, None], weights=jnp.ones((move.shape[0], 1)),
                   returns=ret, mask=mask)


def permuted(key: jax.Array, targets: Targets, spec: LearnerSpec) -> Targets:
    """Each example, with probability ``spec.signed_permutations``, under random signed
    permutations (P, Q, R) of the coordinates of the three modes inside its sizes (one matrix
    for all three with ``spec.shared_permutation``): the residual becomes R' = R x1 P x2 Q x3 R
    and every move u (x) v (x) w (recent and target) Pu (x) Qv (x) Rw, canonical. The state is
    equivalent (the same ranks and move costs, entries in the same coefficient set), so returns
    and weights stay (AlphaTensor's augmentation). The key is consumed."""
    config = spec.game
    count = targets.returns.shape[0]
    k_bases, k_pick = jax.random.split(key)
    bases = jax.vmap(lambda k, d: demos.random_bases(k, d, config.size, spec.shared_permutation,
                                                     steps=0))(jax.random.split(k_bases, count),
                                                               targets.obs.dims)
    pick = jax.random.bernoulli(k_pick, spec.signed_permutations, (count, 1, 1, 1))
    bases = jnp.where(pick, bases, jnp.eye(config.size, dtype=jnp.int32))  # [N, 3, S, S]
    residual = jax.vmap(demos.tensor_in_basis)(targets.obs.residual, bases)
    if config.field == "Z2":
        residual = residual % 2

    def moved(moves):  # [N, ..., 3, S]
        flat = moves.reshape(count, -1, 3, config.size)
        out = jax.vmap(lambda m, b: demos.moves_in_basis(m, b, config))(flat, bases)
        out = jax.vmap(jax.vmap(lambda a: game.canonicalize(a, config)))(out)
        return out.reshape(moves.shape).astype(moves.dtype)

    obs = targets.obs.replace(residual=residual.astype(targets.obs.residual.dtype),
                              recent=moved(targets.obs.recent))
    return targets.replace(obs=obs, moves=moved(targets.moves))


def make_update(net: PolicyValueNet, optimizer: optax.GradientTransformation,
                spec: LearnerSpec, axis_name: str | None = None):
    """update(params, opt_state, key, selfplay Targets, Solutions, dims, demo_weight) ->
    (params, opt_state, metrics). The key is consumed. Under ``axis_name`` (shard_map/pmap)
    gradients and metrics are averaged over that axis."""
    max_moves = spec.game.max_moves

    def loss_fn(params, targets):
        policy, value = losses(net, params, targets, max_moves)
        return policy + spec.value_weight * value, (policy, value)

    def update(params, opt_state, key, selfplay, solutions, dims, demo_weight):
        if spec.signed_permutations:  # a key only then: runs without it keep their numbers
            key, k_permute = jax.random.split(key)
        supervised = supervised_targets(key, dims, solutions, spec, demo_weight)
        targets = selfplay if supervised is None else jax.tree.map(
            lambda *x: jnp.concatenate(x), selfplay, supervised)
        if spec.signed_permutations:
            targets = permuted(k_permute, targets, spec)
        (loss, (policy, value)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, targets)
        metrics = {"loss": loss, "policy_loss": policy, "value_loss": value}
        if axis_name is not None:
            grads, metrics = jax.lax.pmean((grads, metrics), axis_name)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, opt_state, metrics

    return update
