"""The BLAS that NumPy multiplies with: its thread count, and how C kernels link against it.

NumPy wheels bundle OpenBLAS (``numpy.libs/libscipy_openblas64_*.so`` on Linux, with 64-bit
integers and prefixed symbols such as ``scipy_cblas_sgemm64_``). ``c_flags()`` gives the compiler
flags that make an exported C kernel call that very library at its leaves (``-DTG_BLAS``), so no
BLAS headers or system packages are needed; ``threads()`` / ``limit_threads(n)`` read and set its
thread count through ctypes (the library NumPy already loaded, so ``np.matmul`` follows).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
from pathlib import Path

# (sgemm symbol, dgemm symbol, C integer type of the dimensions), most specific first
_GEMM_SYMBOLS = (
    ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", "int64_t"),
    ("scipy_cblas_sgemm", "scipy_cblas_dgemm", "int"),
    ("cblas_sgemm64_", "cblas_dgemm64_", "int64_t"),
    ("cblas_sgemm", "cblas_dgemm", "int"),
)
_THREAD_SYMBOLS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


@functools.cache
def library_path() -> Path | None:
    """The OpenBLAS shared library bundled with NumPy (or scipy-openblas), if there is one."""
    import numpy

    root = Path(numpy.__file__).resolve().parent
    patterns = [root.parent / "numpy.libs" / "*openblas*.so*", root / ".dylibs" / "*openblas*",
                root.parent / "numpy.libs" / "*openblas*.dll"]
    try:
        import scipy_openblas64  # type: ignore[import-not-found]

        patterns.append(Path(scipy_openblas64.__file__).parent / "lib" / "*openblas*.so*")
    except ImportError:
        pass
    for pattern in patterns:
        found = sorted(glob.glob(str(pattern)))
        if found:
            return Path(found[0])
    return None


@functools.cache
def _library():
    path = library_path()
    if path is None:
        return None
    try:
        return ctypes.CDLL(str(path))
    except OSError:
        return None


def _thread_functions():
    lib = _library()
    if lib is None:
        return None
    for get, set_ in _THREAD_SYMBOLS:
        if hasattr(lib, get) and hasattr(lib, set_):
            return getattr(lib, get), getattr(lib, set_)
    return None


def threads() -> int | None:
    """Threads NumPy's BLAS uses now (None when it cannot be told: no bundled OpenBLAS)."""
    functions = _thread_functions()
    if functions is None:
        return None
    functions[0].restype = ctypes.c_int
    return int(functions[0]())


@contextlib.contextmanager
def limit_threads(count: int):
    """Run the block with NumPy's BLAS on ``count`` threads (restored afterwards).

    Without a bundled OpenBLAS this does nothing (set OPENBLAS_NUM_THREADS before starting).
    """
    functions = _thread_functions()
    if functions is None:
        yield
        return
    before = threads()
    functions[1].argtypes = [ctypes.c_int]
    functions[1](int(count))
    try:
        yield
    finally:
        functions[1](int(before))


def c_flags() -> list[str] | None:
    """Compiler flags for ``-DTG_BLAS`` kernels against NumPy's own OpenBLAS, or None.

    Append them after the source file: ``cc -O2 -std=c99 kernel.c FLAGS -lm``.
    """
    lib, path = _library(), library_path()
    if lib is None or path is None:
        return None
    for sgemm, dgemm, integer in _GEMM_SYMBOLS:
        if hasattr(lib, sgemm) and hasattr(lib, dgemm):
            return ["-DTG_BLAS", f"-DTG_SGEMM={sgemm}", f"-DTG_DGEMM={dgemm}",
                    f"-DTG_BLAS_INT={integer}", str(path),
                    f"-Wl,-rpath,{path.parent}"]
    return None


def environment_threads() -> int | None:
    """The thread count the environment asks for (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS)."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None
