"""``matmul(A, B, algorithm, levels, backend)``: the product by a fast algorithm, for users.

``algorithm="auto"`` (the default) picks native matmul or an algorithm and a depth from a measured
crossover table (``tensorgame.export.crossover``): the one ``tensorgame tune`` wrote for this
machine, else the table shipped with the package. The kernel for each (algorithm, levels,
backend) is generated, verified and compiled once per process; the JAX one is jitted. Float
results differ from ``A @ B`` by rounding within ``tensorgame.export.error_bound``; integer inputs
give the exact product (while intermediates fit the dtype); bool inputs give what ``A @ B`` gives
for bools (any path) with real algorithms, and the GF(2) product with Z2-only ones.
"""

from __future__ import annotations

import numpy as np

from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization

BACKENDS = ("numpy", "jax")
_KERNELS: dict = {}


def matmul(A, B, algorithm="auto", levels: int | None = None, backend: str = "numpy"):
    """C = A @ B for A [..., N, M], B [..., M, P] (NumPy arrays, or anything ``np.asarray`` takes).

    ``algorithm``: "auto" (native or a measured-faster algorithm, see ``choose``), "native",
    "strassen", a shape (n, m, p) (the library's best), a Factorization, or a list of these, one
    per level (outermost first). ``levels`` defaults to 1, or one level per entry of a list.
    Any sizes: remainders are peeled off.
    """
    if backend not in BACKENDS:
        raise TensorgameError(f"backend must be one of {BACKENDS}, got {backend!r}")
    A, B = _as_matrix(A, backend), _as_matrix(B, backend)
    if A.ndim < 2 or B.ndim < 2:
        raise TensorgameError(f"matmul needs matrices, got shapes {A.shape} and {B.shape}")
    if A.shape[-1] != B.shape[-2]:
        raise TensorgameError(f"inner dimensions differ: A is {A.shape}, B is {B.shape}")
    if isinstance(algorithm, str) and algorithm.lower() in ("auto", "native"):
        if levels is not None:
            raise TensorgameError(f"levels is chosen by algorithm={algorithm!r}; leave it out")
        if algorithm.lower() == "auto" and backend == "numpy":
            from tensorgame.export import crossover

            algorithm, levels = crossover.choose(A.shape, B.shape, np.result_type(A, B))
        else:
            algorithm = "native"
        if algorithm == "native":
            return _native(A, B, backend)
    key = (_key(algorithm), levels, backend)
    if key not in _KERNELS:
        _KERNELS[key] = _compile(algorithm, levels, backend)
    kernel, gf2 = _KERNELS[key]
    booleans = A.dtype == np.bool_ and B.dtype == np.bool_
    if gf2:
        if not all(np.dtype(x.dtype) in (np.bool_, np.uint8) for x in (A, B)):
            raise TensorgameError("this algorithm is valid only modulo 2: pass bool or uint8 "
                                  "matrices (the product is over GF(2))")
        return kernel(A, B)
    if A.dtype == np.bool_ or B.dtype == np.bool_:
        # Real algorithms subtract: multiply the 0/1 integers exactly (counts <= M), and give
        # back what A @ B gives, bool (any path) when both are bool.
        A, B = (x.astype(np.int64) if x.dtype == np.bool_ else x for x in (A, B))
        C = kernel(A, B)
        return C != 0 if booleans else C
    return kernel(A, B)


def _as_matrix(x, backend: str):
    if backend == "jax" and hasattr(x, "dtype") and not isinstance(x, np.ndarray):
        dtype = np.dtype(x.dtype)
    else:
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as error:
            raise TensorgameError(f"matmul needs numeric matrices: {error}") from None
        dtype = x.dtype
    if dtype.kind not in "biufc":
        raise TensorgameError(f"matmul needs numeric (bool, integer, float or complex) matrices, "
                              f"got dtype {dtype}")
    return x


def _native(A, B, backend: str):
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        return jnp.matmul(A, B, precision=jax.lax.Precision.HIGHEST)
    return np.matmul(A, B)


def _compile(algorithm, levels: int, backend: str):
    from tensorgame import export

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
