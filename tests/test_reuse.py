"""Sub-tree reuse (agents.reuse): re-rooting keeps exactly the chosen child's sub-tree, a search
from fresh trees is mctx's PUCT, and one from a kept tree adds its simulations to the old ones."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents import reuse
from agents.config import make_config
from agents.search import no_trees, search, search_reusing
from agents.setup import init_params, make_setup
from tensorgame import game
from tensorgame.errors import TensorgameError

SMALL = dict(width=16, heads=2, torso_layers=1, decoder_layers=1, quantiles=4, samples=8,
             games=4, batch_size=16, max_moves=8, search="puct", simulations=12,
             tree_reuse=1)


@pytest.fixture(scope="module")
def run():
    setup = make_setup((2, 2, 2), "Z", make_config(SMALL), seed=0)
    params = init_params(setup, jax.random.key(1))
    target, dims = game.pad_target(setup.target, setup.game.size)
    states = jax.vmap(lambda t, d: game.init(t, d, setup.game))(
        jnp.broadcast_to(target, (3,) + target.shape), jnp.broadcast_to(dims, (3, 3)))
    searching = jax.jit(lambda p, s, t, k, e: search_reusing(setup.net, p, s, t, k, setup.search,
                                                             e))
    return setup, params, states, searching


def subtree(tree, b: int, node: int) -> dict:
    """Every node below ``node`` of slot b by its path of actions -> its statistics."""
    t = jax.tree.map(np.asarray, tree)
    found = {}

    def visit(index, path):
        found[path] = (t.node_visits[b, index], t.node_values[b, index], t.raw_values[b, index],
                       tuple(t.children_visits[b, index]), tuple(t.children_values[b, index]),
                       tuple(t.children_prior_logits[b, index]),
                       t.embeddings.state.residual[b, index].tobytes())
        for a, child in enumerate(t.children_index[b, index]):
            if child >= 0:
                assert t.parents[b, child] == index and t.action_from_parent[b, child] == a
                visit(child, path + (a,))

    visit(node, ())
    return found


def test_search_from_fresh_trees_is_mctx_puct(run):
    setup, params, states, searching = run
    trees = no_trees(setup.net, params, states, setup.search)
    for explore in (1.0, 0.0):
        key = jax.random.key(7)
        moves, weights, action, value, _ = searching(params, states, trees, key, explore)
        expected = jax.jit(lambda p, s, k: search(setup.net, p, s, k, setup.search, explore))(
            params, states, key)
        for got, want in zip((moves, weights, action, value), expected):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)


def test_reroot_keeps_the_chosen_childs_subtree_and_search_goes_on_from_it(run):
    setup, params, states, searching = run
    spec = setup.search
    n = spec.simulations
    trees = no_trees(setup.net, params, states, spec)
    moves, _, action, _, tree = searching(params, states, trees, jax.random.key(3), 1.0)
    kept = jax.jit(lambda t, a: reuse.reroot(t, a, n))(tree, action)
    assert np.all(np.asarray(reuse.in_use(kept)))
    chosen = jnp.take_along_axis(moves, action[:, None, None, None], axis=1)[:, 0]
    after, _, _ = game.step_batch(states, chosen, spec.game)
    for b in range(3):
        child = int(tree.children_index[b, 0, int(action[b])])
        assert subtree(kept, b, 0) == subtree(tree, b, child)
        assert int(jnp.sum(kept.node_visits[b] > 0)) == len(subtree(tree, b, child))
        assert np.array_equal(kept.embeddings.state.residual[b, 0], after.residual[b])
    # The next search adds n simulations to the kept ones; its new nodes follow the kept ones,
    # and its visit distribution counts the old visits too.
    _, weights, _, _, again = searching(params, after, kept, jax.random.key(4), 1.0)
    for b in range(3):
        assert int(again.node_visits[b, 0]) == int(kept.node_visits[b, 0]) + n
        visits = np.asarray(again.children_visits[b, 0])
        assert np.allclose(np.asarray(weights[b]) * visits.sum(), visits)
        used = int(jnp.sum(again.node_visits[b] > 0))
        assert used <= reuse.capacity(n) and np.all(np.asarray(again.node_visits[b, used:]) == 0)
        old, grown = subtree(kept, b, 0), subtree(again, b, 0)
        assert set(old) <= set(grown) and all(grown[q][0] >= old[q][0] for q in old)


def test_a_truncated_reroot_keeps_a_connected_top_of_the_subtree(run):
    setup, params, states, searching = run
    trees = no_trees(setup.net, params, states, setup.search)
    _, weights, _, _, tree = searching(params, states, trees, jax.random.key(5), 1.0)
    action = jnp.argmax(weights, axis=1)
    small = jax.jit(lambda t, a: reuse.reroot(t, a, 2))(tree, action)  # keeps 3 nodes at most
    for b in range(3):
        full = subtree(tree, b, int(tree.children_index[b, 0, int(action[b])]))
        top = subtree(small, b, 0)  # every kept node reached from the root, its stats unchanged
        assert len(full) > 3 and len(top) == 3 == int(jnp.sum(small.node_visits[b] > 0))
        assert all(stats == full[path] for path, stats in top.items())


def test_forget_and_a_child_never_expanded_leave_no_tree(run):
    setup, params, states, searching = run
    trees = no_trees(setup.net, params, states, setup.search)
    _, weights, _, _, tree = searching(params, states, trees, jax.random.key(6), 1.0)
    kept = reuse.reroot(tree, jnp.argmax(weights, axis=1), setup.search.simulations)
    assert np.array_equal(np.asarray(reuse.in_use(reuse.forget(kept, jnp.asarray(
        [True, False, True])))), [False, True, False])
    unvisited = jnp.argmin(weights, axis=1)
    assert np.all(np.asarray(weights)[np.arange(3), np.asarray(unvisited)] == 0)
    assert not np.asarray(reuse.in_use(reuse.reroot(tree, unvisited,
                                                    setup.search.simulations))).any()


def test_tree_reuse_config_errors():
    for bad in ({"tree_reuse": 1}, {"tree_reuse": 1, "search": "puct", "root_proposals": 2},
                {"tree_reuse": 2}):
        with pytest.raises(TensorgameError, match="tree_reuse"):
            make_setup((2, 2, 2), "Z", make_config(bad), seed=0)


def test_greedy_play_with_reuse_keeps_its_games_exact(run):
    """play (the evaluation) carries the trees too; its games are the moves it recorded."""
    from agents.selfplay import play

    setup, params, states, _ = run
    final, trajectories = jax.jit(lambda p, k: play(
        setup.net, p, k, states.residual, states.dims, setup.search, 0.0))(params,
                                                                          jax.random.key(8))
    f, t = jax.tree.map(np.asarray, final), jax.tree.map(np.asarray, trajectories)
    for b in range(3):
        moves = f.moves[b, :f.move_count[b]].astype(np.int64)
        played = np.einsum("ri,rj,rk->ijk", moves[:, 0], moves[:, 1], moves[:, 2])
        assert np.array_equal(np.asarray(states.residual[b]) - played, f.residual[b])
        active = t.active[:, b]
        assert active.sum() == f.move_count[b]
        assert np.allclose(t.weights[active, b].sum(axis=-1), 1.0, atol=1e-5)


def test_reuse_visits_script_counts_the_kept_visits(run, experiment_script):
    """experiments/reuse_visits.py: without reuse a root has the N new visits and its own; with
    reuse the first move is the same and every later root adds N to the child kept from it."""
    module = experiment_script("reuse_visits")
    setup, _, _, _ = run
    n = setup.search.simulations
    params, metrics = experiment_script("root_visits").pretrained(SMALL, 0, 2)  # updates
    assert np.isfinite(metrics["loss"]) and metrics["loss"] > 0
    fresh = module.measure({**SMALL, "tree_reuse": 0}, params, 6, 0)
    reused = module.measure(SMALL, params, 6, 0)
    assert [r["root visits"] for r in fresh] == [n + 1] * len(fresh) == [n + 1] * 8
    assert reused[0] == fresh[0]
    for before, after in zip(reused, reused[1:]):
        assert before["games"] == after["games"] == 6  # out of moves only after the 8th
        assert after["root visits"] == pytest.approx(before["chosen child's visits"] + n)
        assert after["root visits"] > n + 1
