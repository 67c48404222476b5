"""Where walks start: the naive scheme, or for formats with long factors a direct sum of smaller
schemes (the lowest-rank sum found), so that the first reductions need not be found by chance.

From the naive scheme the first reduction takes exponentially more flips as factors grow
(measured: <2,2,7> ~3e5 flips, <2,2,8> ~5e5, <2,2,9> none in 1e7), so formats with a factor longer
than LONG_FACTOR entries start from a direct sum of two smaller schemes, splitting one side in two,
the way meta flip graph searches move between formats.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization, reduced_mod2

LONG_FACTOR = 16
MAX_FACTOR = 64  # walks hold each factor in one 64-bit word


def check_shape(shape) -> tuple[int, int, int]:
    """``shape`` as three ints if a walk can hold it, else a one-line TensorgameError.

    Call it before building anything of that size (the naive <100,100,100> needs 80 GB).
    """
    n, m, p = (int(x) for x in shape)
    if min(n, m, p) < 1:
        raise TensorgameError(f"a format needs three positive sides, got {n},{m},{p}")
    longest = max(n * m, m * p, p * n)
    if longest > MAX_FACTOR:
        raise TensorgameError(f"<{n},{m},{p}> has factors of {longest} entries; walks hold at most "
                              f"{MAX_FACTOR} (n*m, m*p and p*n must be <= {MAX_FACTOR})")
    return n, m, p


def library_scheme(shape, field: str) -> Factorization | None:
    """The bundled library's best scheme for ``shape`` that a walk over ``field`` can hold.

    Over Z2 it is reduced mod 2 (terms that vanish mod 2 dropped); over Z its coefficients must
    lie in {-1, 0, 1}.
    """
    from tensorgame import library

    f = library.get(*shape, field="Z2" if field == "Z2" else "Z")
    if f.field == "Q":
        return None
    if field == "Z":
        ternary = all(np.abs(a).max(initial=0) <= 1 for a in f.factors)
        return f if f.field == "Z" and ternary else None
    return reduced_mod2(f)


def composite_start(shape, field: str,
                    lookup: Callable[[tuple, str], Factorization | None] = library_scheme
                    ) -> Factorization | None:
    """The lowest-rank direct sum of two smaller schemes for ``shape``, or None.

    ``lookup(shape, field)`` gives the scheme to use for a smaller format (or None): by default
    the bundled library's best one a walk over ``field`` can hold; ``experiments/ranks.py`` passes
    its own results. A side of 1 always uses the naive scheme (optimal there).
    """
    from tensorgame.compose import direct_sum
    from tensorgame import library

    shape = check_shape(shape)
    best = None
    for axis in range(3):
        for a in range(1, shape[axis] // 2 + 1):
            parts = []
            for size in (a, shape[axis] - a):
                part = tuple(size if x == axis else shape[x] for x in range(3))
                parts.append(library.naive(*part) if min(part) == 1 else lookup(part, field))
            if parts[0] is None or parts[1] is None:
                continue
            candidate = direct_sum(parts[0], parts[1], axis)
            if best is None or candidate.rank < best.rank:
                best = candidate
    return best


def start_for(shape, field: str,
              lookup: Callable[[tuple, str], Factorization | None] = library_scheme
              ) -> Factorization:
    """The naive scheme of ``shape``, or a lower-rank direct sum when its factors are long."""
    from tensorgame import library

    shape = check_shape(shape)
    naive = library.naive(*shape)
    n, m, p = shape
    if max(n * m, m * p, p * n) <= LONG_FACTOR:
        return naive
    composite = composite_start(shape, field, lookup)
    if composite is None or composite.rank >= naive.rank:
        return naive
    return composite


def symmetric_start(n: int) -> Factorization:
    """The lowest-rank cyclic-symmetric scheme of <n,n,n> at hand (mod 2): the naive one, a
    bundled symmetric one, or the one of <n-1,n-1,n-1> placed in the top-left block with the
    naive terms of the border (i, j or k = n-1), whose set is closed under the rotation."""
    from agents.flipgraph.symmetric import split_orbits
    from tensorgame import library

    check_shape((n, n, n))
    options = [library.naive(n, n, n)]
    for entry in library.candidates(n, n, n, "Z2"):  # best first: take the first symmetric one
        bundled = library.load_entry(entry)
        if bundled.field == "Q":
            continue
        try:
            split_orbits(bundled, bundled.rank)
        except TensorgameError:
            continue
        options.append(bundled)
        break
    if n > 1:
        options.append(_bordered(symmetric_start(n - 1)))
    return min(options, key=lambda f: f.rank)


def _bordered(f: Factorization) -> Factorization:
    """<n-1,n-1,n-1> scheme ``f`` in the top-left block of <n,n,n>, plus the border terms."""
    n = f.shape[0] + 1
    inner = [i * n + j for i in range(n - 1) for j in range(n - 1)]
    border = [(i, j, k) for i in range(n) for j in range(n) for k in range(n)
              if max(i, j, k) == n - 1]
    factors = []
    for position, a in enumerate(f.factors):
        grown = np.zeros((f.rank + len(border), n * n), dtype=np.int64)
        grown[:f.rank, inner] = a
        for row, (i, j, k) in enumerate(border, start=f.rank):
            x, y = ((i, j), (j, k), (k, i))[position]
            grown[row, x * n + y] = 1
        factors.append(grown)
    return Factorization((n, n, n), "Z2" if f.field == "Z2" else "Z", *factors,
                         meta={"construction": f"<{n - 1},{n - 1},{n - 1}> rank {f.rank} with "
                                               f"the naive border terms"})
