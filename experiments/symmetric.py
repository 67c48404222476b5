"""Self-play in the cyclic-symmetric game on square targets beyond <2,2,2> (3x3x3 over Z,
4x4x4 over Z2) within a CPU budget: the symmetric schoolbook move count as move limit
(n symmetric terms + (n^3 - n)/3 orbits: 11 moves for 3x3x3, 24 for 4x4x4), small network,
cheap search, symmetric demonstrations, no floor on leaf values."""

OVERRIDES = dict(
    symmetric=1,
    max_moves=0,
    width=32,
    samples=16,
    simulations=16,
    games=16,
    batch_size=128,
    updates_per_batch=8,
    learning_rate=3e-3,
    demo_zero_prob=0.75,
    demo_fixed_prob=0.2,
    pretrain_steps=200,
    bound_value=0,
    eval_every=5,
    checkpoint_every=10,
)
