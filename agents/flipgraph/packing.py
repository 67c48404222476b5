"""Factorizations to and from the bit-packed form the walk kernels use (see ``kernel``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization

WALK_FIELDS = ("Z2", "Z")


@dataclasses.dataclass(frozen=True, eq=False)
class Packed:
    """A scheme as bitmasks: pos/neg [3, capacity] uint64, the first ``rank`` columns live."""

    shape: tuple[int, int, int]
    field: str  # "Z2" (XOR arithmetic) or "Z" (coefficients kept in {-1, 0, 1})
    pos: np.ndarray  # [3, capacity] uint64
    neg: np.ndarray  # [3, capacity] uint64
    rank: int

    @property
    def ternary(self) -> bool:
        return self.field == "Z"

    def copy(self, rank: int | None = None) -> "Packed":
        return dataclasses.replace(self, pos=self.pos.copy(), neg=self.neg.copy(),
                                   rank=self.rank if rank is None else rank)


def _bits(rows: np.ndarray) -> np.ndarray:
    """[R, L] 0/1 -> [R] uint64 with bit i = rows[:, i]."""
    weights = np.uint64(1) << np.arange(rows.shape[1], dtype=np.uint64)
    return (rows.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)


def _unbits(words: np.ndarray, length: int) -> np.ndarray:
    """[R] uint64 -> [R, length] int64 of 0/1."""
    return ((words[:, None] >> np.arange(length, dtype=np.uint64)) & np.uint64(1)).astype(np.int64)


def pack(f: Factorization, field: str, capacity: int) -> Packed:
    """Pack ``f`` for walks over ``field``; Z needs coefficients in {-1, 0, 1}."""
    if field not in WALK_FIELDS:
        raise TensorgameError(f"walks run over Z2 or Z, not {field!r}")
    n, m, p = f.shape
    if max(n * m, m * p, p * n) > 64:
        raise TensorgameError(f"<{n},{m},{p}> has factors over 64 entries long (walks need <= 64)")
    if f.field == "Q":
        raise TensorgameError("cannot walk from a scheme with rational coefficients")
    if field == "Z" and f.field == "Z2":
        raise TensorgameError("a scheme valid only mod 2 cannot start a walk over Z: lift it first")
    if capacity < f.rank:
        raise TensorgameError(f"capacity {capacity} is below the rank {f.rank}")
    pos = np.zeros((3, capacity), dtype=np.uint64)
    neg = np.zeros((3, capacity), dtype=np.uint64)
    for k, factor in enumerate(f.factors):
        if field == "Z2":
            pos[k, :f.rank] = _bits(factor % 2)
        else:
            if factor.size and np.abs(factor).max() > 1:
                raise TensorgameError(
                    "walks over Z keep coefficients in {-1, 0, 1}; this scheme has larger ones")
            pos[k, :f.rank] = _bits(factor == 1)
            neg[k, :f.rank] = _bits(factor == -1)
    return Packed(f.shape, field, pos, neg, f.rank)


def unpack(s: Packed, meta: dict | None = None) -> Factorization:
    """The Factorization held in the live columns of ``s``."""
    n, m, p = s.shape
    factors = [_unbits(s.pos[k, :s.rank], length) - _unbits(s.neg[k, :s.rank], length)
               for k, length in enumerate((n * m, m * p, p * n))]
    return Factorization(s.shape, s.field, *factors, meta=dict(meta or {}))
