"""The tensor (Kronecker) product of two schemes: <n1,m1,p1> x <n2,m2,p2> -> <n1n2, m1m2, p1p2>.

Block matrices: A = [A_(i1,j1)] with n2 x m2 blocks, so row i = i1*n2 + i2 and column
j = j1*m2 + j2; every pair of terms (r1, r2) gives the term with u = u1_r1 (x) u2_r2 arranged that
way (likewise v over (j, k) and w over (k, i)). Rank R1*R2; valid over the smaller of the fields.
"""

from __future__ import annotations

import numpy as np

from tensorgame.factorization import Factorization


def _combine(a: np.ndarray, b: np.ndarray, rows: tuple[int, int], cols: tuple[int, int]):
    """[R1, r1*c1] and [R2, r2*c2] -> [R1*R2, (r1*r2)*(c1*c2)], blocks as in the module doc."""
    x = a.reshape(a.shape[0], rows[0], cols[0])
    y = b.reshape(b.shape[0], rows[1], cols[1])
    out = np.einsum("aij,bkl->abikjl", x, y)
    return out.reshape(a.shape[0] * b.shape[0], rows[0] * rows[1] * cols[0] * cols[1])


def product(f: Factorization, g: Factorization) -> Factorization:
    """The scheme for <n1n2, m1m2, p1p2> made of all products of a term of f and a term of g."""
    (n1, m1, p1), (n2, m2, p2) = f.shape, g.shape
    field = "Z2" if "Z2" in (f.field, g.field) else ("Q" if "Q" in (f.field, g.field) else "Z")
    u = _combine(f.u, g.u, (n1, n2), (m1, m2))
    v = _combine(f.v, g.v, (m1, m2), (p1, p2))
    w = _combine(f.w, g.w, (p1, p2), (n1, n2))
    if field == "Z2":
        u, v, w = u % 2, v % 2, w % 2
    meta = {"construction": f"product of <{n1},{m1},{p1}> rank {f.rank} and "
                            f"<{n2},{m2},{p2}> rank {g.rank}"}
    return Factorization((n1 * n2, m1 * m2, p1 * p2), field, u, v, w, meta=meta)
