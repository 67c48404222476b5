"""Lift a scheme valid mod 2 to one valid over Z (Hensel lifting), checked by the exact verifier.

Write the scheme as x = (u, v, w) and S(x) = sum_r u_r (x) v_r (x) w_r. If S(x) = T mod 2^e, a
correction x + 2^e d is valid mod 2^(e+1) exactly when the linearisation of S at x mod 2 solves

    L(d) = (T - S(x)) / 2^e  (mod 2),
    L(d) = sum_r du_r (x) v_r (x) w_r + u_r (x) dv_r (x) w_r + u_r (x) v_r (x) dw_r,

a linear system over GF(2) (one equation per tensor entry, one unknown per coefficient).

Two tries, in order:
1. signs: corrections only where x is 1, so every coefficient becomes +1 or -1 (x + 2d = -1 mod 4).
   The mod-4 solutions form an affine space; a local search over it (adding kernel vectors while
   the integer residual |T - S(x)| does not grow, with random restarts) looks for one that is
   exact over Z.
2. Hensel: corrections everywhere, free unknowns 0, lifted mod 4, 8, ... with symmetric
   representatives, checked over Z after each step.
If the full mod-4 system has no solution, no integer scheme reduces to this one mod 2: that is said.
"""

from __future__ import annotations

import dataclasses
import time

import numba
import numpy as np

from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization, verify


@dataclasses.dataclass(frozen=True)
class LiftResult:
    """A Z-valid scheme (or None) and a one-line account of how, or why not."""

    scheme: Factorization | None
    how: str


@numba.njit(cache=True)
def _eliminate(rows, n_cols):
    """Reduced row echelon form over GF(2), in place; rows [E, W] uint64, column n_cols = rhs.

    Returns (pivot row of each column or -1 [n_cols], consistent).
    """
    n_rows, n_words = rows.shape
    pivots = np.full(n_cols, -1, np.int64)
    r = 0
    for c in range(n_cols):
        w = c >> 6
        bit = np.uint64(1) << np.uint64(c & 63)
        found = -1
        for i in range(r, n_rows):
            if rows[i, w] & bit:
                found = i
                break
        if found < 0:
            continue
        for x in range(n_words):
            rows[r, x], rows[found, x] = rows[found, x], rows[r, x]
        for i in range(n_rows):
            if i != r and rows[i, w] & bit:
                for x in range(n_words):
                    rows[i, x] ^= rows[r, x]
        pivots[c] = r
        r += 1
    w = n_cols >> 6
    bit = np.uint64(1) << np.uint64(n_cols & 63)
    for i in range(r, n_rows):
        if rows[i, w] & bit:
            return pivots, False
    return pivots, True


@numba.njit(cache=True)
def _solution(rows, pivots, n_cols, free_values):
    """The solution with the given values of the free unknowns (ignored at pivot columns)."""
    d = np.zeros(n_cols, np.int64)
    for c in range(n_cols):
        if pivots[c] < 0:
            d[c] = free_values[c]
    rhs_w = n_cols >> 6
    rhs_bit = np.uint64(1) << np.uint64(n_cols & 63)
    for c in range(n_cols):
        i = pivots[c]
        if i < 0:
            continue
        value = 1 if rows[i, rhs_w] & rhs_bit else 0
        for f in range(n_cols):
            if pivots[f] < 0 and d[f] and rows[i, f >> 6] & (np.uint64(1) << np.uint64(f & 63)):
                value ^= 1
        d[c] = value
    return d


def _system(x0: tuple[np.ndarray, ...], columns: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Bit rows [E, W] of [L restricted to ``columns`` | rhs]; columns [C, 3] = (k, r, index)."""
    u, v, w = x0
    sizes = (u.shape[1], v.shape[1], w.shape[1])
    n_cols = len(columns)
    n_words = n_cols // 64 + 1
    rows = np.zeros((int(np.prod(sizes)), n_words), dtype=np.uint64)
    entries, cols = [], []
    for c, (k, r, index) in enumerate(columns):
        others = [np.flatnonzero(f[r]) for f in x0]
        others[k] = np.array([index])
        grid = np.stack(np.meshgrid(*others, indexing="ij"), -1).reshape(-1, 3)
        entries.append((grid[:, 0] * sizes[1] + grid[:, 1]) * sizes[2] + grid[:, 2])
        cols.append(np.full(len(grid), c))
    if entries:
        e, c = np.concatenate(entries), np.concatenate(cols)
        np.bitwise_or.at(rows, (e, c >> 6), np.uint64(1) << (c & 63).astype(np.uint64))
    ones = np.flatnonzero(rhs.ravel() % 2)
    rows[ones, n_cols >> 6] |= np.uint64(1) << np.uint64(n_cols & 63)
    return rows


def _residual(x: tuple[np.ndarray, ...], target: np.ndarray) -> np.ndarray:
    return target - np.einsum("ri,rj,rk->ijk", *x)


def _scheme(f: Factorization, x, how: str) -> Factorization:
    meta = dict(f.meta, lifted_from="Z2", lifting=how)
    return Factorization(f.shape, "Z", *x, meta=meta)


def _signs(f, x0, target, seconds, rng, tries=None) -> tuple[Factorization | None, str]:
    """Search the mod-4 sign solutions for one that is exact over Z (see ``lift``): random
    restarts, each followed by a descent, for ``seconds`` or (if given) ``tries`` restarts."""
    columns = np.array([(k, r, i) for k, a in enumerate(x0) for r, i in zip(*np.nonzero(a))])
    rows = _system(x0, columns, _residual(x0, target) // 2)
    pivots, consistent = _eliminate(rows, len(columns))
    if not consistent:
        return None, "no sign lift (the mod-4 system restricted to signs has no solution)"
    n_cols = len(columns)
    base = _solution(rows, pivots, n_cols, np.zeros(n_cols, np.int64)).astype(bool)
    free = np.flatnonzero(pivots < 0)
    # kernel vector of each free unknown: itself plus the pivots whose rows contain it
    kernel_vectors = np.zeros((len(free), n_cols), dtype=bool)
    for a, fcol in enumerate(free):
        kernel_vectors[a, fcol] = True
        unit = np.zeros(n_cols, np.int64)
        unit[fcol] = 1
        kernel_vectors[a] ^= _solution(rows, pivots, n_cols, unit).astype(bool) ^ base
    terms = columns[:, 1]

    def scheme_of(d):
        x = tuple(a.copy() for a in x0)
        for k in range(3):
            mask = (columns[:, 0] == k) & d
            x[k][columns[mask, 1], columns[mask, 2]] = -1
        return x

    deadline = time.monotonic() + seconds if tries is None else float("inf")
    restarts = 0
    while time.monotonic() < deadline and (tries is None or restarts < tries):
        restarts += 1
        d = base.copy()
        if len(free):
            d ^= np.logical_xor.reduce(kernel_vectors[rng.random(len(free)) < 0.5], axis=0)
        x = scheme_of(d)
        contributions = np.einsum("ri,rj,rk->rijk", *x)  # [R, I, J, K]
        residual = target - contributions.sum(axis=0)
        cost = np.abs(residual).sum()
        stale = 0
        while cost and stale < 4 * max(len(free), 1) and time.monotonic() < deadline:
            a = rng.integers(len(free)) if len(free) else None
            if a is None:
                break
            trial = d ^ kernel_vectors[a]
            changed = np.unique(terms[kernel_vectors[a]])
            xt = scheme_of(trial)
            new = np.einsum("ri,rj,rk->rijk", *(y[changed] for y in xt))
            trial_residual = residual - (new - contributions[changed]).sum(axis=0)
            trial_cost = np.abs(trial_residual).sum()
            if trial_cost <= cost:
                stale = 0 if trial_cost < cost else stale + 1
                d, residual, cost = trial, trial_residual, trial_cost
                contributions[changed] = new
            else:
                stale += 1
        if cost == 0:
            candidate = _scheme(f, scheme_of(d), "signs")
            if verify(candidate).valid:
                return candidate, ""
    return None, (f"no sign lift found in {seconds:g}s" if tries is None
                  else f"no sign lift found in {tries} tries")


def _hensel(f, x0, target, max_power) -> tuple[Factorization | None, str]:
    columns = np.array([(k, r, i) for k, a in enumerate(x0)
                        for r in range(a.shape[0]) for i in range(a.shape[1])])
    x = tuple(a.copy() for a in x0)
    for e in range(1, max_power):
        residual = _residual(x, target)
        if not residual.any():
            return _scheme(f, x, f"hensel mod 2^{e}"), ""
        rows = _system(x0, columns, (residual >> e) & 1)
        pivots, consistent = _eliminate(rows, len(columns))
        if not consistent:
            if e == 1:
                return None, ("the mod-4 lifting system has no solution: no integer scheme "
                              "reduces to this one mod 2")
            return None, f"the Hensel lift got stuck at mod 2^{e + 1} (system inconsistent)"
        d = _solution(rows, pivots, len(columns), np.zeros(len(columns), np.int64))
        modulus, half = 2 ** (e + 1), 2 ** e
        for (k, r, i), step in zip(columns, d):
            if step:
                x[k][r, i] += 2 ** e
        x = tuple((a + half - 1) % modulus - half + 1 for a in x)  # symmetric representatives
    if not _residual(x, target).any():
        return _scheme(f, x, f"hensel mod 2^{max_power}"), ""
    return None, (f"lifts mod 2^{max_power} exist but none found with small integer "
                  f"coefficients (largest {max(int(np.abs(a).max()) for a in x)})")


def lift(f: Factorization, sign_seconds: float = 10.0, max_power: int = 6, seed: int = 0,
         hensel_limit: int = 4 * 10**8, sign_tries: int | None = None) -> LiftResult:
    """Lift a scheme valid mod 2 to a scheme valid over Z, or say why that did not work.

    ``sign_seconds`` bounds the sign search (or, if given, ``sign_tries`` its random restarts:
    then the result does not depend on the machine's speed), ``hensel_limit`` the size (equations
    x unknowns) of the full system tried in step 2.
    """
    if f.field == "Z" and verify(f).valid:
        return LiftResult(f, "already valid over Z")
    if not verify(f, field="Z2").valid:
        raise TensorgameError("cannot lift: the scheme is not valid mod 2")
    x0 = tuple((a % 2).astype(np.int64) for a in f.factors)
    target = f.target()
    rng = np.random.default_rng(seed)
    lifted, no_signs = _signs(f, x0, target, sign_seconds, rng, sign_tries)
    if lifted is not None:
        return LiftResult(lifted, "lifted with signs (coefficients in {-1, 0, 1})")
    size = target.size * sum(a.size for a in x0)
    if size > hensel_limit:
        return LiftResult(None, f"{no_signs}; the full Hensel system "
                                f"({size:.2g} entries) is above the size limit")
    lifted, why = _hensel(f, x0, target, max_power)
    if lifted is not None:
        return LiftResult(lifted, f"{no_signs}; {lifted.meta['lifting']} "
                                  f"with coefficients {lifted.coefficients()}")
    return LiftResult(None, f"{no_signs}; {why}")


def lift_with_retries(best: Factorization, config, seconds: float, seed: int = 0,
                      log=lambda line: None, flips: int | None = None) -> LiftResult:
    """Lift ``best`` (valid mod 2); if it does not lift, lift other schemes of its rank.

    The others are met by a walk mod 2 from ``best`` (``harvest``, a third of ``seconds``); each is
    tried with signs first (coefficients in {-1, 0, 1}), then all of them with Hensel lifting,
    until one lifts or ``seconds`` have passed. ``config`` is the walk's WalkConfig; ``log``
    receives one line per stage. This is the one lifting procedure of ``tensorgame improve``
    and ``experiments/ranks.py``. With ``flips`` the budget is work, not time, and the result
    is reproducible on any machine: the walk makes ``flips`` flips, each sign search 20 random
    restarts, and ``seconds`` is ignored.
    """
    from agents.flipgraph.search import harvest

    by_work = flips is not None
    result = lift(best, seed=seed, sign_tries=20 if by_work else None)
    if result.scheme is not None:
        return result
    log(f"rank {best.rank} does not lift to Z: {result.how}")
    t0 = time.monotonic()
    others = harvest(best, dataclasses.replace(config, field="Z2"),
                     float("inf") if by_work else seconds / 3, seed=seed, max_flips=flips)[1:]
    log(f"trying {len(others)} other rank-{best.rank} schemes met by a walk")
    for limit in (0, 10**8):  # signs first, then Hensel lifts with larger coefficients
        for other in others:
            if not by_work and time.monotonic() - t0 > seconds:
                break
            signs = ({"sign_tries": 20 if limit == 0 else 0} if by_work
                     else {"sign_seconds": 0.5 if limit == 0 else 0})
            result = lift(other, seed=seed, hensel_limit=limit, **signs)
            if result.scheme is not None:
                return LiftResult(result.scheme, f"another of {len(others)} rank-{best.rank} "
                                                 f"schemes met by a walk: {result.how}")
    return LiftResult(None, f"none of {len(others)} rank-{best.rank} schemes met by a walk lifts "
                            f"(signs, then Hensel, within {seconds:g}s)")
