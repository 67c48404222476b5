"""Every library entry up to 5x5x5 as a NumPy kernel, at one and two levels, against A @ B.

Exact on random integer matrices (int64), within ``export.error_bound`` on random float64 and
float32 matrices; Z2-only entries on bool matrices against (A @ B) % 2. Sizes per algorithm
<n,m,p> at L levels: exact block multiples (rectangular), a square odd size, and a rectangular
size with a remainder at every level, so peeling is exercised at each depth.
"""

import numpy as np
import pytest

from tensorgame import export, library

SMALL = [e for e in library.catalog() if max(e.shape) <= 5]
REAL = [e for e in SMALL if e.field != "Z2"]
MOD2 = [e for e in SMALL if e.field == "Z2"]


def sizes(shape, levels):
    n, m, p = shape
    exact = (2 * n**levels, 3 * m**levels, p**levels)
    side = 2 * max(shape) ** levels + 1
    odd = tuple(2 * d**levels + d + 1 for d in shape)  # remainder 1 at the top, then d + 1 ...
    return [exact, (side, side, side), odd]


def check_real(matmul, plan, size, rng):
    N, M, P = size
    a, b = rng.integers(-8, 9, (N, M)), rng.integers(-8, 9, (M, P))
    product = matmul(a, b)
    assert product.dtype == np.int64 and (product == a @ b).all(), size
    for dtype in (np.float64, np.float32):
        a, b = (rng.uniform(-1, 1, s).astype(dtype) for s in ((N, M), (M, P)))
        product = matmul(a, b)
        reference = a.astype(np.float64) @ b.astype(np.float64)
        error = np.abs(product - reference).max() / (np.abs(a).max() * np.abs(b).max())
        assert product.dtype == dtype
        assert error <= export.error_bound(plan, M, dtype), (size, dtype, error)


@pytest.mark.parametrize("levels", [1, 2])
@pytest.mark.parametrize("entry", REAL, ids=lambda e: e.file.split(".")[0])
def test_numpy_kernel_matches_matmul(entry, levels):
    f = library.load_entry(entry)
    plan = export.plan(f, levels)
    matmul = export.load_python(export.python_source(plan, "numpy"))
    rng = np.random.default_rng(levels)
    for size in sizes(f.shape, levels):
        check_real(matmul, plan, size, rng)


@pytest.mark.parametrize("levels", [1, 2])
@pytest.mark.parametrize("entry", MOD2, ids=lambda e: e.file.split(".")[0])
def test_gf2_numpy_kernel_matches_matmul_mod_2(entry, levels):
    f = library.load_entry(entry)
    matmul = export.numpy_function(f, levels)
    rng = np.random.default_rng(levels)
    for N, M, P in sizes(f.shape, levels):
        a, b = rng.random((N, M)) < 0.5, rng.random((M, P)) < 0.5
        expected = (a.astype(np.int64) @ b.astype(np.int64)) % 2
        product = matmul(a, b)
        assert product.dtype == np.bool_ and (product == expected).all()
        assert (matmul(a.astype(np.uint8), b.astype(np.uint8)) == expected).all()


def test_z_algorithm_also_exports_for_gf2():
    matmul = export.numpy_function((3, 3, 3), 2, arithmetic="gf2")
    rng = np.random.default_rng(3)
    a, b = rng.random((29, 31)) < 0.5, rng.random((31, 19)) < 0.5
    assert (matmul(a, b) == (a.astype(int) @ b.astype(int)) % 2).all()


def test_mixed_schedule_batched_and_broadcast():
    plan = export.plan([(4, 4, 4), (2, 2, 2)])
    matmul = export.load_python(export.python_source(plan, "numpy"))
    rng = np.random.default_rng(4)
    a = rng.integers(-8, 9, (3, 2, 37, 45))
    b = rng.integers(-8, 9, (45, 19))
    assert (matmul(a, b) == a @ b).all()
    b = rng.integers(-8, 9, (2, 45, 19))
    assert (matmul(a, b) == a @ b).all()
    check_real(matmul, plan, (70, 66, 41), rng)


def test_three_levels_and_rational_coefficients():
    from tensorgame.factorization import change_basis

    q = change_basis(library.get(2, 2, 2), np.array([[2, 1], [1, 1]]), np.array([[1, 0], [0, 3]]),
                     np.eye(2, dtype=int))
    assert q.field == "Q"
    rng = np.random.default_rng(5)
    for algorithm in ("strassen", q):
        plan = export.plan(algorithm, 3)
        check_real(export.load_python(export.python_source(plan, "numpy")), plan, (43, 50, 37), rng)


def test_library_matmul_for_users():
    rng = np.random.default_rng(6)
    a, b = rng.integers(-8, 9, (33, 20)), rng.integers(-8, 9, (20, 27))
    for algorithm, levels in (("strassen", 2), ((3, 3, 3), 1), (library.get(2, 3, 4), 1),
                              ([(4, 4, 4), (2, 2, 2)], None)):
        assert (library.matmul(a, b, algorithm, levels) == a @ b).all()
    with pytest.raises(Exception, match="inner dimensions"):
        library.matmul(a, a)
