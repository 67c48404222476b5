"""Self-play on targets beyond <2,2,2> (2x2x3, 2x3x3, 3x3x3) within a CPU budget: the naive rank
as move limit, the fast engine's small network, cheap search, random changes of basis between
games."""

OVERRIDES = dict(
    max_moves=0,  # the naive rank n*m*p
    torso="mlp",  # the fast engine's network (experiments/fast.py)
    decoder_layers=0,
    width=64,
    samples=16,
    simulations=16,
    games=16,
    batch_size=128,
    updates_per_batch=8,
    learning_rate=3e-3,
    demo_zero_prob=0.75,
    pretrain_steps=200,
    basis_change_prob=0.5,
    eval_every=5,
    checkpoint_every=10,
)
