"""Rediscovering Strassen in the cyclic-symmetric game (``symmetric=1``, tensorgame/game.py).

A move subtracts a whole orbit u(x)v(x)w + v(x)w(x)u + w(x)u(x)v (3 multiplications) or one
symmetric term u(x)u(x)(+-u) (1), so a rank-7 game is 3 moves (one symmetric term, two orbits)
and the schoolbook one 4 (two symmetric terms, two orbits). Otherwise as experiments/strassen.py
(small network, sparse synthetic demonstrations, here of symmetric moves, demonstration-only
pretraining), but every game on the target itself, and leaf values not floored at -rank_bound:
in the symmetric game that return is not always reachable. Two changes made it discover
(results/agent.md, section 2): only self-play games below rank 8 teach the policy
(``policy_below``: it no longer imitates its own schoolbook games and keeps proposing the moves
the demonstrations taught), and 1,500 demonstration-only updates before self-play.
"""

import runpy
from pathlib import Path

OVERRIDES = dict(runpy.run_path(str(Path(__file__).with_name("strassen.py")))["OVERRIDES"])
OVERRIDES.update(symmetric=1, max_moves=4, demo_zero_prob=0.6, demo_fixed_prob=0.3,
                 basis_change_prob=0.0, bound_value=0, policy_below=8, pretrain_steps=1500)
