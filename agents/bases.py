"""Changes of basis of the target, mapped back (AlphaTensor plays the target in many bases;
self-play draws them: agents.selfplay.game_bases).

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
