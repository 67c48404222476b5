"""Schemes for larger formats built from smaller ones (starting points for walks).

- product: <n1,m1,p1> x <n2,m2,p2> -> <n1n2, m1m2, p1p2>, rank R1*R2. Block matrices: row
  i = i1*n2 + i2 and column j = j1*m2 + j2 of A; every pair of terms (r1, r2) gives the term with
  u = u1_r1 (x) u2_r2 arranged that way (likewise v over (j, k) and w over (k, i)).
- direct sum: <n,m,p> split along one side, e.g. m = m1 + m2: A = [A1 A2], B = [B1; B2],
  C = A1 B1 + A2 B2, rank R1 + R2 (n splits A and C by rows, p splits B and C by columns).
Both are valid over the smaller of the fields.
"""

from __future__ import annotations

import numpy as np

from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization


def _combine(a: np.ndarray, b: np.ndarray, rows: tuple[int, int], cols: tuple[int, int]):
    """[R1, r1*c1] and [R2, r2*c2] -> [R1*R2, (r1*r2)*(c1*c2)], blocks as in the module doc."""
    x = a.reshape(a.shape[0], rows[0], cols[0])
    y = b.reshape(b.shape[0], rows[1], cols[1])
    out = np.einsum("aij,bkl->abikjl", x, y)
    return out.reshape(a.shape[0] * b.shape[0], rows[0] * rows[1] * cols[0] * cols[1])


def _common_field(f: Factorization, g: Factorization) -> str:
    return "Z2" if "Z2" in (f.field, g.field) else ("Q" if "Q" in (f.field, g.field) else "Z")


def product(f: Factorization, g: Factorization) -> Factorization:
    """The scheme for <n1n2, m1m2, p1p2> made of all products of a term of f and a term of g."""
    (n1, m1, p1), (n2, m2, p2) = f.shape, g.shape
    field = _common_field(f, g)
    u = _combine(f.u, g.u, (n1, n2), (m1, m2))
    v = _combine(f.v, g.v, (m1, m2), (p1, p2))
    w = _combine(f.w, g.w, (p1, p2), (n1, n2))
    if field == "Z2":
        u, v, w = u % 2, v % 2, w % 2
    meta = {"construction": f"product of <{n1},{m1},{p1}> rank {f.rank} and "
                            f"<{n2},{m2},{p2}> rank {g.rank}"}
    return Factorization((n1 * n2, m1 * m2, p1 * p2), field, u, v, w, meta=meta)


def _embed(f: Factorization, shape: tuple[int, int, int], offset: tuple[int, int, int]):
    """The factors of f moved into <shape> at block offset (di, dj, dk)."""
    (n1, m1, p1), (n, m, p), (di, dj, dk) = f.shape, shape, offset
    i, j, k = np.arange(n1) + di, np.arange(m1) + dj, np.arange(p1) + dk
    maps = ((i[:, None] * m + j[None, :]).ravel(), (j[:, None] * p + k[None, :]).ravel(),
            (k[:, None] * n + i[None, :]).ravel())
    out = []
    for factor, index, size in zip(f.factors, maps, (n * m, m * p, p * n)):
        big = np.zeros((f.rank, size), dtype=factor.dtype)
        big[:, index] = factor
        out.append(big)
    return out


def direct_sum(f: Factorization, g: Factorization, axis: int) -> Factorization:
    """The scheme for f.shape + g.shape along ``axis`` (0: n, 1: m, 2: p); other sides equal."""
    if any(f.shape[a] != g.shape[a] for a in range(3) if a != axis):
        raise TensorgameError(f"<{f.shape}> and <{g.shape}> differ off axis {axis}")
    shape = tuple(f.shape[a] + (g.shape[a] if a == axis else 0) for a in range(3))
    offset = tuple(f.shape[a] if a == axis else 0 for a in range(3))
    parts = zip(_embed(f, shape, (0, 0, 0)), _embed(g, shape, offset))
    u, v, w = (np.concatenate(pair) for pair in parts)
    field = _common_field(f, g)
    if field == "Z2":
        u, v, w = u % 2, v % 2, w % 2
    meta = {"construction": f"direct sum of <{','.join(map(str, f.shape))}> rank {f.rank} and "
                            f"<{','.join(map(str, g.shape))}> rank {g.rank}"}
    return Factorization(shape, field, u, v, w, meta=meta)
