"""The game's endgame solved exactly: a residual of low rank decomposed by Jennrich's algorithm.

A residual R = sum_{i<r} a_i (x) b_i (x) c_i whose factor matrices A = [a_i] and B = [b_i] have
full column rank r and whose c_i are pairwise independent has exactly this decomposition, and
linear algebra finds it (Jennrich's simultaneous diagonalisation, Harshman 1970): for generic
vectors x, y the slices M_x = sum_k x_k R[:, :, k] = A diag(C^T x) B^T and M_y give
M_x M_y^+ = A diag(C^T x / C^T y) A^+, whose eigenvectors of the r largest eigenvalues (r the
rank of the unfolding R_(1)) are the a_i; the rest follows from the unfolding,
(A^T)^+ R_(1) = rows b_i (x) c_i. The cyclic order of the modes that puts the two largest first
is used, so r may reach the second-largest side of the target.

The game (``tensorgame.game``, ``GameConfig.endgame``) finishes a residual this solves at once,
so the search and the network need to find only the moves before it. Over Z a solution is
accepted only when its factors, scaled to integers (a and b divided by their
smallest non-zero magnitude), lie in the game's coefficient set and reconstruct R exactly in
integers: rounding can make the solver miss a decomposition, never accept a wrong one.

Jit- and vmap-able. In self-play at <2,2,2> it costs 20-25% of the simulations per second
(results/agent.md).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np

# The seed of two fixed generic directions for the slice combinations (any choice without a
# relation to the target works; fixed so that a game is deterministic; sizes <= 64 take the
# first entries of two rows of 64).
_DIRECTIONS_SEED = 20_221_005
# Relative magnitudes below which an eigenvalue of the unfolding's Gram matrix counts as zero,
# and a factor entry (float32 rounding leaves ~1e-3 of the largest entry; integer factors'
# entries are at least 1/|c|max of it).
_ZERO_SPECTRUM = 1e-5
_ZERO_ENTRY = 0.05


def solve(residual: chex.Array, dims: chex.Array, coefficients: tuple[int, ...],
          limit: chex.Numeric) -> tuple[chex.Array, chex.Array, chex.Array]:
    """Decompose ``residual`` [S, S, S] int32 (real sizes ``dims`` [3]) into at most ``limit``
    rank-1 terms with entries in ``coefficients``. Returns (found [] bool, terms [S, 3, S] int32,
    count [] int32): the first ``count`` rows of ``terms`` are the terms (u, v, w) when found;
    zero rows otherwise. A zero residual is not "found" (there is nothing to solve)."""
    size = residual.shape[0]
    chex.assert_shape(residual, (size, size, size))
    chex.assert_shape(dims, (3,))
    # The cyclic mode order whose first two modes are the largest (they must hold r independent
    # factors): (0, 1, 2), (1, 2, 0) or (2, 0, 1); the identity on ties.
    order = jnp.argmax(jnp.stack([jnp.minimum(dims[0], dims[1]), jnp.minimum(dims[1], dims[2]),
                                  jnp.minimum(dims[2], dims[0])]))
    rotated = jnp.stack([jnp.transpose(residual, o) for o in _ORDERS])[order]
    found, terms, count = _attempt(rotated, coefficients, limit)
    # Terms of R'[j, k, i] = R[i, j, k] are (u, v, w) -> (w, u, v) of R; of R'[k, i, j], (v, w, u).
    terms = jnp.stack([terms, terms[:, jnp.array([2, 0, 1])], terms[:, jnp.array([1, 2, 0])]])
    return found, terms[order], count


_ORDERS = ((0, 1, 2), (1, 2, 0), (2, 0, 1))


def _attempt(residual: chex.Array, coefficients: tuple[int, ...], limit: chex.Numeric):
    """Jennrich in the given mode order: (found [] bool, terms [S, 3, S] int32, count [] int32)."""
    size = residual.shape[0]
    tensor = residual.astype(jnp.float32)
    x, y = jnp.asarray(np.random.default_rng(_DIRECTIONS_SEED).normal(
        size=(2, max(size, 64)))[:, :size], jnp.float32)
    slice_x = jnp.einsum("ijk,k->ij", tensor, x)
    slice_y = jnp.einsum("ijk,k->ij", tensor, y)
    values, vectors = jnp.linalg.eig(slice_x @ jnp.linalg.pinv(slice_y))
    # r = the rank of the unfolding R_(1) (from its Gram matrix, exact in float32 for small
    # integers); the r eigenvalues of largest magnitude belong to the a_i (their sizes vary by
    # orders of magnitude with C^T x / C^T y, so no threshold on them would do).
    unfolding = tensor.reshape(size, size * size)
    spectrum = jnp.linalg.eigvalsh(unfolding @ unfolding.T)
    rank = jnp.sum(spectrum > _ZERO_SPECTRUM * jnp.maximum(spectrum.max(), 1e-12))
    position = jnp.argsort(jnp.argsort(-jnp.abs(values)))
    keep = position < rank  # [S]
    a = jax.vmap(_integral, in_axes=1)(vectors)  # [S, S]: row i is a_i
    a = jnp.where(keep[:, None], jnp.round(a), 0.0)
    # b_i (x) c_i = row i of (A^T)^+ R_(1), by the Gram matrix of the integer a_i (exact; the
    # identity on dropped rows keeps it invertible when the kept a_i are independent).
    gram = a @ a.T + jnp.diag((~keep).astype(jnp.float32))
    products = jnp.linalg.solve(gram, a @ unfolding)
    b, c = jax.vmap(_split_rank_one)(products.reshape(size, size, size))
    terms = jnp.stack([a, jnp.where(keep[:, None], b, 0.0), jnp.where(keep[:, None], c, 0.0)],
                      axis=1)  # [S, 3, S] float
    terms = jnp.round(terms)
    allowed = jnp.all(jnp.isin(terms, jnp.asarray(coefficients, jnp.float32)))
    terms = jnp.where(allowed, terms, 0.0).astype(jnp.int32)
    rebuilt = jnp.einsum("ri,rj,rk->ijk", terms[:, 0], terms[:, 1], terms[:, 2])
    count = jnp.sum(keep).astype(jnp.int32)
    nonzero_factors = jnp.all(jnp.any(terms != 0, axis=-1) | ~keep[:, None])
    found = (allowed & nonzero_factors & jnp.all(rebuilt == residual) & (count >= 1)
             & (count <= limit))
    order = jnp.argsort(~keep, stable=True)  # kept terms first
    return found, jnp.where(found, terms[order], 0), jnp.where(found, count, 0)


def _integral(vector: chex.Array) -> chex.Array:
    """An eigenvector [S] complex -> real, scaled so its smallest non-zero magnitude is 1."""
    largest = vector[jnp.argmax(jnp.abs(vector))]
    real = jnp.real(vector * jnp.conj(largest) / jnp.maximum(jnp.abs(largest), 1e-30))
    return _unit_smallest(real)[0]


def _unit_smallest(vector: chex.Array) -> tuple[chex.Array, chex.Array]:
    """(vector / s, s) with s its smallest non-zero magnitude (entries below _ZERO_ENTRY times
    the largest are zero)."""
    magnitude = jnp.abs(vector)
    nonzero = magnitude > _ZERO_ENTRY * jnp.maximum(magnitude.max(), 1e-30)
    smallest = jnp.min(jnp.where(nonzero, magnitude, jnp.inf))
    smallest = jnp.where(jnp.isfinite(smallest), smallest, 1.0)
    return vector / smallest, smallest


def _split_rank_one(matrix: chex.Array) -> tuple[chex.Array, chex.Array]:
    """A rank-1 matrix [S, S] = b c^T -> (b, c) with b scaled like ``_integral``; a matrix of
    another rank gives a pair whose product differs from it (caught by the exact check)."""
    row, col = jnp.unravel_index(jnp.argmax(jnp.abs(matrix)), matrix.shape)
    pivot = matrix[row, col]
    b, scale = _unit_smallest(matrix[:, col])
    c = matrix[row, :] / jnp.where(pivot == 0, 1.0, pivot) * scale
    return b, c
