"""The plain <2,2,2> game (every algorithm reachable, 8 moves) with rotations: after a move, its
two cyclic rotations are candidates at every node (``rotations``: half of the prior), so a
cyclic orbit of three terms is three likely moves; with the exact endgame (rank <= 4), Strassen's
rank then needs one right move. Otherwise the symmetric preset's learner settings
(agents/presets.py: 1,500 demonstration updates, only games below rank 8 teach the policy)."""

from agents.presets import STRASSEN

OVERRIDES = {**STRASSEN, "endgame": 4, "rotations": 0.5, "basis_change_prob": 0.0,
             "policy_below": 8, "pretrain_steps": 1500, "demo_zero_prob": 0.6, "bound_value": 0}
