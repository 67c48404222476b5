"""Found factorizations kept (as played, in the game's basis) for order-shuffled replay."""

from __future__ import annotations

import numpy as np

from agents import learner as learner_lib


class SolutionStore:
    """Found factorizations (as played, in the game's basis) for order-shuffled replay."""

    def __init__(self, capacity: int, max_moves: int, size: int):
        self.terms = np.zeros((capacity, max_moves, 3, size), np.int32)
        self.counts = np.zeros((capacity,), np.int32)
        self.valid = np.zeros((capacity,), bool)
        self.keys: set[bytes] = set()
        self.cursor = 0

    def add(self, moves: np.ndarray) -> bool:
        """Keep a factorization's moves [R, 3, S] unless already kept; True if new."""
        order = np.lexsort(moves.reshape(len(moves), -1).T[::-1])
        moves = moves[order]
        key = moves.tobytes()
        if key in self.keys:
            return False
        self.keys.add(key)
        slot = self.cursor % len(self.counts)
        self.terms[slot] = 0
        self.terms[slot, : len(moves)] = moves
        self.counts[slot] = len(moves)
        self.valid[slot] = True
        self.cursor += 1
        return True

    def clear(self) -> None:
        """Forget every kept factorization (a better rank was found)."""
        self.valid[:] = False
        self.counts[:] = 0
        self.keys.clear()
        self.cursor = 0

    def arrays(self) -> learner_lib.Solutions:
        return learner_lib.Solutions(terms=self.terms, counts=self.counts, valid=self.valid)

    def state(self) -> dict:
        return {"terms": self.terms, "counts": self.counts, "valid": self.valid,
                "cursor": np.array(self.cursor, np.int64)}

    def restore(self, state: dict) -> None:
        self.terms = np.asarray(state["terms"]).copy()
        self.counts = np.asarray(state["counts"]).copy()
        self.valid = np.asarray(state["valid"]).copy()
        self.cursor = int(state["cursor"])
        self.keys = {self.terms[i, : self.counts[i]].tobytes()
                     for i in range(len(self.counts)) if self.valid[i]}
