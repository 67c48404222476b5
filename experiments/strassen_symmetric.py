"""Rediscovering Strassen in the cyclic-symmetric game (``symmetric=1``, tensorgame/game.py).

A move subtracts a whole orbit u(x)v(x)w + v(x)w(x)u + w(x)u(x)v (3 multiplications) or one
symmetric term u(x)u(x)(+-u) (1), so a rank-7 game is 3 moves (one symmetric term, two orbits)
and the schoolbook one 4 (two symmetric terms, two orbits). Otherwise as experiments/strassen.py:
coefficients {-1, 0, 1}, a small network, sparse synthetic demonstrations (here of symmetric
moves), demonstration-only pretraining. The leaf value is not floored at -rank_bound: in the
symmetric game that return is not always reachable.
"""

OVERRIDES = dict(
    symmetric=1,
    coefficients=(-1, 0, 1),
    max_moves=4,
    width=32,
    samples=16,
    simulations=16,
    games=32,
    batch_size=128,
    updates_per_batch=8,
    learning_rate=3e-3,
    demo_zero_prob=0.6,
    demo_fixed_prob=0.3,
    demo_fraction=0.5,
    solution_fraction=0.25,
    pretrain_steps=300,
    bound_value=0,
    eval_every=5,
    checkpoint_every=10,
    stop_at_rank=7,
)
