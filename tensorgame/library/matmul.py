"""``matmul(A, B, algorithm, levels, backend)``: the product by a fast algorithm, for users.

The kernel for each (algorithm, levels, backend) is generated, verified and compiled once per
process; the JAX one is jitted. Float results differ from ``A @ B`` by rounding within
``tensorgame.export.error_bound``; integer inputs give the exact product (while intermediates fit
the dtype); Z2-only algorithms take bool/uint8 matrices and return their product over GF(2).
"""

from __future__ import annotations

import numpy as np

from tensorgame import export
from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization

BACKENDS = ("numpy", "jax")
_KERNELS: dict = {}


def matmul(A, B, algorithm="strassen", levels: int | None = None, backend: str = "numpy"):
    """C = A @ B for A [..., N, M], B [..., M, P] with ``levels`` levels of ``algorithm``
    (default: 1 level, or one level per entry of a list).

    ``algorithm``: "strassen", a shape (n, m, p) (the library's best), a Factorization, or a list
    of these, one per level (outermost first). Any sizes: remainders are peeled off.
    """
    if backend not in BACKENDS:
        raise TensorgameError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if np.ndim(A) < 2 or np.ndim(B) < 2:
        raise TensorgameError(f"matmul needs matrices, got shapes {np.shape(A)} and {np.shape(B)}")
    if np.shape(A)[-1] != np.shape(B)[-2]:
        raise TensorgameError(f"inner dimensions differ: A is {np.shape(A)}, B is {np.shape(B)}")
    key = (_key(algorithm), levels, backend)
    if key not in _KERNELS:
        _KERNELS[key] = _compile(algorithm, levels, backend)
    kernel, gf2 = _KERNELS[key]
    if gf2 and not all(np.dtype(x.dtype) in (np.bool_, np.uint8) for x in (A, B)):
        raise TensorgameError("this algorithm is valid only modulo 2: pass bool or uint8 matrices "
                              "(the product is over GF(2))")
    return kernel(A, B)


def _compile(algorithm, levels: int, backend: str):
    plan = export.plan(algorithm, levels)
    kernel = export.load_python(export.python_source(plan, backend))
    if backend == "jax":
        import jax

        kernel = jax.jit(kernel)
    return kernel, plan.gf2


def _key(algorithm):
    """A hashable identity for an algorithm spec; Factorizations by their exact terms."""
    if isinstance(algorithm, Factorization):
        return (algorithm.shape, algorithm.field, tuple(repr(a.tolist()) for a in algorithm.factors))
    if isinstance(algorithm, str):
        return algorithm.lower()
    if isinstance(algorithm, (list, tuple)):
        return tuple(_key(a) for a in algorithm)
    return algorithm
