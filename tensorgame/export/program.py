"""Straight-line programs: one level of a bilinear algorithm, ready to be printed as code.

A factorization of <n,m,p> multiplies an n x m grid of A blocks by an m x p grid of B blocks in
three linear stages and R block products:

    left operands   l_r = sum_i U[r, i] a_i       (``left``:  n*m A blocks -> R operands)
    right operands  r_r = sum_j V[r, j] b_j       (``right``: m*p B blocks -> R operands)
    products        m_r = l_r @ r_r               (recursively, or native matmul at a leaf)
    output blocks   c_k = sum_r W[r, k] m_r / D   (``out``:   R products -> p*n blocks of C^T)

Each stage is a ``LinearProgram``: shared temporaries first, then the outputs, every one a short
integer combination of earlier variables. Coefficients are integers: rationals are moved into the
single output denominator D. In GF(2) arithmetic every coefficient is 1 and additions are XORs.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np

from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization

Combination = tuple[tuple[int, int], ...]  # ((coefficient, variable), ...); variables count inputs first


@dataclasses.dataclass(frozen=True)
class LinearProgram:
    """Outputs as integer combinations of ``inputs`` variables and of shared temporaries.

    Variable v < inputs is input v; variable inputs + t is temporary t, which may only use
    variables defined before it.
    """

    inputs: int
    temps: tuple[Combination, ...]
    outputs: tuple[Combination, ...]

    @property
    def additions(self) -> int:
        """Additions and subtractions (XORs in GF(2)), one fewer than the terms of each line."""
        return sum(max(len(c) - 1, 0) for c in self.temps + self.outputs)

    def matrix(self) -> np.ndarray:
        """The [outputs, inputs] integer matrix this program computes (an independent check)."""
        rows = []
        for combination in self.temps + self.outputs:
            row = np.zeros(self.inputs, dtype=object)
            for coefficient, var in combination:
                row += coefficient * (rows[var - self.inputs] if var >= self.inputs
                                      else np.eye(self.inputs, dtype=np.int64)[var].astype(object))
            rows.append(row)
        return np.array(rows[len(self.temps):], dtype=object).reshape(len(self.outputs), self.inputs)


@dataclasses.dataclass(frozen=True)
class Program:
    """One level of block recursion for <n,m,p>: see the module docstring."""

    shape: tuple[int, int, int]
    gf2: bool
    left: LinearProgram   # n*m A blocks -> R left operands
    right: LinearProgram  # m*p B blocks -> R right operands
    out: LinearProgram    # R products -> p*n C blocks, index k*n + i is block C[i, k]
    denominator: int
    additions_before: int  # evaluating each combination of the factorization on its own
    source: Factorization  # the (possibly re-based) factorization this program computes

    @property
    def rank(self) -> int:
        return len(self.left.outputs)

    @property
    def additions(self) -> int:
        return self.left.additions + self.right.additions + self.out.additions

    @property
    def label(self) -> str:
        n, m, p = self.shape
        return f"{n}x{m}x{p}_rank{self.rank}" + ("_gf2" if self.gf2 else "")


def naive_additions(f: Factorization) -> int:
    """Additions to evaluate every u_r, v_r and every column of W as written, without sharing."""
    def lines(matrix):
        return sum(max(int(np.count_nonzero(row != 0)) - 1, 0) for row in matrix)

    return lines(f.u) + lines(f.v) + lines(f.w.T)


def integer_terms(f: Factorization, gf2: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(U, V, W, D) int64 with sum_r U_r (x) V_r (x) W_r = D * (the terms of f), useless terms dropped.

    Over the reals each u_r and v_r is made primitive with a positive leading entry (its scale
    moves into w_r), so no operand is ever scaled; the common denominator of W becomes D.
    In GF(2) arithmetic the coefficients are reduced mod 2 (odd denominators only) and D = 1.
    """
    if all(a.dtype != object for a in f.factors):
        return _integer_terms_int64(f, gf2)
    return _integer_terms_exact(f, gf2)


def _integer_terms_exact(f: Factorization, gf2: bool):
    """``integer_terms`` over Fractions, for rational coefficients."""
    us, vs, ws = [], [], []
    for ur, vr, wr in zip(*(a.tolist() for a in f.factors)):
        ur, vr, wr = ([Fraction(x) for x in row] for row in (ur, vr, wr))
        if gf2:
            ur, vr, wr = ([_mod2(x) for x in row] for row in (ur, vr, wr))
        else:
            ur, su = _primitive(ur)
            vr, sv = _primitive(vr)
            wr = [x * su * sv for x in wr]
        if any(ur) and any(vr) and any(wr):
            us.append(ur), vs.append(vr), ws.append(wr)
    denominator = math.lcm(1, *(x.denominator for row in ws for x in row))
    n, m, p = f.shape

    def as_int(rows, width, scale=1):
        return np.array([[int(x * scale) for x in row] for row in rows],
                        dtype=np.int64).reshape(len(rows), width)

    return as_int(us, n * m), as_int(vs, m * p), as_int(ws, p * n, denominator), denominator


def _integer_terms_int64(f: Factorization, gf2: bool):
    """``integer_terms`` for integer coefficients, vectorised (the basis search calls it often)."""
    u, v, w = f.factors
    if gf2:
        u, v, w = u % 2, v % 2, w % 2
    else:
        scales = []
        for a in (u, v):
            scale = np.gcd.reduce(np.abs(a), axis=1)  # [R]
            first = a[np.arange(len(a)), np.argmax(a != 0, axis=1)] if a.size else scale
            scale = np.where(scale == 0, 1, scale * np.sign(np.where(first == 0, 1, first)))
            scales.append(scale)
        u, v = u // scales[0][:, None], v // scales[1][:, None]
        w = w * (scales[0] * scales[1])[:, None]
    keep = (u != 0).any(axis=1) & (v != 0).any(axis=1) & (w != 0).any(axis=1)
    return u[keep], v[keep], w[keep], 1


def _primitive(row: list[Fraction]) -> tuple[list[Fraction], Fraction]:
    """(row / s, s) with row / s integer, coprime, first non-zero entry positive."""
    nonzero = [x for x in row if x != 0]
    if not nonzero:
        return row, Fraction(1)
    scale = Fraction(math.gcd(*(x.numerator for x in nonzero)),
                     math.lcm(*(x.denominator for x in nonzero)))
    if nonzero[0] < 0:
        scale = -scale
    return [x / scale for x in row], scale


def _mod2(x: Fraction) -> Fraction:
    if x.denominator % 2 == 0:
        raise TensorgameError("a coefficient with an even denominator has no value mod 2")
    return Fraction(x.numerator % 2)
