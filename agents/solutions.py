"""Found factorizations kept (as played, in the game's basis) for order-shuffled replay, and
factorizations from elsewhere (a flip-graph walk, a file) turned into moves to replay."""

from __future__ import annotations

import numpy as np

from agents import learner as learner_lib
from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization, reduced_mod2, verify
from tensorgame import game
from tensorgame.game import GameConfig


class SolutionStore:
    """Found factorizations (as played, in the game's basis) for order-shuffled replay."""

    def __init__(self, capacity: int, config: GameConfig):
        self.config = config
        self.terms = np.zeros((capacity, config.max_moves, 3, config.size), np.int32)
        self.counts = np.zeros((capacity,), np.int32)
        self.valid = np.zeros((capacity,), bool)
        self.keys: set[bytes] = set()
        self.cursor = 0
        self.kept_rank = 0  # multiplications of every kept factorization (0: none kept)

    def _add(self, moves: np.ndarray) -> bool:
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

    def rank(self) -> int:
        """Multiplications of the kept factorizations (all have the same; 0 when none)."""
        return self.kept_rank

    def offer(self, moves: np.ndarray, rank: int) -> bool:
        """Keep a factorization of ``rank`` multiplications if it is at least as good as those
        kept (a better one clears them: replaying worse games would teach them); True if kept."""
        if self.kept_rank and rank > self.kept_rank:
            return False
        if self.kept_rank and rank < self.kept_rank:
            self.clear()
        self.kept_rank = rank
        return self._add(moves)

    def clear(self) -> None:
        """Forget every kept factorization (a better rank was found)."""
        self.valid[:] = False
        self.counts[:] = 0
        self.keys.clear()
        self.cursor = 0
        self.kept_rank = 0

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
        kept = np.flatnonzero(self.valid)  # the rank of one kept factorization is every one's
        self.kept_rank = int(sum(game.move_cost(move, self.config)
                                 for move in self.terms[kept[0], : self.counts[kept[0]]])) \
            if kept.size else 0


def scheme_moves(scheme: Factorization, shape: tuple[int, int, int], field: str,
                 config: GameConfig) -> np.ndarray:
    """A verified factorization of <n,m,p> as moves [R, 3, S] of the plain game (padded to the
    game's size) to replay; one-line errors when it cannot be replayed in this game."""
    n, m, p = shape
    name = f"a scheme of <{','.join(map(str, scheme.shape))}> over {scheme.field}"
    if scheme.shape != tuple(shape):
        raise TensorgameError(f"{name} cannot be replayed in the game of <{n},{m},{p}>")
    if config.orbits:
        raise TensorgameError("replayed schemes need the plain game (the config plays orbits)")
    if field == "Z" and scheme.field != "Z":
        raise TensorgameError(f"{name} cannot be replayed in the game over Z")
    if field == "Z2":
        scheme = reduced_mod2(scheme)
    u, v, w = (np.asarray(x, np.int64) for x in scheme.factors)
    if not verify(scheme, field=field).valid:
        raise TensorgameError(f"{name} does not verify over {field}")
    if len(u) >= n * m * p:
        raise TensorgameError(f"{name} has rank {len(u)}: no better than the naive {n * m * p}")
    if len(u) > config.max_moves:
        raise TensorgameError(f"{name} has rank {len(u)}, more than the game's {config.max_moves} "
                              f"moves")
    allowed = set(config.coefficients)
    outside = sorted({int(x) for x in np.concatenate([u.ravel(), v.ravel(), w.ravel()])}
                     - allowed)
    if outside:
        raise TensorgameError(f"{name} has entries {outside} outside the game's coefficients "
                              f"{list(config.coefficients)}")
    moves = np.zeros((len(u), 3, config.size), np.int32)
    moves[:, 0, : u.shape[1]], moves[:, 1, : v.shape[1]], moves[:, 2, : w.shape[1]] = u, v, w
    return moves
