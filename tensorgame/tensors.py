"""Matrix multiplication tensors, rank-1 terms and exact rank upper bounds.

Convention (DESIGN.md section 1, AlphaTensor's): for C = A @ B with A n x m and B m x p,

    T[i*m + j, j*p + k, k*n + i] = 1

so ``u`` reads A row-major, ``v`` reads B row-major and ``w`` writes C transposed row-major.

Worked example, <2,2,2>: A = [[a11, a12], [a21, a22]] is read as vec(A) = (a11, a12, a21, a22),
likewise vec(B); the output index k*n + i runs over (c11, c21, c12, c22). The entry c21 = a21*b11 +
a22*b21 appears as T[2, 0, 1] = 1 (i=1, j=0, k=0) and T[3, 2, 1] = 1 (i=1, j=1, k=0). Strassen's
first product m1 = (a11 + a22) * (b11 + b22) is the term u = v = (1, 0, 0, 1) and, since m1 feeds
c11 and c22, w = (1, 0, 0, 1).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def matmul_tensor(n: int, m: int, p: int) -> np.ndarray:
    """The tensor of <n,m,p> (n x m times m x p), int64, shape (n*m, m*p, p*n)."""
    if min(n, m, p) < 1:
        raise ValueError(f"matrix dimensions must be positive, got {n},{m},{p}")
    t = np.zeros((n * m, m * p, p * n), dtype=np.int64)
    i, j, k = np.meshgrid(np.arange(n), np.arange(m), np.arange(p), indexing="ij")
    t[i * m + j, j * p + k, k * n + i] = 1
    return t


def rank_one(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The rank-1 tensor u (x) v (x) w, shape (len(u), len(v), len(w))."""
    return np.einsum("i,j,k->ijk", u, v, w)


def reconstruct(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """sum_r u[r] (x) v[r] (x) w[r] for term-major factors u [R, I], v [R, J], w [R, K].

    Dense and in the factors' own dtype; the exact, overflow-safe check is
    ``tensorgame.factorization.verify``.
    """
    return np.einsum("ri,rj,rk->ijk", u, v, w)


def matrix_rank_exact(matrix: np.ndarray) -> int:
    """Rank over Q of an integer (or Fraction) matrix, by exact Gaussian elimination."""
    rows = [[Fraction(x) for x in row] for row in np.asarray(matrix, dtype=object).tolist()]
    return _eliminate(rows, lambda a: a == 0, lambda a, b: a / b)


def matrix_rank_mod2(matrix: np.ndarray) -> int:
    """Rank over GF(2) of an integer matrix (entries taken mod 2), by XOR elimination."""
    bits = np.asarray(matrix, dtype=np.int64) % 2
    rows = [int("".join(map(str, row)), 2) if row.size else 0 for row in bits]
    rank = 0
    while rows:
        pivot = max(rows)
        rows.remove(pivot)
        if pivot == 0:
            break
        rank += 1
        top = pivot.bit_length() - 1
        rows = [r ^ pivot if (r >> top) & 1 else r for r in rows]
    return rank


def _eliminate(rows: list[list[Fraction]], is_zero, divide) -> int:
    rank, n_cols = 0, len(rows[0]) if rows else 0
    for col in range(n_cols):
        pivot = next((r for r in range(rank, len(rows)) if not is_zero(rows[r][col])), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        head = rows[rank]
        for r in range(rank + 1, len(rows)):
            if not is_zero(rows[r][col]):
                factor = divide(rows[r][col], head[col])
                rows[r] = [a - factor * b for a, b in zip(rows[r], head)]
        rank += 1
    return rank


def rank_upper_bound(tensor: np.ndarray, field: str = "Z") -> int:
    """An upper bound on the tensor rank of a 3-tensor over ``field`` ("Z", "Q" or "Z2").

    For each mode, the sum over its slices of their matrix ranks bounds the tensor rank (each
    rank-r slice is r rank-1 matrices, each a rank-1 tensor with a unit vector in that mode); the
    bound is the smallest of the three. Matrix ranks are exact: over Q for "Z"/"Q" (a rational
    rank bound), over GF(2) for "Z2".
    """
    tensor = np.asarray(tensor)
    if tensor.ndim != 3:
        raise ValueError(f"expected a 3-tensor, got shape {tensor.shape}")
    rank_of = matrix_rank_mod2 if field == "Z2" else matrix_rank_exact
    bounds = []
    for mode in range(3):
        slices = np.moveaxis(tensor, mode, 0)
        bounds.append(sum(rank_of(s) for s in slices if np.any(s if field != "Z2" else s % 2)))
    return min(bounds)
