"""Self-play on targets beyond <2,2,2> (2x2x3, 2x3x3, 3x3x3) within a CPU budget: the fast
engine's network and search (experiments/fast.py) with the naive rank as move limit, 16 game
slots, random changes of basis between games, and evaluation and checkpoints every few batches."""

import runpy
from pathlib import Path

OVERRIDES = dict(runpy.run_path(str(Path(__file__).with_name("fast.py")))["OVERRIDES"])
OVERRIDES.update(max_moves=0,  # the naive rank n*m*p
                 games=16, batch_size=128, basis_change_prob=0.5, eval_every=5,
                 checkpoint_every=10)
