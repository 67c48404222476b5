"""Flip graphs of cyclic-symmetric schemes of square formats (Moosbauer & Poole 2025), mod 2.

The tensor of <n,n,n> is invariant under the rotation (u, v, w) -> (v, w, u) (DESIGN.md section 1),
so a scheme may be a sum of orbits {(a,b,c), (b,c,a), (c,a,b)} (three multiplications) and
symmetric terms (a,a,a) (one), the same notion of orbit as the agent's symmetric game
(``tensorgame.game.rotate``). A walk keeps the scheme symmetric by moving whole orbits: a flip of
two terms of different orbits is made together with its two rotations (three flips on disjoint
pairs of terms, so the tensor is kept), a reduction merges two orbits (rank - 3), a plus
transition adds an orbit (rank + 3), and an orbit (a,a,a) is three equal terms, one term mod 2.
Symmetric terms take no part in moves. Only orbit representatives are stored: rep o is
(reps[0, o], reps[1, o], reps[2, o]), one uint64 bitmask per factor as in ``kernel``; term (o, r)
is (reps[r, o], reps[r+1, o], reps[r+2, o]) with indices mod 3.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np

from agents.flipgraph.kernel import FLIPS_EXHAUSTED, IMPROVED, _finish, _rand
from agents.flipgraph.packing import _bits, _unbits
from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization


@dataclasses.dataclass(frozen=True, eq=False)
class Symmetric:
    """A cyclic-symmetric scheme mod 2: orbit representatives and symmetric terms, as bitmasks."""

    shape: tuple[int, int, int]
    reps: np.ndarray  # [3, capacity] uint64, the first ``orbits`` columns live
    syms: np.ndarray  # [3 * capacity] uint64, the first ``singles`` entries live: terms (a, a, a)
    orbits: int
    singles: int
    field: str = "Z2"

    @property
    def rank(self) -> int:
        return 3 * self.orbits + self.singles

    def copy(self, orbits: int | None = None, singles: int | None = None) -> "Symmetric":
        return dataclasses.replace(
            self, reps=self.reps.copy(), syms=self.syms.copy(),
            orbits=self.orbits if orbits is None else orbits,
            singles=self.singles if singles is None else singles)


def _rotate(term: tuple) -> tuple:
    """(u, v, w) -> (v, w, u), as ``tensorgame.game.rotate`` acts on a move."""
    return term[1:] + term[:1]


def split_orbits(f: Factorization, capacity: int) -> Symmetric:
    """``f`` (a square format, mod 2) as orbits and symmetric terms; a TensorgameError if the
    scheme is not invariant under the rotation."""
    n, m, p = f.shape
    if not n == m == p:
        raise TensorgameError(f"symmetric walks need a square format, not <{n},{m},{p}>")
    if n * n > 64:
        raise TensorgameError(f"<{n},{n},{n}> has factors over 64 entries long (walks need <= 64)")
    if f.field == "Q":
        raise TensorgameError("cannot walk from a scheme with rational coefficients")
    words = [_bits(np.asarray(a, dtype=np.int64) % 2) for a in f.factors]
    terms: dict[tuple, int] = {}
    for term in zip(*(w.tolist() for w in words)):
        if all(term):
            terms[term] = terms.get(term, 0) ^ 1  # equal terms cancel mod 2
    live = {t for t, odd in terms.items() if odd}
    singles = sorted(t[0] for t in live if t[0] == t[1] == t[2])
    reps = []
    rest = {t for t in live if not t[0] == t[1] == t[2]}
    while rest:
        term = min(rest)
        orbit = {term, _rotate(term), _rotate(_rotate(term))}
        if not orbit <= rest:
            raise TensorgameError("the scheme is not cyclic-symmetric: a term's rotations are "
                                  "missing")
        rest -= orbit
        reps.append(term)
    if max(len(reps), len(singles)) > capacity:
        raise TensorgameError(f"capacity {capacity} is below the {len(reps)} orbits")
    rep_words = np.zeros((3, capacity), dtype=np.uint64)
    for o, term in enumerate(reps):
        rep_words[:, o] = term
    sym_words = np.zeros(3 * capacity, dtype=np.uint64)  # room for orbits that collapse
    sym_words[:len(singles)] = singles
    return Symmetric((n, n, n), rep_words, sym_words, len(reps), len(singles))


def expand(s: Symmetric, meta: dict | None = None) -> Factorization:
    """The Factorization of ``s``: every orbit as three terms, then the symmetric terms."""
    length = s.shape[0] ** 2
    reps = s.reps[:, :s.orbits]
    factors = []
    for k in range(3):
        words = np.concatenate([reps[(k + r) % 3] for r in range(3)] + [s.syms[:s.singles]])
        factors.append(_unbits(words, length))
    return Factorization(s.shape, "Z2", *factors, meta=dict(meta or {}))


def settle(s: Symmetric) -> tuple[int, int]:
    """Apply every reduction ``s`` allows (in place); returns the new (orbits, singles)."""
    return _settle_all(s.reps, s.orbits, s.syms, s.singles)


# ----------------------------------------------------------------------------- kernel

@numba.njit(cache=True)
def _drop_orbit(reps, orbits, o):
    """Remove orbit o (the last one moves into its slot); returns the new orbit count."""
    last = orbits - 1
    for k in range(3):
        reps[k, o] = reps[k, last]
    return last


@numba.njit(cache=True)
def _toggle_single(syms, singles, a):
    """Add the term (a, a, a), or remove it if present (two equal terms cancel mod 2)."""
    for t in range(singles):
        if syms[t] == a:
            syms[t] = syms[singles - 1]
            return singles - 1
    syms[singles] = a
    return singles + 1


@numba.njit(cache=True)
def _settle_orbit(reps, orbits, syms, singles, o):
    """Apply the reductions that orbit o enables, repeatedly: a zero factor drops the orbit, an
    orbit (a,a,a) becomes one symmetric term, and a term of o sharing two factors with a term of
    another orbit merges the two orbits. Returns (orbits, singles)."""
    while o >= 0:
        if reps[0, o] == 0 or reps[1, o] == 0 or reps[2, o] == 0:
            return _drop_orbit(reps, orbits, o), singles
        if reps[0, o] == reps[1, o] and reps[1, o] == reps[2, o]:
            singles = _toggle_single(syms, singles, reps[0, o])
            return _drop_orbit(reps, orbits, o), singles
        merged = -1
        for s in range(orbits):
            if s == o:
                continue
            for r in range(3):
                # term (o, 0) against term (s, r): position q holds reps[q, o] and reps[q+r, s]
                e0 = reps[0, o] == reps[r, s]
                e1 = reps[1, o] == reps[(1 + r) % 3, s]
                e2 = reps[2, o] == reps[(2 + r) % 3, s]
                if e0 + e1 + e2 >= 2:
                    # the free position c (equal orbits: c = 2, the merge zeroes it, both vanish)
                    c = 0 if not e0 else (1 if not e1 else 2)
                    reps[(c + r) % 3, s] ^= reps[c, o]
                    merged = s
                    break
            if merged >= 0:
                break
        if merged < 0:
            return orbits, singles
        orbits = _drop_orbit(reps, orbits, o)
        o = o if merged == orbits else merged  # the merged orbit may have moved into slot o
    return orbits, singles


@numba.njit(cache=True)
def _settle_all(reps, orbits, syms, singles):
    """``_settle_orbit`` on every orbit until none changes; returns (orbits, singles)."""
    o = 0
    while o < orbits:
        before = orbits
        orbits, singles = _settle_orbit(reps, orbits, syms, singles, o)
        o = o + 1 if orbits == before else 0
    return orbits, singles


@numba.njit(cache=True)
def _settle_pair(reps, orbits, syms, singles, a, b):
    """After orbits a != b changed: their reductions (all orbits again if one happened)."""
    before = orbits
    orbits, singles = _settle_orbit(reps, orbits, syms, singles, a)
    if orbits != before:
        return _settle_all(reps, orbits, syms, singles)  # slots moved; reductions are rare
    return _settle_orbit(reps, orbits, syms, singles, b)


@numba.njit(cache=True)
def _plus(reps, orbits, state):
    """A plus transition on terms of two random orbits, made on all three rotations (one new
    orbit); returns the new orbit count (unchanged when a factor would vanish)."""
    a = _rand(state, orbits)
    b = _rand(state, orbits)
    if a == b:
        return orbits
    ra, rb = _rand(state, 3), _rand(state, 3)
    a1, b1, c1 = reps[ra, a], reps[(ra + 1) % 3, a], reps[(ra + 2) % 3, a]
    a2, b2, c2 = reps[rb, b], reps[(rb + 1) % 3, b], reps[(rb + 2) % 3, b]
    # (a1,b1,c1) + (a2,b2,c2) -> (a1, b1-b2, c1) + (a1, b2, c1+c2) + (a2-a1, b2, c2)
    if b1 == b2 or c1 == c2 or a1 == a2:
        return orbits
    reps[(ra + 1) % 3, a] = b1 ^ b2
    reps[rb, b] = a2 ^ a1
    reps[0, orbits] = a1
    reps[1, orbits] = b2
    reps[2, orbits] = c1 ^ c2
    return orbits + 1


@numba.njit(cache=True)
def walk(reps, orbits, syms, singles, max_flips, plateau_min, plateau_max, max_rank, stop_rank,
         info):
    """Random walk of at most ``max_flips`` symmetric flips (in place), like ``kernel.walk``:
    reductions whenever possible, a plus transition after a plateau of draws without one (unless
    the rank would pass ``max_rank``), stop at ``stop_rank``. A flip draws a random factor of a
    random orbit and a random equal factor of another orbit; draws without one are not counted
    (at most 4 * ``max_flips`` draws). Writes info = [status, flips, plus transitions] and
    returns (orbits, singles). Seed numba's generator with ``kernel.seed``."""
    state = np.empty(1, np.uint64)
    state[0] = np.uint64(np.random.randint(1, 2**62))
    flips = 0
    draws = 0
    pluses = 0
    since_drop = 0
    plateau = plateau_min + _rand(state, plateau_max - plateau_min + 1)
    status = FLIPS_EXHAUSTED
    capacity = reps.shape[1]
    while flips < max_flips and draws < 4 * max_flips and orbits >= 2:
        if since_drop >= plateau:
            since_drop = 0
            plateau = plateau_min + _rand(state, plateau_max - plateau_min + 1)
            if 3 * orbits + singles + 3 <= max_rank and orbits < capacity:
                grown = _plus(reps, orbits, state)
                if grown != orbits:
                    pluses += 1
                    orbits, singles = _settle_all(reps, grown, syms, singles)
        draws += 1
        since_drop += 1  # failed draws count too, so schemes without flips still get pluses
        a = _rand(state, orbits)
        x = _rand(state, 3)
        value = reps[x, a]
        matches = 0
        for s in range(orbits):
            if s != a:
                matches += (reps[0, s] == value) + (reps[1, s] == value) + (reps[2, s] == value)
        if matches == 0:
            continue
        pick = _rand(state, matches)
        b, y = -1, -1
        for s in range(orbits):
            if s != a:
                for q in range(3):
                    if reps[q, s] == value:
                        if pick == 0:
                            b, y = s, q
                        pick -= 1
            if b >= 0:
                break
        # terms (a, x - i) and (b, y - i) share position i; the other two positions are i + d
        # and i + e: A[x+d] += B[y+d], B[y+e] -= A[x+e]
        d = 1 + _rand(state, 2)
        e = 3 - d
        reps[(x + d) % 3, a] ^= reps[(y + d) % 3, b]
        reps[(y + e) % 3, b] ^= reps[(x + e) % 3, a]
        flips += 1
        before = 3 * orbits + singles
        orbits, singles = _settle_pair(reps, orbits, syms, singles, a, b)
        rank = 3 * orbits + singles
        if rank < before:
            since_drop = 0
            if rank <= stop_rank:
                status = IMPROVED
                break
    return _finish(info, status, flips, pluses, (orbits, singles))
