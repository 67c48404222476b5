"""Rediscovering a rank-7 <2,2,2> algorithm over Z from a random network on a small CPU.

Coefficients {-1, 0, 1}; 8 moves per game (the naive rank); the fast engine's small network (MLP
torso, policy head without cross-attention, width 64) so that learner updates and simulations are
cheap; sparse synthetic demonstrations (3 in 4 entries zero,
like the matmul tensor's own sparsity) and 300 demonstration-only updates before self-play, so
that the first self-play games already peel rank-1 terms off; half the games play the target in
a random basis (unimodular, entries in {-1, 0, 1}); leaf values floored at -rank_bound.
"""

from agents.presets import STRASSEN

OVERRIDES = dict(STRASSEN)
