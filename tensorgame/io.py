"""Factorization files: strict JSON v1 read/write and import of published factorizations.

``tensorgame/factorization-v1`` (DESIGN.md section 2) is the only format this project writes. A
file whose name ends in ``.gz`` is the same JSON, gzip-compressed (the bundled library uses it).

Reading is strict: every deviation (missing or unknown key, wrong vector length, rank that
disagrees with the term count, a non-integer coefficient in a Z file, a malformed "p/q" fraction,
a Z2 coefficient other than 0/1, an unknown field or format tag, invalid JSON, a file over
``MAX_FILE_BYTES``) is one TensorgameError line naming the file and the problem. Z2 files hold
coefficients 0/1 only: ``save`` writes a Z2 factorization reduced mod 2, ``load`` rejects others.

``import_file`` reads DeepMind's AlphaTensor npz files and the JSON schemes of the
FastMatrixMultiplication collection. The npz members that hold pickled object arrays are read
by a restricted unpickler that admits only numpy's array reconstruction; nothing else is ever
unpickled (no ``allow_pickle=True``).
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import pickle
import re
import tempfile
import zipfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from tensorgame.errors import TensorgameError
from tensorgame.factorization import FIELDS, Factorization, exact_array, verify_terms
from tensorgame.tensors import matmul_tensor

FORMAT = "tensorgame/factorization-v1"
MAX_FILE_BYTES = 64 * 2**20  # also the limit on decompressed .gz content and npz members
MAX_VOLUME = 4096  # n*m*p: the target tensor has (n*m*p)^2 entries
MAX_COEFFICIENT = 2**62  # numerators and denominators stay below this
_REQUIRED = ("format", "shape", "field", "rank", "u", "v", "w")
_OPTIONAL = ("meta",)
_FRACTION = re.compile(r"-?[0-9]+/[0-9]+")

DEEPMIND_META = {
    "licence": "CC BY 4.0",
    "attribution": ("DeepMind, AlphaTensor: Fawzi et al., Discovering faster matrix multiplication "
                    "algorithms with reinforcement learning, Nature 610, 47-53 (2022), "
                    "github.com/google-deepmind/alphatensor"),
}
FMM_META = {
    "licence": "MIT",
    "attribution": ("FastMatrixMultiplication collection, Copyright (c) 2025 Andrew Perminov, "
                    "github.com/dronperminov/FastMatrixMultiplication"),
}


# ----------------------------------------------------------------------------- v1 JSON

def load(path: str | os.PathLike) -> Factorization:
    """Read a v1 file (``.json`` or ``.json.gz``); any problem is a one-line TensorgameError."""
    return from_json(_parse_json(_read_limited(path), path), str(path))


def save(f: Factorization, path: str | os.PathLike) -> None:
    """Write ``f`` as v1 JSON (gzip if the name ends in .gz), atomically: temp file + os.replace."""
    path = Path(path)
    data = dumps(f).encode()
    if path.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=9, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def to_json(f: Factorization) -> dict:
    """The v1 JSON object of ``f``: integers as JSON integers, other rationals as "p/q" strings."""
    factors = f.factors
    if f.field == "Z2":
        factors = tuple(a % 2 for a in factors)
    obj = {"format": FORMAT, "shape": list(f.shape), "field": f.field, "rank": f.rank}
    for name, array in zip("uvw", factors):
        obj[name] = [[coefficient_to_json(x) for x in row] for row in array.tolist()]
    obj["meta"] = _plain(f.meta)
    return obj


def dumps(f: Factorization) -> str:
    """v1 JSON text with one term vector per line."""
    obj = to_json(f)
    lines = []
    for key, value in obj.items():
        if key in ("u", "v", "w"):
            rows = ",\n".join("    " + json.dumps(row) for row in value)
            lines.append(f'  "{key}": [\n{rows}\n  ]' if value else f'  "{key}": []')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def from_json(obj: Any, source: str = "<json>") -> Factorization:
    """Validate a parsed v1 object strictly; errors read ``source: problem``."""
    def fail(problem: str):
        raise TensorgameError(f"{source}: {problem}")

    if not isinstance(obj, dict):
        fail(f"expected a JSON object at the top level, got {type(obj).__name__}")
    if "format" in obj and obj["format"] != FORMAT:
        fail(f"unknown format tag {_short(obj['format'])} (expected {FORMAT!r})")
    for key in _REQUIRED:
        if key not in obj:
            fail(f"missing key {key!r}")
    unknown = sorted(set(obj) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        fail(f"unknown key {unknown[0]!r}")
    field = obj["field"]
    if field not in FIELDS:
        fail(f"unknown field {field!r} (expected one of {', '.join(FIELDS)})")
    shape = obj["shape"]
    if not (isinstance(shape, list) and len(shape) == 3
            and all(_is_int(d) and d >= 1 for d in shape)):
        fail(f"shape must be a list of three positive integers, got {_short(shape)}")
    n, m, p = shape
    if n * m * p > MAX_VOLUME:
        fail(f"shape <{n},{m},{p}> is too large (n*m*p = {n * m * p} > {MAX_VOLUME})")
    rank = obj["rank"]
    if not (_is_int(rank) and rank >= 0):
        fail(f"rank must be a non-negative integer, got {_short(rank)}")
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        fail(f"meta must be a JSON object, got {type(meta).__name__}")
    arrays = {}
    for name, length in (("u", n * m), ("v", m * p), ("w", p * n)):
        rows = obj[name]
        if not isinstance(rows, list):
            fail(f"{name} must be a list of term vectors")
        if len(rows) != rank:
            fail(f"rank is {rank} but {name} has {len(rows)} terms")
        arrays[name] = _parse_rows(rows, name, length, field, fail)
    return Factorization(shape=(n, m, p), field=field, meta=meta, **arrays)


def _parse_rows(rows: list, name: str, length: int, field: str, fail) -> np.ndarray:
    """[R, length] int64 (or Fraction objects for Q) from JSON rows, checked entry by entry."""
    parsed, fractions = [], {}  # "p/q" text -> its Fraction
    for r, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != length:
            size = len(row) if isinstance(row, list) else type(row).__name__
            fail(f"{name}[{r}] must be a list of {length} coefficients, got {size}")
        if all(type(x) is int for x in row):
            if any(abs(x) >= MAX_COEFFICIENT for x in row):
                fail(f"{name}[{r}] has a coefficient too large (limit 2^62)")
            if field == "Z2" and any(x not in (0, 1) for x in row):
                bad = next(x for x in row if x not in (0, 1))
                fail(f"{name}[{r}] has coefficient {bad} in a Z2 file (only 0 and 1 allowed)")
            parsed.append(row)
            continue
        position = next(i for i, x in enumerate(row) if type(x) is not int)
        value = row[position]
        where = f"{name}[{r}][{position}]"
        if field != "Q":
            fail(f"non-integer coefficient {_short(value)} at {where} in a {field} file")
        parsed.append([x if type(x) is int and abs(x) < MAX_COEFFICIENT
                       else fractions[x] if type(x) is str and x in fractions
                       else fractions.setdefault(x, _parse_rational(x, f"{name}[{r}][{i}]", fail))
                       for i, x in enumerate(row)])
    if not parsed:
        return np.zeros((0, length), dtype=np.int64)
    if all(type(x) is int for row in parsed for x in row):
        return np.array(parsed, dtype=np.int64)
    out = np.empty((len(parsed), length), dtype=object)
    out[:] = parsed  # equal fractions share one object, which Factorization converts once
    return out


def _parse_rational(value: Any, where: str, fail) -> int | Fraction:
    if type(value) is int:
        if abs(value) >= MAX_COEFFICIENT:
            fail(f"coefficient at {where} is too large (limit 2^62)")
        return value
    if not isinstance(value, str):
        fail(f"coefficient {_short(value)} at {where} must be an integer or a \"p/q\" string")
    if not _FRACTION.fullmatch(value):
        fail(f"malformed fraction {_short(value)} at {where} (expected \"p/q\")")
    numerator, denominator = (int(x) for x in value.split("/"))
    if denominator == 0:
        fail(f"malformed fraction {_short(value)} at {where} (zero denominator)")
    if max(abs(numerator), denominator) >= MAX_COEFFICIENT:
        fail(f"fraction at {where} is too large (limit 2^62)")
    return Fraction(numerator, denominator)


def coefficient_to_json(x) -> int | str:
    x = Fraction(x)
    return int(x) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def _plain(value: Any) -> Any:
    """Meta as plain JSON values (numpy scalars and arrays converted); else a TensorgameError."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise TensorgameError(f"meta value {_short(value)} cannot be written as JSON")


def _is_int(value: Any) -> bool:
    return type(value) is int


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _read_limited(path: str | os.PathLike) -> bytes:
    """The file's bytes (decompressed for .gz), refusing anything over MAX_FILE_BYTES."""
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            raise TensorgameError(f"{path}: file too large ({size} bytes > {MAX_FILE_BYTES})")
        with open(path, "rb") as handle:
            data = handle.read()
        if str(path).endswith(".gz"):
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
                data = unzipped.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise TensorgameError(f"{path}: decompressed content over {MAX_FILE_BYTES} bytes")
        return data
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise TensorgameError(f"{path}: cannot read: {reason}") from None


def _parse_json(data: bytes, path) -> Any:
    def reject_constant(name):
        raise ValueError(f"{name} is not valid JSON")

    def unique_keys(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError(f"duplicate key {next(k for k in keys if keys.count(k) > 1)!r}")
        return dict(pairs)

    try:
        return json.loads(data.decode("utf-8"), parse_constant=reject_constant,
                          object_pairs_hook=unique_keys)
    except UnicodeDecodeError:
        raise TensorgameError(f"{path}: invalid JSON (not UTF-8 text)") from None
    except json.JSONDecodeError as error:
        raise TensorgameError(f"{path}: invalid JSON: {error.msg} at line {error.lineno} "
                              f"column {error.colno}") from None
    except (ValueError, RecursionError) as error:
        raise TensorgameError(f"{path}: invalid JSON: {error}") from None


# ----------------------------------------------------------------------------- import

def import_file(path: str | os.PathLike) -> list[Factorization]:
    """Factorizations in a published file, format detected from its content.

    DeepMind npz (one per key "n,m,p"), a FastMatrixMultiplication JSON scheme, or a v1 file.
    Each imported factorization's field is decided by exact verification: valid over Z (or over
    Q when some coefficient is not an integer) gives that field; else valid mod 2 gives "Z2"
    (coefficients reduced mod 2); anything else is a one-line TensorgameError.
    """
    data = _read_limited(path)
    if data[:4] == b"PK\x03\x04":
        return _import_npz(data, path)
    obj = _parse_json(data, path)
    if isinstance(obj, dict) and "format" in obj:
        return [from_json(obj, str(path))]
    if isinstance(obj, dict) and {"n", "m", "u", "v", "w"} <= set(obj):
        return [_import_fmm(obj, path)]
    raise TensorgameError(f"{path}: not a DeepMind npz, FastMatrixMultiplication JSON or "
                          f"{FORMAT} file")


def exact_field(shape: tuple[int, int, int], u, v, w, source: str,
                meta: dict | None = None) -> Factorization:
    """The Factorization of these exact coefficients over the strongest field it is valid in."""
    u, v, w = (exact_array(a) for a in (u, v, w))
    n, m, p = shape
    if (u.shape[1], v.shape[1], w.shape[1]) != (n * m, m * p, p * n):
        raise TensorgameError(f"{source}: factor lengths do not fit <{n},{m},{p}>")
    target = matmul_tensor(*shape)
    integral = all(a.dtype != object for a in (u, v, w))
    report = verify_terms(u, v, w, target, "Q")
    if report.valid:
        field = "Z" if integral else "Q"
        return Factorization(shape=shape, field=field, u=u, v=v, w=w, meta=meta or {})
    if integral and verify_terms(u, v, w, target, "Z2").valid:
        return Factorization(shape=shape, field="Z2", u=u % 2, v=v % 2, w=w % 2, meta=meta or {})
    reason = report.summary()
    shape_text = ",".join(map(str, shape))
    raise TensorgameError(f"{source}: not a factorization of <{shape_text}> over Z, Q or "
                          f"mod 2 ({reason})")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits exactly the globals numpy needs to rebuild an ndarray; refuses everything else."""

    def find_class(self, module: str, name: str):
        if (module, name) in (("numpy", "ndarray"), ("numpy", "dtype")):
            return getattr(np, name)
        if name == "_reconstruct" and module in ("numpy.core.multiarray",
                                                  "numpy._core.multiarray"):
            return _reconstruct()
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def _reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct as reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct as reconstruct
    return reconstruct


def _read_npy(raw: bytes, where: str) -> np.ndarray:
    """One .npy member: plain arrays via np.load(allow_pickle=False), object arrays restricted."""
    stream = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(stream)
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)
        shape, _, dtype = header(stream)
        if dtype != object:
            return np.load(io.BytesIO(raw), allow_pickle=False)
        array = _NumpyOnlyUnpickler(stream).load()
    except pickle.UnpicklingError as error:
        raise TensorgameError(f"{where}: unsafe or invalid pickle: {error}") from None
    except Exception as error:  # numpy's readers raise many types on corrupt input
        raise TensorgameError(f"{where}: unreadable .npy member: "
                              f"{type(error).__name__}: {error}") from None
    if not isinstance(array, np.ndarray) or array.shape != shape:
        raise TensorgameError(f"{where}: object member is not the array its header announces")
    return array


def _import_npz(data: bytes, path) -> list[Factorization]:
    name = os.path.basename(path)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except zipfile.BadZipFile as error:
        raise TensorgameError(f"{path}: not a valid npz/zip file: {error}") from None
    out = []
    for info in members:
        where = f"{path}[{info.filename}]"
        key = info.filename.removesuffix(".npy")
        if not re.fullmatch(r"[0-9]+,[0-9]+,[0-9]+", key) or not info.filename.endswith(".npy"):
            raise TensorgameError(f"{where}: expected members named 'n,m,p.npy'")
        if info.file_size > MAX_FILE_BYTES:
            raise TensorgameError(f"{where}: member too large ({info.file_size} bytes)")
        shape = tuple(int(x) for x in key.split(","))
        if min(shape) < 1 or math.prod(shape) > MAX_VOLUME:
            raise TensorgameError(f"{where}: unsupported shape <{key}>")
        array = _read_npy(archive.read(info), where)
        u, v, w = _deepmind_factors(array, shape, where)
        meta = {"source": f"DeepMind AlphaTensor, {name} key '{key}'", **DEEPMIND_META}
        out.append(exact_field(shape, u, v, w, where, meta))
    return out


def _deepmind_factors(array: np.ndarray, shape, where: str):
    """Term-major exact u, v, w from DeepMind's factor-major (3, n*m, R) or object (3,) layout."""
    n, m, p = shape
    lengths = (n * m, m * p, p * n)
    if array.dtype == object:
        if array.shape != (3,):
            raise TensorgameError(f"{where}: object array must have shape (3,), got {array.shape}")
        factors = list(array)
    else:
        factors = list(array) if array.ndim == 3 and array.shape[0] == 3 else None
        if factors is None:
            raise TensorgameError(f"{where}: expected an array (3, n*m, R), got {array.shape}")
    ranks = set()
    out = []
    for name, factor, length in zip("uvw", factors, lengths):
        if not (isinstance(factor, np.ndarray) and factor.ndim == 2 and factor.shape[0] == length
                and factor.dtype.kind in "iuf"):
            got = getattr(factor, "shape", type(factor).__name__)
            raise TensorgameError(f"{where}: factor {name} must be a numeric ({length}, R) array, "
                                  f"got {got}")
        ranks.add(factor.shape[1])
        out.append(_exact_from_numbers(factor.T, f"{where} factor {name}"))
    if len(ranks) != 1:
        raise TensorgameError(f"{where}: factors disagree on the rank: {sorted(ranks)}")
    return out


def _exact_from_numbers(array: np.ndarray, where: str) -> np.ndarray:
    """Integers stay int64; floats become exact Fractions, each a short dyadic one (p / 2^k)."""
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if not np.all(np.isfinite(array)):
        raise TensorgameError(f"{where}: non-finite coefficient")
    distinct, inverse = np.unique(array, return_inverse=True)
    values = [Fraction(float(x)) for x in distinct]
    for x in values:
        if x.denominator > 2**16 or abs(x.numerator) >= MAX_COEFFICIENT:
            raise TensorgameError(f"{where}: coefficient {float(x)!r} is not a short dyadic "
                                  f"fraction (p/2^k, k <= 16)")
    if all(x.denominator == 1 for x in values):
        return np.array([int(x) for x in values], dtype=np.int64)[inverse].reshape(array.shape)
    return np.array(values + [None], dtype=object)[:-1][inverse].reshape(array.shape)


def _import_fmm(obj: dict, path) -> Factorization:
    """A FastMatrixMultiplication scheme: {"n": [n,m,p], "m": R, "z2": bool, "u", "v", "w"}."""
    def fail(problem: str):
        raise TensorgameError(f"{path}: {problem}")

    shape = obj["n"]
    if not (isinstance(shape, list) and len(shape) == 3 and all(_is_int(d) and d >= 1
                                                                 for d in shape)):
        fail(f"'n' must be three positive integers, got {_short(shape)}")
    if math.prod(shape) > MAX_VOLUME:
        fail(f"shape {shape} is too large")
    n, m, p = shape
    rank = obj["m"]
    if not _is_int(rank):
        fail(f"'m' (the rank) must be an integer, got {_short(rank)}")
    arrays = []
    for name, length in (("u", n * m), ("v", m * p), ("w", p * n)):
        rows = obj[name]
        if not isinstance(rows, list) or len(rows) != rank:
            fail(f"'m' says rank {rank} but {name} has "
                 f"{len(rows) if isinstance(rows, list) else 'no list of'} terms")
        arrays.append(_parse_rows(rows, name, length, "Q", fail))
    meta = {"source": f"FastMatrixMultiplication scheme {os.path.basename(path)}", **FMM_META}
    return exact_field((n, m, p), *arrays, str(path), meta)
