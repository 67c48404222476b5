"""TensorGame: jit/vmap over 1024 games against a NumPy reference, and property tests."""

import dataclasses
import functools
import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from agents.presets import ORBIT_SYMMETRIES
from tensorgame import compose, game, library
from tensorgame.errors import TensorgameError
from tensorgame.factorization import verify
from tensorgame.tensors import matmul_tensor, rank_upper_bound, reconstruct

CONFIG = game.GameConfig(size=4, max_moves=6, coefficients=(-1, 0, 1))
STEP = jax.jit(game.step, static_argnums=2)
RANK_BOUND = jax.jit(game.rank_bound, static_argnums=1)


def reference_play(target, actions, max_moves, field):
    """NumPy rules: residual, per-move rewards and done flags of one game."""
    residual = target.astype(np.int64).copy()
    rewards, dones, done = [], [], not residual.any()
    for count, (u, v, w) in enumerate(actions, start=1):
        if done:
            rewards.append(0.0)
            dones.append(True)
            continue
        residual = residual - np.einsum("i,j,k->ijk", u, v, w)
        if field == "Z2":
            residual %= 2
        reward = -1.0
        done = not residual.any()
        if count >= max_moves and not done:
            reward -= rank_upper_bound(residual, field)
            done = True
        rewards.append(reward)
        dones.append(done)
    return residual, np.array(rewards), np.array(dones)


@pytest.mark.parametrize("field", ["Z", "Z2"])
def test_1024_games_match_numpy_reference(field):
    config = game.GameConfig(size=4, max_moves=6, field=field,
                             coefficients=(0, 1) if field == "Z2" else (-1, 0, 1))
    rng = np.random.default_rng(0)
    batch = 1024
    coefficients = np.array(config.coefficients)
    actions = rng.choice(coefficients, size=(batch, config.max_moves, 3, 4))
    planted = rng.choice(coefficients, size=(batch, 2, 3, 4))
    targets = np.einsum("bri,brj,brk->bijk", planted[:, :, 0], planted[:, :, 1], planted[:, :, 2])
    # A quarter of the games play their planted terms first, so they end early with a zero residual.
    actions[: batch // 4, :2] = planted[: batch // 4]
    if field == "Z2":
        targets %= 2
    dims = np.full((batch, 3), 4, np.int32)
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def play(targets, dims, actions):
        def one_game(target, dim, moves):
            def body(state, action):
                state, reward, done = game.step(state, action, config)
                return state, (reward, done)

            return jax.lax.scan(body, game.init(target, dim, config), moves)

        return jax.vmap(one_game)(targets, dims, actions)

    state, (rewards, dones) = play(jnp.asarray(targets, jnp.int32), jnp.asarray(dims),
                                   jnp.asarray(actions, jnp.int32))
    play(jnp.asarray(targets, jnp.int32), jnp.asarray(dims), jnp.asarray(actions, jnp.int32))

    residuals, rewards, dones = map(np.asarray, (state.residual, rewards, dones))
    early = 0
    for b in range(batch):
        residual, ref_rewards, ref_dones = reference_play(targets[b], actions[b],
                                                          config.max_moves, field)
        np.testing.assert_array_equal(residuals[b], residual)
        np.testing.assert_array_equal(rewards[b], ref_rewards)
        np.testing.assert_array_equal(dones[b], ref_dones)
        early += bool(ref_dones[1])
    assert early >= batch // 4  # the planted games really ended after two moves


def play_all(f, order, field):
    """Play the terms of ``f`` in ``order``; returns (final state, done flag after each move)."""
    target, dims = game.pad_target(f.target(), max(f.target().shape))
    config = game.GameConfig(size=target.shape[0], max_moves=f.rank + 1, field=field,
                             coefficients=(0, 1) if field == "Z2" else tuple(range(-3, 4)))
    return (*_play_moves(target, dims, as_actions(f.factors, order, config.size), config),
            config)


def as_actions(factors, order, size):
    """Terms ``order`` of term-major factors (u, v, w) as actions [len(order), 3, size]."""
    actions = np.zeros((len(order), 3, size), np.int32)
    for slot, r in enumerate(order):
        for axis, factor in enumerate(factors):
            actions[slot, axis, : factor.shape[1]] = factor[r]
    return actions


@functools.partial(jax.jit, static_argnums=3)
def _play_moves(target, dims, moves, config):
    def body(state, action):
        state, _, done = game.step(state, action, config)
        return state, done

    return jax.lax.scan(body, game.init(target, dims, config), moves)


@pytest.mark.parametrize("shape,field", [((2, 2, 2), "Z"), ((2, 2, 3), "Z"), ((3, 3, 3), "Z"),
                                         ((4, 4, 4), "Z2")])
@given(data=st.data())
def test_playing_library_terms_in_any_order_solves_in_exactly_r_moves(shape, field, data):
    f = library.get(*shape, field=field)
    assert f.field in ("Z", "Z2") and max(np.abs(a).max() for a in f.factors) <= 3
    order = data.draw(st.permutations(range(f.rank)))
    state, dones, config = play_all(f, order, field)
    assert not np.asarray(state.residual).any()
    assert int(state.move_count) == f.rank
    assert np.asarray(dones).tolist() == [False] * (f.rank - 1) + [True]
    assert verify(game.to_factorization(state, config, shape)).valid


@given(seed=st.integers(0, 2**31 - 1), moves=st.integers(1, 6))
def test_random_moves_leave_target_minus_sum_of_moves(seed, moves):
    rng = np.random.default_rng(seed)
    target = rng.integers(-2, 3, size=(4, 4, 4))
    config = game.GameConfig(size=4, max_moves=10, coefficients=(-2, -1, 0, 1, 2))
    state = game.init(jnp.asarray(target, jnp.int32), jnp.array([4, 4, 4]), config)
    expected = target.copy()
    for action in rng.integers(-2, 3, size=(moves, 3, 4)):
        state, _, _ = STEP(state, jnp.asarray(action, jnp.int32), config)
        expected -= np.einsum("i,j,k->ijk", *action)
        if not expected.any():
            break
    np.testing.assert_array_equal(np.asarray(state.residual), expected)



@given(seed=st.integers(0, 2**31 - 1), field=st.sampled_from(["Z", "Z2"]))
def test_rank_bound_matches_exact_numpy_bound(seed, field):
    rng = np.random.default_rng(seed)
    residual = rng.integers(-4, 5, size=(5, 5, 5))
    residual[:, rng.integers(0, 5)] = 0
    if field == "Z2":
        residual %= 2
    config = game.GameConfig(size=5, field=field, coefficients=(0, 1))
    assert int(RANK_BOUND(jnp.asarray(residual, jnp.int32), config)) == \
        rank_upper_bound(residual, field)



@given(action=st.lists(st.integers(-2, 2), min_size=12, max_size=12),
       signs=st.tuples(st.sampled_from([-1, 1]), st.sampled_from([-1, 1])))
def test_canonical_moves_share_one_encoding(action, signs):
    """Moves (u, v, w) and (su u, sv v, su sv w) share one encoding. A move with a zero factor is
    the zero tensor, illegal, and has none (the signs of w cannot be read off a zero u)."""
    a = jnp.array(action, jnp.int32).reshape(3, 4)
    assume(bool(np.all(np.any(np.asarray(a) != 0, axis=1))))
    su, sv = signs
    flipped = jnp.stack([a[0] * su, a[1] * sv, a[2] * su * sv])
    c = game.canonicalize(a, CONFIG)
    np.testing.assert_array_equal(game.canonicalize(flipped, CONFIG), c)
    np.testing.assert_array_equal(game.canonicalize(c, CONFIG), c)
    np.testing.assert_array_equal(game.rank_one(c), game.rank_one(a))
    for row in np.asarray(c)[:2]:
        assert not row.any() or row[np.flatnonzero(row)[0]] > 0


def test_terminated_state_is_a_no_op():
    target, dims = game.pad_target(np.zeros((2, 2, 2), int), 4)
    state = game.init(target, dims, CONFIG)
    assert bool(state.terminated)
    after, reward, done = game.step(state, jnp.ones((3, 4), jnp.int32), CONFIG)
    assert float(reward) == 0.0 and bool(done)
    np.testing.assert_array_equal(after.moves, state.moves)
    assert int(after.move_count) == 0


def test_out_of_moves_penalty_is_rank_bound_of_residual():
    target, dims = game.pad_target(matmul_tensor(2, 2, 2), 4)
    config = game.GameConfig(size=4, max_moves=1, coefficients=(-1, 0, 1))
    state = game.init(target, dims, config)
    action = jnp.array([[1, 0, 0, 1], [1, 0, 0, 1], [1, 0, 0, 1]], jnp.int32)
    state, reward, done = game.step(state, action, config)
    assert bool(done)
    assert float(reward) == -1 - rank_upper_bound(np.asarray(state.residual))


@settings(max_examples=12, deadline=None)  # each example steps op by op
@given(order=st.permutations(range(7)))
def test_completion_finishes_strassen_inside_2x2x3_at_rank_11(order):
    """Seven moves of Strassen's block of <2,2,3> then out of moves: the completion adds the
    four schoolbook terms of the <2,2,1> rest; rank 11, the rewards sum to -11, it verifies."""
    scheme = compose.direct_sum(library.get(2, 2, 2), library.get(2, 2, 1), axis=2)
    assert scheme.rank == 11
    target, dims = game.pad_target(scheme.target(), 6)
    config = game.GameConfig(size=6, max_moves=7, coefficients=(-1, 0, 1), completion=True)
    state = game.init(target, dims, config)
    total = 0.0
    for action in as_actions(scheme.factors, order, 6):
        state, reward, done = game.step(state, jnp.asarray(action), config)
        total += float(reward)
    assert bool(done) and np.asarray(state.residual).any()
    assert int(state.rank) == 11 and total == -11.0 and int(state.move_count) == 7
    found = game.to_factorization(state, config, (2, 2, 3))
    assert found.rank == 11 and verify(found).valid


@given(seed=st.integers(0, 2**31 - 1), density=st.floats(0.0, 1.0))
def test_completion_terms_rebuild_the_residual_with_fibre_count_terms(seed, density):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 6, size=3))
    residual = rng.integers(-3, 4, size=shape) * (rng.random(shape) < density)
    u, v, w = game.completion_terms(residual)
    np.testing.assert_array_equal(reconstruct(u, v, w), residual)
    padded = np.zeros((5, 5, 5), np.int32)
    padded[: shape[0], : shape[1], : shape[2]] = residual
    assert len(u) == int(game.fibre_count(jnp.asarray(padded)))
    assert len(u) == min(int(np.any(residual != 0, axis=a).sum()) for a in range(3))


def test_out_of_moves_penalty_with_completion_is_the_fibre_count():
    target, dims = game.pad_target(matmul_tensor(2, 2, 2), 4)
    config = game.GameConfig(size=4, max_moves=1, coefficients=(-1, 0, 1), completion=True)
    batch = jax.tree.map(lambda x: x[None], game.init(target, dims, config))
    action = jnp.array([[[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]], jnp.int32)
    state, reward, done = game.step_batch(batch, action, config)
    assert bool(done[0]) and float(reward[0]) == -1 - 7  # seven entries left, one per fibre
    assert int(state.rank[0]) == 8


@pytest.mark.parametrize("scheme,shape", [(2, (2, 2, 3)), (2, (2, 3, 3)), (2, (3, 2, 4)),
                                          (3, (3, 3, 4))])
def test_rotations_in_a_block_map_a_block_decomposition_to_another(scheme, shape):
    """A scheme of <s,s,s> (Strassen, Laderman) in the leading block of a larger target: each
    term rotated inside its block, once and twice, gives again a decomposition of that block (a
    different one); three times, the term itself."""
    block = compose._embed(library.get(scheme, scheme, scheme), shape, (0, 0, 0))
    actions = as_actions(block, range(len(block[0])), max(a.shape[1] for a in block))
    tensor = reconstruct(*block)
    once, fits = jax.vmap(lambda a: game.rotate_in_block(a, shape))(jnp.asarray(actions))
    twice, fits_twice = jax.vmap(lambda a: game.rotate_in_block(a, shape))(once)
    assert bool(fits.all()) and bool(fits_twice.all())
    for moved in (once, twice):
        moved = np.asarray(moved)
        parts = [moved[:, axis, : factor.shape[1]] for axis, factor in enumerate(block)]
        np.testing.assert_array_equal(reconstruct(*parts), tensor)
        assert not np.array_equal(moved, actions)
    thrice = jax.vmap(lambda a: game.rotate_in_block(a, shape)[0])(twice)
    np.testing.assert_array_equal(thrice, actions)


@given(seed=st.integers(0, 2**31 - 1))
def test_rotation_in_the_block_of_a_square_target_is_the_cyclic_shift(seed):
    action = jnp.asarray(np.random.default_rng(seed).integers(-2, 3, size=(3, 9)), jnp.int32)
    rotated, fits = game.rotate_in_block(action, (3, 3, 3))
    assert bool(fits)
    np.testing.assert_array_equal(rotated, game.rotate(action))


def test_a_move_wider_than_the_block_does_not_fit():
    u = np.zeros(4, int)
    u[0] = 1
    v = np.ones(6, int)  # touches all three columns of <2,2,3>
    w = np.zeros(6, int)
    w[0] = 1
    action = jnp.asarray(np.stack([np.pad(u, (0, 2)), v, w]), jnp.int32)
    assert not bool(game.rotate_in_block(action, (2, 2, 3))[1])


def test_moves_outside_dims_are_masked_and_illegal():
    target, dims = game.pad_target(matmul_tensor(1, 2, 1), 4)  # sizes (2, 2, 1)
    state = game.init(target, dims, CONFIG)
    action = jnp.array([[1, 0, 1, 0], [1, 0, 0, 0], [1, 0, 0, 0]], jnp.int32)
    assert not bool(game.is_legal(action, state, CONFIG))
    assert bool(game.is_legal(action.at[0, 2].set(0), state, CONFIG))
    assert not bool(game.is_legal(action.at[1].set(0), state, CONFIG))
    assert not bool(game.is_legal(action.at[0, 0].set(2), state, CONFIG))
    after, _, _ = game.step(state, action, CONFIG)
    assert not np.asarray(after.residual)[2:].any() and not np.asarray(after.moves)[0, 0, 2:].any()


def test_history_lists_last_moves_most_recent_first():
    config = game.GameConfig(size=4, max_moves=6, history=3, coefficients=(-1, 0, 1))
    target, dims = game.pad_target(matmul_tensor(2, 2, 2), 4)
    state = game.init(target, dims, config)
    a1 = jnp.array([[1, 0, 0, 0]] * 3, jnp.int32)
    a2 = jnp.array([[0, 1, 0, 0]] * 3, jnp.int32)
    for a in (a1, a2):
        state, _, _ = game.step(state, a, config)
    h = game.history(state, config)
    assert h.shape == (3, 4, 4, 4)
    np.testing.assert_array_equal(h[0], game.rank_one(a2))
    np.testing.assert_array_equal(h[1], game.rank_one(a1))
    assert not np.asarray(h[2]).any()


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(TensorgameError, match="does not fit"):
        game.pad_target(np.zeros((5, 1, 1)), 4)
    with pytest.raises(TensorgameError, match="Z2 coefficients"):
        game.GameConfig(field="Z2", coefficients=(-1, 0, 1))
    with pytest.raises(TensorgameError, match="field"):
        game.GameConfig(field="R")
    target, dims = game.pad_target(matmul_tensor(2, 2, 2), 4)
    with pytest.raises(TensorgameError, match="not those of"):
        game.to_factorization(game.init(target, dims, CONFIG), CONFIG, (2, 2, 3))


# A cyclic-symmetric Strassen: the symmetric term (a11 + a22)(b11 + b22)(c11 + c22) and two orbits
# of three terms (found by exhaustive search over {-1, 0, 1} moves of the symmetric game).
SYMMETRIC_STRASSEN = np.array([
    [[1, 0, 0, 1], [1, 0, 0, 1], [1, 0, 0, 1]],
    [[0, 0, 0, 1], [1, 0, -1, 0], [-1, -1, 0, 0]],
    [[0, 1, 0, -1], [0, 0, 1, 1], [1, 0, 0, 0]],
], np.int32)
SYMMETRIC = game.GameConfig(size=4, max_moves=4, field="Z", coefficients=(-1, 0, 1),
                            symmetric=True)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_symmetric_game_plays_strassen_in_three_moves(order):
    target, dims = game.pad_target(matmul_tensor(2, 2, 2), 4)
    moves = SYMMETRIC_STRASSEN[list(order)]
    # Any rotation of an orbit move is the same move.
    moves[1] = moves[1][[1, 2, 0]]
    state, dones = _play_moves(target, dims, moves, SYMMETRIC)
    assert not np.asarray(state.residual).any()
    assert (int(state.move_count), int(state.rank)) == (3, 7)
    assert np.asarray(dones).tolist() == [False, False, True]
    f = game.to_factorization(state, SYMMETRIC, (2, 2, 2))
    assert f.rank == 7 and verify(f).valid


@given(seed=st.integers(0, 2**31 - 1))
def test_symmetric_moves_keep_the_residual_symmetric_and_cost_one_or_three(seed):
    rng = np.random.default_rng(seed)
    target, dims = game.pad_target(matmul_tensor(2, 2, 2), 4)
    moves = rng.integers(-1, 2, size=(3, 3, 4)).astype(np.int32)
    moves[:, :, 0] = 1  # no zero factor
    moves[0, 1] = moves[0, 0]
    moves[0, 2] = -moves[0, 0]  # a symmetric term (u, u, -u)
    state, _ = _play_moves(target, dims, moves, SYMMETRIC)
    residual = np.asarray(state.residual)
    assert np.array_equal(residual, residual.transpose(1, 2, 0))
    expected = matmul_tensor(2, 2, 2).astype(np.int64)
    cost = 0
    for index, move in enumerate(moves):
        fixed = np.array_equal(move[0], move[1]) and (np.array_equal(move[2], move[0]) or
                                                      np.array_equal(move[2], -move[0]))
        assert fixed or index > 0
        rotations = [move] if fixed else [move, move[[1, 2, 0]], move[[2, 0, 1]]]
        for a in rotations:
            expected -= np.einsum("i,j,k->ijk", *a.astype(np.int64))
        cost += len(rotations)
    assert np.array_equal(residual, expected)
    assert int(state.rank) == cost
    rotated = [jnp.asarray(np.roll(moves[1], k, axis=0)) for k in range(3)]
    canon = [np.asarray(game.canonicalize(a, SYMMETRIC)) for a in rotated]
    assert all(np.array_equal(c, canon[0]) for c in canon)


def test_reachable_finds_strassens_block_of_2x2x3_for_seven_moves_and_the_completion(
        experiment_script):
    """Strassen's block plus the <2,2,1> rest: its 4 schoolbook terms are the completion's, so 7
    moves reach rank 11 (replayed in the game), 5 moves cannot, and 11 moves end by either way
    with at most 7 chosen; a scheme without fibre terms needs all its moves."""
    reachable = experiment_script("reachable")
    scheme = compose.direct_sum(library.get(2, 2, 2), library.get(2, 2, 1), axis=2)
    target, dims = game.pad_target(scheme.target(), 6)
    actions = reachable.terms_of(scheme, 6)
    fibres = reachable.fibre_terms(actions)
    assert sorted(np.flatnonzero(fibres)) == [7, 8, 9, 10]  # direct_sum keeps Strassen's first
    tail = reachable.jennrich_tail(actions, dims, 6)
    assert 0 < len(tail) <= 6
    way, played = reachable.cheapest(actions, fibres, tail, 7)
    assert way == "completion" and sorted(played) == list(range(7))
    config = game.GameConfig(size=6, max_moves=7, coefficients=(-2, -1, 0, 1, 2), endgame=6,
                             completion=True)
    assert reachable.replayed_rank(actions, played, target, dims, config) == 11
    assert reachable.cheapest(actions, fibres, tail, 5) is None
    way, played = reachable.cheapest(actions, fibres, tail, 11)
    assert len(played) == min(7, 11 - len(tail))
    config = dataclasses.replace(config, max_moves=11)
    assert reachable.replayed_rank(actions, played, target, dims, config) == 11
    strassen = reachable.terms_of(library.get(2, 2, 2), 4)
    assert not reachable.fibre_terms(strassen).any()
    assert reachable.cheapest(strassen, reachable.fibre_terms(strassen), (), 7)[1] == list(
        range(7))


# The order-3 symmetry of <2,3,3> under which the library's rank-15 scheme is five orbits.
Z3_OF_2X3X3 = ORBIT_SYMMETRIES[2, 3, 3]
ORBIT_GAME = game.GameConfig(size=9, max_moves=5, coefficients=(-1, 0, 1), endgame=6,
                             completion=True, symmetry=game.symmetry_maps(
                                 (2, 3, 3), *map(np.array, Z3_OF_2X3X3), 9))


def _act(maps, tensor):
    """A symmetry's maps [3, S*S] applied to a tensor [S, S, S]."""
    m = np.asarray(maps, np.int64).reshape(3, 9, 9)
    return np.einsum("ia,jb,kc,abc->ijk", m[0], m[1], m[2], tensor)


def test_orbit_game_plays_the_rank_15_scheme_of_2x3x3_in_three_moves_and_the_endgame():
    scheme = library.get(2, 3, 3)
    assert scheme.rank == 15
    terms = as_actions(scheme.factors, range(15), 9)
    representatives = np.unique([np.asarray(game.canonicalize(jnp.asarray(a), ORBIT_GAME))
                                 for a in terms], axis=0)
    assert len(representatives) == 5  # five orbits of three terms, none fixed
    target, dims = game.pad_target(matmul_tensor(2, 3, 3), 9)
    solved = 0
    for triple in itertools.combinations(range(5), 3):
        state, _ = _play_moves(target, dims, representatives[list(triple)], ORBIT_GAME)
        if not np.asarray(state.residual).any():  # the endgame appended the other two orbits
            assert (int(state.move_count), int(state.rank)) == (5, 15)
            f = game.to_factorization(state, ORBIT_GAME, (2, 3, 3))
            assert f.rank == 15 and verify(f).valid
            solved += 1
    assert solved >= 5


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_orbit_moves_subtract_their_orbit_and_keep_the_residual_invariant(seed):
    rng = np.random.default_rng(seed)
    target, dims = game.pad_target(matmul_tensor(2, 3, 3), 9)
    moves = np.zeros((2, 3, 9), np.int32)
    for mode, side in enumerate(dims):
        moves[:, mode, :side] = rng.integers(-1, 2, size=(2, side))
        moves[:, mode, 0] = 1  # no zero factor
    config = dataclasses.replace(ORBIT_GAME, endgame=0, completion=False)
    state, _ = _play_moves(target, dims, moves, config)
    residual = np.asarray(state.residual).astype(np.int64)
    assert np.array_equal(_act(config.symmetry, residual), residual)
    expected, cost = target.astype(np.int64), 0
    for move in moves:
        orbit = [move.astype(np.int64)]
        for _ in range(2):
            orbit.append(np.asarray(game.image(jnp.asarray(orbit[-1]), config), np.int64))
        tensors = [np.einsum("i,j,k->ijk", *a) for a in orbit]
        fixed = np.array_equal(tensors[0], tensors[1])
        expected -= tensors[0] if fixed else sum(tensors)
        cost += 1 if fixed else 3
        # Every encoding of the orbit in the coefficient set has one canonical form.
        canon = {np.asarray(game.canonicalize(jnp.asarray(a), config)).tobytes()
                 for a in orbit if np.isin(a, (-1, 0, 1)).all()}
        assert len(canon) == 1
    assert np.array_equal(residual, expected) and int(state.rank) == cost


@given(seed=st.integers(0, 2**31 - 1))
def test_symmetry_maps_of_any_unimodular_matrices_keep_the_tensor(seed):
    rng = np.random.default_rng(seed)
    shape = (2, 3, 3)
    matrices = []
    for side in shape:  # a random signed permutation times unit triangular matrices
        lower = np.tril(rng.integers(-1, 2, (side, side)), -1) + np.eye(side, dtype=int)
        upper = np.triu(rng.integers(-1, 2, (side, side)), 1) + np.eye(side, dtype=int)
        signs = rng.choice([-1, 1], side)
        matrices.append(np.eye(side, dtype=int)[rng.permutation(side)] * signs @ lower @ upper)
    maps = np.stack(game._padded_maps(matrices, 9))
    target = game.pad_target(matmul_tensor(*shape), 9)[0].astype(np.int64)
    assert np.array_equal(_act(maps.reshape(3, 81), target), target)


def test_symmetry_maps_reject_what_is_not_an_order_3_symmetry():
    shift = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    reverse = np.eye(3, dtype=int)[::-1]
    with pytest.raises(TensorgameError, match="determinant"):
        game.symmetry_maps((2, 3, 3), 2 * np.eye(2, dtype=int), shift, shift, 9)
    with pytest.raises(TensorgameError, match="order 3"):
        game.symmetry_maps((2, 3, 3), np.eye(2, dtype=int), reverse, reverse, 9)
    with pytest.raises(TensorgameError, match="plain game over Z"):
        dataclasses.replace(ORBIT_GAME, symmetric=True)
