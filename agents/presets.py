"""Built-in configs: what ``tensorgame train`` plays with no ``--config``, the best measured.

<2,2,2> over Z: the cyclic-symmetric game with the exact endgame, the only setting in which the
agent has found Strassen's rank from scratch on a CPU (results/agent.md, section 2; it is also
``experiments/strassen_symmetric.py``, the demo's config), built on ``STRASSEN``, the plain
game's config (``experiments/strassen.py``). Every other target: the defaults of
``agents.config.AgentConfig``.
"""

from __future__ import annotations

from typing import Any

from agents.config import AgentConfig, make_config

# The plain <2,2,2> game on a small network (experiments/strassen.py; the symmetric preset's base).
STRASSEN: dict[str, Any] = dict(
    torso="mlp",  # the fast engine's network (experiments/fast.py)
    decoder_layers=0,
    width=64,
    coefficients=(-1, 0, 1),
    max_moves=8,
    samples=16,
    simulations=16,
    games=32,
    batch_size=128,
    updates_per_batch=8,
    learning_rate=3e-3,
    demo_zero_prob=0.75,
    demo_fraction=0.5,
    solution_fraction=0.25,
    pretrain_steps=300,
    basis_change_prob=0.5,
    bound_value=1,
    eval_every=5,
    checkpoint_every=10,
    stop_at_rank=7,
)

STRASSEN_SYMMETRIC: dict[str, Any] = {
    **STRASSEN,
    "symmetric": 1,  # a move is an orbit of three terms or one symmetric term (tensorgame.game)
    "max_moves": 4,
    "endgame": 4,  # a residual of rank <= 4 with a unique decomposition is finished exactly
    "demo_zero_prob": 0.6,
    "demo_fixed_prob": 0.3,
    "pretrain_steps": 600,
    "basis_change_prob": 0.0,
    "bound_value": 0,
    "policy_below": 8,  # only games below the schoolbook's rank teach the policy
}

# Order-3 symmetries (P, Q, R) for the orbit game (config field ``symmetry``): <2,3,3>'s, under
# which the bundled rank-15 scheme (DeepMind's; also the FMM catalogue's) is five orbits of three
# terms, three of them enough before the endgame (tests/test_game.py).
ORBIT_SYMMETRIES: dict[tuple[int, int, int], list] = {
    (2, 3, 3): [[[1, 1], [-1, 0]], [[0, 1, 0], [0, 0, 1], [1, 0, 0]],
                [[0, 0, 1], [-1, 0, 0], [0, 1, 0]]],
}

_PRESETS = {((2, 2, 2), "Z"): ("<2,2,2> symmetric game", STRASSEN_SYMMETRIC)}


def preset(shape: tuple[int, int, int], field: str) -> tuple[str, AgentConfig]:
    """(a name to print, the config) that ``tensorgame train`` uses without ``--config``."""
    name, overrides = _PRESETS.get((tuple(shape), field), ("defaults", {}))
    return name, make_config(overrides)


__all__ = ["ORBIT_SYMMETRIES", "STRASSEN", "STRASSEN_SYMMETRIC", "preset"]
