"""The exact endgame (tensorgame.endgame) and the game that uses it (GameConfig.endgame)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tensorgame import endgame, game, library
from tensorgame.errors import TensorgameError
from tensorgame.factorization import verify
from tensorgame.tensors import matmul_tensor

SOLVE = jax.jit(endgame.solve, static_argnums=2)
SQUARE = jnp.array([4, 4, 4])
COEFFICIENTS = (-1, 0, 1)
CONFIG = game.GameConfig(size=4, max_moves=8, coefficients=COEFFICIENTS, endgame=4)
STEP = jax.jit(game.step, static_argnums=2)


def canonical_set(u, v, w):
    """The terms as a set, each with the first non-zeros of u and v positive."""
    out = set()
    for a, b, c in zip(u, v, w):
        sa, sb = np.sign(a[np.flatnonzero(a)[0]]), np.sign(b[np.flatnonzero(b)[0]])
        out.add((tuple(a * sa), tuple(b * sb), tuple(c * sa * sb)))
    return out


def jennrich_conditions(u, v, w):
    """Kruskal-Jennrich: A and B of full column rank, no two columns of C parallel (then the
    decomposition is the only one of its rank)."""
    r = len(u)
    parallel = any(np.linalg.matrix_rank(np.stack([w[i], w[j]])) < 2
                   for i, j in itertools.combinations(range(r), 2))
    return (np.linalg.matrix_rank(u) == r and np.linalg.matrix_rank(v) == r
            and not parallel)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 4))
def test_unique_low_rank_residuals_are_found_and_found_terms_are_exact(seed, rank):
    rng = np.random.default_rng(seed)
    u, v, w = (rng.integers(-1, 2, (rank, 4)) for _ in range(3))
    residual = np.einsum("ri,rj,rk->ijk", u, v, w)
    found, terms, count = SOLVE(jnp.asarray(residual, jnp.int32), SQUARE, COEFFICIENTS, 4)
    terms, count = np.asarray(terms), int(count)
    if bool(found):  # whatever it finds is exact, in the alphabet and within the limit
        assert 1 <= count <= 4 and set(np.unique(terms)) <= set(COEFFICIENTS)
        assert np.array_equal(np.einsum("ri,rj,rk->ijk", *terms[:count].transpose(1, 0, 2)),
                              residual)
        assert not terms[count:].any()
    if (np.all(u.any(1)) and np.all(v.any(1)) and np.all(w.any(1))
            and jennrich_conditions(u, v, w)):
        assert bool(found) and count == rank
        assert canonical_set(*terms[:count].transpose(1, 0, 2)) == canonical_set(u, v, w)


def test_the_limit_and_the_target_itself_are_not_solved():
    target, _ = game.pad_target(matmul_tensor(2, 2, 2), 4)
    assert not bool(SOLVE(jnp.asarray(target), SQUARE, COEFFICIENTS, 8)[0])  # rank 7 > any side
    assert not bool(SOLVE(jnp.zeros((4, 4, 4), jnp.int32), SQUARE, COEFFICIENTS, 4)[0])
    u = v = w = np.eye(4, dtype=np.int64)[:3]
    residual = jnp.asarray(np.einsum("ri,rj,rk->ijk", u, v, w), jnp.int32)
    assert bool(SOLVE(residual, SQUARE, COEFFICIENTS, 3)[0])
    assert not bool(SOLVE(residual, SQUARE, COEFFICIENTS, 2)[0])
    assert not bool(SOLVE(2 * residual, SQUARE, COEFFICIENTS, 3)[0])  # 2 is outside the alphabet
    assert bool(SOLVE(2 * residual, SQUARE, (-2, -1, 0, 1, 2), 3)[0])


def test_rectangular_residuals_use_the_mode_order_that_works():
    """<2,2,3> is 4 x 6 x 6: six terms with independent v and w (but not u) are found by the
    order that puts the two modes of size 6 first."""
    rng = np.random.default_rng(5)
    size = 6
    while True:
        u = np.zeros((6, size), np.int64)
        u[:, :4] = rng.integers(-1, 2, (6, 4))
        v, w = rng.integers(-1, 2, (6, size)), rng.integers(-1, 2, (6, size))
        if (u.any(1).all() and np.linalg.matrix_rank(v) == 6
                and jennrich_conditions(v, w, u)):
            break
    residual = np.einsum("ri,rj,rk->ijk", u, v, w)
    found, terms, count = SOLVE(jnp.asarray(residual, jnp.int32), jnp.array([4, 6, 6]),
                                COEFFICIENTS, 6)
    assert bool(found) and int(count) == 6
    assert canonical_set(*np.asarray(terms).transpose(1, 0, 2)) == canonical_set(u, v, w)


def play(moves, config=CONFIG):
    target, dims = game.pad_target(matmul_tensor(2, 2, 2), 4)
    state = game.init(jnp.asarray(target), jnp.asarray(dims), config)
    rewards = []
    for move in moves:
        state, reward, done = STEP(state, jnp.asarray(move, jnp.int32), config)
        rewards.append(float(reward))
    return state, rewards, bool(done)


def test_three_strassen_moves_finish_the_game_at_rank_7_and_verify():
    strassen = library.get(2, 2, 2)
    terms = np.stack([strassen.u, strassen.v, strassen.w], axis=1)
    finished = 0
    for chosen in itertools.combinations(range(7), 3):
        state, rewards, done = play(terms[list(chosen)])
        if done:
            finished += 1
            assert int(state.move_count) == int(state.rank) == 7
            assert sum(rewards) == -7.0 and rewards[-1] == -5.0
            assert not np.asarray(state.residual).any()
            assert verify(game.to_factorization(state, CONFIG, (2, 2, 2))).valid
        else:
            assert int(state.move_count) == 3
    assert finished > 0
    # Without the endgame the same moves leave the game running.
    plain = game.GameConfig(size=4, max_moves=8, coefficients=COEFFICIENTS)
    assert not play(terms[:3], plain)[2]


def test_the_endgame_needs_moves_left_and_the_plain_game_over_z():
    strassen = library.get(2, 2, 2)
    terms = np.stack([strassen.u, strassen.v, strassen.w], axis=1)
    short = game.GameConfig(size=4, max_moves=6, coefficients=COEFFICIENTS, endgame=4)
    for chosen in itertools.combinations(range(7), 3):  # 3 + 4 > 6 moves: never finished early
        state, _, done = play(terms[list(chosen)], short)
        assert not done and int(state.move_count) == 3
    with pytest.raises(TensorgameError, match="over Z only"):
        game.GameConfig(size=4, field="Z2", coefficients=(0, 1), endgame=4)


SYMMETRIC = game.GameConfig(size=4, max_moves=4, coefficients=COEFFICIENTS, symmetric=True,
                            endgame=4)


def test_symmetric_game_one_orbit_of_strassen_then_the_endgame():
    """In the cyclic-symmetric game the endgame appends whole orbits: after one orbit of a
    symmetric Strassen the rest (the symmetric term and the other orbit, rank 4) is unique."""
    from test_game import SYMMETRIC_STRASSEN

    for index, done_after_one in ((1, True), (2, True), (0, False)):
        state, rewards, done = play(SYMMETRIC_STRASSEN[index:index + 1], SYMMETRIC)
        assert done == done_after_one
        if done:
            assert int(state.rank) == 7 and int(state.move_count) == 3 and sum(rewards) == -7
            moves = np.asarray(state.moves)[:3]
            assert sum(game.is_symmetric_term(jnp.asarray(m)) for m in moves) == 1
            assert verify(game.to_factorization(state, SYMMETRIC, (2, 2, 2))).valid
