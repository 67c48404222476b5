"""Fewer additions by a change of basis: search equivalent forms of a factorization.

Every (X, Y, Z) in GL(Z)^3 and every symmetry of the format maps a factorization to another valid
one of the same rank (DESIGN.md section 1) but with different linear combinations; Strassen's and
Winograd's <2,2,2> algorithms are two such forms (18 and 15 additions). For each dimension equal to
2 we try the 5 classes of unimodular {-1,0,1} matrices (up to signed permutations, which never
change an addition count), other dimensions keep the identity, and we also try the permuted forms
of the same shape; the form with the fewest additions after common-subexpression elimination wins.
"""

from __future__ import annotations

import itertools

import numpy as np

from tensorgame.export.cse import eliminate
from tensorgame.export.program import Program, integer_terms, naive_additions
from tensorgame.factorization import Factorization, variants

# Unimodular 2x2 matrices with entries in {-1, 0, 1}, one per class modulo signed permutations.
_GL2_CLASSES = tuple(np.array(x, dtype=np.int64).reshape(2, 2) for x in (
    (1, 0, 0, 1), (1, 1, 0, 1), (1, 0, 1, 1), (1, 1, 1, 0), (1, -1, 1, 0)))


def build(f: Factorization, gf2: bool, search: bool = True) -> Program:
    """The Program for ``f`` (already verified) with the fewest additions found.

    ``search=False`` keeps f's own form and only eliminates common subexpressions.
    """
    candidates = _equivalent_forms(f) if search else [f]
    memo: dict = {}  # many forms share a side: eliminate each distinct matrix once
    programs = [_program(g, gf2, naive_additions(f), memo) for g in candidates]
    return min(programs, key=lambda prog: prog.additions)


def _program(f: Factorization, gf2: bool, before: int, memo: dict) -> Program:
    u, v, w, denominator = integer_terms(f, gf2)

    def side(matrix):
        key = (matrix.shape, matrix.tobytes())
        if key not in memo:
            memo[key] = eliminate(matrix)
        return memo[key]

    return Program(shape=f.shape, gf2=gf2, left=side(u), right=side(v),
                   out=side(np.ascontiguousarray(w.T)), denominator=denominator,
                   additions_before=before, source=f)


def _equivalent_forms(f: Factorization) -> list[Factorization]:
    forms = []
    for g in [h for h in variants(f) if h.shape == f.shape]:
        n, m, p = g.shape
        for x, y, z in itertools.product(_classes(n), _classes(m), _classes(p)):
            forms.append(_rebase(g, x, y, z))
    return forms


def _classes(size: int) -> tuple[np.ndarray, ...]:
    return _GL2_CLASSES if size == 2 else (np.eye(size, dtype=np.int64),)


def _rebase(f: Factorization, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> Factorization:
    """change_basis for unimodular integer X, Y, Z, in exact integer (or object) arithmetic."""
    if all((a == np.eye(len(a), dtype=np.int64)).all() for a in (x, y, z)):
        return f
    n, m, p = f.shape
    xi, yi, zi = (np.rint(np.linalg.inv(a)).astype(np.int64) for a in (x, y, z))

    def apply(array, left, right, rows, cols):
        blocks = array.reshape(-1, rows, cols)
        return np.einsum("ab,rbc,cd->rad", left, blocks, right).reshape(array.shape[0], -1)

    dtype = object if f.u.dtype == object else np.int64
    x, y, z, xi, yi, zi = (a.astype(dtype) for a in (x, y, z, xi, yi, zi))
    return f.replace(u=apply(f.u, x.T, y.T, n, m), v=apply(f.v, yi.T, z.T, m, p),
                     w=apply(f.w, zi.T, xi.T, p, n))
