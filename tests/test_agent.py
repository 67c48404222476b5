"""Agent: tokens, network shapes and losses, sampled prior, search legality, config errors."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.config import load_config, make_config
from agents.demos import demonstration_batch
from agents.network import quantile_loss, risk_seeking_value
from agents.presets import ORBIT_SYMMETRIES
from agents.search import expand, sampled_prior, search, with_proposals
from agents.tokens import make_tokenizer
from agents.setup import init_params, make_setup
from tensorgame import game
from tensorgame.errors import TensorgameError
from tensorgame.factorization import verify
from tensorgame.tensors import matmul_tensor

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(width=16, heads=2, torso_layers=1, decoder_layers=1, quantiles=4, samples=8,
            simulations=4, considered_actions=4, games=4, batch_size=16, max_moves=8)


@pytest.fixture(scope="module")
def setup():
    return make_setup((2, 2, 2), "Z", make_config(TINY), seed=0)


def test_tokens_round_trip_and_mask():
    tok = make_tokenizer(4, (-1, 0, 1), 0, 128)
    assert (tok.entries, tok.vocabulary, tok.length) == (4, 81, 3)
    rng = np.random.default_rng(0)
    moves = rng.integers(-1, 2, size=(50, 3, 4)).astype(np.int32)
    assert np.array_equal(tok.decode(tok.encode(jnp.asarray(moves))), moves)
    # Sizes (2, 4, 4): entries 2, 3 of u must be zero; a factor's only token may not be zero.
    tokens = tok.encode(jnp.asarray(moves))
    mask = np.asarray(tok.mask(jnp.array([2, 4, 4]), tokens))  # [50, 3, 81]
    table = tok.table()
    assert not mask[:, 0, np.flatnonzero(np.any(table[:, 2:] != 0, axis=1))].any()
    zero = int(np.flatnonzero(~np.any(table != 0, axis=1))[0])
    assert not mask[:, :, zero].any()
    small = make_tokenizer(6, (-1, 0, 1), 0, 128)
    assert (small.entries, small.length) == (3, 6)


def test_config_errors(tmp_path):
    with pytest.raises(TensorgameError, match="unknown config field 'widht'"):
        make_config({"widht": 3})
    with pytest.raises(TensorgameError, match="must be an integer"):
        make_config({"samples": 2.5})
    with pytest.raises(TensorgameError, match="must lie in"):
        make_config({"samples": 0})
    bad = tmp_path / "bad.py"
    bad.write_text("OVERRIDES = {'learning_rate': 'fast'}\n")
    with pytest.raises(TensorgameError, match="bad.py: config field learning_rate"):
        load_config(bad)
    good = tmp_path / "good.py"
    good.write_text("OVERRIDES = {'samples': 4, 'coefficients': [1, 0, -1]}\n")
    config = load_config(good)
    assert config.samples == 4 and config.coefficients == (-1, 0, 1)
    with pytest.raises(TensorgameError, match="torso must be one of attentive, mlp"):
        make_config({"torso": "cnn"})


def test_resume_from_a_garbage_run_description_is_one_error(tmp_path):
    """--resume on a run.json that is not JSON (or not an object) is a TensorgameError, not a
    traceback."""
    from agents.train import Trainer

    setup = make_setup((2, 2, 2), "Z", make_config(TINY), seed=0)
    for text in ("\x00garbage{", "[1, 2]"):
        (tmp_path / "run.json").write_text(text)
        with pytest.raises(TensorgameError, match="run.json: not a run description"):
            Trainer(setup, tmp_path, None, resume=True)


def test_resume_compares_configs_field_by_field(tmp_path):
    """--resume names the config fields that differ from the run's (one line); a field added to
    the config since the run started counts as its default, so the run resumes (it used to
    compare a hash of every field, which any new field changed)."""
    import dataclasses as dc
    import json

    from agents.config import AgentConfig, config_changes
    from agents.train import Trainer

    config = make_config(TINY).resolved((2, 2, 2), "Z")
    saved = json.loads(json.dumps(dc.asdict(config)))
    assert config_changes(saved, config) == []
    older = {k: v for k, v in saved.items() if k != "tree_reuse"}  # a run from before the field
    assert config_changes(older, config) == []
    assert config_changes(older, dc.replace(config, tree_reuse=1)) == [
        f"tree_reuse (1 vs saved {AgentConfig().tree_reuse})"]
    assert config_changes({**saved, "retired": 3}, config) == ["retired (no such field now)"]
    setup = make_setup((2, 2, 2), "Z", make_config(TINY), seed=0)
    run = {"target": [2, 2, 2], "field": "Z", "seed": 0, "config": {**saved, "simulations": 7}}
    (tmp_path / "run.json").write_text(json.dumps(run))
    with pytest.raises(TensorgameError, match=r"different config: simulations \(4 vs saved 7\)$"):
        Trainer(setup, tmp_path, None, resume=True)


def test_quantile_loss_and_risk_seeking():
    quantiles = jnp.array([[-9.0, -8.0, -7.0, -6.0]])
    assert float(risk_seeking_value(quantiles, 0.75)[0]) == -6.0
    assert float(risk_seeking_value(quantiles, 0.0)[0]) == -7.5
    # The loss is minimised by the true quantiles of the return distribution.
    returns = jnp.asarray(np.random.default_rng(0).normal(size=4000), jnp.float32)
    levels = (jnp.arange(4) + 0.5) / 4
    true = jnp.quantile(returns, levels)
    loss = lambda q: float(jnp.mean(quantile_loss(jnp.broadcast_to(q, (4000, 4)), returns)))
    assert loss(true) < loss(true + 0.3) and loss(true) < loss(true - 0.3)


def test_sampled_prior_sums_to_one_over_distinct_moves():
    rng = np.random.default_rng(1)
    moves = rng.integers(-1, 2, size=(3, 6, 3, 4)).astype(np.int32)
    moves[:, 3] = moves[:, 1]  # a repeat
    moves[:, 5] = moves[:, 1]
    legal = np.ones((3, 6), bool)
    legal[0, 2] = False
    log_p = jnp.asarray(rng.normal(size=(3, 6)), jnp.float32)
    logits, invalid = sampled_prior(jnp.asarray(moves), jnp.asarray(legal), log_p, log_p)
    probs = np.asarray(jnp.exp(logits))
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert invalid[:, 3].all() and invalid[:, 5].all() and invalid[0, 2]
    assert np.all(probs[np.asarray(invalid)] == 0)
    # With beta = pi the corrected prior is the empirical distribution: 3 of 6 samples are move 1.
    assert np.allclose(probs[1], [1 / 6, 3 / 6, 1 / 6, 0, 1 / 6, 0], atol=1e-5)


def test_network_shapes_and_demonstrations(setup):
    key = jax.random.key(0)
    obs, move, ret = jax.jit(lambda k: demonstration_batch(k, jnp.asarray(setup.dims), 10, 8,
                                                           setup.game, 0.5))(key)
    assert obs.residual.shape == (10, 4, 4, 4) and move.shape == (10, 3, 4) and ret.shape == (10,)
    assert np.all(np.asarray(ret) <= -1)
    # The next move is legal and canonical, and the residual has rank <= -return: replaying the
    # demonstration's own moves is the check (the residual minus the move has rank -return - 1).
    @jax.jit
    @jax.vmap
    def legal_and_canonical(residual, dims, action):
        state = game.State(residual=residual, dims=dims, moves=jnp.zeros((8, 3, 4), jnp.int32),
                           move_count=jnp.int32(0), rank=jnp.int32(0),
                           terminated=jnp.bool_(False))
        return game.is_legal(action, state, setup.game), game.canonicalize(action, setup.game)

    legal, canonical = legal_and_canonical(obs.residual, obs.dims, move)
    assert np.asarray(legal).all() and np.array_equal(canonical, move)
    params = init_params(setup, key)
    from agents.search import features
    tokens = setup.net.spec.tokenizer.encode(move)[:, None]
    quantiles, logits = jax.jit(setup.net.apply)(params, *features(obs, 8), tokens)
    assert quantiles.shape == (10, 4) and logits.shape == (10, 1, 3, 81)


def test_proposals_share_the_root_prior():
    moves = np.zeros((1, 6, 3, 4), np.int32)
    for k in range(6):
        moves[0, k, :, 0] = 1
        moves[0, k, 0, 1] = k  # six distinct moves (entries beyond 1 are fine here)
    logits = jnp.log(jnp.asarray([[0.4, 0.2, 0.1, 0.1, 0.1, 0.1]]))
    invalid = jnp.asarray([[False, False, True, False, False, False]])
    proposals = np.stack([moves[0, 1], moves[0, 4], moves[0, 5], moves[0, 5]])[None]
    legal = jnp.asarray([[True, False, True, True]])  # a repeat, an illegal, a new one, a repeat
    mixed, mixed_invalid, mixed_moves = with_proposals(logits, invalid, jnp.asarray(moves),
                                                       jnp.asarray(proposals), legal, 0.25)
    assert mixed.shape == (1, 6) and mixed_moves.shape == (1, 6, 3, 4)
    assert np.array_equal(np.asarray(mixed_invalid)[0], [False, False, True, True, False, True])
    probs = np.asarray(jnp.exp(mixed))[0]
    assert np.allclose(probs, [0.75 * 2 / 3, 0.75 / 3, 0, 0, 0.25, 0], atol=1e-6)
    assert np.array_equal(np.asarray(mixed_moves)[0, 4], moves[0, 5])
    # Greedy play (share 0): no proposal is a candidate, the kept samples hold the whole prior.
    mixed, mixed_invalid, _ = with_proposals(logits, invalid, jnp.asarray(moves),
                                             jnp.asarray(proposals), legal, 0.0)
    assert np.asarray(mixed_invalid)[0, 2:].all()
    assert np.allclose(np.asarray(jnp.exp(mixed))[0, :2], [2 / 3, 1 / 3], atol=1e-6)


def test_rotations_complete_a_cyclic_orbit_and_the_endgame_ends_the_plain_game():
    """``rotations``: after a non-symmetric move of the square plain game its two rotations are
    candidates at the node (with the configured share of the prior; none before the first move),
    and after a symmetric Strassen orbit played that way the endgame ends the game at rank 7."""
    from test_game import SYMMETRIC_STRASSEN

    setup = make_setup((2, 2, 2), "Z", make_config({**TINY, "rotations": 0.4, "endgame": 4}),
                       seed=0)
    cfg = setup.game
    target, dims = game.pad_target(setup.target, 4)
    start = game.init(jnp.asarray(target), jnp.asarray(dims), cfg)
    step = jax.jit(lambda s, m: game.step(s, m, cfg))  # one program, not op by op
    first = game.canonicalize(jnp.asarray(SYMMETRIC_STRASSEN[1]), cfg)
    after, _, _ = step(start, first)
    states = jax.tree.map(lambda a, b: jnp.stack([a, b]), start, after)
    params = init_params(setup, jax.random.key(0))
    logits, invalid, _, moves = jax.jit(lambda p, s, k: expand(setup.net, p, s, k, setup.search))(
        params, states, jax.random.key(1))
    rotations = [game.canonicalize(jnp.asarray(SYMMETRIC_STRASSEN[1][list(order)]), cfg)
                 for order in ([1, 2, 0], [2, 0, 1])]
    assert np.asarray(invalid)[0, -2:].all()  # no last move yet
    assert all(np.array_equal(moves[1, -2 + i], r) for i, r in enumerate(rotations))
    assert not np.asarray(invalid)[1, -2:].any()
    assert np.isclose(float(jnp.exp(logits[1, -2:]).sum()), 0.4, atol=1e-5)
    assert np.isclose(float(jnp.exp(logits[1]).sum()), 1.0, atol=1e-5)
    state, rewards = after, []
    for move in rotations:
        state, reward, done = step(state, move)
        rewards.append(float(reward))
    assert bool(done) and int(state.rank) == 7 and sum(rewards) == -6.0  # 2 moves + 4 appended
    assert verify(game.to_factorization(state, cfg, (2, 2, 2))).valid
    for bad in ({"rotations": 0.4, "symmetric": 1}, {"rotations": 0.4, "root_proposals": 2}):
        with pytest.raises(TensorgameError, match="rotations"):
            make_setup((2, 2, 2), "Z", make_config({**TINY, **bad}), seed=0)


def test_rotations_of_a_rectangular_target_stay_in_the_leading_block():
    """<2,2,3>: after a move inside the leading <2,2,2> block, the candidates' last two are its
    rotations in that block (game.rotate_in_block); after a move wider than it, none."""
    from tensorgame import compose, library

    setup = make_setup((2, 2, 3), "Z", make_config({**TINY, "rotations": 0.4}), seed=0)
    cfg = setup.game
    target, dims = game.pad_target(setup.target, 6)
    start = game.init(jnp.asarray(target), jnp.asarray(dims), cfg)
    u, v, w = compose._embed(library.get(2, 2, 2), (2, 2, 3), (0, 0, 0))
    terms = [game.canonicalize(jnp.asarray(np.stack([np.pad(u[r], (0, 2)), v[r], w[r]]),
                                           jnp.int32), cfg) for r in range(7)]
    inside = next(t for t in terms if not np.array_equal(  # not a term its rotation fixes
        game.canonicalize(game.rotate_in_block(t, (2, 2, 3))[0], cfg), t))
    wide = inside.at[1].set(1)
    states = [game.step(start, game.canonicalize(m, cfg), cfg)[0] for m in (inside, wide)]
    states = jax.tree.map(lambda a, b: jnp.stack([a, b]), *states)
    params = init_params(setup, jax.random.key(0))
    _, invalid, _, moves = jax.jit(lambda p, s, k: expand(setup.net, p, s, k, setup.search))(
        params, states, jax.random.key(1))
    once = game.rotate_in_block(game.canonicalize(inside, cfg), (2, 2, 3))[0]
    expected = [game.canonicalize(once, cfg),
                game.canonicalize(game.rotate_in_block(once, (2, 2, 3))[0], cfg)]
    assert all(np.array_equal(moves[0, -2 + i], r) for i, r in enumerate(expected))
    assert not np.asarray(invalid)[0, -2:].any() and np.asarray(invalid)[1, -2:].all()


@pytest.mark.parametrize("algorithm,with_props", [("gumbel", False), ("puct", True)])
def test_search_moves_are_legal_and_canonical(setup, algorithm, with_props):
    params = init_params(setup, jax.random.key(1))
    target, dims = game.pad_target(matmul_tensor(2, 2, 2), 4)
    states = jax.vmap(lambda t, d: game.init(t, d, setup.game))(
        jnp.broadcast_to(target, (3, 4, 4, 4)), jnp.broadcast_to(dims, (3, 3)))
    spec = dataclasses.replace(setup.search, algorithm=algorithm, proposals=3 * with_props,
                               proposal_share=0.5)
    proposals = None
    if with_props:  # schoolbook terms a_ii b_ii c_ii: legal, and new to the untrained policy
        proposals = np.zeros((3, 3, 3, 4), np.int32)
        proposals[:, :, :, 0] = 1
        proposals = jnp.asarray(proposals)
    moves, weights, action, value = jax.jit(
        lambda p, s, k: search(setup.net, p, s, k, spec, 1.0, proposals))(params, states,
                                                                          jax.random.key(2))
    assert moves.shape == (3, 8, 3, 4) and weights.shape == (3, 8)
    assert np.allclose(np.asarray(weights).sum(axis=1), 1.0, atol=1e-5)
    for b in range(3):
        chosen = moves[b, int(action[b])]
        state = jax.tree.map(lambda x: x[b], states)
        assert bool(game.is_legal(chosen, state, setup.game))
        assert np.array_equal(game.canonicalize(chosen, setup.game), chosen)
        assert float(weights[b, int(action[b])]) > 0


def test_plot_writes_png_and_rejects_non_runs(tmp_path, capsys):
    from tensorgame.cli import main

    rows = [{"wall": 1.0 * i, "loss": 5.0 - i, "policy_loss": 4.0 - i, "value_loss": 1.0,
             "best_rank": 8 if i else None, "ranks": {"8": i}, "residual_games": 4 - i}
            for i in range(4)]
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("\n".join(map(__import__("json").dumps, rows)) + "\n")
    assert main(["plot", str(run)]) == 0
    assert (run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["plot", str(tmp_path)]) == 2
    assert "no metrics.jsonl" in capsys.readouterr().err


@pytest.mark.parametrize("shared,entries,pool", [(False, 1, 0), (True, 1, 5), (False, 2, 5)])
def test_change_of_basis_gives_a_new_target_and_maps_back(shared, entries, pool):
    """Self-play's bases (selfplay.game_bases) are unimodular with entries up to
    ``basis_entries`` (one matrix for the three modes when shared), drawn from the run's fixed
    pool when it has one; a game in such a basis plays a different tensor (the old matrix-level
    change of basis left T itself unchanged), and a factorization of it maps back to a valid
    one of T."""
    from agents.bases import untransform
    from agents.selfplay import StartSpec, game_bases
    from tensorgame import library
    from tensorgame.tensors import reconstruct

    target = matmul_tensor(2, 2, 2)
    cfg = game.GameConfig(size=4, coefficients=(-1, 0, 1))
    starts = StartSpec(basis_prob=1.0, basis_pool=pool, basis_entries=entries,
                       shared_basis=shared, seed=7)
    draw = jax.jit(lambda k: game_bases(k, jnp.array([4, 4, 4]), 40, starts, cfg))
    bases = np.concatenate([np.asarray(draw(jax.random.key(k)), np.int64) for k in (0, 1)])
    distinct = {b.tobytes() for b in bases}
    assert len(distinct) <= pool if pool else len(distinct) >= 60
    assert np.abs(bases).max() <= entries and (entries == 1 or np.abs(bases).max() == entries)
    f = library.get(2, 2, 2)
    changed = 0
    for basis in bases:
        assert all(round(abs(np.linalg.det(m))) == 1 for m in basis)
        if shared:
            assert np.array_equal(basis[0], basis[1]) and np.array_equal(basis[0], basis[2])
        image = np.einsum("ia,jb,kc,abc->ijk", *basis, target)
        changed += not np.array_equal(image, target)
        if shared:
            assert np.array_equal(image, image.transpose(1, 2, 0))
        moved = f.replace(u=f.u @ basis[0].T, v=f.v @ basis[1].T, w=f.w @ basis[2].T)
        assert np.array_equal(reconstruct(moved.u, moved.v, moved.w), image)
        assert verify(untransform(moved, tuple(basis))).valid
    assert changed >= 60


def test_symmetric_game_demonstrations_and_search():
    """Symmetric game: demonstration residuals are cyclically symmetric, their returns count 3
    per orbit and 1 per symmetric term, and the search plays canonical legal moves."""
    setup = make_setup((2, 2, 2), "Z", make_config({**TINY, "symmetric": 1, "max_moves": 4,
                                                     "bound_value": 0}), seed=0)
    assert setup.game.symmetric
    obs, move, ret = jax.jit(lambda k: demonstration_batch(k, jnp.asarray(setup.dims), 64, 4,
                                                           setup.game, 0.5, 0.5))(
        jax.random.key(1))
    residual = np.asarray(obs.residual)
    assert np.array_equal(residual, residual.transpose(0, 2, 3, 1))
    fixed = np.array([bool(game.is_symmetric_term(m)) for m in move])
    assert 10 < fixed.sum() < 54
    costs = np.asarray(ret)
    assert set(np.unique(costs)) <= set(-np.arange(1, 13))
    canonical = jax.jit(jax.vmap(lambda a: game.canonicalize(a, setup.game)))(move)
    assert np.array_equal(canonical, move)
    after = residual - np.asarray(jax.jit(jax.vmap(lambda a: game.move_tensor(a, setup.game)))(
        move))
    assert np.array_equal(after, after.transpose(0, 2, 3, 1))
    target, dims = game.pad_target(setup.target, 4)
    states = jax.vmap(lambda t, d: game.init(t, d, setup.game))(
        jnp.asarray(np.stack([target] * 2)), jnp.asarray(np.stack([dims] * 2)))
    params = init_params(setup, jax.random.key(0))
    moves, weights, action, _ = jax.jit(lambda p, s, k: search(setup.net, p, s, k, setup.search))(
        params, states, jax.random.key(2))
    for m in np.asarray(moves).reshape(-1, 3, 4):
        if np.any(m):
            assert np.array_equal(game.canonicalize(jnp.asarray(m), setup.game), m)
    with pytest.raises(TensorgameError, match="square target"):
        make_setup((2, 2, 3), "Z", make_config({"symmetric": 1}), seed=0)


def test_orbit_game_demonstrations_search_and_config_errors():
    """The orbit game of <2,3,3>: demonstration residuals are invariant under the symmetry and
    their returns count 3 per orbit, the search plays canonical legal moves, and the config's
    symmetry is checked in one line."""
    z3 = ORBIT_SYMMETRIES[2, 3, 3]
    config = make_config({**TINY, "symmetry": z3, "max_moves": 0, "endgame": 6,
                          "completion": 1})
    setup = make_setup((2, 3, 3), "Z", config, seed=0)
    assert setup.config.max_moves == 6 and setup.game.orbits and not setup.game.symmetric
    maps = np.asarray(setup.game.symmetry).reshape(3, 9, 9)
    obs, move, ret = jax.jit(lambda k: demonstration_batch(k, jnp.asarray(setup.dims), 32, 4,
                                                           setup.game, 0.6))(jax.random.key(1))
    residual = np.asarray(obs.residual).astype(np.int64)
    moved = np.einsum("ia,jb,kc,nabc->nijk", *maps, residual)
    assert np.array_equal(moved, residual)
    assert set(np.unique(np.asarray(ret))) <= set(-np.arange(0, 13))
    canonical = jax.jit(jax.vmap(lambda a: game.canonicalize(a, setup.game)))(move)
    assert np.array_equal(canonical, move)
    target, dims = game.pad_target(setup.target, 9)
    states = jax.vmap(lambda t, d: game.init(t, d, setup.game))(
        jnp.asarray(np.stack([target] * 2)), jnp.asarray(np.stack([dims] * 2)))
    params = init_params(setup, jax.random.key(0))
    moves = jax.jit(lambda p, s, k: search(setup.net, p, s, k, setup.search))(
        params, states, jax.random.key(2))[0]
    played = [m for m in np.asarray(moves).reshape(-1, 3, 9) if np.any(m)]
    assert played
    for m in played:
        assert np.array_equal(game.canonicalize(jnp.asarray(m), setup.game), m)
        assert np.isin(m, (-1, 0, 1)).all()
    for overrides, message in [
            ({"symmetry": [[[1]], [[1]]]}, "three square integer matrices"),
            ({"symmetry": [[[1, 0], [0, 1]], [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
                           [[0, 0, 1], [0, 1, 0], [1, 0, 0]]]}, "order 3"),
            ({"symmetry": z3[::-1]}, "must be 2 x 2"),
            ({"symmetry": z3, "rotations": 0.5}, "without rotations")]:
        with pytest.raises(TensorgameError, match=message):
            make_setup((2, 3, 3), "Z", make_config(overrides), seed=0)


@pytest.mark.parametrize("symmetric", [0, 1])
def test_demonstrations_in_a_random_basis(symmetric):
    """change_basis maps the terms of a demonstration by one unimodular matrix per mode: their
    sum is exactly the image of the original sum, entries stay in the coefficient set, and many
    sparse demonstrations do change."""
    from agents.demos import change_basis, random_bases, random_terms

    setup = make_setup((2, 2, 2), "Z", make_config({**TINY, "symmetric": symmetric,
                                                     "max_moves": 4}), seed=0)
    cfg, dims = setup.game, jnp.asarray(setup.dims)
    draw_terms = jax.jit(lambda k: random_terms(k, dims, 4, cfg, 0.75, 0.3))
    draw_bases = jax.jit(lambda k: random_bases(k, dims, cfg.size, cfg.symmetric))
    move = jax.jit(lambda t, b: change_basis(t, b, cfg))
    changed = 0
    for seed in range(40):
        k_terms, k_basis = jax.random.split(jax.random.key(seed))
        terms = draw_terms(k_terms)
        bases = np.asarray(draw_bases(k_basis))
        assert all(round(abs(np.linalg.det(b))) == 1 for b in bases)
        if symmetric:
            assert np.array_equal(bases[0], bases[1]) and np.array_equal(bases[0], bases[2])
        moved = np.asarray(move(terms, jnp.asarray(bases)))
        assert set(np.unique(moved)) <= {-1, 0, 1}
        before = sum(np.asarray(game.move_tensor(t, cfg)) for t in terms)
        after = sum(np.asarray(game.move_tensor(jnp.asarray(t), cfg)) for t in moved)
        if np.array_equal(moved, np.asarray(terms)):
            continue
        changed += 1
        image = np.einsum("ia,jb,kc,abc->ijk", *bases, before)
        assert np.array_equal(after, image)
    assert changed >= 10


@pytest.mark.parametrize("decoder_layers,torso", [(0, "mlp"), (1, "attentive")])
def test_sampling_and_teacher_forcing_agree(decoder_layers, torso):
    """The search's one-call sampling (recurrent head, shared first step, inverse-CDF draws)
    and the learner's teacher-forced scoring give the same log-probability to each sampled move,
    and every sample respects the masks (sizes, no zero factor)."""
    from agents.network import PolicyValueNet, masked_log_probs
    from agents.search import features, observe

    setup = make_setup((2, 2, 3), "Z", make_config({**TINY, "decoder_layers": decoder_layers,
                                                     "torso": torso, "max_moves": 12}), seed=0)
    params = init_params(setup, jax.random.key(0))
    target, dims = game.pad_target(setup.target, setup.game.size)
    states = jax.vmap(lambda t, d: game.init(t, d, setup.game))(
        jnp.broadcast_to(target, (3,) + target.shape), jnp.broadcast_to(dims, (3, 3)))
    obs = jax.vmap(lambda s: observe(s, setup.game))(states)
    tok = setup.net.spec.tokenizer
    _, tokens, log_p, log_beta = jax.jit(lambda p, o, k: setup.net.apply(
        p, *features(o, 12), tok.fits(o.dims), k, 8, 1.0, method=PolicyValueNet.evaluate))(
        params, obs, jax.random.key(1))
    _, logits = jax.jit(lambda p, o, t: setup.net.apply(p, *features(o, 12), t))(params, obs,
                                                                               tokens)
    scored = masked_log_probs(logits, states.dims, tokens, tok)
    assert np.allclose(np.asarray(scored), np.asarray(log_p), atol=1e-4)
    assert np.allclose(np.asarray(log_p), np.asarray(log_beta), atol=1e-5)
    moves = np.asarray(tok.decode(tokens)).reshape(-1, 3, setup.game.size)
    assert np.all(np.any(moves != 0, axis=-1))
    assert not np.any(moves[:, 0, dims[0]:]) and not np.any(moves[:, 1, dims[1]:])


def test_token_draws_follow_the_masked_softmax():
    """Inverse-CDF draws: frequencies match softmax over the allowed tokens (within 5 standard
    errors over 200,000 draws), a masked token is never drawn, and each draw's log-probability
    is its log-softmax."""
    from agents.network import _sample_token

    logits = jnp.asarray([0.3, -1.0, 2.0, -1e9, 0.0, 1.2, -1e9, -3.0], jnp.float32)
    draws, logp = jax.jit(lambda k: _sample_token(k, logits, (200_000,)))(jax.random.key(5))
    probs = np.asarray(jax.nn.softmax(logits))
    counts = np.bincount(np.asarray(draws), minlength=8)
    assert counts[3] == 0 and counts[6] == 0
    stderr = np.sqrt(probs * (1 - probs) / 200_000)
    assert np.all(np.abs(counts / 200_000 - probs) <= 5 * stderr + 1e-9)
    assert np.allclose(np.asarray(logp), np.log(probs[np.asarray(draws)]), atol=1e-5)


@pytest.mark.parametrize("search_settings", [{}, {"search": "puct", "tree_reuse": 1}])
def test_slots_restart_and_replay_rebuilds_games(search_settings):
    """act: games that end go to the device replay and their slots restart; a replayed game's
    moves rebuild its recorded end (zero residual exactly when solved, return = -rank), and a
    sampled training pair shows the residual after t moves with a searched target move (also
    with sub-tree reuse, whose trees outlive a move but not a game)."""
    from agents import replay as replay_lib
    from agents.selfplay import act
    from agents.train import make_mesh, make_start_fn

    config = make_config({**TINY, "max_moves": 4, "games": 6, "replay_size": 64,
                          **search_settings})
    setup = make_setup((2, 2, 2), "Z", config, seed=0)
    params = init_params(setup, jax.random.key(0))
    actors, replay = make_start_fn(setup, make_mesh())(jax.random.key(1))
    target, dims = (jnp.asarray(x) for x in game.pad_target(setup.target, 4))
    step = jax.jit(lambda a, r, k: act(setup.net, params, k, a, r, target, dims, 3,
                                       setup.starts, setup.search))
    actors, replay, ended = step(actors, replay, jax.random.key(2))
    assert not np.asarray(ended.ended).any()  # 3 moves of a 4-move game
    actors, replay, ended = step(actors, replay, jax.random.key(3))
    assert np.asarray(ended.ended).sum() == 6 and int(replay.added[0]) == 6
    assert np.all(np.asarray(actors.states.move_count) == 2)  # restarted, then 2 more moves
    r = jax.tree.map(np.asarray, replay)
    rank_bound = jax.jit(lambda t: game.rank_bound(t, setup.game))
    for g in range(6):
        count = r.counts[g]
        moves = r.moves[g, :count].astype(np.int64)
        rest = r.targets[g] - np.einsum("ri,rj,rk->ijk", moves[:, 0], moves[:, 1], moves[:, 2])
        solved = not rest.any()
        penalty = 0 if solved else int(rank_bound(jnp.asarray(rest, jnp.int32)))
        assert r.returns[g, 0] == -count - penalty
    pairs = jax.jit(lambda r, k: replay_lib.sample(r, k, 32, dims, setup.game))(
        replay, jax.random.key(4))
    p = jax.tree.map(np.asarray, pairs)
    assert p.mask.min() == 1 and np.all(p.obs.dims == np.asarray(dims))
    for i in range(32):
        t = p.obs.move_count[i]
        candidates = r.candidates.reshape(-1, 4, setup.config.samples, 3, 4)
        matches = [(g, k) for g in range(6) for k in range(setup.config.samples)
                   if t < r.counts[g] and np.array_equal(candidates[g, t, k], p.moves[i, 0])
                   and r.weights[g, t, k] > 0]
        assert matches, "a sampled target move must be a searched candidate with visits"

        def residual_after(g, t):
            moves = r.moves[g, :t].astype(np.int64)
            return r.targets[g] - np.einsum("ri,rj,rk->ijk", moves[:, 0], moves[:, 1],
                                            moves[:, 2])

        assert any(np.array_equal(residual_after(g, t), p.obs.residual[i]) for g, _ in matches)


def test_endgame_terms_are_played_but_not_replayed_as_searched_moves():
    """With the endgame on, a target of rank 2 ends after one searched move (the rest is a
    unique low-rank residual, finished exactly): the ended games' moves rebuild the target, their
    return is minus their rank, and the replay holds only the searched move."""
    from agents.selfplay import act
    from agents.train import make_mesh, make_start_fn

    config = make_config({**TINY, "games": 6, "replay_size": 64, "endgame": 4})
    setup = make_setup((2, 2, 2), "Z", config, seed=0)
    assert setup.game.endgame == 4
    params = init_params(setup, jax.random.key(0))
    u, v, w = np.array([[1, 0, 1, 0], [0, 1, 0, -1]]), np.eye(4, dtype=int)[:2], np.array(
        [[1, 1, 0, 0], [0, 1, 1, 0]])
    target = jnp.asarray(np.einsum("ri,rj,rk->ijk", u, v, w), jnp.int32)
    dims = jnp.asarray(setup.dims)
    actors, replay = make_start_fn(setup, make_mesh())(jax.random.key(1))
    actors = actors.replace(states=jax.vmap(lambda _: game.init(target, dims, setup.game))(
        jnp.arange(6)), targets=jnp.broadcast_to(target, (6, 4, 4, 4)))
    actors, replay, ended = jax.jit(lambda a, r, k: act(setup.net, params, k, a, r, target, dims,
                                                        1, setup.starts, setup.search))(
        actors, replay, jax.random.key(2))
    e, r = jax.tree.map(lambda x: np.asarray(x)[0], ended), jax.tree.map(np.asarray, replay)
    finished = e.ended & e.solved & (e.count > 1)
    assert finished.sum() >= 3  # the endgame finished most games at their first move
    for g in np.flatnonzero(finished):
        moves = e.moves[g, :e.count[g]].astype(np.int64)
        assert np.array_equal(np.einsum("ri,rj,rk->ijk", moves[:, 0], moves[:, 1], moves[:, 2]),
                              np.asarray(target))
    assert int(r.added[0]) == int(e.ended.sum())
    kept = r.counts[:int(r.added[0])]
    assert np.all(kept == 1)  # one searched move per game, however many terms it ended with
    assert sorted(r.returns[:int(r.added[0]), 0].tolist()) == sorted(
        (-e.rank[e.ended]).astype(float).tolist())


@pytest.mark.parametrize("shape, side", [((2, 2, 3), 2), ((2, 3, 4), 2), ((3, 2, 2), 2),
                                         ((2, 3, 4), 1), ((3, 3, 3), 2), ((4, 4, 4), 3)])
def test_random_blocks_are_square_matmul_blocks(shape, side):
    """The target times a random block's masks is <s,s,s> on s drawn rows, inner indices and
    columns, every such block drawn; of a square target the same s indices in all three modes,
    so the cyclic rotation maps the block's terms into it."""
    from agents.selfplay import random_block

    n, m, p = shape
    size = max(n * m, m * p, p * n)
    target = game.pad_target(matmul_tensor(*shape), size)[0]
    seen = set()
    for seed in range(120):
        masks = np.asarray(random_block(jax.random.key(seed), shape, size, side))
        u, v = masks[0, : n * m].reshape(n, m), masks[1, : m * p].reshape(m, p)
        rows, inner, cols = np.flatnonzero(u.any(1)), np.flatnonzero(u.any(0)), np.flatnonzero(
            v.any(0))
        assert len(rows) == len(inner) == len(cols) == side
        block = np.zeros_like(target)
        for i in rows:
            for k in inner:
                for j in cols:
                    block[i * m + k, k * p + j, j * n + i] = 1
        np.testing.assert_array_equal(target * np.einsum("i,j,k->ijk", *masks), block)
        seen.add((tuple(rows), tuple(inner), tuple(cols)))
    if n == m == p:
        assert {len({r, k, c}) for r, k, c in seen} == {1}
        assert len(seen) == math.comb(n, side)
    else:
        assert len(seen) == math.comb(n, side) * math.comb(m, side) * math.comb(p, side)


def test_block_games_of_a_square_target():
    """<3,3,3> with block_size 2: every new game is a <2,2,2> block on one index set for the
    three modes, and what the slot keeps beyond it is the rest of the target."""
    from agents.selfplay import new_games

    config = make_config({**TINY, "completion": 1, "block_games": 1.0, "block_size": 2,
                          "max_moves": 7})
    setup = make_setup((3, 3, 3), "Z", config, seed=0)
    target, dims = (jnp.asarray(x) for x in game.pad_target(setup.target, 9))
    _, targets, bases, rests = jax.jit(lambda k: new_games(
        k, target, dims, 12, setup.starts, setup.search))(jax.random.key(3))
    targets, rests = np.asarray(targets), np.asarray(rests)
    np.testing.assert_array_equal(targets + rests, np.broadcast_to(target, targets.shape))
    np.testing.assert_array_equal(np.asarray(bases), np.broadcast_to(np.eye(9), bases.shape))
    for block in targets:
        assert block.sum() == 8  # <2,2,2>: eight products a_ik b_kj
        u = block.any(axis=(1, 2)).reshape(3, 3)  # (i, k) pairs with a product
        w = block.any(axis=(0, 1)).reshape(3, 3)  # (j, i) pairs
        rows, inner, cols = (np.flatnonzero(x) for x in (u.any(1), u.any(0), w.any(1)))
        assert len(rows) == 2 and np.array_equal(rows, inner) and np.array_equal(rows, cols)


@pytest.mark.parametrize("shape,bases_too", [((2, 3, 3), False), ((3, 3, 3), False),
                                             ((2, 3, 3), True)])
def test_block_games_played_as_their_own_game(shape, bases_too):
    """block_as_game: every block game starts from <2,2,2> itself at the first 4 coordinates of
    each mode, with sizes (4, 4, 4), in a basis of permutation matrices that maps the target to
    that block plus what the slot keeps beyond it; every block is drawn. With random bases too,
    a block game plays <2,2,2> in a basis of its own (one matrix for its three modes, so its
    tensor stays cyclic-symmetric), still inside the first 4 coordinates."""
    from agents.demos import tensor_in_basis
    from agents.selfplay import new_games

    config = make_config({**TINY, "completion": 1, "block_games": 1.0, "block_size": 2,
                          "block_as_game": 1, "max_moves": 7,
                          "basis_change_prob": 1.0 * bases_too})
    setup = make_setup(shape, "Z", config, seed=0)
    size = setup.game.size
    target, dims = (jnp.asarray(x) for x in game.pad_target(setup.target, size))
    states, targets, bases, rests = jax.jit(lambda k: new_games(
        k, target, dims, 64, setup.starts, setup.search))(jax.random.key(3))
    targets, bases = np.asarray(targets), np.asarray(bases)
    np.testing.assert_array_equal(np.asarray(states.dims), np.full((64, 3), 4))
    np.testing.assert_array_equal(targets + np.asarray(rests),
                                  np.asarray(jax.vmap(lambda b: tensor_in_basis(target, b))(
                                      jnp.asarray(bases))))
    if bases_too:
        assert not targets[:, 4:].any() and not targets[:, :, 4:].any()
        assert not targets[:, :, :, 4:].any()
        np.testing.assert_array_equal(targets, targets.transpose(0, 2, 3, 1))
        assert np.all(np.round(np.linalg.det(bases.astype(float))) ** 2 == 1)
        strassen_game = game.pad_target(matmul_tensor(2, 2, 2), size)[0]
        assert sum(np.array_equal(t, strassen_game) for t in targets) < 16
        return
    strassen_game = game.pad_target(matmul_tensor(2, 2, 2), size)[0]
    np.testing.assert_array_equal(targets, np.broadcast_to(strassen_game, targets.shape))
    assert np.all(bases.sum(axis=-1) == 1) and np.all(bases.sum(axis=-2) == 1)
    n, m, p = shape
    expected = math.comb(n, 2) if n == m == p else math.comb(n, 2) * math.comb(m, 2) * math.comb(
        p, 2)
    assert len({b.tobytes() for b in bases}) == expected
    with pytest.raises(TensorgameError, match="block_as_game"):
        make_config({"block_as_game": 1, "completion": 1}).resolved(shape, "Z")


def test_a_block_game_in_its_own_layout_is_saved_on_the_target(tmp_path):
    """<2,2,3> with block_as_game: a short run's games all verify on the target; a block game's
    rotations are the plain cyclic shift of its own layout; Strassen's seven moves played in
    that layout, in the basis of the block of columns 1 and 2, are mapped back and saved as a
    verified rank-11 algorithm of the target; a block game's replayed pairs carry its sizes."""
    from agents import replay as replay_lib
    from agents.selfplay import Ended, block_dims, block_layout
    from agents.train import Trainer
    from tensorgame import io, library

    config = make_config({**TINY, "max_moves": 3, "completion": 1, "pretrain_steps": 2,
                          "updates_per_batch": 1, "eval_every": 100, "eval_games": 2,
                          "block_games": 0.5, "block_as_game": 1, "rotations": 0.4})
    setup = make_setup((2, 2, 3), "Z", config, seed=0)
    seen = []
    trainer = Trainer(setup, tmp_path, None, log=lambda _: None)
    trainer.run(None, seen.append, max_iterations=1)
    assert all(m["residual_games"] == 0 and m["solved_fraction"] == 1.0 for m in seen)
    assert sum(sum(m["block_ranks"].values()) for m in seen) > 0
    assert all(int(r) >= 11 for m in seen for r in [*m["ranks"], *m["block_ranks"]])
    for path in sorted((tmp_path / "found").glob("*.json")):
        assert verify(io.load(path)).valid

    cfg = setup.game
    strassen = library.get(2, 2, 2)
    moves = np.zeros((7, 3, 6), np.int32)
    for axis, factor in enumerate((strassen.u, strassen.v, strassen.w)):
        moves[:, axis, :4] = factor
    own = game.init(jnp.asarray(game.pad_target(matmul_tensor(2, 2, 2), 6)[0]),
                    block_dims(setup.starts), cfg)
    loose = next(t for t in moves if not np.array_equal(  # a term its rotation does not fix
        game.canonicalize(jnp.asarray(t[[1, 2, 0]]), cfg), game.canonicalize(jnp.asarray(t), cfg)))
    first = game.step(own, jnp.asarray(loose), cfg)[0]
    states = jax.tree.map(lambda a: a[None], first)
    params = init_params(setup, jax.random.key(0))
    _, invalid, _, candidates = jax.jit(lambda p, s, k: expand(setup.net, p, s, k, setup.search))(
        params, states, jax.random.key(1))
    played = np.asarray(first.moves[0])
    rotated = [game.canonicalize(jnp.asarray(played[[1, 2, 0]]), cfg),
               game.canonicalize(jnp.asarray(played[[2, 0, 1]]), cfg)]
    assert all(np.array_equal(candidates[0, -2 + i], r) for i, r in enumerate(rotated))
    assert not np.asarray(invalid)[0, -2:].any()

    rows, inner, cols = jnp.array([1, 1], bool), jnp.array([1, 1], bool), jnp.array([0, 1, 1],
                                                                                    bool)
    basis = np.asarray(block_layout(rows, inner, cols, 6))
    in_layout = np.einsum("ia,jb,kc,abc->ijk", *basis, game.pad_target(matmul_tensor(2, 2, 3),
                                                                       6)[0])
    strassen_block = np.einsum("ri,rj,rk->ijk", moves[:, 0], moves[:, 1], moves[:, 2])
    ended = Ended(ended=np.ones((1, 1), bool), solved=np.ones((1, 1), bool),
                  rank=np.full((1, 1), 11), count=np.full((1, 1), 7),
                  residual=(in_layout - strassen_block)[None, None].astype(np.int32),
                  block=np.ones((1, 1), bool), moves=moves[None, None].astype(np.int8),
                  bases=basis[None, None].astype(np.int32))
    trainer.progress.best_rank = 0
    ranks, blocks = trainer._collect(ended, 0.0)
    assert ranks.tolist() == [11] and blocks.tolist() == [True]
    best = [io.load(path) for path in (tmp_path / "found").glob("*rank11*.json")]
    assert best and all(f.meta["block_game_completed"] and verify(f).valid for f in best)

    ring = replay_lib.empty(2, cfg, samples=setup.search.samples)
    ring = ring.replace(added=jnp.ones_like(ring.added), counts=ring.counts.at[0].set(1),
                        blocks=ring.blocks.at[0].set(True))
    sample = replay_lib.sample(ring, jax.random.key(0), 4, jnp.asarray(setup.dims), cfg,
                               block_dims=block_dims(setup.starts))
    np.testing.assert_array_equal(np.asarray(sample.obs.dims), np.full((4, 3), 4))


def test_block_game_config_errors():
    """block_size defaults to the smallest side; a block as large as a square target, one
    wider than the smallest side, the symmetric game or no completion are one-line errors."""
    assert make_config({"block_games": 0.5, "completion": 1}).resolved((2, 2, 3), "Z"
                                                                      ).block_size == 2
    assert make_config({"block_games": 0.5, "completion": 1, "block_size": 2}).resolved(
        (3, 3, 3), "Z").block_size == 2
    for fields, shape in [({"block_games": 0.5, "completion": 1}, (3, 3, 3)),
                          ({"block_games": 0.5, "completion": 1, "block_size": 3}, (2, 3, 3)),
                          ({"block_games": 0.5, "completion": 1, "block_size": 2,
                            "symmetric": 1}, (3, 3, 3)),
                          ({"block_games": 0.5, "block_size": 2}, (3, 3, 3))]:
        with pytest.raises(TensorgameError, match="block_"):
            make_config(fields).resolved(shape, "Z")


def test_completion_makes_every_game_a_verified_algorithm(tmp_path):
    """<2,2,3> with 3 moves, the completion and block games: every ended game is an algorithm
    of the target (a block game's moves completed on the whole target) of rank moves + fibres,
    at least the tensor's rank 11, saved and verified; Strassen's seven moves played in a block
    make rank 11. The learner runs with the ranked reward: its thresholds are observed ranks
    (on a block: 3 moves and their fibres there, at least Strassen's 7)."""
    from agents.selfplay import Ended
    from agents.train import Trainer
    from tensorgame import compose, io, library

    config = make_config({**TINY, "max_moves": 3, "completion": 1, "pretrain_steps": 2,
                          "updates_per_batch": 1, "eval_every": 100, "eval_games": 2,
                          "block_games": 0.5, "policy_quantile": 0.25})
    setup = make_setup((2, 2, 3), "Z", config, seed=0)
    assert setup.game.completion
    seen = []
    trainer = Trainer(setup, tmp_path, None, log=lambda _: None)
    trainer.run(None, seen.append, max_iterations=2)
    assert all(m["residual_games"] == 0 and m["solved_fraction"] == 1.0 for m in seen)
    assert sum(sum(m["block_ranks"].values()) for m in seen) > 0
    assert all(int(r) >= 11 for m in seen for r in [*m["ranks"], *m["block_ranks"]])
    assert all(m["policy_below"] == 0 or m["policy_below"] >= 11 for m in seen)
    assert all(m["block_policy_below"] >= 7 for m in seen if m["block_ranks"])
    evaluation = trainer.evaluate()
    assert seen[-1]["games"] >= 4 and evaluation["solved_fraction"] == 1.0
    assert evaluation["best_rank"] >= 11
    found = sorted((tmp_path / "found").glob("*.json"))
    assert found
    for path in found:
        f = io.load(path)
        assert f.shape == (2, 2, 3) and f.rank >= 11 and verify(f).valid

    # Strassen in the block of columns 1 and 2: rank 11 on the target, saved as such.
    strassen = compose._embed(library.get(2, 2, 2), (2, 2, 3), (0, 0, 1))
    moves = np.zeros((1, 1, 7, 3, 6), np.int8)
    for axis, factor in enumerate(strassen):
        moves[0, 0, :, axis, : factor.shape[1]] = factor
    block = np.einsum("ri,rj,rk->ijk", *strassen)
    whole = game.pad_target(matmul_tensor(2, 2, 3), 6)[0]
    padded = np.zeros((6, 6, 6), np.int32)
    padded[: block.shape[0], : block.shape[1], : block.shape[2]] = block
    ended = Ended(ended=np.ones((1, 1), bool), solved=np.ones((1, 1), bool),
                  rank=np.full((1, 1), 11), count=np.full((1, 1), 7),
                  residual=(whole - padded)[None, None], block=np.ones((1, 1), bool),
                  moves=moves,
                  bases=np.broadcast_to(np.eye(6, dtype=np.int32), (1, 1, 3, 6, 6)))
    trainer.progress.best_rank = 0
    ranks, blocks = trainer._collect(ended, 0.0)
    assert ranks.tolist() == [11] and blocks.tolist() == [True]
    best = [io.load(path) for path in (tmp_path / "found").glob("*rank11*.json")]
    assert best and all(f.meta["block_game_completed"] and verify(f).valid for f in best)


def test_train_without_config_plays_the_best_measured_preset():
    """No --config: <2,2,2> over Z plays the symmetric game with the endgame (the demo's config,
    experiments/strassen_symmetric.py); other targets and fields the defaults."""
    from agents.presets import preset

    name, config = preset((2, 2, 2), "Z")
    assert config == load_config(ROOT / "experiments" / "strassen_symmetric.py")
    assert config.symmetric == 1 and config.endgame == 4 and "symmetric" in name
    assert preset((2, 2, 3), "Z")[1] == make_config()
    assert preset((2, 2, 2), "Z2")[1] == make_config()


def test_only_games_below_policy_below_teach_the_policy():
    """Two one-move games, of rank 7 and 8: with policy_below=8 only the first one's pairs carry
    a policy weight, both carry their value target; a block game follows block_below."""
    from agents import replay as replay_lib

    config = game.GameConfig(size=4, max_moves=2, field="Z", coefficients=(-1, 0, 1),
                             history=1, symmetric=False)
    ring = replay_lib.empty(2, config, samples=3)
    targets = np.zeros((2, 4, 4, 4), np.int16)
    targets[0, 0, 0, 0], targets[1, 1, 1, 1] = 1, 1
    ring = ring.replace(targets=jnp.asarray(targets), counts=jnp.asarray([1, 1], jnp.int32),
                        weights=ring.weights.at[:, :, 0].set(1.0),
                        returns=jnp.asarray([[-7.0, 0.0], [-8.0, 0.0]]),
                        added=jnp.asarray([2], jnp.int32))
    dims = jnp.asarray([4, 4, 4])
    sample = jax.jit(lambda k, below: replay_lib.sample(ring, k, 64, dims, config, below),
                     static_argnums=1)
    for below, teaching in ((0, {-7.0, -8.0}), (8, {-7.0}), (7, set())):
        p = jax.tree.map(np.asarray, sample(jax.random.key(below), below))
        assert p.mask.min() == 1 and set(p.returns) == {-7.0, -8.0}
        first_game = p.obs.residual[:, 0, 0, 0] == 1
        assert np.array_equal(p.returns == -7.0, first_game)
        assert {float(r) for r, w in zip(p.returns, p.weights[:, 0]) if w == 1} == teaching
        assert set(np.unique(p.weights)) <= {0.0, 1.0}
    # The second game a block game: its own threshold (block_below), the first's unchanged.
    ring = ring.replace(blocks=jnp.asarray([False, True]))
    sample = jax.jit(lambda k, below, block: replay_lib.sample(ring, k, 64, dims, config, below,
                                                               block), static_argnums=(1, 2))
    for below, block, teaching in ((0, 8, {-7.0}), (8, 9, {-7.0, -8.0}), (7, 9, {-8.0})):
        p = jax.tree.map(np.asarray, sample(jax.random.key(block), below, block))
        assert {float(r) for r, w in zip(p.returns, p.weights[:, 0]) if w == 1} == teaching


def test_rank_quantiles_are_per_kind_over_the_filled_ring():
    """policy_quantile's thresholds: the lower quantile of the filled games' ranks of each kind
    (games on the target, block games), empty slots and the other kind ignored, 0 for a kind
    the ring does not hold; a game strictly below its kind's threshold teaches the policy."""
    from agents import replay as replay_lib

    config = game.GameConfig(size=4, max_moves=2, field="Z", coefficients=(-1, 0, 1),
                             history=1, symmetric=False)
    ring = replay_lib.empty(8, config, samples=3)
    ranks = np.array([20, 18, 25, 30, 9, 8, 12, 0], np.float32)  # the last slot never filled
    ring = ring.replace(returns=ring.returns.at[:, 0].set(-jnp.asarray(ranks)),
                        counts=jnp.asarray([1] * 7 + [0], jnp.int32),
                        weights=ring.weights.at[:, :, 0].set(1.0),
                        blocks=jnp.asarray([False] * 4 + [True] * 3 + [True]),
                        added=jnp.asarray([7], jnp.int32))
    quantiles = jax.jit(replay_lib.rank_quantiles, static_argnums=1)
    assert [float(x) for x in quantiles(ring, 0.25)] == [18.0, 8.0]
    assert [float(x) for x in quantiles(ring, 0.5)] == [20.0, 9.0]
    on_target = ring.replace(blocks=jnp.zeros(8, bool))
    assert [float(x) for x in quantiles(on_target, 0.5)] == [18.0, 0.0]
    below, block_below = quantiles(ring, 0.5)
    p = jax.tree.map(np.asarray, jax.jit(lambda k: replay_lib.sample(
        ring, k, 256, jnp.asarray([4, 4, 4]), config, below, block_below))(jax.random.key(0)))
    assert {float(r) for r, w in zip(p.returns, p.weights[:, 0]) if w == 1} == {-18.0, -8.0}
    with pytest.raises(TensorgameError, match="policy_quantile"):
        make_config({"policy_quantile": 0.25, "policy_below": 8}).resolved((2, 2, 2), "Z")


def test_solution_store_keeps_only_the_best_rank():
    from agents.solutions import SolutionStore

    store = SolutionStore(4, game.GameConfig(size=4, max_moves=8))
    seven, eight = np.ones((7, 3, 4), np.int32), np.ones((8, 3, 4), np.int32)
    assert store.offer(seven, 7) and store.rank() == 7
    assert not store.offer(eight, 8) and store.valid.sum() == 1
    assert store.offer(seven[:6], 6) and store.rank() == 6 and store.valid.sum() == 1
    symmetric = SolutionStore(4, game.GameConfig(size=4, max_moves=8, symmetric=True))
    orbit, fixed = np.arange(12).reshape(3, 4), np.ones((3, 4), np.int32)
    fixed[2] = -1  # (u, u, -u) is a symmetric term too
    symmetric.offer(np.stack([fixed, orbit, orbit + 1]), 7)
    assert symmetric.rank() == 7  # one symmetric term and two orbits of three
    restored = SolutionStore(4, symmetric.config)
    restored.restore(symmetric.state())  # a resumed run derives the kept rank from the moves
    assert restored.rank() == 7 and not restored.offer(np.ones((8, 3, 4), np.int32), 9)


def test_scheme_moves_for_replay(setup):
    """A verified scheme of the target becomes moves of the plain game; what cannot be replayed
    is a one-line error."""
    from agents.solutions import scheme_moves
    from tensorgame import io
    from tensorgame.factorization import Factorization

    strassen = io.load("results/agent/2x2x2_rank7_Z.json")
    moves = scheme_moves(strassen, (2, 2, 2), "Z", setup.game)
    assert moves.shape == (7, 3, setup.game.size)
    rebuilt = np.einsum("ri,rj,rk->ijk", moves[:, 0], moves[:, 1], moves[:, 2])
    target, _ = game.pad_target(matmul_tensor(2, 2, 2), setup.game.size)
    assert np.array_equal(rebuilt, target)
    mod2 = scheme_moves(strassen, (2, 2, 2), "Z2", dataclasses.replace(
        setup.game, field="Z2", coefficients=(0, 1)))
    assert set(np.unique(mod2)) <= {0, 1} and len(mod2) == 7
    broken = Factorization((2, 2, 2), "Z", strassen.u, strassen.v, -strassen.w)
    naive = io.load("results/agent/2x2x2_rank8_Z.json")
    cases = [(strassen, (2, 2, 3), setup.game, "cannot be replayed in the game of <2,2,3>"),
             (broken, (2, 2, 2), setup.game, "does not verify over Z"),
             (naive, (2, 2, 2), setup.game, "no better than the naive 8"),
             (strassen, (2, 2, 2), dataclasses.replace(setup.game, max_moves=6),
              "more than the game's 6 moves"),
             (strassen, (2, 2, 2), dataclasses.replace(setup.game, symmetric=True),
              "need the plain game")]
    for scheme, shape, config, message in cases:
        with pytest.raises(TensorgameError, match=message):
            scheme_moves(scheme, shape, "Z", config)
    with pytest.raises(TensorgameError, match=r"entries \[-1\] outside the game's coefficients"):
        scheme_moves(strassen, (2, 2, 2), "Z", dataclasses.replace(setup.game, coefficients=(0, 1)))


def test_demonstrations_mix_sparse_and_dense(setup):
    """demo_zero_prob_min: each demonstration draws its own zero probability, so densities spread
    over the range; without it every demonstration has the same density."""
    from agents.demos import demonstration_batch

    dims = jnp.asarray(setup.dims)

    def densities(**kwargs):
        _, moves, _ = jax.jit(lambda k: demonstration_batch(
            k, dims, 512, 8, setup.game, 0.9, **kwargs))(jax.random.key(4))
        return np.mean(np.asarray(moves) != 0, axis=(1, 2))  # [512]

    plain, mixed = densities(), densities(zero_prob_min=0.1)
    assert np.std(mixed) > 2 * np.std(plain)
    assert np.mean(mixed) > np.mean(plain) + 0.1
    with pytest.raises(TensorgameError, match="demo_zero_prob_min"):
        make_config({"demo_zero_prob_min": 0.8}).resolved((2, 2, 2), "Z")


@pytest.mark.parametrize("shape,symmetric", [((2, 2, 3), 0), ((2, 2, 2), 1)])
def test_signed_permutations_give_equivalent_states(shape, symmetric):
    """learner.permuted maps a state R = T(a) + T(b) with recent move b and target move a to
    R' = T(a') + T(b') with a', b' its own (canonical) target and recent moves: one signed
    permutation per mode, applied alike to the residual and the moves, nothing beyond the
    target's sizes, the entries' magnitudes kept, a cyclic-symmetric residual kept symmetric."""
    from agents.demos import random_terms
    from agents.learner import Targets, permuted
    from agents.search import Observation

    config = make_config({**TINY, "symmetric": symmetric, "signed_permutations": 1.0,
                          "max_moves": 4})
    setup = make_setup(shape, "Z", config, seed=0)
    cfg, spec, dims = setup.game, setup.learner, jnp.asarray(setup.dims)
    assert spec.shared_permutation == bool(symmetric)
    count = 32
    terms = jax.vmap(lambda k: random_terms(k, dims, 2, cfg, 0.5))(
        jax.random.split(jax.random.key(1), count))  # [N, 2, 3, S]
    tensor = jax.vmap(jax.vmap(lambda m: game.move_tensor(m, cfg)))
    residual = jnp.sum(tensor(terms), axis=1)
    recent = jnp.zeros((count, cfg.history, 3, cfg.size), jnp.int32).at[:, 0].set(terms[:, 1])
    obs = Observation(residual=residual, recent=recent, move_count=jnp.ones(count, jnp.int32),
                      dims=jnp.broadcast_to(dims, (count, 3)))
    targets = Targets(obs=obs, moves=terms[:, :1], weights=jnp.ones((count, 1)),
                      returns=-jnp.full(count, 2.0), mask=jnp.ones(count))
    out = jax.jit(lambda k, t: permuted(k, t, spec))(jax.random.key(2), targets)
    move, last = out.moves[:, 0], out.obs.recent[:, 0]
    np.testing.assert_array_equal(out.obs.residual, tensor(move[:, None])[:, 0] +
                                  tensor(last[:, None])[:, 0])
    canonical = jax.vmap(lambda m: game.canonicalize(m, cfg))
    np.testing.assert_array_equal(move, canonical(move))
    np.testing.assert_array_equal(last, canonical(last))
    np.testing.assert_array_equal(out.obs.recent[:, 1:], 0)
    inside = np.asarray(game.dims_mask(dims, cfg))
    assert not np.any(np.asarray(move) * ~inside.astype(bool))
    for before, after in zip(np.asarray(residual), np.asarray(out.obs.residual)):
        assert sorted(np.abs(before).ravel()) == sorted(np.abs(after).ravel())
        if symmetric:
            np.testing.assert_array_equal(after, after.transpose(1, 2, 0))
    changed = np.any(np.asarray(out.obs.residual) != np.asarray(residual), axis=(1, 2, 3))
    assert changed.sum() >= count // 2
    np.testing.assert_array_equal(out.returns, targets.returns)


def test_annealed_demonstrations_weigh_less_in_the_loss(setup):
    """demo_anneal: the weight falls geometrically from 1 to demo_final_weight and stays; the
    demonstrations' examples carry it as their loss weight."""
    from agents.learner import Solutions, supervised_targets
    from agents.train import demo_weight_at

    config = make_config({"demo_anneal": 10, "demo_final_weight": 0.01})
    weights = [demo_weight_at(config, b) for b in (0, 5, 10, 40)]
    np.testing.assert_allclose(weights, [1.0, 0.1, 0.01, 0.01])
    assert demo_weight_at(make_config({}), 40) == 1.0
    spec, s = setup.learner, setup.game.size
    solutions = Solutions(terms=jnp.zeros((2, 8, 3, s), jnp.int32),
                          counts=jnp.zeros(2, jnp.int32), valid=jnp.zeros(2, bool))
    out = supervised_targets(jax.random.key(0), jnp.asarray(setup.dims), solutions, spec, 0.1)
    np.testing.assert_allclose(out.mask[: spec.demo_batch], 0.1)
    np.testing.assert_array_equal(out.mask[spec.demo_batch:], 0.0)  # no solution stored yet
