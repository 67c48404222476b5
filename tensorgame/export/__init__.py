"""Factorizations as runnable kernels: NumPy, JAX and C code with block recursion.

    plan = export.plan((4, 4, 4), levels=2)          # or "strassen", a Factorization, a list
    source = export.python_source(plan, "numpy")     # readable, self-contained module text
    matmul = export.load_python(source)              # the live function: exactly that text
    c_text = export.c_source(plan)                   # C99 kernel + self-checking main

    C = export.matmul(A, B)                          # "auto": native or faster, measured

``numpy_function`` / ``jax_function`` do both steps; ``additions(f)`` reports the block additions
of one level before and after common-subexpression elimination.
"""

from tensorgame.export.basis import build
from tensorgame.export.c_source import c_source
from tensorgame.export.multiply import matmul
from tensorgame.export.program import LinearProgram, Program, naive_additions
from tensorgame.export.python_source import load_python, python_source
from tensorgame.export.schedule import Plan, plan
from tensorgame.export.tolerance import error_bound, stability_factor

__all__ = [
    "LinearProgram", "Plan", "Program", "additions", "c_source", "error_bound", "jax_function",
    "load_python", "matmul", "numpy_function", "plan", "python_source", "stability_factor",
]


def numpy_function(algorithm, levels=None, arithmetic=None):
    """The live NumPy function ``f(A, B)`` for ``plan(algorithm, levels, arithmetic)``."""
    return load_python(python_source(plan(algorithm, levels, arithmetic), "numpy"))


def jax_function(algorithm, levels=None, arithmetic=None, precision="highest"):
    """The live JAX function (pure jnp: wrap it in jax.jit, differentiate it, batch it);
    ``precision`` of the leaves: "highest" (full float32), "high" or "default" (TF32 on GPUs)."""
    return load_python(python_source(plan(algorithm, levels, arithmetic), "jax",
                                     precision=precision))


def additions(f, gf2: bool | None = None) -> tuple[int, int]:
    """(before, after): block additions of one level of ``f`` as written, and as exported.

    ``gf2`` defaults to True exactly for a Z2 factorization (XOR counts).
    """
    gf2 = f.field == "Z2" if gf2 is None else gf2
    return naive_additions(f), build(f, gf2).additions
