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

FLIPS_EXHAUSTED, IMPROVED, INDEX_BROKEN = 0, 1, 2  # the last only with ``audit``


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
# Per position k, the live terms are grouped by their factor k (up to sign over Z) into buckets:
# an open-addressing hash table (linear probing, deletion by backward shift, no tombstones) maps a
# factor to its bucket, and a bucket is a doubly linked list of its terms. The flip pairs of
# position k (two terms in one bucket) are listed in ``pairs[k, :npairs[k]]`` as (lo << 16) | hi,
# lo < hi, and ``where[k, lo, hi]`` is the slot of a listed pair. A flip draws one pair uniformly
# from the three lists; afterwards each of the two changed factors leaves its bucket and joins
# the one of its new value, which unlinks and links its pairs in O(bucket size): no pass over the
# terms, no allocation (pair lists as in Perminov's ternary_flip_graph; buckets and slots ours).
#
# The walk loop is written out by hand: numba inlines helpers that take arrays with reference
# counting around each use, which cost more than the work itself here; helpers in the loop take
# scalars only.

_GOLD = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xC2B2AE3D27D4EB4F)
# rows of the int32 array ``lists`` [3, 5, capacity]
_BHEAD, _BFREE, _TBUCKET, _TNEXT, _TPREV = 0, 1, 2, 3, 4
# entries of the int64 array ``counts``: npairs[k] at k, free buckets of k at 3 + k, hash shift
_SHIFT = 6


@numba.njit(cache=True, inline="always")
def _next(x, n):
    """One xorshift64* step from state x: (new state, uniform integer in [0, n))."""
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    r = (x * np.uint64(0x2545F4914F6CDD1D)) >> np.uint64(32)
    return x, np.int64((r * np.uint64(n)) >> np.uint64(32))


@numba.njit(cache=True, inline="always")
def _rand(state, n):
    """Uniform integer in [0, n) from the xorshift64* generator whose state is ``state[0]``."""
    x, r = _next(state[0], n)
    state[0] = x
    return r


@numba.njit(cache=True, inline="always")
def _same(p1, n1, p2, n2, ternary):
    """Factors (p1, n1) and (p2, n2) are equal, or (over Z) opposite."""
    if not ternary:
        return p1 == p2
    return (p1 == p2 and n1 == n2) or (p1 == n2 and n1 == p2)


@numba.njit(cache=True, inline="always")
def _key(p, n, ternary):
    """The bucket key of factor (p, n): itself mod 2; over Z the one of +-(p, n) whose lowest
    non-zero coefficient is +1."""
    if not ternary:
        return p, n
    x = p | n
    low = x & ~(x - np.uint64(1))
    if n & low:
        return n, p
    return p, n


@numba.njit(cache=True, inline="always")
def _home(kp, kn, shift, ternary):
    """The hash slot where the probes for a key start (multiplicative hashing)."""
    if ternary:
        kp = kp ^ (kn * _MIX)
    return np.int64((kp * _GOLD) >> shift)


@numba.njit(cache=True)
def _index(capacity, ternary):
    """Empty flip-index arrays for ``capacity`` terms: hkey [3, 1 or 2, H] (hash slot -> key, its
    neg part over Z in row 1), hbid [3, H] (hash slot -> bucket, -1 if empty), lists [3, 5,
    capacity] (bucket -> first term; a stack of free buckets; term -> bucket, next and previous
    term of its bucket), pairs, counts, where (see the comment above)."""
    size, bits = 16, 4
    while size < 2 * capacity:
        size *= 2
        bits += 1
    hkey = np.zeros((3, 2 if ternary else 1, size), np.uint64)
    hbid = np.full((3, size), -1, np.int32)
    lists = np.full((3, 5, capacity), -1, np.int32)
    pairs = np.empty((3, capacity * (capacity - 1) // 2 + 1), np.int64)
    counts = np.zeros(8, np.int64)
    counts[_SHIFT] = 64 - bits
    where = np.empty((3, capacity, capacity), np.int32)
    return hkey, hbid, lists, pairs, counts, where


@numba.njit(cache=True)
def _rebuild(pos, neg, rank, ternary, hkey, hbid, lists, pairs, counts, where):
    """Recompute the buckets and pair lists from the live terms."""
    capacity = lists.shape[2]
    mask = hbid.shape[1] - 1
    shift = np.uint64(counts[_SHIFT])
    for k in range(3):
        hbid[k, :] = -1
        counts[k] = 0
        free = 0
        for t in range(rank):
            kp, kn = _key(pos[k, t], neg[k, t], ternary)
            h = _home(kp, kn, shift, ternary)
            while hbid[k, h] >= 0 and not (hkey[k, 0, h] == kp
                                           and (not ternary or hkey[k, 1, h] == kn)):
                h = (h + 1) & mask
            first = -1
            if hbid[k, h] < 0:
                bucket = free
                free += 1
                hkey[k, 0, h] = kp
                if ternary:
                    hkey[k, 1, h] = kn
                hbid[k, h] = bucket
            else:
                bucket = hbid[k, h]
                first = lists[k, _BHEAD, bucket]
                m = first
                while m >= 0:  # m < t: pair (m, t)
                    pairs[k, counts[k]] = (m << 16) | t
                    where[k, m, t] = counts[k]
                    counts[k] += 1
                    m = lists[k, _TNEXT, m]
                lists[k, _TPREV, first] = t
            lists[k, _TBUCKET, t] = bucket
            lists[k, _TNEXT, t] = first
            lists[k, _TPREV, t] = -1
            lists[k, _BHEAD, bucket] = t
        counts[3 + k] = capacity - free
        for q in range(capacity - free):  # free buckets, popped from the end
            lists[k, _BFREE, q] = capacity - 1 - q


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
def _plus_random(pos, neg, rank, ternary, state):
    """A plus transition on a random pair of terms (up to 16 draws); returns (rank, applied)."""
    for _ in range(16):
        i = _rand(state, rank)
        j = _rand(state, rank)
        if i != j:
            new = plus(pos, neg, rank, ternary, i, j, _rand(state, 3))
            if new != rank:
                # only the three changed terms can reduce (all others were reduced before)
                for t in (i, j, rank):
                    reduced = _reduce_term(pos, neg, new, t, ternary)
                    if reduced != new:
                        return reduce_all(pos, neg, reduced, ternary), True
                return new, True
    return rank, False


def walk(pos, neg, rank, ternary, max_flips, plateau_min, plateau_max, max_rank, stop_rank, info,
         audit=False):
    """Random walk of at most ``max_flips`` flips from the scheme in ``pos``/``neg`` (in place).

    Reductions are applied whenever a flip makes them possible. After a plateau of flips without
    a reduction (its length drawn uniformly from [plateau_min, plateau_max] each time), or when
    no flip exists, a plus transition raises the rank by one, unless the rank is already
    ``max_rank``. Stops early when the rank falls to ``stop_rank`` (status IMPROVED). Over Z a
    flip that would leave {-1, 0, 1} is refused (not counted; at most ``max_flips`` refusals).
    Writes info = [status, flips, plus transitions] and returns the rank. The generator is
    seeded from numba's (see ``seed``), so walks are reproducible. With ``audit`` (tests; slow)
    the flip index is compared with one rebuilt from scratch after every flip, and the walk stops
    with status INDEX_BROKEN at the first difference.
    """
    return _walk_any(pos, neg, rank, ternary, max_flips, plateau_min, plateau_max, max_rank,
                     stop_rank, info, audit)


@numba.njit(cache=True)
def _walk_any(pos, neg, rank, ternary, max_flips, plateau_min, plateau_max, max_rank, stop_rank,
              info, audit):
    # two copies of the loop, each compiled with ``ternary`` a constant (``audit`` is not: one
    # predictable branch per flip costs less than compiling two more copies)
    if ternary:
        return _walk(pos, neg, rank, True, max_flips, plateau_min, plateau_max, max_rank,
                     stop_rank, info, audit)
    return _walk(pos, neg, rank, False, max_flips, plateau_min, plateau_max, max_rank, stop_rank,
                 info, audit)


@numba.njit(cache=True)
def _index_agrees(pos, neg, rank, ternary, pairs, npairs):
    """The pair lists hold the same pairs as lists rebuilt from the live terms."""
    hkey, hbid, lists, fresh, counts, where = _index(pos.shape[1], ternary)
    _rebuild(pos, neg, rank, ternary, hkey, hbid, lists, fresh, counts, where)
    for k in range(3):
        if counts[k] != npairs[k]:
            return False
        if not np.array_equal(np.sort(pairs[k, :npairs[k]]), np.sort(fresh[k, :counts[k]])):
            return False
    return True


@numba.njit(cache=True, inline="always")
def _walk(pos, neg, rank, ternary, max_flips, plateau_min, plateau_max, max_rank, stop_rank, info,
          audit):
    hkey, hbid, lists, pairs, npairs, where = _index(pos.shape[1], ternary)
    mask = hbid.shape[1] - 1
    shift = np.uint64(npairs[_SHIFT])
    state = np.empty(1, np.uint64)  # the generator's state for helpers; x in the loop
    x = np.uint64(np.random.randint(1, 2**62))
    _rebuild(pos, neg, rank, ternary, hkey, hbid, lists, pairs, npairs, where)
    flips = 0
    refused = 0
    pluses = 0
    since_drop = 0
    x, plateau = _next(x, plateau_max - plateau_min + 1)
    plateau += plateau_min
    status = FLIPS_EXHAUSTED
    while flips < max_flips:
        total = npairs[0] + npairs[1] + npairs[2]
        if since_drop >= plateau or total == 0:
            since_drop = 0
            x, plateau = _next(x, plateau_max - plateau_min + 1)
            plateau += plateau_min
            if rank < max_rank:
                state[0] = x
                rank, applied = _plus_random(pos, neg, rank, ternary, state)
                x = state[0]
                pluses += applied
                _rebuild(pos, neg, rank, ternary, hkey, hbid, lists, pairs, npairs, where)
                total = npairs[0] + npairs[1] + npairs[2]
                if rank <= stop_rank:  # a plus transition can enable reductions
                    status = IMPROVED
                    break
            if total == 0:
                flips += 1  # a dead end at the top rank: count it so the walk still ends
                continue
        x, r = _next(x, total)
        if r < npairs[0]:
            i = 0
        elif r < npairs[0] + npairs[1]:
            i = 1
            r -= npairs[0]
        else:
            i = 2
            r -= npairs[0] + npairs[1]
        e = pairs[i, r]
        x, bits = _next(x, 8)
        if bits & 1:
            a, b = e >> 16, e & 0xFFFF
        else:
            a, b = e & 0xFFFF, e >> 16
        if bits & 2:
            j, k = (i + 1) % 3, (i + 2) % 3
        else:
            j, k = (i + 2) % 3, (i + 1) % 3
        # terms a = (x, y_a, z_a), b = (s x, y_b, z_b): y_a += mu y_b, z_b -= s mu z_a
        if not ternary:
            py = pos[j, a] ^ pos[j, b]
            pz = pos[k, b] ^ pos[k, a]
            ny = pos[j, a] & np.uint64(0)
            nz = ny
        else:
            sign = 1 if (pos[i, a] == pos[i, b] and neg[i, a] == neg[i, b]) else -1
            mu = 1 if bits & 4 else -1
            if mu == 1:
                py, ny, ok1 = _add(pos[j, a], neg[j, a], pos[j, b], neg[j, b], ternary)
            else:
                py, ny, ok1 = _sub(pos[j, a], neg[j, a], pos[j, b], neg[j, b], ternary)
            if sign * mu == 1:
                pz, nz, ok2 = _sub(pos[k, b], neg[k, b], pos[k, a], neg[k, a], ternary)
            else:
                pz, nz, ok2 = _add(pos[k, b], neg[k, b], pos[k, a], neg[k, a], ternary)
            if not (ok1 and ok2):
                refused += 1
                if refused >= max_flips:
                    break
                continue
        flips += 1
        since_drop += 1
        before = rank
        oyp, oyn, ozp, ozn = pos[j, a], neg[j, a], pos[k, b], neg[k, b]
        pos[j, a] = py
        neg[j, a] = ny
        pos[k, b] = pz
        neg[k, b] = nz
        reducible = (py | ny) == 0 or (pz | nz) == 0
        # each changed factor leaves its bucket and joins the one of its new value
        side = 0
        while side < 2 and not reducible:
            if side == 0:
                q, t, o1, o2 = j, a, i, k
                kp, kn = _key(oyp, oyn, ternary)
                np_, nn = _key(py, ny, ternary)
            else:
                q, t, o1, o2 = k, b, i, j
                kp, kn = _key(ozp, ozn, ternary)
                np_, nn = _key(pz, nz, ternary)
            side += 1
            # leave: out of the bucket's list, its pairs unlinked
            bucket = lists[q, _TBUCKET, t]
            nx, pv = lists[q, _TNEXT, t], lists[q, _TPREV, t]
            if pv >= 0:
                lists[q, _TNEXT, pv] = nx
            else:
                lists[q, _BHEAD, bucket] = nx
            if nx >= 0:
                lists[q, _TPREV, nx] = pv
            m = lists[q, _BHEAD, bucket]
            if m >= 0:
                while m >= 0:
                    lo, hi = (m, t) if m < t else (t, m)
                    slot = where[q, lo, hi]
                    last = npairs[q] - 1
                    moved = pairs[q, last]
                    pairs[q, slot] = moved
                    where[q, moved >> 16, moved & 0xFFFF] = slot
                    npairs[q] = last
                    m = lists[q, _TNEXT, m]
            else:
                # the bucket empties: free it, delete its key by backward shift
                lists[q, _BFREE, npairs[3 + q]] = bucket
                npairs[3 + q] += 1
                h = _home(kp, kn, shift, ternary)
                while hbid[q, h] != bucket:
                    h = (h + 1) & mask
                g = h
                while True:
                    g = (g + 1) & mask
                    if hbid[q, g] < 0:
                        break
                    home = _home(hkey[q, 0, g], hkey[q, 1, g] if ternary else np.uint64(0),
                                 shift, ternary)
                    if ((g - home) & mask) >= ((g - h) & mask):  # hole in [home, g): fill it
                        hkey[q, 0, h] = hkey[q, 0, g]
                        if ternary:
                            hkey[q, 1, h] = hkey[q, 1, g]
                        hbid[q, h] = hbid[q, g]
                        h = g
                hbid[q, h] = -1
            # join: link a pair with each term of the new bucket, unless one also shares factor
            # o1 or o2 with t (a reduction: the index is rebuilt below)
            h = _home(np_, nn, shift, ternary)
            while hbid[q, h] >= 0 and not (hkey[q, 0, h] == np_
                                           and (not ternary or hkey[q, 1, h] == nn)):
                h = (h + 1) & mask
            first = -1
            if hbid[q, h] < 0:
                npairs[3 + q] -= 1
                bucket = lists[q, _BFREE, npairs[3 + q]]
                hkey[q, 0, h] = np_
                if ternary:
                    hkey[q, 1, h] = nn
                hbid[q, h] = bucket
            else:
                bucket = hbid[q, h]
                first = lists[q, _BHEAD, bucket]
                m = first
                p1, n1, p2, n2 = pos[o1, t], neg[o1, t], pos[o2, t], neg[o2, t]
                while m >= 0:
                    if (_same(pos[o1, m], neg[o1, m], p1, n1, ternary)
                            or _same(pos[o2, m], neg[o2, m], p2, n2, ternary)):
                        reducible = True
                        break
                    lo, hi = (m, t) if m < t else (t, m)
                    slot = npairs[q]
                    pairs[q, slot] = (lo << 16) | hi
                    where[q, lo, hi] = slot
                    npairs[q] = slot + 1
                    m = lists[q, _TNEXT, m]
                if reducible:
                    break
                lists[q, _TPREV, first] = t
            lists[q, _TBUCKET, t] = bucket
            lists[q, _TNEXT, t] = first
            lists[q, _TPREV, t] = -1
            lists[q, _BHEAD, bucket] = t
        if reducible:
            rank = _settle(pos, neg, rank, ternary, a, b)
            _rebuild(pos, neg, rank, ternary, hkey, hbid, lists, pairs, npairs, where)
            if rank < before:
                since_drop = 0
                if rank <= stop_rank:
                    status = IMPROVED
                    break
        elif audit and not _index_agrees(pos, neg, rank, ternary, pairs, npairs):
            status = INDEX_BROKEN
            break
    return _finish(info, status, flips, pluses, rank)


@numba.njit(cache=True, inline="always")
def _finish(info, status, flips, pluses, result):
    """The end of a walk (here and in ``symmetric``): info = [status, flips, plus transitions]."""
    info[0] = status
    info[1] = flips
    info[2] = pluses
    return result
