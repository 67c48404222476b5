"""The float error bound the exported kernels are tested against, and how it grows with levels.

For C = A @ B computed in a format with unit roundoff eps, a classical product satisfies
``max|C_hat - C| <= M * eps * max|A| * max|B|`` (to first order). One level of a bilinear
algorithm forms operands l_r = u_r . A and r_r = v_r . B, multiplies them and sums
``c_k = sum_r w_rk m_r / D``; the leaf errors are amplified by the algorithm's stability factor

    e = max_k sum_r |w_rk| * ||u_r||_1 * ||v_r||_1 / D       (classical <n,m,p>: e = m)

and each level adds rounding of its combinations, at most ``d`` (the longest chain of terms on
the u, v and w sides) relative errors. Over L levels with leaf inner size M_leaf = M / prod(m_l):

    max|C_hat - C| <= eps * max|A| * max|B| * prod(e_l) * (M_leaf + sum(d_l))

Strassen's original form has e = 12 and Winograd's 15-addition form (what the addition search
picks) e = 18, against 2 for one classical level; the catalogue's <4,4,4> rank-49 scheme has
e = 328 against 4: error bounds grow geometrically with levels. This is a worst-case style bound;
measured errors on random matrices sit far below it (results/kernels.md).
"""

from __future__ import annotations

import math

import numpy as np

from tensorgame.export.program import Program, integer_terms
from tensorgame.export.schedule import Plan


def stability_factor(program: Program) -> float:
    """e = max_k sum_r |w_rk| ||u_r||_1 ||v_r||_1 / D for the form the program computes."""
    u, v, w, denominator = integer_terms(program.source, program.gf2)
    weights = np.abs(u).sum(axis=1) * np.abs(v).sum(axis=1)  # [R]
    return float((np.abs(w) * weights[:, None]).sum(axis=0).max() / denominator)


def chain_length(program: Program) -> int:
    """The longest run of additions on the u, v and w sides together (temporaries included)."""
    total = 0
    for side in (program.left, program.right, program.out):
        depth = [0] * side.inputs
        for combination in side.temps + side.outputs:
            depth.append(len(combination) - 1 + max(depth[v] for _, v in combination))
        total += max(depth[side.inputs:], default=0)
    return total


def error_bound(plan: Plan, inner: int, dtype) -> float:
    """Bound on max|C_hat - A @ B| / (max|A| * max|B|) for inner dimension ``inner``."""
    eps = float(np.finfo(dtype).eps) / 2
    inner_leaf = inner / math.prod(p.shape[1] for p in plan.levels)
    factor = math.prod(stability_factor(p) for p in plan.levels)
    return eps * factor * (max(inner_leaf, 1.0) + sum(chain_length(p) for p in plan.levels))
