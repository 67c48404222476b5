"""Import of published factorizations: DeepMind's AlphaTensor npz files and the JSON schemes of
the FastMatrixMultiplication collection (and v1 files, which are checked like the others).

Every imported factorization's field is decided by exact verification (``exact_field``); a file
that verifies over no field is an error, never a written file. The npz members that hold
pickled object arrays are read by a restricted unpickler that admits only numpy's array
reconstruction; nothing else is ever unpickled (no ``allow_pickle=True``). Archive members are
read with a hard byte cap whatever sizes the archive's headers claim (stored or deflated
members only: those decompress in bounded steps), and every way a member can be corrupt (bad
CRC, bad deflate data, unknown compression, encryption, a .npy header that announces more data
than there is) is one TensorgameError line.
"""

from __future__ import annotations

import io as pyio
import math
import os
import pickle
import re
import zipfile
from fractions import Fraction

import numpy as np

from tensorgame import io
from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization, exact_array, strongest_field
from tensorgame.tensors import matmul_tensor

DEEPMIND_META = {
    "licence": "CC BY 4.0",
    "attribution": ("DeepMind, AlphaTensor: Fawzi et al., Discovering faster matrix multiplication "
                    "algorithms with reinforcement learning, Nature 610, 47-53 (2022), "
                    "github.com/google-deepmind/alphatensor"),
}
MAX_MEMBERS = 1024  # npz members per file

FMM_META = {
    "licence": "MIT",
    "attribution": ("FastMatrixMultiplication collection, Copyright (c) 2025 Andrew Perminov, "
                    "github.com/dronperminov/FastMatrixMultiplication"),
}


def import_file(path: str | os.PathLike) -> list[Factorization]:
    """Factorizations in a published file, format detected from its content.

    DeepMind npz (one per key "n,m,p"), a FastMatrixMultiplication JSON scheme, or a v1 file.
    Each imported factorization's field is decided by exact verification: valid over Z (or over
    Q when some coefficient is not an integer) gives that field; else valid mod 2 gives "Z2"
    (coefficients reduced mod 2); anything else, a v1 file included, is a one-line
    TensorgameError.
    """
    data = io.read_bytes(path)
    if data[:4] == b"PK\x03\x04":
        return _import_npz(data, path)
    obj = io.parse_json(data, path)
    if isinstance(obj, dict) and "format" in obj:
        f = io.from_json(obj, str(path))
        return [exact_field(f.shape, f.u, f.v, f.w, str(path), f.meta)]
    if isinstance(obj, dict) and {"n", "m", "u", "v", "w"} <= set(obj):
        return [_import_fmm(obj, path)]
    raise TensorgameError(f"{path}: not a DeepMind npz, FastMatrixMultiplication JSON or "
                          f"{io.FORMAT} file")


def exact_field(shape: tuple[int, int, int], u, v, w, source: str,
                meta: dict | None = None) -> Factorization:
    """The Factorization of these exact coefficients over the strongest field it is valid in."""
    u, v, w = (exact_array(a) for a in (u, v, w))
    n, m, p = shape
    if (u.ndim, v.ndim, w.ndim) != (2, 2, 2) or (
            (u.shape[1], v.shape[1], w.shape[1]) != (n * m, m * p, p * n)):
        raise TensorgameError(f"{source}: factor lengths do not fit <{n},{m},{p}>")
    field, report = strongest_field(u, v, w, matmul_tensor(*shape))
    if field in ("Z", "Q"):
        return Factorization(shape=shape, field=field, u=u, v=v, w=w, meta=meta or {})
    if field == "Z2":
        return Factorization(shape=shape, field="Z2", u=u % 2, v=v % 2, w=w % 2, meta=meta or {})
    reason = report.summary()
    shape_text = ",".join(map(str, shape))
    raise TensorgameError(f"{source}: not a factorization of <{shape_text}> over Z, Q or "
                          f"mod 2 ({reason})")


# ----------------------------------------------------------------------------- DeepMind npz

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
    """One .npy member: plain arrays via np.load(allow_pickle=False), object arrays restricted.

    The header's shape is checked against the bytes present before numpy allocates anything.
    """
    stream = pyio.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(stream)
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)
        shape, _, dtype = header(stream)
        if dtype != object:
            needed = math.prod(shape) * dtype.itemsize
            if needed > len(raw) - stream.tell():
                raise TensorgameError(f"{where}: the .npy header announces {needed} bytes of "
                                      f"data, the member holds {len(raw) - stream.tell()}")
            return np.load(pyio.BytesIO(raw), allow_pickle=False)
        array = _NumpyOnlyUnpickler(stream).load()
    except TensorgameError:
        raise
    except pickle.UnpicklingError as error:
        raise TensorgameError(f"{where}: unsafe or invalid pickle: {error}") from None
    except Exception as error:  # numpy's readers raise many types on corrupt input
        raise TensorgameError(f"{where}: unreadable .npy member: "
                              f"{type(error).__name__}: {error}") from None
    if not isinstance(array, np.ndarray) or array.shape != shape:
        raise TensorgameError(f"{where}: object member is not the array its header announces")
    return array


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    """A member's bytes, never more than MAX_FILE_BYTES whatever its header says it holds."""
    limit = io.MAX_FILE_BYTES
    if info.file_size > limit:
        raise TensorgameError(f"{where}: member too large ({info.file_size} bytes)")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        # bzip2 and lzma members are decompressed in one unbounded call (177 bytes of bzip2
        # hold 200 MB of zeros); numpy writes stored or deflated members only
        raise TensorgameError(f"{where}: unsupported compression method {info.compress_type} "
                              f"(npz members are stored or deflated)")
    try:
        with archive.open(info) as member:
            raw = member.read(limit + 1)
    except Exception as error:  # BadZipFile (CRC), zlib.error, NotImplementedError (method),
        # RuntimeError (encrypted), EOFError, lzma/bz2 errors: all mean a corrupt member
        raise TensorgameError(f"{where}: corrupt or unsupported zip member: "
                              f"{type(error).__name__}: {error}") from None
    if len(raw) > limit:
        raise TensorgameError(f"{where}: member over {limit} bytes (its header claims "
                              f"{info.file_size})")
    return raw


def _import_npz(data: bytes, path) -> list[Factorization]:
    name = os.path.basename(path)
    try:
        archive = zipfile.ZipFile(pyio.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError) as error:
        raise TensorgameError(f"{path}: not a valid npz/zip file: {error}") from None
    if len(members) > MAX_MEMBERS:
        raise TensorgameError(f"{path}: {len(members)} members (at most {MAX_MEMBERS}; "
                              f"DeepMind's files hold 113 in all)")
    names = [info.filename for info in members]
    if len(set(names)) != len(names):
        raise TensorgameError(f"{path}: member {next(n for n in names if names.count(n) > 1)!r} "
                              f"appears twice")
    out = []
    for info in members:
        where = f"{path}[{info.filename}]"
        key = info.filename.removesuffix(".npy")
        if not re.fullmatch(r"[1-9][0-9]{0,3},[1-9][0-9]{0,3},[1-9][0-9]{0,3}", key) or (
                not info.filename.endswith(".npy")):
            raise TensorgameError(f"{where}: expected members named 'n,m,p.npy'")
        shape = tuple(int(x) for x in key.split(","))
        if min(shape) < 1 or math.prod(shape) > io.MAX_VOLUME:
            raise TensorgameError(f"{where}: unsupported shape <{key}>")
        array = _read_npy(_read_member(archive, info, where), where)
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
    """Integers stay int64; floats become exact Fractions, each a short dyadic one (p / 2^k).

    Every coefficient must be below 2^62 in absolute value, checked on Python integers (numpy's
    abs of int64's -2^63 is -2^63, and uint64 values >= 2^63 would wrap in int64).
    """
    limit = io.MAX_COEFFICIENT
    if array.dtype.kind in "iu":
        if array.size and (int(array.max()) >= limit or int(array.min()) <= -limit):
            raise TensorgameError(f"{where}: coefficient too large (limit 2^62)")
        return array.astype(np.int64)
    if not np.all(np.isfinite(array)):
        raise TensorgameError(f"{where}: non-finite coefficient")
    distinct, inverse = np.unique(array, return_inverse=True)
    values = [Fraction(float(x)) for x in distinct]
    for x in values:
        if x.denominator > 2**16 or abs(x.numerator) >= limit:
            raise TensorgameError(f"{where}: coefficient {float(x)!r} is not a short dyadic "
                                  f"fraction (p/2^k, k <= 16)")
    if all(x.denominator == 1 for x in values):
        return np.array([int(x) for x in values], dtype=np.int64)[inverse].reshape(array.shape)
    return np.array(values + [None], dtype=object)[:-1][inverse].reshape(array.shape)


# ----------------------------------------------------------------------------- FMM JSON

def _import_fmm(obj: dict, path) -> Factorization:
    """A FastMatrixMultiplication scheme: {"n": [n,m,p], "m": R, "z2": bool, "u", "v", "w"}."""
    def fail(problem: str):
        raise TensorgameError(f"{path}: {problem}")

    shape = obj["n"]
    if not (isinstance(shape, list) and len(shape) == 3
            and all(type(d) is int and d >= 1 for d in shape)):
        fail(f"'n' must be three positive integers, got {io._short(shape)}")
    if math.prod(shape) > io.MAX_VOLUME:
        fail(f"shape {shape} is too large")
    n, m, p = shape
    rank = obj["m"]
    if type(rank) is not int:
        fail(f"'m' (the rank) must be an integer, got {io._short(rank)}")
    arrays = []
    for name, length in (("u", n * m), ("v", m * p), ("w", p * n)):
        rows = obj[name]
        if not isinstance(rows, list) or len(rows) != rank:
            fail(f"'m' says rank {rank} but {name} has "
                 f"{len(rows) if isinstance(rows, list) else 'no list of'} terms")
        arrays.append(io._parse_rows(rows, name, length, "Q", fail))
    meta = {"source": f"FastMatrixMultiplication scheme {os.path.basename(path)}", **FMM_META}
    return exact_field((n, m, p), *arrays, str(path), meta)
