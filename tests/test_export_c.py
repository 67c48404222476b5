"""C kernels compiled with the system ``cc``: the self-checking harness for every library entry up
to 5x5x5 at one and two levels, and the function itself called through ctypes on strided views.

The harness compares with an independent naive product: exactly on random integers in [-4, 4]
(GF(2): random bits) and within the bound of ``export.error_bound`` on random floats in [-1, 1].
"""

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from tensorgame import export, library
from tensorgame.factorization import change_basis

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")

SMALL = [e for e in library.catalog() if max(e.shape) <= 5]


def compile_c(source, path, *flags):
    path.with_suffix(".c").write_text(source)
    subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", *flags, str(path.with_suffix(".c")),
                    "-o", str(path), "-lm"], check=True, capture_output=True)
    return path


def run_harness(binary, size):
    done = subprocess.run([str(binary), *map(str, size)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith(": ok")
    return done.stdout


def harness_sizes(shape):
    """For a two-level kernel: sizes where only the first level applies (blocks of 1 below it),
    where both apply with a remainder at each, a square odd size, and 1 x 1 x 1."""
    side = 2 * max(shape) ** 2 + 1
    return [tuple(d + 1 for d in shape), tuple(2 * d**2 + d + 1 for d in shape),
            (side, side, side), (1, 1, 1)]


@pytest.mark.parametrize("entry", SMALL, ids=lambda e: e.file.split(".")[0])
def test_harness_passes_for_every_small_entry_at_one_and_two_levels(entry, tmp_path):
    f = library.load_entry(entry)
    binary = compile_c(export.c_source(export.plan(f, 2)), tmp_path / "kernel", "-O0")
    for size in harness_sizes(f.shape):
        out = run_harness(binary, size)
        assert ("GF(2) max error 0" if f.field == "Z2" else "integers in [-4,4] max error 0") in out


def test_harness_in_single_precision_and_a_failing_check_is_reported(tmp_path):
    source = export.c_source(export.plan([(4, 4, 4), (2, 2, 2)]))
    binary = compile_c(source, tmp_path / "single", "-O1", "-DTG_REAL=float")
    run_harness(binary, (70, 66, 41))
    broken = source.replace("c[j] += a * b[j]", "c[j] += a * b[j] * 1.001f")  # a wrong leaf
    binary = compile_c(broken, tmp_path / "broken", "-O0")
    assert subprocess.run([str(binary), "33", "34", "35"], capture_output=True).returncode == 1
    usage = subprocess.run([str(binary), "3"], capture_output=True)
    assert usage.returncode == 2


def load_shared(source, tmp_path, real):
    library_path = compile_c(source, tmp_path / f"lib{real}.so", "-O1", "-shared", "-fPIC",
                             "-DTG_NO_MAIN", f"-DTG_REAL={real}")
    kernel = ctypes.CDLL(str(library_path)).tg_matmul
    pointer = ctypes.c_void_p
    kernel.argtypes = [ctypes.c_long] * 3 + [pointer, ctypes.c_long] * 3
    kernel.restype = None
    return kernel


def call(kernel, a, b, pad=3):
    """Multiply views with row strides larger than their widths (lda = M + pad, ...)."""
    (N, M), P = a.shape, b.shape[1]
    big_a = np.zeros((N, M + pad), a.dtype)
    big_b = np.zeros((M, P + pad), a.dtype)
    big_c = np.full((N, P + pad), 7, a.dtype)
    big_a[:, :M], big_b[:, :P] = a, b
    kernel(N, M, P, big_a.ctypes.data, M + pad, big_b.ctypes.data, P + pad, big_c.ctypes.data,
           P + pad)
    assert (big_c[:, P:] == 7).all()  # nothing written outside C
    return big_c[:, :P]


@pytest.mark.parametrize("real,dtype", [("double", np.float64), ("float", np.float32)])
def test_c_function_on_strided_blocks_matches_numpy(real, dtype, tmp_path):
    q = change_basis(library.get(2, 2, 2), np.array([[2, 1], [1, 1]]), np.array([[1, 0], [0, 3]]),
                     np.eye(2, dtype=int))
    rng = np.random.default_rng(7)
    for algorithm, levels in (("strassen", 1), ("strassen", 3), ([(4, 4, 4), (2, 2, 2)], None),
                              ((3, 3, 3), 2), ((2, 3, 4), 1), (q, 2)):
        plan = export.plan(algorithm, levels)
        kernel = load_shared(export.c_source(plan), tmp_path, real)
        for N, M, P in [(45, 38, 51), (64, 64, 64), (3, 70, 5)]:
            a, b = (rng.integers(-4, 5, s).astype(dtype) for s in ((N, M), (M, P)))
            assert (call(kernel, a, b) == a @ b).all()
            a, b = (rng.uniform(-1, 1, s).astype(dtype) for s in ((N, M), (M, P)))
            error = np.abs(call(kernel, a, b) - a.astype(np.float64) @ b).max()
            assert error <= export.error_bound(plan, M, dtype) * abs(a).max() * abs(b).max()


BLAS_FLAGS = None
try:
    from tensorgame.export import blas as _blas

    BLAS_FLAGS = _blas.c_flags()
except Exception:  # noqa: BLE001  (any failure to find the library means: skip)
    BLAS_FLAGS = None
needs_blas = pytest.mark.skipif(BLAS_FLAGS is None,
                                reason="NumPy ships no OpenBLAS here to link -DTG_BLAS against")


def compile_blas(source, path, *flags):
    path.with_suffix(".c").write_text(source)
    subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", *flags, str(path.with_suffix(".c")),
                    *BLAS_FLAGS, "-o", str(path), "-lm"], check=True, capture_output=True)
    return path


@needs_blas
@pytest.mark.parametrize("real", ["double", "float"])
def test_blas_leaves_pass_the_harness_and_time_against_gemm(real, tmp_path):
    for algorithm, levels in (("strassen", 2), ([(4, 4, 4), (2, 2, 2)], None), ((2, 3, 4), 1)):
        plan = export.plan(algorithm, levels)
        binary = compile_blas(export.c_source(plan), tmp_path / "kernel", "-O1",
                              f"-DTG_REAL={real}")
        done = subprocess.run([str(binary), "97", "83", "71", "4"], capture_output=True,
                              text=True, env={"OPENBLAS_NUM_THREADS": "1"})
        assert done.returncode == 0, done.stdout + done.stderr
        timing, verdict = done.stdout.strip().split("\n")
        assert ("sgemm" if real == "float" else "dgemm") in timing and "speedup" in timing
        assert verdict.endswith(": ok") and "integers in [-4,4] max error 0" in verdict
    plain = compile_c(export.c_source(plan), tmp_path / "plain", "-O0")  # no TG_BLAS: no timing
    assert "time kernel" not in run_harness(plain, (9, 8, 7))


@needs_blas
def test_blas_leaves_on_strided_blocks_through_ctypes(tmp_path):
    plan = export.plan("strassen", 2)
    path = tmp_path / "libblas.so"
    compile_blas(export.c_source(plan), path, "-O1", "-shared", "-fPIC", "-DTG_NO_MAIN")
    kernel = ctypes.CDLL(str(path)).tg_matmul
    kernel.argtypes = [ctypes.c_long] * 3 + [ctypes.c_void_p, ctypes.c_long] * 3
    kernel.restype = None
    rng = np.random.default_rng(8)
    for N, M, P in [(45, 38, 51), (64, 64, 64), (3, 70, 5), (1, 1, 1)]:
        a, b = (rng.integers(-4, 5, s).astype(np.float64) for s in ((N, M), (M, P)))
        assert (call(kernel, a, b) == a @ b).all()
