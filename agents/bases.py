"""Random changes of basis of the target (AlphaTensor plays the target in many bases).

A basis is a triple of unimodular integer matrices (X, Y, Z) of sizes n, m, p. The target in that
basis is the image of T_{n,m,p} under DESIGN.md's change of basis (computed from the naive
factorization); a factorization found there maps back with the inverse matrices, exactly.
"""

from __future__ import annotations

import numpy as np

from tensorgame.factorization import Factorization, change_basis
from tensorgame.tensors import matmul_tensor, reconstruct

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


def random_basis(rng: np.random.Generator, shape: tuple[int, int, int], max_entry: int) -> Basis:
    return tuple(random_unimodular(rng, d, max_entry) for d in shape)


def naive(shape: tuple[int, int, int]) -> Factorization:
    """The n*m*p-term schoolbook factorization, one unit term per non-zero of T."""
    target = matmul_tensor(*shape)
    terms = np.argwhere(target)
    eye = [np.eye(d, dtype=np.int64) for d in target.shape]
    return Factorization(shape, "Z", eye[0][terms[:, 0]], eye[1][terms[:, 1]],
                         eye[2][terms[:, 2]])


def transform_target(shape: tuple[int, int, int], basis: Basis) -> np.ndarray:
    """T_{n,m,p} in ``basis``: [n*m, m*p, p*n] int64."""
    f = change_basis(naive(shape), *basis)
    return reconstruct(f.u, f.v, f.w)


def inverse(matrix: np.ndarray) -> np.ndarray:
    """Exact inverse of a unimodular integer matrix."""
    result = np.rint(np.linalg.inv(matrix.astype(np.float64))).astype(np.int64)
    assert np.array_equal(matrix @ result, np.eye(len(matrix), dtype=np.int64))
    return result


def untransform(f: Factorization, basis: Basis) -> Factorization:
    """A factorization of the target in ``basis`` -> one of T_{n,m,p} (Z2: reduced mod 2)."""
    back = change_basis(f, *(inverse(m) for m in basis))
    if f.field == "Z2":
        back = back.replace(u=back.u % 2, v=back.v % 2, w=back.w % 2)
    return back
