"""The fast engine's network and search for small targets (<2,2,2>, <2,2,3>, <2,3,3>): an MLP torso
and a policy head without cross-attention (agents/network.py), width 64; K = 16 sampled moves,
16 simulations, 256 game slots per device step. Used by the throughput benchmark and as the base
of the rediscovery configs."""

OVERRIDES = dict(
    torso="mlp",
    width=64,
    decoder_layers=0,
    coefficients=(-1, 0, 1),
    samples=16,
    simulations=16,
    considered_actions=16,
    games=256,
    batch_size=256,
    updates_per_batch=8,
    learning_rate=3e-3,
    demo_zero_prob=0.75,
    pretrain_steps=200,
    eval_every=0,
    checkpoint_every=20,
)
