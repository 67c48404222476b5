"""Rediscovering Strassen in the cyclic-symmetric game (``symmetric=1``, tensorgame/game.py).

A move subtracts a whole orbit u(x)v(x)w + v(x)w(x)u + w(x)u(x)v (3 multiplications) or one
symmetric term u(x)u(x)(+-u) (1), so a rank-7 game is 3 moves (one symmetric term, two orbits)
and the schoolbook one 4 (two symmetric terms, two orbits). Otherwise as experiments/strassen.py
(small network, sparse synthetic demonstrations, here of symmetric moves, demonstration-only
pretraining), but every game on the target itself, and leaf values not floored at -rank_bound:
in the symmetric game that return is not always reachable. Two changes made it discover
(results/agent.md, section 2): only self-play games below rank 8 teach the policy
(``policy_below``: it no longer imitates its own schoolbook games and keeps proposing the moves
the demonstrations taught), and demonstration-only updates before self-play. With the
exact endgame (``endgame=4``, tensorgame/endgame.py) a residual of rank <= 4 with a unique
decomposition is finished by linear algebra: after one orbit of a symmetric Strassen the rest
(the symmetric term and the other orbit) is, so a rank-7 game is one right move (3 to 6 batches
on fresh seeds instead of 7 to 96; results/agent.md), and 600 pretraining updates are enough
(1,500 before the endgame).
"""

from agents.presets import STRASSEN_SYMMETRIC

OVERRIDES = dict(STRASSEN_SYMMETRIC)  # also what `tensorgame train --target 2,2,2` plays
