"""An algorithm as readable formulas, and back.

Matrix entries are named 1-based: ``a12`` is A[0, 1]; when an index reaches 10 the two indices
are separated, ``a1_10``. A factorization of <n,m,p> reads

    m1 = (a11 + a22) * (b11 + b22)
    ...
    c11 = m1 + m4 - m5 + m7

Coefficients other than +-1 are written ``2*a11`` or ``1/2*a11``; ``parse`` also accepts them
without the ``*`` (``2a11``, ``1/2a11``), as the FastMatrixMultiplication collection writes them.
"""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np

from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization

_TERM = re.compile(r"\s*([+-]?)\s*(?:([0-9]+(?:/[0-9]+)?)\s*\*?\s*)?([abcm])([0-9_]+)\s*")


def entry_name(letter: str, row: int, col: int) -> str:
    """1-based name of entry (row, col) (0-based arguments): a12, or a1_10 past 9."""
    if row < 9 and col < 9:
        return f"{letter}{row + 1}{col + 1}"
    return f"{letter}{row + 1}_{col + 1}"


def linear_form(coefficients, names: list[str]) -> str:
    """``a11 - 2*a12 + 1/2*a21`` for the non-zero coefficients; ``0`` if there are none."""
    parts = []
    for x, name in zip(coefficients, names):
        x = Fraction(x)
        if x == 0:
            continue
        sign = "-" if x < 0 else "+"
        size = abs(x)
        parts.append((sign, name if size == 1 else f"{size}*{name}"))
    if not parts:
        return "0"
    first_sign, first = parts[0]
    text = ("-" if first_sign == "-" else "") + first
    return text + "".join(f" {sign} {body}" for sign, body in parts[1:])


def render(f: Factorization) -> list[str]:
    """The products m1..mR and the entries of C as formula lines."""
    n, m, p = f.shape
    a = [entry_name("a", i, j) for i in range(n) for j in range(m)]
    b = [entry_name("b", j, k) for j in range(m) for k in range(p)]
    products = [f"m{r + 1}" for r in range(f.rank)]
    lines = []
    for r in range(f.rank):
        left, right = linear_form(f.u[r], a), linear_form(f.v[r], b)
        lines.append(f"m{r + 1} = {_factor(left, f.u[r])} * {_factor(right, f.v[r])}")
    for i in range(n):
        for k in range(p):
            lines.append(f"{entry_name('c', i, k)} = {linear_form(f.w[:, k * n + i], products)}")
    return lines


def _factor(text: str, coefficients) -> str:
    """Parenthesised unless it is a single entry with coefficient 1."""
    single = np.count_nonzero(np.asarray(coefficients) != 0) == 1 and not text.startswith("-")
    return text if single and "*" not in text else f"({text})"


def parse(shape: tuple[int, int, int], lines: list[str], field: str = "Z",
          meta: dict | None = None) -> Factorization:
    """A Factorization from formula lines ``mK = (...) * (...)`` and ``cIJ = ...`` (any order).

    Products are numbered m1..mR without gaps; every entry of C not given is 0.
    """
    n, m, p = shape
    products, outputs = {}, {}
    for line in lines:
        if not line.strip():
            continue
        name, _, expression = line.partition("=")
        name = name.strip()
        if re.fullmatch(r"m[0-9]+", name):
            halves = _split_product(expression, line)
            products[int(name[1:])] = halves
        elif re.fullmatch(r"c[0-9_]+", name):
            outputs[_indices(name[1:], line)] = expression
        else:
            raise TensorgameError(f"cannot parse formula line {line!r}")
    rank = len(products)
    if sorted(products) != list(range(1, rank + 1)):
        raise TensorgameError("products must be numbered m1..mR without gaps")
    u = [[Fraction(0)] * (n * m) for _ in range(rank)]
    v = [[Fraction(0)] * (m * p) for _ in range(rank)]
    w = [[Fraction(0)] * (p * n) for _ in range(rank)]
    for r, (left, right) in products.items():
        for (i, j), x in _linear(left, "a", line=left).items():
            _check(i < n and j < m, left)
            u[r - 1][i * m + j] += x
        for (j, k), x in _linear(right, "b", line=right).items():
            _check(j < m and k < p, right)
            v[r - 1][j * p + k] += x
    for (i, k), expression in outputs.items():
        _check(i < n and k < p, expression)
        for r, x in _linear(expression, "m", line=expression).items():
            _check(1 <= r <= rank, expression)
            w[r - 1][k * n + i] += x
    return Factorization(shape=shape, field=field, u=u, v=v, w=w, meta=meta or {})


def _split_product(expression: str, line: str) -> tuple[str, str]:
    depth, cut = 0, None
    for position, char in enumerate(expression):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "*" and depth == 0:
            cut = position
    if cut is None:
        raise TensorgameError(f"product without a top-level '*': {line!r}")
    return expression[:cut].strip(), expression[cut + 1:].strip()


def _indices(digits: str, line: str) -> tuple[int, int]:
    if "_" in digits:
        row, _, col = digits.partition("_")
    elif len(digits) == 2:
        row, col = digits
    else:
        raise TensorgameError(f"ambiguous entry index {digits!r} in {line!r}")
    return int(row) - 1, int(col) - 1


def _linear(expression: str, letter: str, line: str) -> dict:
    """{index: coefficient} of a sum like ``(a11 - 2*a12)``; index (row, col) or the product r."""
    text = expression.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    out, position = {}, 0
    if text.strip() == "0":
        return out
    while position < len(text):
        match = _TERM.match(text, position)
        if not match or match.end() == position or match.group(3) != letter:
            raise TensorgameError(f"cannot parse {expression!r} near {text[position:]!r}")
        sign, size, _, digits = match.groups()
        if position and not sign:
            raise TensorgameError(f"missing + or - before {match.group().strip()!r} in "
                                  f"{expression!r}")
        x = Fraction(size) if size else Fraction(1)
        key = int(digits) if letter == "m" else _indices(digits, line)
        out[key] = out.get(key, 0) + (-x if sign == "-" else x)
        position = match.end()
    return out


def _check(condition: bool, text: str) -> None:
    if not condition:
        raise TensorgameError(f"index out of range in {text!r}")
