"""Matrix multiplication tensors, rank-1 terms and exact rank bounds against independent references."""

import itertools

import numpy as np
from hypothesis import given, strategies as st

from tensorgame.tensors import (matmul_tensor, matrix_rank_exact, matrix_rank_mod2, rank_one,
                                rank_upper_bound, reconstruct)

dims = st.integers(1, 4)


@given(dims, dims, dims, st.integers(0, 2**32 - 1))
def test_matmul_tensor_contracts_to_the_transposed_product(n, m, p, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(-5, 6, (n, m)), rng.integers(-5, 6, (m, p))
    t = matmul_tensor(n, m, p)
    assert t.shape == (n * m, m * p, p * n) and t.dtype == np.int64
    c_transposed = np.einsum("ijk,i,j->k", t, a.reshape(-1), b.reshape(-1))
    np.testing.assert_array_equal(c_transposed, (a @ b).T.reshape(-1))
    assert t.sum() == n * m * p and set(np.unique(t)) <= {0, 1}


def test_worked_2x2_example_entries():
    t = matmul_tensor(2, 2, 2)
    # c21 = a21*b11 + a22*b21, at output index k*n + i = 0*2 + 1
    assert t[2, 0, 1] == 1 and t[3, 2, 1] == 1
    assert t[:, :, 1].sum() == 2


def test_cyclic_symmetry_of_the_tensor():
    for n, m, p in [(2, 3, 4), (1, 2, 5), (3, 3, 2)]:
        t = matmul_tensor(n, m, p)
        np.testing.assert_array_equal(np.transpose(t, (1, 2, 0)), matmul_tensor(m, p, n))


@given(st.integers(0, 2**32 - 1))
def test_rank_one_and_reconstruct_match_loops(seed):
    rng = np.random.default_rng(seed)
    u, v, w = rng.integers(-3, 4, (3, 4)), rng.integers(-3, 4, (3, 5)), rng.integers(-3, 4, (3, 2))
    expected = np.zeros((4, 5, 2), dtype=np.int64)
    for r in range(3):
        for i, j, k in itertools.product(range(4), range(5), range(2)):
            expected[i, j, k] += u[r, i] * v[r, j] * w[r, k]
    np.testing.assert_array_equal(reconstruct(u, v, w), expected)
    np.testing.assert_array_equal(rank_one(u[0], v[0], w[0]), np.einsum("i,j,k->ijk", u[0], v[0], w[0]))


@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 5), st.integers(0, 2**32 - 1))
def test_matrix_rank_exact_of_products_of_known_rank(rows, cols, inner, seed):
    rng = np.random.default_rng(seed)
    matrix = rng.integers(-4, 5, (rows, inner)) @ rng.integers(-4, 5, (inner, cols))
    assert matrix_rank_exact(matrix) == np.linalg.matrix_rank(matrix.astype(float))
    assert matrix_rank_exact(matrix) <= min(rows, cols, inner)


def _rank_mod2_brute_force(matrix):
    rows = [tuple(r % 2) for r in np.asarray(matrix)]
    span = {tuple(0 for _ in rows[0])} if rows else set()
    for row in rows:
        span |= {tuple((a + b) % 2 for a, b in zip(s, row)) for s in span}
    return int(np.log2(len(span))) if span else 0


@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_matrix_rank_mod2_against_span_enumeration(rows, cols, seed):
    matrix = np.random.default_rng(seed).integers(-3, 4, (rows, cols))
    assert matrix_rank_mod2(matrix) == _rank_mod2_brute_force(matrix)


def test_rank_upper_bound_known_values():
    for n, m, p in [(1, 1, 1), (2, 2, 2), (2, 3, 4), (3, 3, 3)]:
        assert rank_upper_bound(matmul_tensor(n, m, p)) == n * m * p  # the slice bound is naive
    diagonal = np.zeros((4, 4, 4), dtype=np.int64)
    diagonal[range(4), range(4), range(4)] = 1
    assert rank_upper_bound(diagonal) == 4
    assert rank_upper_bound(np.zeros((3, 3, 3), dtype=np.int64)) == 0
    one = rank_one(np.array([1, 2, 0]), np.array([0, 1, -1]), np.array([3, 0, 1]))
    assert rank_upper_bound(one) == 2  # each mode has two non-zero slices
    unit = rank_one(np.array([0, 1, 0]), np.array([2, 1, -1]), np.array([3, 0, 1]))
    assert rank_upper_bound(unit) == 1
    assert rank_upper_bound(2 * one, field="Z2") == 0
    assert rank_upper_bound(one, field="Z2") == 1  # 2*v*w vanishes mod 2
    # one slice [[1, 1], [1, 1]] over Z2 has rank 1; [[1, 1], [1, -1]] has rank 2 over Q, 1 mod 2
    t = np.zeros((1, 2, 2), dtype=np.int64)
    t[0] = [[1, 1], [1, -1]]
    assert rank_upper_bound(t) == 2 and rank_upper_bound(t, field="Z2") == 1
