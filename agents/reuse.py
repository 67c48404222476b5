"""Sub-tree reuse between moves: a search tree that outlives its move (PUCT).

mctx builds a new tree for every search, so each move's lookahead is thrown away. Here a tree
holds ``capacity(N)`` = 2N + 1 nodes; after a move, ``reroot`` makes the chosen child the root
of a tree of the same capacity, its visits and values kept, and ``simulate`` adds the next N
simulations to them. A re-rooted tree keeps at most N + 1 nodes, the first in creation order
(a node is created after its parent, so every kept node's parent is kept): room for N new ones.
The loop is mctx.search's (its simulate, expand and backward steps, from mctx._src.search: not
mctx's public API, so tests/test_reuse.py checks the whole search against mctx.muzero_policy)
with new nodes placed after the nodes in use; on a fresh tree it is mctx.search itself.
"""

from __future__ import annotations

import functools
from typing import Any

import chex
import jax
import jax.numpy as jnp
import mctx
from mctx._src import search as mctx_search

ROOT = mctx.Tree.ROOT_INDEX


def capacity(simulations: int) -> int:
    """Nodes of a reusable tree for ``simulations`` per search."""
    return 2 * simulations + 1


def new_tree(root: mctx.RootFnOutput, invalid: chex.Array, simulations: int) -> mctx.Tree:
    """Trees [B, capacity] holding only their roots (``root``'s arrays [B, ...]; ``invalid``
    [B, A] bool: the root's invalid actions)."""
    return mctx_search.instantiate_tree_from_root(
        root, capacity(simulations) - 1, root_invalid_actions=invalid.astype(jnp.float32),
        extra_data=None)


def in_use(tree: mctx.Tree) -> chex.Array:
    """[B] bool: the tree has a root (``forget`` clears it)."""
    return tree.node_visits[:, ROOT] > 0


def forget(tree: mctx.Tree, mask: chex.Array) -> mctx.Tree:
    """Trees whose ``mask`` [B] is set no longer count as in use (their next search starts
    afresh)."""
    visits = tree.node_visits.at[:, ROOT].set(jnp.where(mask, 0, tree.node_visits[:, ROOT]))
    return tree.replace(node_visits=visits)


def _descendants(parents: chex.Array, node: chex.Array) -> chex.Array:
    """[N] parent indices (-1 at the root and unused nodes), a node index -> [N] bool: the
    node and every node below it (none when ``node`` is -1)."""
    def climbing(carry):
        return jnp.any(carry[1] >= 0)

    def climb(carry):  # mark nodes whose current ancestor is ``node``, then go one level up
        inside, ancestor = carry
        inside = inside | (ancestor == node)
        return inside, jnp.where(ancestor >= 0, parents[jnp.maximum(ancestor, 0)], -1)

    start = jnp.arange(parents.shape[0])
    inside, _ = jax.lax.while_loop(climbing, climb, (jnp.zeros(parents.shape, bool), start))
    return inside & (node >= 0)


def _reroot_one(tree: mctx.Tree, action: chex.Array, keep: int) -> mctx.Tree:
    """An unbatched tree re-rooted at its root's child ``action`` (see ``reroot``)."""
    nodes = jnp.arange(tree.node_visits.shape[0])
    inside = _descendants(tree.parents, tree.children_index[ROOT, action])
    order = jnp.cumsum(inside) - 1
    kept = inside & (order < keep)
    new_index = jnp.where(kept, order, mctx.Tree.UNVISITED)  # old node -> new node
    source = jnp.zeros_like(nodes).at[jnp.where(kept, order, nodes.size)].set(nodes, mode="drop")
    used = nodes < jnp.sum(kept)  # new nodes holding a kept one

    def take(x, fill):  # node-indexed array [N, ...] in the new order
        mask = used.reshape((-1,) + (1,) * (x.ndim - 1))
        return jnp.where(mask, x[source], fill)

    def renumber(index):  # node indices (-1: none) in the new numbering (-1: dropped)
        return jnp.where(index >= 0, new_index[jnp.maximum(index, 0)], index)

    return tree.replace(
        node_visits=take(tree.node_visits, 0),
        raw_values=take(tree.raw_values, 0.0),
        node_values=take(tree.node_values, 0.0),
        parents=take(renumber(tree.parents), mctx.Tree.NO_PARENT).at[ROOT].set(
            mctx.Tree.NO_PARENT),
        action_from_parent=take(tree.action_from_parent, mctx.Tree.NO_PARENT).at[ROOT].set(
            mctx.Tree.NO_PARENT),
        children_index=take(renumber(tree.children_index), mctx.Tree.UNVISITED),
        children_prior_logits=take(tree.children_prior_logits, 0.0),
        children_values=take(tree.children_values, 0.0),
        children_visits=take(tree.children_visits, 0),
        children_rewards=take(tree.children_rewards, 0.0),
        children_discounts=take(tree.children_discounts, 0.0),
        embeddings=jax.tree.map(lambda x: x[source], tree.embeddings))


def reroot(tree: mctx.Tree, action: chex.Array, simulations: int) -> mctx.Tree:
    """Trees [B, capacity] re-rooted at their root's child ``action`` [B]: that child's sub-tree,
    renumbered in creation order (the child is node 0), at most ``simulations`` + 1 nodes of it
    kept. An edge to a dropped node keeps its visits and value; the node is created again when
    a simulation reaches it. A child never expanded leaves a tree not in use. The root's
    invalid actions are the caller's to set (``root_invalid_actions``)."""
    chex.assert_shape(action, (tree.node_visits.shape[0],))
    return jax.vmap(functools.partial(_reroot_one, keep=simulations + 1))(tree, action)


def simulate(params: Any, key: jax.Array, tree: mctx.Tree, recurrent_fn: mctx.RecurrentFn,
             simulations: int, max_depth: int, pb_c_init: float) -> mctx.Tree:
    """Add ``simulations`` PUCT simulations (mctx.muzero_action_selection) to trees [B, ...]
    in use, each new node after the nodes already there (the key is consumed)."""
    select = functools.partial(mctx.muzero_action_selection, pb_c_init=pb_c_init)
    rows = jnp.arange(tree.node_visits.shape[0])
    used = jnp.sum(tree.node_visits > 0, axis=1)  # [B]: nodes in use, numbered 0 .. used - 1

    def one(sim, carry):
        key, tree = carry
        key, simulate_key, expand_key = jax.random.split(key, 3)
        parent, action = mctx_search.simulate(jax.random.split(simulate_key, rows.size), tree,
                                              select, max_depth)
        node = tree.children_index[rows, parent, action]
        node = jnp.where(node == mctx.Tree.UNVISITED, used + sim, node)
        tree = mctx_search.expand(params, expand_key, tree, recurrent_fn, parent, action, node)
        return key, mctx_search.backward(tree, node)

    return jax.lax.fori_loop(0, simulations, one, (key, tree))[1]
