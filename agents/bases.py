"""Random changes of basis of the target (AlphaTensor plays the target in many bases).

A basis is a triple of unimodular integer matrices (P, Q, R), one per mode of the target tensor
(sizes n*m, m*p, p*n). The target in that basis is T' = T x1 P x2 Q x3 R, i.e.
T'[i,j,k] = sum P[i,a] Q[j,b] R[k,c] T[a,b,c]: a term u (x) v (x) w of T becomes
Pu (x) Qv (x) Rw, so a factorization of T' maps back to one of T exactly through the inverse
matrices. (Changing the bases of the matrices A, B, C instead, DESIGN.md section 1, leaves
T_{n,m,p} itself unchanged: it is a symmetry of the tensor, not a new target.)
"""

from __future__ import annotations

import numpy as np

from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization

Basis = tuple[np.ndarray, np.ndarray, np.ndarray]


def random_unimodular(rng: np.random.Generator, size: int, max_entry: int) -> np.ndarray:
    """A random integer matrix with determinant +-1 and entries in [-max_entry, max_entry]."""
    while True:
        matrix = np.eye(size, dtype=np.int64)[rng.permutation(size)]
        matrix *= rng.choice([-1, 1], size=(size, 1))
        for _ in range(rng.integers(0, 2 * size + 1)):
            i, j = rng.choice(size, 2, replace=False) if size > 1 else (0, 0)
            if i != j:
                matrix[i] += rng.choice([-1, 1]) * matrix[j]
        if np.abs(matrix).max() <= max_entry:
            return matrix


def random_basis(rng: np.random.Generator, dims: tuple[int, int, int], max_entry: int,
                 symmetric: bool = False) -> Basis:
    """Unimodular (P, Q, R) for a target of sizes ``dims``; ``symmetric`` uses one matrix for
    all three modes, which keeps a cyclically symmetric target symmetric."""
    if symmetric:
        matrix = random_unimodular(rng, dims[0], max_entry)
        return matrix, matrix, matrix
    return tuple(random_unimodular(rng, d, max_entry) for d in dims)


def transform_target(target: np.ndarray, basis: Basis) -> np.ndarray:
    """The target [I, J, K] in ``basis``: [I, J, K] int64."""
    p, q, r = basis
    return np.einsum("ia,jb,kc,abc->ijk", p, q, r, np.asarray(target, np.int64))


def inverse(matrix: np.ndarray) -> np.ndarray:
    """Exact inverse of a unimodular integer matrix."""
    result = np.rint(np.linalg.inv(matrix.astype(np.float64))).astype(np.int64)
    if not np.array_equal(matrix @ result, np.eye(len(matrix), dtype=np.int64)):
        raise TensorgameError("internal error: a change of basis is not unimodular")
    return result


def untransform(f: Factorization, basis: Basis) -> Factorization:
    """A factorization of the target in ``basis`` -> one of the original target (Z2: reduced
    mod 2). Term-major factors: u_r -> P^-1 u_r, i.e. U -> U P^-T."""
    u, v, w = (np.asarray(x, np.int64) @ inverse(m).T for x, m in zip((f.u, f.v, f.w), basis))
    if f.field == "Z2":
        u, v, w = u % 2, v % 2, w % 2
    return f.replace(u=u, v=v, w=w)
