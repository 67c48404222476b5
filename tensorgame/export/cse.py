"""Common-subexpression elimination over integer linear combinations (greedy pair extraction).

Every output row is a combination of input variables. While some two-term combination
``a*x_i + b*x_j`` (gcd(a, b) = 1, a > 0) occurs, up to an integer multiple, in two or more rows,
the most frequent one becomes a temporary t and every such occurrence ``k*(a*x_i + b*x_j)`` becomes
``k*t``: each extraction of a pair found in c rows saves c - 1 additions. This is the classic
greedy heuristic (Paar-style); on Winograd's form of Strassen it finds the 15-addition schedule.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter

import numpy as np

from tensorgame.export.program import LinearProgram

Pair = tuple[int, int, int, int]  # (i, a, j, b): the combination a*x_i + b*x_j, i < j


MAX_PAIRS = 400_000  # above this many pairs in the rows, a side is evaluated as written


def eliminate(matrix: np.ndarray) -> LinearProgram:
    """A LinearProgram computing ``matrix`` [outputs, inputs] (integers) with shared temporaries.

    Rows holding more than ``MAX_PAIRS`` pairs in all (dense output sides of ranks in the
    hundreds) are returned as written: pair counting is quadratic in a row's length.

    Pair counts live in a dict with a lazily cleaned max-heap beside it and each variable knows
    the rows using it, so one extraction costs about the size of the rows it touches.
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    inputs = matrix.shape[1]
    rows = [{int(j): int(row[j]) for j in np.flatnonzero(row)} for row in matrix]
    if sum(len(row) * (len(row) - 1) // 2 for row in rows) > MAX_PAIRS:
        return LinearProgram(inputs=inputs, temps=(), outputs=tuple(
            tuple((c, v) for v, c in sorted(row.items())) for row in rows))
    users: dict[int, set[int]] = {}  # variable -> rows using it
    for index, row in enumerate(rows):
        for var in row:
            users.setdefault(var, set()).add(index)
    counts: Counter[Pair] = Counter()
    for row in rows:
        counts.update(_pairs(row))
    heap = [_entry(pair, count) for pair, count in counts.items() if count >= 2]
    heapq.heapify(heap)
    temps = []
    while heap:
        entry = heapq.heappop(heap)
        pair, count = entry[-1], -entry[0]
        if counts.get(pair, 0) != count:
            continue  # stale: the count changed after this entry was pushed
        i, a, j, b = pair
        hits = [r for r in sorted(users[i] & users[j]) if rows[r][i] * b == rows[r][j] * a]
        if 2 * sum(rows[r][i] < 0 for r in hits) > len(hits):
            a, b = -a, -b  # orient the temporary as most of its uses want it: no negations
        new_var = inputs + len(temps)
        temps.append(((a, i), (b, j)))
        users[new_var] = set()
        for r in hits:
            row = rows[r]
            old = set(_pairs_with(row, i)) | set(_pairs_with(row, j))  # only these change
            multiple = row.pop(i) // a
            del row[j]
            row[new_var] = multiple
            users[i].discard(r), users[j].discard(r), users[new_var].add(r)
            new = _pairs_with(row, new_var)
            counts.subtract(old)
            counts.update(new)
            for changed in old | set(new):
                if counts[changed] >= 2:
                    heapq.heappush(heap, _entry(changed, counts[changed]))
                elif counts[changed] <= 0:
                    del counts[changed]
    outputs = tuple(tuple((c, v) for v, c in sorted(row.items())) for row in rows)
    return LinearProgram(inputs=inputs, temps=tuple(temps), outputs=outputs)


def _entry(pair: Pair, count: int) -> tuple:
    """Heap order: most frequent first, then plain sums/differences, then the lowest variables."""
    i, a, j, b = pair
    return (-count, abs(a) + abs(b), i, j, pair)


def _pairs(row: dict[int, int]) -> list[Pair]:
    return [_pair(i, a, j, b) for (i, a), (j, b) in itertools.combinations(sorted(row.items()), 2)]


def _pairs_with(row: dict[int, int], var: int) -> list[Pair]:
    """The pairs of ``row`` that involve ``var``."""
    c = row[var]
    return [_pair(var, c, x, cx) if var < x else _pair(x, cx, var, c)
            for x, cx in row.items() if x != var]


def _pair(i: int, a: int, j: int, b: int) -> Pair:
    """a*x_i + b*x_j (i < j) up to an integer multiple: gcd 1, first coefficient positive."""
    g = math.gcd(a, b) * (1 if a > 0 else -1)
    return (i, a // g, j, b // g)

