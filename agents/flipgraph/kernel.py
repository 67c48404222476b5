"""Numba kernels for flip-graph random walks over bit-packed schemes.

A scheme of rank R is held in two uint64 arrays ``pos``, ``neg`` of shape [3, capacity]: term r is
(x_0, x_1, x_2) with factor x_k having bit i of ``pos[k, r]`` set where its i-th coefficient is +1
and bit i of ``neg[k, r]`` set where it is -1. Over Z2 (``ternary`` false) ``neg`` stays zero and
addition is XOR; over Z (``ternary`` true) coefficients stay in {-1, 0, 1}: a move that would
create a 2 is refused. Only the first ``rank`` columns are live.

Moves (each keeps the sum of the terms exactly; tests check it by expansion):
- flip: terms i, j share factor k up to a sign s (x_k^j = s x_k^i); for the other two positions
  a, b and mu = +-1: x_b^i += mu x_b^j and x_a^j -= s mu x_a^i.
- reduction: terms sharing two factors (up to signs) merge into one; a zero factor drops a term.
- plus: (a1,b1,c1) + (a2,b2,c2) -> (a1, b1-b2, c1) + (a1, b2, c1+c2) + (a2-a1, b2, c2),
  raising the rank by one to leave a plateau.

The random generator is numba's own (seed it with ``seed``).
"""

from __future__ import annotations

import numba
import numpy as np

FLIPS_EXHAUSTED, IMPROVED = 0, 1


@numba.njit(cache=True)
def seed(value):
    np.random.seed(value)


@numba.njit(cache=True, inline="always")
def _add(px, nx, py, ny, ternary):
    """(x + y) as (pos, neg, ok); ok is False when a coefficient would leave {-1, 0, 1}."""
    if not ternary:
        return px ^ py, nx, True
    if (px & py) | (nx & ny):
        return px, nx, False
    return (px ^ py) & ~(nx | ny), (nx ^ ny) & ~(px | py), True


@numba.njit(cache=True, inline="always")
def _sub(px, nx, py, ny, ternary):
    """(x - y) as (pos, neg, ok), like ``_add``."""
    if not ternary:
        return px ^ py, nx, True
    return _add(px, nx, ny, py, ternary)


@numba.njit(cache=True, inline="always")
def _relation(pos, neg, k, i, j, ternary):
    """+1 if factor k of terms i and j is equal, -1 if opposite (ternary only), else 0."""
    if pos[k, i] == pos[k, j] and neg[k, i] == neg[k, j]:
        return 1
    if ternary and pos[k, i] == neg[k, j] and neg[k, i] == pos[k, j]:
        return -1
    return 0


@numba.njit(cache=True)
def _remove(pos, neg, rank, t):
    """Drop term t by moving the last live term into its slot; returns the new rank."""
    last = rank - 1
    for k in range(3):
        pos[k, t] = pos[k, last]
        neg[k, t] = neg[k, last]
    return last


@numba.njit(cache=True)
def _reduce_term(pos, neg, rank, t, ternary):
    """Merge term t with any term sharing two of its factors, repeatedly; returns the new rank.

    Term t must be live and have no zero factor.
    """
    s = 0
    while s < rank:
        if s == t:
            s += 1
            continue
        r0 = _relation(pos, neg, 0, t, s, ternary)
        r1 = _relation(pos, neg, 1, t, s, ternary)
        r2 = _relation(pos, neg, 2, t, s, ternary)
        shared = (r0 != 0) + (r1 != 0) + (r2 != 0)
        if shared < 2:
            s += 1
            continue
        # the free position c; term t = sign * (x_a^s, x_b^s, x_c^t) with sign = r_a * r_b
        if r0 == 0:
            c, sign = 0, r1 * r2
        elif r1 == 0:
            c, sign = 1, r0 * r2
        else:
            c, sign = 2, r0 * r1
        if sign == 1:
            p, n, ok = _add(pos[c, s], neg[c, s], pos[c, t], neg[c, t], ternary)
        else:
            p, n, ok = _sub(pos[c, s], neg[c, s], pos[c, t], neg[c, t], ternary)
        if not ok:
            s += 1
            continue
        pos[c, s] = p
        neg[c, s] = n
        rank = _remove(pos, neg, rank, t)
        if s == rank:  # s was the last term and now sits in slot t
            s = t
        if p == 0 and n == 0:
            return _remove(pos, neg, rank, s)
        t = s  # the merged term changed: check it again from the start
        s = 0
    return rank


@numba.njit(cache=True)
def reduce_all(pos, neg, rank, ternary):
    """Apply reductions until no two terms share two factors; returns the new rank."""
    t = 0
    while t < rank:
        before = rank
        rank = _reduce_term(pos, neg, rank, t, ternary)
        if rank == before:
            t += 1
        else:
            t = 0
    return rank


# ----------------------------------------------------------------------------- flip index
# cnt[k, t]: how many other terms share factor k with term t (up to sign); ``flippable`` lists the
# (t, k) with cnt[k, t] > 0 as t * 3 + k, ``where[k, t]`` is the slot of (t, k) in it or -1.

@numba.njit(cache=True, inline="always")
def _matches(pos, neg, k, s, p, n, ternary):
    if not ternary:
        return pos[k, s] == p
    return (pos[k, s] == p and neg[k, s] == n) or (pos[k, s] == n and neg[k, s] == p)


@numba.njit(cache=True, inline="always")
def _list_add(flippable, where, size, k, t):
    where[k, t] = size
    flippable[size] = t * 3 + k
    return size + 1


@numba.njit(cache=True, inline="always")
def _list_remove(flippable, where, size, k, t):
    slot = where[k, t]
    last = flippable[size - 1]
    flippable[slot] = last
    where[last % 3, last // 3] = slot
    where[k, t] = -1
    return size - 1


@numba.njit(cache=True)
def _rebuild(pos, neg, rank, ternary, cnt, flippable, where):
    """Recompute the flip index from scratch; returns the number of flippable (t, k)."""
    size = 0
    for k in range(3):
        for t in range(rank):
            c = 0
            for s in range(rank):
                if s != t and _matches(pos, neg, k, s, pos[k, t], neg[k, t], ternary):
                    c += 1
            cnt[k, t] = c
            where[k, t] = -1
            if c:
                size = _list_add(flippable, where, size, k, t)
    return size


@numba.njit(cache=True)
def _set_factor(pos, neg, rank, ternary, cnt, flippable, where, size, k, t, p, n):
    """Set factor k of term t to (p, n), keeping the index; returns (size, shares_two).

    shares_two: some other term now shares factor k and another factor with term t.
    """
    old_p, old_n = pos[k, t], neg[k, t]
    for s in range(rank):
        if s != t and _matches(pos, neg, k, s, old_p, old_n, ternary):
            cnt[k, s] -= 1
            if cnt[k, s] == 0:
                size = _list_remove(flippable, where, size, k, s)
    pos[k, t] = p
    neg[k, t] = n
    c = 0
    shares_two = False
    k1, k2 = (k + 1) % 3, (k + 2) % 3
    for s in range(rank):
        if s != t and _matches(pos, neg, k, s, p, n, ternary):
            c += 1
            cnt[k, s] += 1
            if cnt[k, s] == 1:
                size = _list_add(flippable, where, size, k, s)
            if (_matches(pos, neg, k1, s, pos[k1, t], neg[k1, t], ternary)
                    or _matches(pos, neg, k2, s, pos[k2, t], neg[k2, t], ternary)):
                shares_two = True
    if cnt[k, t] == 0 and c > 0:
        size = _list_add(flippable, where, size, k, t)
    elif cnt[k, t] > 0 and c == 0:
        size = _list_remove(flippable, where, size, k, t)
    cnt[k, t] = c
    return size, shares_two


@numba.njit(cache=True)
def _flip(pos, neg, rank, ternary, cnt, flippable, where, size, partners, result):
    """One random flip; reductions applied. result = (rank, size); size -1 means rebuild.

    A (term, position) with a partner is drawn uniformly from the index, then the partner
    uniformly among the terms sharing that factor.
    """
    entry = flippable[np.random.randint(size)]
    i, k = entry // 3, entry % 3
    count = 0
    for j in range(rank):
        if j != i and _matches(pos, neg, k, j, pos[k, i], neg[k, i], ternary):
            partners[count] = j
            count += 1
    j = partners[np.random.randint(count)]
    p, n = pos[k, i], neg[k, i]
    sign = 1 if (pos[k, j] == p and neg[k, j] == n) else -1
    if np.random.randint(2):
        a, b = (k + 1) % 3, (k + 2) % 3
    else:
        a, b = (k + 2) % 3, (k + 1) % 3
    mu = 1 if (not ternary or np.random.randint(2)) else -1
    # x_b^i += mu x_b^j
    if mu == 1:
        pb, nb, ok = _add(pos[b, i], neg[b, i], pos[b, j], neg[b, j], ternary)
    else:
        pb, nb, ok = _sub(pos[b, i], neg[b, i], pos[b, j], neg[b, j], ternary)
    if not ok:
        result[0], result[1] = rank, size
        return False
    # x_a^j -= sign mu x_a^i
    if sign * mu == 1:
        pa, na, ok = _sub(pos[a, j], neg[a, j], pos[a, i], neg[a, i], ternary)
    else:
        pa, na, ok = _add(pos[a, j], neg[a, j], pos[a, i], neg[a, i], ternary)
    if not ok:
        result[0], result[1] = rank, size
        return False
    if (pb | nb) == 0 or (pa | na) == 0:
        pos[b, i], neg[b, i], pos[a, j], neg[a, j] = pb, nb, pa, na
        result[0], result[1] = _settle(pos, neg, rank, ternary, i, j), -1
        return True
    size, two_i = _set_factor(pos, neg, rank, ternary, cnt, flippable, where, size, b, i, pb, nb)
    size, two_j = _set_factor(pos, neg, rank, ternary, cnt, flippable, where, size, a, j, pa, na)
    if two_i or two_j:
        result[0], result[1] = _settle(pos, neg, rank, ternary, i, j), -1
    else:
        result[0], result[1] = rank, size
    return True


@numba.njit(cache=True)
def _settle(pos, neg, rank, ternary, i, j):
    """After terms i and j changed: drop zero terms, then reduce the survivors."""
    if (pos[0, j] | neg[0, j]) == 0 or (pos[1, j] | neg[1, j]) == 0 or (pos[2, j] | neg[2, j]) == 0:
        rank = _remove(pos, neg, rank, j)
        if i == rank:
            i = j
        j = -1
    if (pos[0, i] | neg[0, i]) == 0 or (pos[1, i] | neg[1, i]) == 0 or (pos[2, i] | neg[2, i]) == 0:
        rank = _remove(pos, neg, rank, i)
        if j == rank:
            j = i
        i = -1
    if i >= 0:
        before = rank
        rank = _reduce_term(pos, neg, rank, i, ternary)
        if rank != before:
            return reduce_all(pos, neg, rank, ternary)
    if j >= 0:
        rank = _reduce_term(pos, neg, rank, j, ternary)
    return rank


@numba.njit(cache=True)
def plus(pos, neg, rank, ternary, i, j, k):
    """Plus transition on terms i, j with positions rotated by k; returns the new rank.

    (a1,b1,c1) + (a2,b2,c2) -> (a1, b1-b2, c1) + (a1, b2, c1+c2) + (a2-a1, b2, c2), written into
    slot i, a new slot ``rank`` and slot j. Returns ``rank`` unchanged when a coefficient would
    leave {-1, 0, 1} or a factor would vanish. The capacity must exceed ``rank``.
    """
    a, b, c = k, (k + 1) % 3, (k + 2) % 3
    pb, nb, ok1 = _sub(pos[b, i], neg[b, i], pos[b, j], neg[b, j], ternary)  # b1 - b2
    pc, nc, ok2 = _add(pos[c, i], neg[c, i], pos[c, j], neg[c, j], ternary)  # c1 + c2
    pa, na, ok3 = _sub(pos[a, j], neg[a, j], pos[a, i], neg[a, i], ternary)  # a2 - a1
    if not (ok1 and ok2 and ok3) or (pb | nb) == 0 or (pc | nc) == 0 or (pa | na) == 0:
        return rank
    new = rank
    pos[a, new] = pos[a, i]
    neg[a, new] = neg[a, i]
    pos[b, new] = pos[b, j]
    neg[b, new] = neg[b, j]
    pos[c, new] = pc
    neg[c, new] = nc
    pos[b, i] = pb
    neg[b, i] = nb
    pos[a, j] = pa
    neg[a, j] = na
    return rank + 1


@numba.njit(cache=True)
def walk(pos, neg, rank, ternary, max_flips, plateau_min, plateau_max, max_rank, stop_rank, info):
    """Random walk of at most ``max_flips`` flips from the scheme in ``pos``/``neg`` (in place).

    Reductions are applied whenever a flip makes them possible. After a plateau of flips without
    a reduction (its length drawn uniformly from [plateau_min, plateau_max] each time), or when
    no flip exists, a plus transition raises the rank by one, unless the rank is already
    ``max_rank``. Stops early when the rank falls to ``stop_rank`` (status IMPROVED). Writes
    info = [status, flips, plus transitions] and returns the rank.
    """
    capacity = pos.shape[1]
    cnt = np.zeros((3, capacity), np.int64)
    where = np.zeros((3, capacity), np.int64)
    flippable = np.zeros(3 * capacity, np.int64)
    partners = np.zeros(capacity, np.int64)
    result = np.zeros(2, np.int64)
    size = _rebuild(pos, neg, rank, ternary, cnt, flippable, where)
    flips = 0
    pluses = 0
    since_drop = 0
    plateau = np.random.randint(plateau_min, plateau_max + 1)
    status = FLIPS_EXHAUSTED
    while flips < max_flips:
        if since_drop >= plateau or size == 0:
            since_drop = 0
            plateau = np.random.randint(plateau_min, plateau_max + 1)
            if rank < max_rank:
                for _ in range(16):
                    i = np.random.randint(rank)
                    j = np.random.randint(rank)
                    if i != j:
                        before = rank
                        rank = plus(pos, neg, rank, ternary, i, j, np.random.randint(3))
                        if rank != before:
                            pluses += 1
                            rank = reduce_all(pos, neg, rank, ternary)
                            break
                size = _rebuild(pos, neg, rank, ternary, cnt, flippable, where)
            if size == 0:
                flips += 1  # a dead end at the top rank: count it so the walk still ends
                continue
        before = rank
        if not _flip(pos, neg, rank, ternary, cnt, flippable, where, size, partners, result):
            continue
        rank, size = result[0], result[1]
        if size < 0:
            size = _rebuild(pos, neg, rank, ternary, cnt, flippable, where)
        flips += 1
        since_drop += 1
        if rank < before:
            since_drop = 0
            if rank <= stop_rank:
                status = IMPROVED
                break
    info[0] = status
    info[1] = flips
    info[2] = pluses
    return rank
