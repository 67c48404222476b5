"""The schoolbook algorithm for any <n,m,p>: one product a_ij * b_jk per (i, j, k)."""

from __future__ import annotations

import numpy as np

from tensorgame.factorization import Factorization


def naive(n: int, m: int, p: int) -> Factorization:
    """The n*m*p-term factorization of <n,m,p>, term (i, j, k) in row-major order, over Z."""
    i, j, k = (x.ravel() for x in np.meshgrid(np.arange(n), np.arange(m), np.arange(p),
                                              indexing="ij"))
    rank = n * m * p
    u, v, w = (np.zeros((rank, size), dtype=np.int64) for size in (n * m, m * p, p * n))
    terms = np.arange(rank)
    u[terms, i * m + j] = 1
    v[terms, j * p + k] = 1
    w[terms, k * n + i] = 1
    return Factorization(shape=(n, m, p), field="Z", u=u, v=v, w=w,
                         meta={"source": "naive (schoolbook) algorithm"})
