"""`make demo`: load Strassen from the library, verify it exactly, use it, print it."""

from __future__ import annotations

import numpy as np

from tensorgame import formulas, library
from tensorgame.factorization import Factorization, verify


def bilinear_product(f: Factorization, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """C = A @ B computed with the R multiplications of ``f`` (DESIGN.md section 1)."""
    n, m, p = f.shape
    u, v, w = (x.astype(np.float64) for x in f.factors)
    products = (u @ a.reshape(n * m)) * (v @ b.reshape(m * p))  # [R]
    return (w.T @ products).reshape(p, n).T  # w writes C transposed


def main() -> None:
    f = library.get(2, 2, 2)
    report = verify(f)
    print(f"Strassen from the library: <2,2,2> {f.field} rank {f.rank}, {report.summary()}")
    print(f"source: {f.meta.get('source')}")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    c = bilinear_product(f, a, b)
    error = np.abs(c - a @ b).max()
    print(f"random 2x2 A, B: max |Strassen(A, B) - A @ B| = {error:.2e} with 7 multiplications")
    if not report.valid or error > 1e-12:
        raise SystemExit("demo failed: Strassen does not reproduce A @ B")
    print()
    print("\n".join(formulas.render(f)))


if __name__ == "__main__":
    main()
