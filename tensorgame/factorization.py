"""The Factorization type, exact verification, canonical forms and the symmetries of T.

A Factorization of <n,m,p> holds R terms (u_r, v_r, w_r), term-major: ``u`` is [R, n*m], ``v`` is
[R, m*p], ``w`` is [R, p*n] (DESIGN.md section 1). Coefficients are exact: int64 arrays, or object
arrays of ``fractions.Fraction`` when some coefficient is not an integer (field "Q").
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Any

import numpy as np

from tensorgame.errors import TensorgameError
from tensorgame.tensors import matmul_tensor

FIELDS = ("Z", "Q", "Z2")
_INT64_SAFE = 2**62


def exact_array(values: Any) -> np.ndarray:
    """A 2-D exact coefficient array: int64 if every entry is an integer that fits, else an
    object array of Fractions (integers beyond int64 included, never wrapped)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iub" and (
            values.dtype.kind != "u" or values.size == 0 or int(values.max()) < 2**63):
        return values.astype(np.int64).reshape((0, 0) if values.shape == (0,) else values.shape)
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        values = values.astype(object)  # uint64 values >= 2^63: exact Python integers
    array = np.asarray(values, dtype=object)
    if array.ndim == 1 and array.size == 0:
        array = array.reshape(0, 0)
    distinct, inverse = _distinct_objects(array)
    try:
        exact = [Fraction(x) for x in distinct]
    except (TypeError, ValueError, OverflowError) as error:  # None, "abc", nan, inf
        raise TensorgameError(f"coefficients must be exact numbers: {error}") from None
    if all(x.denominator == 1 and -2**63 <= x.numerator < 2**63 for x in exact):
        return np.array([int(x) for x in exact], dtype=np.int64)[inverse].reshape(array.shape)
    return np.array(exact + [None], dtype=object)[:-1][inverse].reshape(array.shape)


def _distinct_objects(array: np.ndarray) -> tuple[list, np.ndarray]:
    """(distinct objects, index of each entry's object): arrays of shared Fractions convert fast."""
    flat = array.ravel().tolist()
    ids = np.fromiter(map(id, flat), dtype=np.int64, count=len(flat))
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    return [flat[i] for i in first], inverse.reshape(-1)


@dataclasses.dataclass(frozen=True, eq=False)
class Factorization:
    """R rank-1 terms claimed to sum to the tensor of <n,m,p> over ``field``."""

    shape: tuple[int, int, int]
    field: str
    u: np.ndarray  # [R, n*m]
    v: np.ndarray  # [R, m*p]
    w: np.ndarray  # [R, p*n]
    meta: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        shape = tuple(int(d) for d in self.shape)
        if len(shape) != 3 or min(shape) < 1:
            raise TensorgameError(f"shape must be three positive integers, got {self.shape}")
        if self.field not in FIELDS:
            raise TensorgameError(f"unknown field {self.field!r} (expected one of {FIELDS})")
        object.__setattr__(self, "shape", shape)
        n, m, p = shape
        arrays = {}
        for name, length in (("u", n * m), ("v", m * p), ("w", p * n)):
            array = exact_array(getattr(self, name))
            if array.size == 0:
                array = np.zeros((0, length), dtype=np.int64)
            if array.ndim != 2 or array.shape[1] != length:
                raise TensorgameError(
                    f"{name} must be [R, {length}] for <{n},{m},{p}>, got shape {array.shape}")
            arrays[name] = array
        if not arrays["u"].shape[0] == arrays["v"].shape[0] == arrays["w"].shape[0]:
            raise TensorgameError("u, v and w must hold the same number of terms")
        if self.field in ("Z", "Z2") and not all(is_integral(a) for a in arrays.values()):
            raise TensorgameError(f"field {self.field} needs integer coefficients")
        for name, array in arrays.items():
            object.__setattr__(self, name, array)
        object.__setattr__(self, "meta", dict(self.meta))

    @property
    def rank(self) -> int:
        return int(self.u.shape[0])

    @property
    def factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.u, self.v, self.w

    def target(self) -> np.ndarray:
        """The tensor this factorization claims to decompose, [n*m, m*p, p*n]."""
        return matmul_tensor(*self.shape)

    def coefficients(self) -> list[Fraction | int]:
        """The sorted set of coefficient values used."""
        values = set()
        for array in self.factors:
            values.update(array.ravel().tolist())
        return sorted(values)

    def nonzeros(self) -> int:
        return int(sum(np.count_nonzero(a != 0) for a in self.factors))

    def replace(self, **changes) -> "Factorization":
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class Report:
    """The verdict of an exact check of sum_r u_r (x) v_r (x) w_r against a target tensor."""

    valid: bool
    field: str
    rank: int
    wrong_entries: int
    first_wrong: tuple[tuple[int, int, int], ...]  # up to 5 indices of wrong entries
    reason: str = ""  # set when the verdict is not about wrong entries (e.g. a field rule)

    def summary(self) -> str:
        if self.valid:
            return f"valid over {self.field}, rank {self.rank}"
        if self.reason:
            return self.reason
        first = ",".join(map(str, self.first_wrong[0]))
        return f"{self.wrong_entries} wrong entries, first at ({first})"


def verify(f: Factorization, field: str | None = None, target: np.ndarray | None = None) -> Report:
    """Check ``f`` exactly over ``field`` (default: its own) against ``target`` (default: T).

    The field rules live here: over "Z" and "Z2" every coefficient must be an integer (a
    factorization with a non-integer coefficient is no Z or Z2 algorithm, whatever its sum);
    over "Z2" the sum is compared modulo 2. Integers stay int64 while a bound shows no overflow is
    possible, else Python integers; rationals are scaled to integers by a common denominator per
    factor. Never floats. Memory stays proportional to the target tensor (see ``verify_terms``).
    """
    field = f.field if field is None else field
    target = f.target() if target is None else np.asarray(target)
    return verify_terms(f.u, f.v, f.w, target, field)


def verify_terms(u: np.ndarray, v: np.ndarray, w: np.ndarray, target: np.ndarray,
                 field: str = "Z") -> Report:
    """Exact check that term-major u [R, I], v [R, J], w [R, K] sum to ``target`` [I, J, K].

    Working memory is a small multiple of the target's I*J*K entries whatever R and the density
    of the factors: sparse terms are scattered in bounded chunks, dense ones are summed as an
    integer matrix product over a few terms at a time. A check of more than ``MAX_PRODUCTS``
    products (``MAX_BIG_PRODUCTS`` when coefficients are too large for int64) is refused as a
    TensorgameError rather than run for many minutes.
    """
    return _verify(u, v, w, target, (field,))[0]


def strongest_field(u: np.ndarray, v: np.ndarray, w: np.ndarray,
                    target: np.ndarray) -> tuple[str | None, Report]:
    """The strongest field the terms are valid in ("Z", then "Q" when some coefficient is not an
    integer, then "Z2"; None if none) and the report over Q, from a single summation."""
    over_q, over_z2 = _verify(u, v, w, target, ("Q", "Z2"))
    if over_q.valid:
        integral = all(is_integral(a) for a in (u, v, w))
        return ("Z" if integral else "Q"), over_q
    return ("Z2" if over_z2.valid else None), over_q


def _verify(u, v, w, target, fields: tuple[str, ...]) -> list[Report]:
    """One Report per field in ``fields``, summing the terms once."""
    for field in fields:
        if field not in FIELDS:
            raise TensorgameError(f"unknown field {field!r} (expected one of {FIELDS})")
    u, v, w = (a if isinstance(a, np.ndarray) and a.dtype == object else exact_array(a)
               for a in (u, v, w))
    target = exact_array(np.asarray(target).reshape(-1)).reshape(np.shape(target))
    if (u.ndim, v.ndim, w.ndim) != (2, 2, 2) or not u.shape[0] == v.shape[0] == w.shape[0]:
        raise TensorgameError(f"factors must be [R, I], [R, J], [R, K] with one R, got shapes "
                              f"{u.shape}, {v.shape}, {w.shape}")
    if (u.shape[1], v.shape[1], w.shape[1]) != target.shape:
        raise TensorgameError(
            f"factor lengths {(u.shape[1], v.shape[1], w.shape[1])} do not match target "
            f"shape {target.shape}")
    rank = int(u.shape[0])
    (u, du), (v, dv), (w, dw) = (_integerize(a) for a in (u, v, w))
    scale = du * dv * dw
    reports = {}
    for field in fields:
        if field != "Q" and scale != 1:  # some denominator is not 1
            reports[field] = Report(
                valid=False, field=field, rank=rank, wrong_entries=0, first_wrong=(),
                reason=f"has non-integer coefficients, so it is no {field} algorithm")
    todo = [field for field in fields if field not in reports]
    if not todo:
        return [reports[field] for field in fields]
    if todo == ["Z2"]:  # reduce first: small numbers, int64
        u, v, w = (_small(a % 2) for a in (u, v, w))
    total = _sum_of_terms(u, v, w, target.shape)
    if total.dtype != object and _largest(target) * scale + _largest(total) < _INT64_SAFE:
        total -= target.astype(np.int64) if scale == 1 else target.astype(np.int64) * scale
    else:
        total = total.astype(object) - target.astype(object) * scale
    for field in todo:  # the sum mod 2 is the sum of the terms reduced mod 2
        difference = (total % 2 if field == "Z2" else total).reshape(-1)
        reports[field] = _report(difference, field, rank, target.shape)
    return [reports[field] for field in fields]


def _report(difference: np.ndarray, field: str, rank: int, shape: tuple) -> Report:
    """The verdict from the flat difference sum - target: wrong entries and the first five."""
    wrong = int(np.count_nonzero(difference))
    first = []
    for start in range(0, difference.size if wrong else 0, 2**20):
        first.extend(start + np.flatnonzero(difference[start:start + 2**20])[:5 - len(first)])
        if len(first) == 5:
            break
    return Report(
        valid=wrong == 0,
        field=field,
        rank=rank,
        wrong_entries=wrong,
        first_wrong=tuple(tuple(int(x) for x in np.unravel_index(i, shape)) for i in first),
    )


def is_integral(array: np.ndarray) -> bool:
    """True if every coefficient of an exact array is an integer."""
    array = np.asarray(array)
    if array.dtype != object:
        return array.dtype.kind in "iub"
    return all(Fraction(x).denominator == 1 for x in _distinct_objects(array)[0])


def _largest(array: np.ndarray) -> int:
    """max |x| as a Python int (np.abs maps int64's -2^63 to itself, so it is not used)."""
    if array.size == 0:
        return 0
    return max(-int(array.min()), int(array.max()))


def _small(array: np.ndarray) -> np.ndarray:
    """An integer array as int64 when its values fit, else unchanged (object)."""
    if array.dtype != object or _largest(array) >= _INT64_SAFE:
        return array
    return array.astype(np.int64)


def _integerize(array: np.ndarray) -> tuple[np.ndarray, int]:
    """(array * d, d) with d the lcm of the denominators, as integers (int64 when they fit)."""
    if array.dtype != object:
        return array.astype(np.int64), 1
    distinct, inverse = _distinct_objects(array)
    exact = [Fraction(x) for x in distinct]
    d = math.lcm(*(x.denominator for x in exact))
    scaled = [x.numerator * (d // x.denominator) for x in exact]
    if max(map(abs, scaled), default=0) < _INT64_SAFE:
        return np.array(scaled, dtype=np.int64)[inverse].reshape(array.shape), d
    return np.array(scaled + [None], dtype=object)[:-1][inverse].reshape(array.shape), d


MAX_PRODUCTS = 2**30  # products summed in int64 (up to about a minute) before refusing
MAX_BIG_PRODUCTS = 2**24  # products summed with Python integers (about 10 s) before refusing
_CHUNK_PRODUCTS = 2**21  # sparse products scattered at once (~100 MB of index arrays)
_DENSE_PRODUCTS = 2**12  # a term with fewer products is always scattered


def _sum_of_terms(u: np.ndarray, v: np.ndarray, w: np.ndarray,
                  shape: tuple[int, int, int]) -> np.ndarray:
    """Exact sum of the rank-1 terms in memory proportional to the I*J*K entries of ``shape``.

    Term r has nnz(u_r) * nnz(v_r) * nnz(w_r) non-zero products. Terms with few of them are
    scattered (flat indices and values by index arithmetic, ``np.add.at``) in chunks of at most
    ``_CHUNK_PRODUCTS`` products; terms with many (a sixteenth of I*J*K or more, and at least
    ``_DENSE_PRODUCTS``) are summed as (u_r (x) v_r)^T @ w_r matrix products, a block of terms
    at a time, so no intermediate exceeds max(I*J*K, _CHUNK_PRODUCTS) entries. int64 is used
    while a bound on every partial sum shows it cannot overflow, else Python integers. Time is
    bounded too: more than ``MAX_PRODUCTS`` products (``MAX_BIG_PRODUCTS`` with Python integers)
    is refused as a one-line TensorgameError instead of running for many minutes.
    """
    size_i, size_j, size_k = shape
    volume = size_i * size_j * size_k
    bound = u.shape[0] * _largest(u) * _largest(v) * _largest(w)
    dtype = np.int64 if bound < _INT64_SAFE else object
    counts = [np.count_nonzero(a, axis=1).astype(np.int64) for a in (u, v, w)]
    products = counts[0] * counts[1] * counts[2]  # each <= I*J*K, no overflow
    dense = (products * 16 >= volume) & (products >= _DENSE_PRODUCTS)
    sparse_terms, dense_terms = np.flatnonzero(~dense), np.flatnonzero(dense)
    cumulative = np.cumsum(products[sparse_terms])
    work = (int(cumulative[-1]) if cumulative.size else 0) + dense_terms.size * volume // 16
    limit = MAX_PRODUCTS if dtype is np.int64 else MAX_BIG_PRODUCTS
    if work > limit:
        big = "" if dtype is np.int64 else " with coefficients beyond 64-bit integers"
        raise TensorgameError(f"too large to verify exactly{big}: about {work} products to "
                              f"sum (limit {limit})")
    total = np.zeros(volume, dtype=dtype)
    start, done = 0, 0
    while start < sparse_terms.size:  # chunks of consecutive sparse terms
        stop = max(start + 1, int(np.searchsorted(cumulative, done + _CHUNK_PRODUCTS,
                                                  side="right")))
        pick = sparse_terms[start:stop]
        terms, index = np.nonzero(u[pick])
        values = u[pick][terms, index].astype(dtype)
        for factor in (v[pick], w[pick]):
            terms, index, values = _outer_nonzeros(terms, index, values, factor, dtype)
        np.add.at(total, index, values)
        start, done = stop, int(cumulative[stop - 1])
    block = max(1, max(volume, _CHUNK_PRODUCTS) // (size_i * size_j))  # uv: <= that many entries
    flat = total.reshape(size_i * size_j, size_k)
    for start in range(0, dense_terms.size, block):
        pick = dense_terms[start:start + block]
        uv = (u[pick].astype(dtype)[:, :, None] * v[pick].astype(dtype)[:, None, :])
        flat += uv.reshape(pick.size, size_i * size_j).T @ w[pick].astype(dtype)
    return total.reshape(shape)


def _outer_nonzeros(terms: np.ndarray, index: np.ndarray, values: np.ndarray, factor: np.ndarray,
                    dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair each sparse entry (term r, index, value), sorted by term, with every non-zero j of
    factor[r]: (r, index * len(factor[r]) + j, value * factor[r, j]), again sorted by term."""
    rank, length = factor.shape
    terms_b, index_b = np.nonzero(factor)
    values_b = factor[terms_b, index_b].astype(dtype)
    count_b = np.bincount(terms_b, minlength=rank)
    reps = count_b[terms]  # [E] partners of each entry
    pick_a = np.repeat(np.arange(terms.size), reps)
    first_b = (np.cumsum(count_b) - count_b)[terms]
    pick_b = np.arange(pick_a.size) - np.repeat(np.cumsum(reps) - reps - first_b, reps)
    return terms[pick_a], index[pick_a] * length + index_b[pick_b], values[pick_a] * values_b[pick_b]


# ----------------------------------------------------------------------------- canonical form

def canonical(f: Factorization) -> Factorization:
    """Terms sign-normalised (first non-zero of u and of v positive) and sorted; Z2 reduced mod 2.

    Two factorizations that differ only in term order and such sign flips get the same form.
    """
    u, v, w = (a.copy() for a in f.factors)
    if f.field == "Z2":
        u, v, w = u % 2, v % 2, w % 2
    else:
        for r in range(f.rank):
            for a in (u, v):
                nz = np.flatnonzero(a[r] != 0)
                if nz.size and a[r, nz[0]] < 0:
                    a[r] = -a[r]
                    w[r] = -w[r]
    keys = [tuple(map(Fraction, np.concatenate([u[r], v[r], w[r]]).tolist()))
            for r in range(f.rank)]
    order = sorted(range(f.rank), key=keys.__getitem__)
    return f.replace(u=u[order], v=v[order], w=w[order])


def same_terms(f: Factorization, g: Factorization) -> bool:
    """True if the canonical forms of f and g are identical (same shape, field and terms)."""
    a, b = canonical(f), canonical(g)
    return (a.shape == b.shape and a.field == b.field and a.rank == b.rank
            and all(np.array_equal(x, y) for x, y in zip(a.factors, b.factors)))


def reduced_mod2(f: Factorization) -> Factorization:
    """``f`` (integer coefficients) mod 2, as a factorization over Z2: the terms that vanish mod 2
    are dropped."""
    if not all(is_integral(a) for a in f.factors):
        raise TensorgameError("a scheme with non-integer coefficients has no reduction mod 2")
    u, v, w = ((a % 2).astype(np.int64) for a in f.factors)
    live = u.any(axis=1) & v.any(axis=1) & w.any(axis=1)
    return Factorization(f.shape, "Z2", u[live], v[live], w[live], meta=dict(f.meta))


# ----------------------------------------------------------------------------- symmetries

def cyclic_shift(f: Factorization) -> Factorization:
    """(u, v, w) -> (v, w, u): a factorization of <n,m,p> becomes one of <m,p,n>."""
    n, m, p = f.shape
    return f.replace(shape=(m, p, n), u=f.v, v=f.w, w=f.u)


def transpose(f: Factorization) -> Factorization:
    """From C = A B to C^T = B^T A^T: a factorization of <n,m,p> becomes one of <p,m,n>."""
    n, m, p = f.shape

    def t(array, rows, cols):
        return array.reshape(-1, rows, cols).transpose(0, 2, 1).reshape(array.shape[0], -1)

    return f.replace(shape=(p, m, n), u=t(f.v, m, p), v=t(f.u, n, m), w=t(f.w, p, n))


def variants(f: Factorization) -> list[Factorization]:
    """The six factorizations of the permuted formats reachable by transpose and cyclic shifts."""
    out = []
    for g in (f, transpose(f)):
        for _ in range(3):
            out.append(g)
            g = cyclic_shift(g)
    return out


def for_shape(f: Factorization, shape: tuple[int, int, int]) -> Factorization:
    """The variant of ``f`` for ``shape`` (a permutation of f.shape), or a TensorgameError."""
    for g in variants(f):
        if g.shape == tuple(shape):
            return g
    raise TensorgameError(f"<{','.join(map(str, shape))}> is not a permutation of "
                          f"<{','.join(map(str, f.shape))}>")


def change_basis(f: Factorization, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> Factorization:
    """Apply invertible X (n x n), Y (m x m), Z (p x p) as in DESIGN.md section 1.

    U_r -> X^T U_r Y^T, V_r -> Y^-T V_r Z^T, W_r -> Z^-T W_r X^-T. Unimodular integer matrices
    keep integer coefficients integer; other invertible matrices give rationals.
    """
    n, m, p = f.shape
    x, y, z = (exact_array(a) for a in (x, y, z))
    for mat, d, name in ((x, n, "X"), (y, m, "Y"), (z, p, "Z")):
        if mat.shape != (d, d):
            raise TensorgameError(f"{name} must be {d}x{d}, got {mat.shape}")
    yi, zi, xi = (_inverse(a) for a in (y, z, x))

    def apply(array, left, right, rows, cols):
        mats = array.reshape(-1, rows, cols).astype(object)
        out = [left.astype(object) @ mat @ right.astype(object) for mat in mats]
        return exact_array(np.array(out, dtype=object).reshape(array.shape[0], -1)
                           if out else array)

    u = apply(f.u, x.T, y.T, n, m)
    v = apply(f.v, yi.T, z.T, m, p)
    w = apply(f.w, zi.T, xi.T, p, n)
    field = f.field
    if field == "Z" and any(a.dtype == object for a in (u, v, w)):
        field = "Q"
    return f.replace(u=u, v=v, w=w, field=field)


def _inverse(matrix: np.ndarray) -> np.ndarray:
    """Exact inverse by Gauss-Jordan over Fractions; a TensorgameError if singular."""
    size = matrix.shape[0]
    rows = [[Fraction(x) for x in row] + [Fraction(int(i == j)) for j in range(size)]
            for i, row in enumerate(matrix.tolist())]
    for col in range(size):
        pivot = next((r for r in range(col, size) if rows[r][col] != 0), None)
        if pivot is None:
            raise TensorgameError("change of basis matrix is singular")
        rows[col], rows[pivot] = rows[pivot], rows[col]
        head = [x / rows[col][col] for x in rows[col]]
        rows[col] = head
        for r in range(size):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], head)]
    return exact_array([row[size:] for row in rows])
