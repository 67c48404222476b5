"""The plain <2,2,2> game (every algorithm reachable, 8 moves) with rotations: after a move, its
two cyclic rotations are candidates at every node (``rotations``: half of the prior), so a
cyclic orbit of three terms is three likely moves; with the exact endgame (rank <= 4), Strassen's
rank then needs one right move. Everything else is the symmetric preset (agents/presets.py: the
endgame, only games below rank 8 teach the policy) with the 1,500 demonstration updates it had
when this config was measured (results/agent.md, section 3), and, since the session of
2026-12-03 12:33 UTC, AlphaTensor-style bases: 84% of the games in one of 80 fixed bases of the
run (one matrix for the three modes, so the rotations stay valid; rank 7 first in 5 of 6
seeds, results/agent.md, section 3)."""

from agents.presets import STRASSEN, STRASSEN_SYMMETRIC

OVERRIDES = {**STRASSEN_SYMMETRIC, "symmetric": 0, "max_moves": STRASSEN["max_moves"],
             "rotations": 0.5, "pretrain_steps": 1500,
             "basis_change_prob": 0.84, "basis_pool": 80}
