"""Exact verification, canonical forms and symmetries on factorizations the verifier has not seen."""

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tensorgame import library
from tensorgame.errors import TensorgameError
from tensorgame.factorization import (Factorization, canonical, change_basis, cyclic_shift,
                                      exact_array, for_shape, same_terms, transpose, variants,
                                      verify, verify_terms)
from tensorgame.library import naive
from tensorgame.tensors import matmul_tensor, rank_upper_bound, reconstruct

STRASSEN = library.get(2, 2, 2)
LADERMAN = library.load_entry(next(e for e in library.catalog() if e.file.startswith("laderman")))
F2_345 = library.load_entry(next(e for e in library.catalog()
                                 if e.file.startswith("alphatensor_f2_3x4x5")))
SMALL = [STRASSEN, LADERMAN, library.get(2, 3, 4), library.get(2, 2, 3)]
seeds = st.integers(0, 2**32 - 1)


def unimodular(rng, size):
    """A random integer matrix of determinant +-1: a product of elementary row operations."""
    matrix = np.eye(size, dtype=np.int64)
    for _ in range(3 * size):
        i, j = rng.choice(size, 2, replace=False) if size > 1 else (0, 0)
        if i != j:
            matrix[i] += rng.integers(-2, 3) * matrix[j]
    if rng.random() < 0.5:
        matrix[0] = -matrix[0]
    return matrix[rng.permutation(size)]


@given(st.sampled_from(SMALL), seeds)
def test_random_unimodular_change_of_basis_stays_valid_over_z(f, seed):
    rng = np.random.default_rng(seed)
    n, m, p = f.shape
    g = change_basis(f, unimodular(rng, n), unimodular(rng, m), unimodular(rng, p))
    assert g.field == "Z" and all(a.dtype == np.int64 for a in g.factors)
    assert verify(g).valid
    assert verify(g, field="Z2").valid


@given(seeds)
def test_rational_change_of_basis_is_valid_over_q(seed):
    rng = np.random.default_rng(seed)
    x = np.array([[2, 1], [1, 1 + int(rng.integers(1, 4))]])  # invertible, not unimodular
    g = change_basis(STRASSEN, x, unimodular(rng, 2), np.eye(2, dtype=np.int64))
    assert g.field == "Q" and verify(g).valid


def test_every_single_coefficient_perturbation_of_strassen_is_detected():
    assert verify(STRASSEN).valid
    for name, r, index, delta in itertools.product("uvw", range(7), range(4), (-1, 1)):
        arrays = {k: getattr(STRASSEN, k).copy() for k in "uvw"}
        arrays[name][r, index] += delta
        report = verify(STRASSEN.replace(**arrays))
        assert not report.valid and report.wrong_entries > 0, (name, r, index, delta)


@given(seeds)
def test_report_counts_and_locates_wrong_entries_like_a_dense_reference(seed):
    rng = np.random.default_rng(seed)
    f = SMALL[int(rng.integers(len(SMALL)))]
    arrays = {k: getattr(f, k).copy() for k in "uvw"}
    for _ in range(int(rng.integers(1, 4))):
        name = "uvw"[int(rng.integers(3))]
        arrays[name][rng.integers(f.rank), rng.integers(arrays[name].shape[1])] += rng.integers(1, 3)
    g = f.replace(**arrays)
    wrong = np.argwhere(reconstruct(g.u, g.v, g.w) != matmul_tensor(*g.shape))
    report = verify(g)
    assert report.valid == (len(wrong) == 0)
    assert report.wrong_entries == len(wrong)
    assert list(report.first_wrong) == [tuple(x) for x in wrong[:5].tolist()]


def kronecker(f, g):
    """Independent product construction: <n1,m1,p1> (x) <n2,m2,p2> -> <n1 n2, m1 m2, p1 p2>."""
    (n1, m1, p1), (n2, m2, p2) = f.shape, g.shape
    factors = []
    for (a, rows_f, cols_f), (b, rows_g, cols_g) in zip(
            ((f.u, n1, m1), (f.v, m1, p1), (f.w, p1, n1)), ((g.u, n2, m2), (g.v, m2, p2), (g.w, p2, n2))):
        factors.append([np.kron(x.reshape(rows_f, cols_f), y.reshape(rows_g, cols_g)).reshape(-1)
                        for x in a for y in b])
    return Factorization(shape=(n1 * n2, m1 * m2, p1 * p2), field=f.field, u=factors[0],
                         v=factors[1], w=factors[2])


@pytest.mark.parametrize("pair", [(STRASSEN, STRASSEN), (STRASSEN, library.get(2, 3, 4)),
                                  (library.get(3, 2, 2), LADERMAN)])
def test_kronecker_products_of_library_algorithms_verify(pair):
    f, g = pair
    product = kronecker(f, g)
    assert product.rank == f.rank * g.rank
    assert verify(product).valid
    broken = product.u.copy()
    broken[0, np.flatnonzero(broken[0])[0]] += 1
    assert not verify(product.replace(u=broken)).valid


def test_mod2_only_factorization_passes_z2_and_fails_z():
    f = library.get(4, 4, 4, field="Z2")
    assert (f.field, f.rank) == ("Z2", 47)
    assert verify(f).valid and verify(f, field="Z2").valid
    assert not verify(f, field="Z").valid
    assert verify(STRASSEN, field="Z2").valid  # Z algorithms hold over every ring


def test_rational_coefficients_are_no_z_or_z2_algorithm_whatever_their_sum():
    """The field rule lives in the verifier (the CLI used to be the only guard)."""
    half = Fraction(1, 2)
    scaled = STRASSEN.replace(field="Q", u=STRASSEN.u * half, w=STRASSEN.w * 2)
    for f in (scaled, library.get(3, 4, 11, field="Q")):
        assert f.field == "Q" and verify(f).valid
        for field in ("Z", "Z2"):
            report = verify(f, field=field)
            assert not report.valid and "non-integer" in report.summary()
    third = STRASSEN.replace(field="Q", u=STRASSEN.u * Fraction(1, 3), w=STRASSEN.w * 3)
    assert not verify(third, field="Z2").valid  # odd denominators too
    # integer values stored as Fractions are integers
    assert verify(STRASSEN.replace(field="Q", u=STRASSEN.u * Fraction(2, 2))).valid


def test_large_common_denominators_fall_back_to_python_integers():
    d = 2**21  # one 1/2^21 in each of u, v, w: the scale 2^63 does not fit int64
    u = STRASSEN.u.astype(object)
    u[0] = u[0] * Fraction(1, d)
    v = STRASSEN.v.astype(object)
    v[0] = v[0] * Fraction(1, d)
    w = STRASSEN.w.astype(object)
    w[0] = w[0] * d * d
    w[1] = w[1] * Fraction(1, d)
    u[1] = u[1] * d
    f = STRASSEN.replace(field="Q", u=u, v=v, w=w)
    assert verify(f).valid
    w[2] = w[2] * Fraction(d + 1, d)
    assert verify(f.replace(w=w)).wrong_entries > 0


def test_extreme_int64_and_uint64_values_are_never_wrapped():
    u = STRASSEN.u.copy()
    u[0, 0] = -2**63  # np.abs(-2^63) is -2^63: an overflow guard on it passed before
    assert not verify(STRASSEN.replace(u=u)).valid
    for big in (np.uint64(2**64 - 1), np.uint64(2**63)):
        a = STRASSEN.u.astype(np.uint64)
        a[0, 0] = big
        assert exact_array(a)[0, 0] == int(big)  # not -1 / -2^63
        assert not verify(STRASSEN.replace(u=a)).valid
    # 2^64 + 1 == 1 modulo 2^64: a wrapped coefficient would make this look like Strassen
    u = STRASSEN.u.astype(object)
    u[0, 0] = 2**64 + 1
    assert not verify(STRASSEN.replace(u=u)).valid


def test_dense_factors_of_a_large_format_verify_in_bounded_memory():
    """<16,16,16> rank 20 with dense factors: R x (n m p)^2 = 335M products, never materialised."""
    import resource
    rng = np.random.default_rng(0)
    u, v, w = (rng.integers(-1, 2, (20, 256)) for _ in range(3))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = verify(Factorization(shape=(16, 16, 16), field="Z", u=u, v=v, w=w))
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KiB
    assert not report.valid and report.wrong_entries > 10**6
    assert grown < 1.5 * 2**20  # < 1.5 GiB (the target itself is 128 MiB; 26 GB before)
    # a dense valid one: the naive algorithm plus a dense term and its negation
    f = naive(4, 4, 4)
    dense = rng.integers(1, 3, (1, 16))
    g = f.replace(u=np.vstack([f.u, dense, dense]), v=np.vstack([f.v, dense, dense]),
                  w=np.vstack([f.w, dense, -dense]))
    assert verify(g).valid
    assert not verify(g.replace(w=np.vstack([f.w, dense, -dense + 1]))).valid


@given(seeds)
def test_verify_terms_checks_any_target_tensor(seed):
    rng = np.random.default_rng(seed)
    u, v, w = rng.integers(-2, 3, (5, 3)), rng.integers(-2, 3, (5, 4)), rng.integers(-2, 3, (5, 2))
    target = reconstruct(u, v, w)
    assert verify_terms(u, v, w, target).valid
    target[0, 0, 0] += 1
    report = verify_terms(u, v, w, target)
    assert not report.valid and report.first_wrong[0] == (0, 0, 0) and report.wrong_entries == 1


def test_large_coefficients_take_the_overflow_safe_path():
    big = 2**32  # big * big wraps to 0 in int64
    zero = np.zeros((1, 1, 1), dtype=np.int64)
    assert not verify_terms([[big]], [[big]], [[1]], zero).valid
    assert verify_terms([[big], [big]], [[big], [-big]], [[1], [1]], zero).valid
    assert not verify_terms([[big], [big]], [[big], [-big + 1]], [[1], [1]], zero).valid


def test_rational_coefficients_verify_exactly():
    half = Fraction(1, 2)
    f = STRASSEN.replace(field="Q", u=STRASSEN.u * half, w=STRASSEN.w * 2)
    assert verify(f).valid
    g = f.replace(w=f.w * Fraction(3, 2))
    assert not verify(g).valid


@given(st.sampled_from(SMALL), seeds)
def test_canonical_form_ignores_term_order_and_sign_flips(f, seed):
    rng = np.random.default_rng(seed)
    order = rng.permutation(f.rank)
    su, sv = rng.choice([-1, 1], (2, f.rank, 1))
    g = f.replace(u=f.u[order] * su, v=f.v[order] * sv, w=f.w[order] * su * sv)
    assert verify(g).valid
    assert same_terms(f, g)
    c = canonical(g)
    assert same_terms(c, canonical(c)) and np.array_equal(canonical(c).u, c.u)
    for a in (c.u, c.v):
        for row in a:
            assert row[np.flatnonzero(row)[0]] > 0
    assert not same_terms(f, f.replace(w=f.w * 2))


def test_variants_cover_the_six_permuted_formats_and_verify():
    for f in [library.get(2, 3, 4), library.get(3, 4, 5), library.get(2, 2, 3), F2_345]:
        shapes = [g.shape for g in variants(f)]
        assert set(shapes) == set(itertools.permutations(f.shape)) and len(shapes) == 6
        for g in variants(f):
            assert verify(g).valid and g.rank == f.rank and g.field == f.field
            assert g.field != "Z2" or not verify(g, field="Z").valid
        assert for_shape(f, f.shape[::-1]).shape == f.shape[::-1]
    with pytest.raises(TensorgameError):
        for_shape(STRASSEN, (2, 2, 3))


def test_transpose_and_cyclic_shift_are_involutions_up_to_order():
    f = library.get(2, 3, 4)
    assert same_terms(transpose(transpose(f)), f)
    assert same_terms(cyclic_shift(cyclic_shift(cyclic_shift(f))), f)


def test_rank_upper_bound_bounds_the_known_ranks():
    for (n, m, p), best in [((2, 2, 2), 7), ((2, 2, 3), 11), ((3, 3, 3), 23)]:
        bound = rank_upper_bound(matmul_tensor(n, m, p))
        assert bound == n * m * p >= library.get(n, m, p).rank == best
    # <2,2,2> has rank exactly 7, so T minus k of Strassen's terms has rank exactly 7 - k
    t = matmul_tensor(2, 2, 2)
    for k in range(8):
        residual = t - reconstruct(STRASSEN.u[:k], STRASSEN.v[:k], STRASSEN.w[:k])
        assert rank_upper_bound(residual) >= 7 - k
    assert rank_upper_bound(t - reconstruct(*STRASSEN.factors)) == 0


def test_factorization_rejects_inconsistent_arrays():
    with pytest.raises(TensorgameError):
        Factorization(shape=(2, 2, 2), field="Z", u=np.zeros((3, 4)), v=np.zeros((3, 4)),
                      w=np.zeros((2, 4)))
    with pytest.raises(TensorgameError):
        Factorization(shape=(2, 2, 2), field="Z", u=[[Fraction(1, 2)] * 4], v=[[1] * 4], w=[[1] * 4])


def test_verification_time_is_bounded_too():
    import time
    # many tiny terms: 400,001 terms of <1,1,1> that cancel down to the one product
    ones = np.ones((400_001, 1), dtype=np.int64)
    w = ones.copy()
    w[1::2] = -1
    start = time.process_time()
    assert verify(Factorization(shape=(1, 1, 1), field="Z", u=ones, v=ones, w=w)).valid
    assert time.process_time() - start < 15  # ~1 s; a Python loop per term took minutes
    # dense terms whose products no machine sums in reasonable time: refused in one line
    rng = np.random.default_rng(1)
    u, v, w = (rng.integers(1, 3, (3000, 256)) for _ in range(3))
    with pytest.raises(TensorgameError, match="too large to verify exactly"):
        verify(Factorization(shape=(16, 16, 16), field="Z", u=u, v=v, w=w))


def test_strongest_field_agrees_with_the_single_field_checks():
    from tensorgame.factorization import strongest_field
    half = STRASSEN.replace(field="Q", u=STRASSEN.u * Fraction(1, 2), w=STRASSEN.w * 2)
    mod2 = library.get(4, 4, 4, field="Z2")
    broken = STRASSEN.replace(w=STRASSEN.w * 2)
    for f, expected in ((STRASSEN, "Z"), (half, "Q"), (mod2, "Z2"), (broken, None)):
        field, report = strongest_field(*f.factors, f.target())
        assert field == expected
        assert report.valid == verify(f, field="Q").valid
        assert [verify(f, field=x).valid for x in ("Z", "Q", "Z2")] == [
            expected == "Z", expected in ("Z", "Q"), expected in ("Z", "Z2")]


def test_reduced_mod2_drops_vanishing_terms_and_refuses_fractions():
    from tensorgame.factorization import reduced_mod2

    # terms 1 + 2 - 3: three terms over Z, of which the middle one vanishes mod 2
    scheme = Factorization((1, 1, 1), "Z", [[1], [2], [3]], [[1], [1], [1]], [[1], [1], [-1]])
    mod2 = reduced_mod2(scheme)
    assert mod2.field == "Z2" and mod2.rank == 2
    assert mod2.u.tolist() == [[1], [1]] and mod2.w.tolist() == [[1], [1]]
    half = Factorization((1, 1, 1), "Q", [[Fraction(1, 2)]], [[2]], [[1]])
    with pytest.raises(TensorgameError, match="no reduction mod 2"):
        reduced_mod2(half)
