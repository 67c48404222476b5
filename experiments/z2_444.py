"""<4,4,4> over Z2 (best known 47) on a CPU budget: S = 16, 12 action tokens of 4 bits."""

OVERRIDES = dict(
    max_moves=0,  # 64, the naive rank
    width=32,
    heads=4,
    torso_layers=1,
    decoder_layers=1,
    samples=8,
    simulations=8,
    considered_actions=8,
    games=8,
    batch_size=64,
    updates_per_batch=4,
    learning_rate=3e-3,
    demo_zero_prob=0.8,
    pretrain_steps=100,
    basis_change_prob=0.5,
    eval_every=0,
    checkpoint_every=5,
)
