"""experiments/orbit_scaling.py and the staged pretraining of experiments/root_visits.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.train import make_mesh, make_play_fn
from tensorgame import game

TINY = dict(width=8, heads=1, torso_layers=1, quantiles=4, samples=4, simulations=4,
            considered_actions=4, games=4, batch_size=8)


@pytest.fixture
def scaling(experiment_script):
    return experiment_script("orbit_scaling")


def test_staged_pretraining_continues_where_it_stopped(experiment_script):
    """Two calls of ``advance`` train on from the first one's network and optimizer; the first
    call is the single-call ``pretrained`` (the rows measured before stay reproducible)."""
    root_visits = experiment_script("root_visits")
    small = dict(TINY, max_moves=8)
    once, _ = root_visits.pretrained(small, 0, 3)
    _, advance = root_visits.pretraining(small, 0)
    first, metrics = advance(3)
    assert all(jax.tree.leaves(jax.tree.map(np.array_equal, once, first)))
    assert np.isfinite(metrics["policy_loss"]) and metrics["policy_loss"] > 0
    second, _ = advance(2)
    assert not all(jax.tree.leaves(jax.tree.map(np.array_equal, first, second)))
    assert jax.tree.structure(first) == jax.tree.structure(second)


def test_starts_minus_scheme_orbits_are_finished_by_the_other_orbits(scaling):
    """T minus k random orbits of the rank-15 scheme: the other 5 - k orbits played from there
    in the orbit game (the endgame may play the last two) end at zero with rank 15 - 3k."""
    setup, _ = scaling.pretraining({**scaling.orbit_game_overrides(), **TINY}, 0, scaling.SHAPE)
    cfg = setup.game
    moves = scaling.orbit_moves(scaling.SHAPE, cfg)
    tensors = np.stack([np.asarray(game.move_tensor(jnp.asarray(m), cfg)) for m in moves])
    target = game.pad_target(setup.target, cfg.size)[0]
    for removed in (0, 1, 2, 3):
        starts, picks = scaling.minus_orbits(target, tensors, removed, np.random.default_rng(1), 3)
        for start, pick in zip(starts, picks):
            assert len(set(pick)) == removed
            state = game.init(jnp.asarray(start), jnp.asarray(setup.dims), cfg)
            for index in sorted(set(range(len(moves))) - set(pick)):
                if not state.terminated:  # the endgame may finish the last two orbits
                    state = game.step(state, jnp.asarray(moves[index]), cfg)[0]
            assert not np.asarray(state.residual).any()
            assert int(state.rank) == 15 - 3 * removed


def test_a_row_measures_the_prior_and_the_games(scaling):
    setup, advance = scaling.pretraining({**scaling.orbit_game_overrides(), **TINY}, 0,
                                         scaling.SHAPE)
    params, _ = advance(2)
    moves = scaling.orbit_moves(scaling.SHAPE, setup.game)
    row = scaling.measure(setup, make_play_fn(setup, make_mesh()), params, moves, 4, 16, 0)
    for played in range(3):
        assert row[f"drawn_log_p_median_{played}"] <= row[f"drawn_log_p_max_{played}"] <= 0
        assert row[f"scheme_log_p_max_{played}"] < 0
        assert 0 <= row[f"drawn_scheme_moves_{played}"] <= 16
    for name in ("rank9_from_T_minus_2", "rank12_from_T_minus_1", "rank15_from_T_minus_0",
                 "demo_3_in_3"):
        assert 0.0 <= row[name] <= 1.0
        assert row[name] in {0.0, 0.25, 0.5, 0.75, 1.0}  # a share of 4 games
