"""Known matrix multiplication algorithms, bundled as v1 JSON package data.

    from tensorgame import library
    f = library.get(2, 2, 2)            # Strassen, rank 7, over Z
    g = library.get(4, 3, 2, "Q")       # a <2,3,4> algorithm carried over to <4,3,2>
    library.naive(3, 3, 3)              # the schoolbook algorithm, rank 27
    C = library.matmul(A, B)            # native or a faster algorithm, by measured crossover
    for row in library.catalog(): ...   # shape, field, rank, coefficients, source

Sources: Strassen (1969), Laderman (1976), every factorization DeepMind published with AlphaTensor
(CC BY 4.0) and 47 schemes of the FastMatrixMultiplication collection (MIT); see each file's meta.
"""

from tensorgame.library._naive import naive
from tensorgame.library._store import (Entry, add, beats_bundled, candidates, catalog, get,
                                       load_entry)


def matmul(A, B, algorithm="auto", levels=None, backend="numpy"):
    """C = A @ B by a fast algorithm: a thin name for ``tensorgame.export.matmul`` (see there).

    The library holds data; export makes kernels from it, so export is imported only on use.
    """
    global _export_matmul
    if _export_matmul is None:
        from tensorgame.export.multiply import matmul as export_matmul

        _export_matmul = export_matmul
    return _export_matmul(A, B, algorithm, levels, backend)


_export_matmul = None


__all__ = ["Entry", "add", "beats_bundled", "candidates", "catalog", "get", "load_entry", "matmul", "naive"]
