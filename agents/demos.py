"""Synthetic demonstrations and order-shuffled replays of found factorizations.

A demonstration is a random factorization: R terms whose entries are drawn from the coefficient
set (zero with probability ``zero_prob``, the non-zero values uniformly), zero factors repaired,
entries beyond the target's sizes zero. Their sum is a target of rank <= R; playing the terms in a
random order gives (state, next move, return) pairs: after t moves the residual is the sum of the
remaining terms, the next move is term t and the return is minus the remaining terms' cost. In the
symmetric game a move is an orbit (cost 3) or, with probability ``fixed_prob``, a symmetric term
(u, u, +-u) (cost 1). With probability ``basis_prob`` a demonstration is seen in a random basis
(unimodular matrices on the three modes, a signed permutation and a few row operations; one
matrix in the symmetric game): every term u (x) v (x) w becomes Pu (x) Qv (x) Rw, kept when all
entries stay in the coefficient set, so its terms share one hidden structure. The same reader
turns a factorization found in self-play into training pairs with its moves shuffled
(AlphaTensor's move-order augmentation). No known algorithm is used anywhere.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from agents.search import Observation
from tensorgame import game


def random_terms(key: jax.Array, dims: chex.Array, count: int, config: game.GameConfig,
                 zero_prob: chex.Numeric, fixed_prob: float = 0.0) -> chex.Array:
    """[count, 3, S] random canonical legal moves for a target of sizes ``dims`` (key consumed);
    in the symmetric game a share ``fixed_prob`` of them are symmetric terms (u, u, +-u)."""
    s = config.size
    nonzero = jnp.asarray([c for c in config.coefficients if c != 0], jnp.int32)
    k_zero, k_value, k_fix_pos, k_fix_val, k_sym, k_sign = jax.random.split(key, 6)
    values = nonzero[jax.random.randint(k_value, (count, 3, s), 0, nonzero.shape[0])]
    zero = jax.random.bernoulli(k_zero, zero_prob, (count, 3, s))
    inside = game.dims_mask(dims, config)  # [3, S]
    terms = jnp.where(zero, 0, values) * inside
    # Repair zero factors: one random position inside the sizes gets a non-zero value.
    position = jax.random.randint(k_fix_pos, (count, 3), 0, 1 << 20) % dims
    fix_value = nonzero[jax.random.randint(k_fix_val, (count, 3), 0, nonzero.shape[0])]
    empty = ~jnp.any(terms != 0, axis=-1)  # [count, 3]
    fixed = terms.at[jnp.arange(count)[:, None], jnp.arange(3)[None, :], position].set(fix_value)
    terms = jnp.where(empty[..., None], fixed, terms)
    if config.symmetric:
        sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, (count, 1)), -1, 1)
        if config.field == "Z2":
            sign = jnp.ones_like(sign)
        symmetric = jnp.stack([terms[:, 0], terms[:, 0], sign * terms[:, 0]], axis=1)
        pick = jax.random.bernoulli(k_sym, fixed_prob, (count, 1, 1))
        terms = jnp.where(pick, symmetric, terms)
    return jax.vmap(lambda a: game.canonicalize(a, config))(terms)


def random_unimodular(key: jax.Array, size: int, dim: chex.Array, steps: int = 4,
                      max_entry: int = 1) -> chex.Array:
    """[S, S] int32: a random signed permutation of the first ``dim`` coordinates followed by
    ``steps`` random row operations (row i += +-row j) among them, each skipped when it would
    make an entry larger than ``max_entry`` in magnitude (so the matrix stays unimodular with
    entries in [-max_entry, max_entry]); identity beyond ``dim``."""
    k_perm, k_sign, k_rows, k_coef = jax.random.split(key, 4)
    inside = jnp.arange(size) < dim
    noise = jnp.where(inside, jax.random.uniform(k_perm, (size,)), 2.0 + jnp.arange(size))
    sign = jnp.where(inside & jax.random.bernoulli(k_sign, 0.5, (size,)), -1, 1)
    matrix = jnp.eye(size, dtype=jnp.int32)[jnp.argsort(noise)] * sign[:, None]
    rows = jax.random.randint(k_rows, (steps, 2), 0, 1 << 20) % dim
    coef = jnp.where(jax.random.bernoulli(k_coef, 0.5, (steps,)), -1, 1)

    def operate(m, op):
        (i, j), c = op
        operated = m.at[i].add(c * m[j])
        keep = (i != j) & (jnp.max(jnp.abs(operated[i])) <= max_entry)
        return jnp.where(keep, operated, m), None

    return jax.lax.scan(operate, matrix, (rows, coef))[0]


def random_bases(key: jax.Array, dims: chex.Array, size: int, shared: bool,
                 steps: int = 4, max_entry: int = 1) -> chex.Array:
    """[3, S, S] (S = ``size``): a ``random_unimodular`` matrix per mode (``steps`` row
    operations, 0: a signed permutation; entries up to ``max_entry``), one for all three modes
    when ``shared`` (it keeps a cyclic-symmetric tensor symmetric). The key is consumed."""
    keys = jax.random.split(key, 3)
    if shared:
        keys = jnp.stack([keys[0]] * 3)
    return jnp.stack([random_unimodular(keys[f], size, dims[f], steps, max_entry)
                      for f in range(3)])


def tensor_in_basis(tensor: chex.Array, bases: chex.Array) -> chex.Array:
    """[S, S, S] ``tensor`` in the basis ``bases`` [3, S, S] (P, Q, R): T x1 P x2 Q x3 R."""
    return jnp.einsum("ia,jb,kc,abc->ijk", bases[0], bases[1], bases[2], tensor)


def moves_in_basis(moves: chex.Array, bases: chex.Array, config: game.GameConfig) -> chex.Array:
    """Moves [R, 3, S] in the basis ``bases`` [3, S, S]: u -> Pu, v -> Qv, w -> Rw (reduced mod
    2 over Z2; not canonicalised)."""
    moved = jnp.einsum("fab,rfb->rfa", bases, moves)
    return moved % 2 if config.field == "Z2" else moved


def change_basis(terms: chex.Array, bases: chex.Array, config: game.GameConfig) -> chex.Array:
    """Terms [R, 3, S] in the basis bases [3, S, S] (``moves_in_basis``, canonical), or
    unchanged when an entry would leave the coefficient set."""
    moved = moves_in_basis(terms, bases, config)
    fits = jnp.all(jnp.isin(moved, jnp.asarray(config.coefficients)))
    moved = jax.vmap(lambda a: game.canonicalize(a, config))(moved)
    return jnp.where(fits, moved, terms)


def replay_pair(key: jax.Array, terms: chex.Array, count: chex.Array, dims: chex.Array,
                config: game.GameConfig):
    """One training pair from a factorization (moves terms [Rmax, 3, S], the first ``count``
    used).

    The moves are played in a random order and the pair is taken after a uniform number of moves
    t < count. Returns (Observation, next move [3, S], return []). The key is consumed.
    """
    r_max = terms.shape[0]
    k_perm, k_t = jax.random.split(key)
    # Random order of the first ``count`` moves (the rest stay behind them).
    noise = jax.random.uniform(k_perm, (r_max,)) + (jnp.arange(r_max) >= count)
    order = jnp.argsort(noise)
    terms = terms[order]
    t = jax.random.randint(k_t, (), 0, jnp.maximum(count, 1))
    position = jnp.arange(r_max)
    remaining = (position >= t) & (position < count)
    tensors = jax.vmap(lambda a: game.move_tensor(a, config))(terms)
    costs = jax.vmap(lambda a: game.move_cost(a, config))(terms)
    residual = jnp.sum(tensors * remaining[:, None, None, None], axis=0)
    if config.field == "Z2":
        residual = residual % 2
    recent = game.recent_moves(terms, t, config.history)
    obs = Observation(residual=residual.astype(jnp.int32), recent=recent.astype(jnp.int32),
                      move_count=t.astype(jnp.int32), dims=dims)
    return obs, terms[t], -jnp.sum(costs * remaining).astype(jnp.float32)


def demonstration_batch(key: jax.Array, dims: chex.Array, batch: int, max_rank: int,
                        config: game.GameConfig, zero_prob: float, fixed_prob: float = 0.0,
                        basis_prob: float = 0.0, zero_prob_min: float = 0.0):
    """``batch`` pairs from fresh random factorizations of rank 1..max_rank (key consumed);
    ``zero_prob_min`` > 0: each factorization draws its zero probability uniformly from
    [zero_prob_min, zero_prob], so sparse and dense demonstrations mix.

    Returns (Observation [batch, ...], next moves [batch, 3, S], returns [batch])."""
    k_terms, k_rank, k_pairs, k_basis, k_pick = jax.random.split(key, 5)
    zero_probs = jnp.full((batch,), zero_prob)
    if zero_prob_min:  # a key only then: runs without it keep their random numbers
        k_terms, k_zero = jax.random.split(k_terms)
        zero_probs = jax.random.uniform(k_zero, (batch,), minval=zero_prob_min, maxval=zero_prob)
    terms = jax.vmap(lambda k, z: random_terms(k, dims, max_rank, config, z, fixed_prob))(
        jax.random.split(k_terms, batch), zero_probs)
    if basis_prob:
        bases = jax.vmap(lambda k: random_bases(k, dims, config.size, config.symmetric))(
            jax.random.split(k_basis, batch))
        moved = jax.vmap(lambda t, b: change_basis(t, b, config))(terms, bases)
        pick = jax.random.bernoulli(k_pick, basis_prob, (batch, 1, 1, 1))
        terms = jnp.where(pick, moved, terms)
    ranks = jax.random.randint(k_rank, (batch,), 1, max_rank + 1)
    return jax.vmap(lambda k, t, r: replay_pair(k, t, r, dims, config))(
        jax.random.split(k_pairs, batch), terms, ranks)


def solution_batch(key: jax.Array, terms: chex.Array, counts: chex.Array, valid: chex.Array,
                   dims: chex.Array, batch: int, config: game.GameConfig):
    """``batch`` order-shuffled pairs from stored factorizations: moves [N, Rmax, 3, S], of which
    the first counts [N] are used; ``valid`` [N] marks filled slots. Returns pairs as
    ``demonstration_batch`` plus a weight [batch] (0 when no slot is filled). The key is
    consumed."""
    k_pick, k_pairs = jax.random.split(key)
    logits = jnp.where(valid, 0.0, -1e9)
    pick = jax.random.categorical(k_pick, logits, shape=(batch,))
    obs, move, ret = jax.vmap(lambda k, t, r: replay_pair(k, t, r, dims, config))(
        jax.random.split(k_pairs, batch), terms[pick], counts[pick])
    weight = jnp.broadcast_to(jnp.any(valid).astype(jnp.float32), (batch,))
    return obs, move, ret, weight
