"""Rediscovering a rank-7 <2,2,2> algorithm over Z from a random network on a small CPU.

Coefficients {-1, 0, 1}; 8 moves per game (the naive rank); the fast engine's small network (MLP
torso, policy head without cross-attention, width 64) so that learner updates and simulations are
cheap; sparse synthetic demonstrations (3 in 4 entries zero,
like the matmul tensor's own sparsity) and 300 demonstration-only updates before self-play, so
that the first self-play games already peel rank-1 terms off; half the games play the target in
a random basis (unimodular, entries in {-1, 0, 1}); leaf values floored at -rank_bound.
"""

OVERRIDES = dict(
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
