"""Common-subexpression elimination over integer linear combinations (greedy pair extraction).

Every output row is a combination of input variables. While some two-term combination
``a*x_i + b*x_j`` (gcd(a, b) = 1, a > 0) occurs, up to an integer multiple, in two or more rows,
the most frequent one becomes a temporary t and every such occurrence ``k*(a*x_i + b*x_j)`` becomes
``k*t``: each extraction of a pair found in c rows saves c - 1 additions. This is the classic
greedy heuristic (Paar-style); on Winograd's form of Strassen it finds the 15-addition schedule.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np

from tensorgame.export.program import LinearProgram

Pair = tuple[int, int, int, int]  # (i, a, j, b): the combination a*x_i + b*x_j, i < j


def eliminate(matrix: np.ndarray) -> LinearProgram:
    """A LinearProgram computing ``matrix`` [outputs, inputs] (integers) with shared temporaries."""
    matrix = np.asarray(matrix, dtype=np.int64)
    inputs = matrix.shape[1]
    rows = [{int(j): int(row[j]) for j in np.flatnonzero(row)} for row in matrix]
    counts: Counter[Pair] = Counter()
    for row in rows:
        counts.update(_pairs(row))
    temps = []
    while counts:
        pair, count = max(counts.items(), key=lambda item: (item[1], _tie_break(item[0])))
        if count < 2:
            break
        i, a, j, b = pair
        hits = [row for row in rows if i in row and j in row and row[i] * b == row[j] * a]
        if 2 * sum(row[i] < 0 for row in hits) > len(hits):
            a, b = -a, -b  # orient the temporary as most of its uses want it: no negations
        new_var = inputs + len(temps)
        temps.append(((a, i), (b, j)))
        for row in hits:
            counts.subtract(_pairs(row))
            multiple = row.pop(i) // a
            del row[j]
            row[new_var] = multiple
            counts.update(_pairs(row))
        counts = +counts  # drop pairs no longer present
    outputs = tuple(tuple((c, v) for v, c in sorted(row.items())) for row in rows)
    return LinearProgram(inputs=inputs, temps=tuple(temps), outputs=outputs)


def _pairs(row: dict[int, int]) -> list[Pair]:
    out = []
    for (i, a), (j, b) in itertools.combinations(sorted(row.items()), 2):
        g = math.gcd(a, b) * (1 if a > 0 else -1)
        out.append((i, a // g, j, b // g))
    return out


def _tie_break(pair: Pair) -> tuple:
    """Among equally frequent pairs prefer plain sums/differences, then the lowest variables."""
    i, a, j, b = pair
    return (-(abs(a) + abs(b)), -i, -j)

