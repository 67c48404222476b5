"""A schedule: which verified algorithm runs at each level of block recursion.

``plan(algorithm, levels)`` accepts a Factorization, the name "strassen", a shape (n, m, p) (the
library's lowest-rank algorithm for it), or a list of these, one per level (outermost first), so
levels may mix algorithms, e.g. ``[(4, 4, 4), (2, 2, 2)]``. Every factorization is verified
exactly before any code is made; one that fails, or a Z2-only one asked to run over the reals,
is refused with a one-line TensorgameError.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Union

from tensorgame.errors import TensorgameError
from tensorgame.export.basis import build
from tensorgame.export.program import Program
from tensorgame.factorization import Factorization, verify

Algorithm = Union[Factorization, str, tuple[int, int, int]]
ARITHMETICS = ("real", "gf2")


@dataclasses.dataclass(frozen=True)
class Plan:
    """Programs for levels 0 (outermost) .. L-1; native matmul below the last level."""

    levels: tuple[Program, ...]
    gf2: bool

    @property
    def description(self) -> str:
        steps = " then ".join(f"<{','.join(map(str, p.shape))}> rank {p.rank}" for p in self.levels)
        arithmetic = "GF(2) (XOR/AND)" if self.gf2 else "real"
        return f"{steps or 'native matmul only'}, {arithmetic} arithmetic"


def plan(algorithm: Algorithm | Sequence[Algorithm], levels: int | None = None,
         arithmetic: str | None = None, search: bool = True) -> Plan:
    """Verify and compile ``algorithm`` for ``levels`` levels (default 1, or one per list entry).

    ``arithmetic`` is "real" (float/int matrices) or "gf2" (bool/uint8, XOR/AND); by default
    "gf2" exactly when some algorithm is valid only mod 2. ``search=False`` skips the
    change-of-basis search for fewer additions (CSE still runs).
    """
    per_level = _as_list(algorithm)
    if len(per_level) > 1:
        if levels is not None and levels != len(per_level):
            raise TensorgameError(
                f"{len(per_level)} algorithms given, one per level, but levels={levels}")
        levels = len(per_level)
    levels = 1 if levels is None else levels
    if not isinstance(levels, int) or levels < 0:
        raise TensorgameError(f"levels must be a non-negative integer, got {levels!r}")
    if arithmetic not in (None,) + ARITHMETICS:
        raise TensorgameError(f"arithmetic must be one of {ARITHMETICS}, got {arithmetic!r}")
    if arithmetic is None:
        arithmetic = "gf2" if any(_is_z2(a) for a in per_level) else "real"
    gf2 = arithmetic == "gf2"
    factorizations = [_resolve(a, gf2) for a in per_level]
    for f in factorizations:
        _check(f, gf2)
    programs: dict[int, Program] = {}
    chosen = [factorizations[min(i, len(factorizations) - 1)] for i in range(levels)]
    for f in chosen:
        if id(f) not in programs:
            programs[id(f)] = build(f, gf2, search)
    return Plan(levels=tuple(programs[id(f)] for f in chosen), gf2=gf2)


def _as_list(algorithm) -> list:
    if isinstance(algorithm, (Factorization, str)) or _is_shape(algorithm):
        return [algorithm]
    if isinstance(algorithm, Sequence) and algorithm:
        return list(algorithm)
    raise TensorgameError(f"unknown algorithm {algorithm!r}: give a Factorization, 'strassen', "
                          "a shape (n, m, p) or a list of these")


def _is_shape(x) -> bool:
    return (isinstance(x, Sequence) and not isinstance(x, str) and len(x) == 3
            and all(isinstance(d, int) and not isinstance(d, bool) for d in x))


def _is_z2(algorithm) -> bool:
    return isinstance(algorithm, Factorization) and algorithm.field == "Z2"


def _resolve(algorithm, gf2: bool) -> Factorization:
    if isinstance(algorithm, Factorization):
        return algorithm
    from tensorgame import library  # data flows library -> export; imported on use

    if isinstance(algorithm, str):
        if algorithm.lower() != "strassen":
            raise TensorgameError(f"unknown algorithm name {algorithm!r} (known: 'strassen'; "
                                  "or give a shape such as (4, 4, 4))")
        return library.get(2, 2, 2)
    if _is_shape(algorithm):
        return library.get(*algorithm, field="Z2" if gf2 else "Z")
    raise TensorgameError(f"unknown algorithm {algorithm!r}: give a Factorization, 'strassen' "
                          "or a shape (n, m, p)")


def _check(f: Factorization, gf2: bool) -> None:
    name = f"<{','.join(map(str, f.shape))}> rank {f.rank} over {f.field}"
    report = verify(f)
    if not report.valid:
        raise TensorgameError(f"{name} does not verify ({report.summary()}); refusing to export")
    if f.field == "Z2" and not gf2:
        raise TensorgameError(f"{name} is valid only modulo 2: it runs only on GF(2) matrices "
                              "(arithmetic 'gf2': bool/uint8 with XOR/AND), not over the reals")
