"""experiments/larger.py in the cyclic-symmetric game, for square targets beyond <2,2,2> (3x3x3
over Z, 4x4x4 over Z2): the move limit is the symmetric schoolbook count (n symmetric terms and
(n^3 - n)/3 orbits: 11 moves for 3x3x3, 24 for 4x4x4), demonstrations of symmetric moves, every
game on the target itself, no floor on leaf values."""

import runpy
from pathlib import Path

OVERRIDES = dict(runpy.run_path(str(Path(__file__).with_name("larger.py")))["OVERRIDES"])
OVERRIDES.update(symmetric=1, demo_fixed_prob=0.2, basis_change_prob=0.0, bound_value=0)
