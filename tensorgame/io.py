"""Factorization files: strict JSON v1 read/write and import of published factorizations.

``tensorgame/factorization-v1`` (DESIGN.md section 2) is the only format this project writes. A
file whose name ends in ``.gz`` is the same JSON, gzip-compressed (the bundled library uses it).

Reading is strict: every deviation (missing or unknown key, wrong vector length, rank that
disagrees with the term count, a non-integer coefficient in a Z file, a malformed "p/q" fraction,
a Z2 coefficient other than 0/1, an unknown field or format tag, invalid JSON, a file over
``MAX_FILE_BYTES``) is one TensorgameError line naming the file and the problem. Z2 files hold
coefficients 0/1 only: ``save`` writes a Z2 factorization reduced mod 2, ``load`` rejects others.

Only regular files are read, and never more than ``MAX_FILE_BYTES`` (``/dev/zero``, a named
pipe or a directory is refused in one line, whatever size it reports). ``write_atomic`` is the
one atomic writer of the commands: temp file beside the target, fsync, rename; the mode follows
the umask (or the file it replaces), and temp files left behind by a killed writer are removed.

Importers of published data (DeepMind npz, FastMatrixMultiplication JSON) live in
``tensorgame.importers``; ``import_file`` here is the same function.
"""

from __future__ import annotations

import errno
import gzip
import itertools
import json
import math
import os
import re
import stat
import tempfile
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from tensorgame.errors import TensorgameError
from tensorgame.factorization import FIELDS, Factorization

FORMAT = "tensorgame/factorization-v1"
MAX_FILE_BYTES = 64 * 2**20  # also the limit on decompressed .gz content and npz members
MAX_VOLUME = 4096  # n*m*p: the target tensor has (n*m*p)^2 entries
MAX_COEFFICIENT = 2**62  # numerators and denominators stay below this
_REQUIRED = ("format", "shape", "field", "rank", "u", "v", "w")
_OPTIONAL = ("meta",)
MAX_META_DEPTH = 32  # nesting of lists and objects inside "meta"
_FRACTION = re.compile(r"-?[0-9]+/[0-9]+")

# ----------------------------------------------------------------------------- v1 JSON

def load(path: str | os.PathLike) -> Factorization:
    """Read a v1 file (``.json`` or ``.json.gz``); any problem is a one-line TensorgameError."""
    return from_json(parse_json(read_bytes(path), path), str(path))


def save(f: Factorization, path: str | os.PathLike) -> None:
    """Write ``f`` as v1 JSON (gzip if the name ends in .gz) with ``write_atomic``."""
    data = dumps(f).encode()
    if Path(path).name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=9, mtime=0)
    write_atomic(path, data)


def import_file(path: str | os.PathLike) -> list[Factorization]:
    """Factorizations in a published file (see ``tensorgame.importers.import_file``)."""
    from tensorgame.importers import import_file as read_published

    return read_published(path)


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
    if _depth(meta) > MAX_META_DEPTH:
        fail(f"meta is nested more than {MAX_META_DEPTH} levels deep")
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
    fast = _integer_rows(rows, length, field)
    if fast is not None:
        return fast
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


def _integer_rows(rows: list, length: int, field: str) -> np.ndarray | None:
    """The common case at C speed: every row a list of ``length`` plain ints within the limits
    (0/1 for Z2). None when anything differs: the row-by-row parser then names the problem."""
    if not rows or set(map(type, rows)) != {list} or set(map(len, rows)) != {length}:
        return None
    if set(map(type, itertools.chain.from_iterable(rows))) != {int}:  # bool, float, str: no
        return None
    try:
        array = np.array(rows, dtype=np.int64)
    except OverflowError:
        return None
    if array.shape != (len(rows), length) or (
            array.size and (int(array.max()) >= MAX_COEFFICIENT
                            or int(array.min()) <= -MAX_COEFFICIENT)):
        return None
    if field == "Z2" and array.size and (int(array.min()) < 0 or int(array.max()) > 1):
        return None
    return array


def _parse_rational(value: Any, where: str, fail) -> int | Fraction:
    if type(value) is int:
        if abs(value) >= MAX_COEFFICIENT:
            fail(f"coefficient at {where} is too large (limit 2^62)")
        return value
    if not isinstance(value, str):
        fail(f"coefficient {_short(value)} at {where} must be an integer or a \"p/q\" string")
    if not _FRACTION.fullmatch(value):
        fail(f"malformed fraction {_short(value)} at {where} (expected \"p/q\")")
    if any(len(x.lstrip("-").lstrip("0")) > 19 for x in value.split("/")):  # before int(): no
        fail(f"fraction at {where} is too large (limit 2^62)")  # 4,300-digit ValueError
    numerator, denominator = (int(x) for x in value.split("/"))
    if denominator == 0:
        fail(f"malformed fraction {_short(value)} at {where} (zero denominator)")
    if max(abs(numerator), denominator) >= MAX_COEFFICIENT:
        fail(f"fraction at {where} is too large (limit 2^62)")
    return Fraction(numerator, denominator)


def coefficient_to_json(x) -> int | str:
    x = Fraction(x)
    return int(x) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def _plain(value: Any, depth: int = 0) -> Any:
    """Meta as plain JSON values (numpy scalars and arrays converted); else a TensorgameError."""
    if depth > MAX_META_DEPTH:
        raise TensorgameError(f"meta is nested more than {MAX_META_DEPTH} levels deep")
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist(), depth)
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise TensorgameError(f"meta value {_short(value)} cannot be written as JSON")


def _depth(value: Any) -> int:
    """Nesting depth of lists and dicts, without recursion (a parsed file can be deep)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_META_DEPTH + 1:
                break
            stack.extend((x, depth + 1) for x in (item.values() if isinstance(item, dict)
                                                 else item))
    return deepest


def _is_int(value: Any) -> bool:
    return type(value) is int


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of a regular file (decompressed for .gz), never more than MAX_FILE_BYTES.

    Special files are refused before anything is read: the size of /dev/zero or /dev/urandom
    reads as 0 and a named pipe would block, so the file is opened without blocking, checked to
    be a regular file, and read with a hard cap whatever its size claims.
    """
    limit = MAX_FILE_BYTES
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as error:
        raise TensorgameError(f"{path}: cannot read: {_reason(error)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise TensorgameError(f"{path}: cannot read: {kind}")
        if info.st_size > limit:
            raise TensorgameError(f"{path}: file too large ({info.st_size} bytes > {limit})")
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            data = handle.read(limit + 1)
            if len(data) > limit:  # grew while being read
                raise TensorgameError(f"{path}: file too large (over {limit} bytes)")
            if str(path).endswith(".gz"):
                handle.seek(0)
                with gzip.GzipFile(fileobj=handle) as unzipped:
                    data = unzipped.read(limit + 1)
                if len(data) > limit:
                    raise TensorgameError(f"{path}: decompressed content over {limit} bytes")
        return data
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise TensorgameError(f"{path}: cannot read: {_reason(error)}") from None
    finally:
        if fd >= 0:
            os.close(fd)


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error, zlib.error):
        return f"corrupt compressed data ({error})"
    if isinstance(error, EOFError):
        return f"compressed data ends early ({error})"
    return str(error) or type(error).__name__


# ----------------------------------------------------------------------------- atomic writes

def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Replace ``path`` by ``data`` atomically; every failure is a one-line TensorgameError.

    The data goes to a temp file beside the target (``.NAME.PID.XXXX.tmp``), is fsynced and
    renamed over the target, so readers see the old file or the new one and a failure (disk
    full, read-only file system, Ctrl-C) leaves the old file and no temp file. The new file gets
    the mode of the file it replaces, else 0666 minus the umask. Temp files left in the folder by
    a writer that was killed (its process is gone) are removed. Missing parent folders are
    created. Existing targets that are not regular files (devices, pipes, folders) are refused:
    a rename would replace them.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    try:
        existing = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):  # the latter: mkdir below says which file
        existing = None
    except OSError as error:
        raise _write_error(path, error) from None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        kind = "a directory" if stat.S_ISDIR(existing.st_mode) else "not a regular file"
        raise TensorgameError(f"{path}: cannot write: {kind} (refusing to replace it)")
    mode = (stat.S_IMODE(existing.st_mode) if existing is not None
            else 0o666 & ~_umask())
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise TensorgameError(f"{path}: cannot write: a file is in the way of folder "
                              f"{_file_in_the_way(parent)}") from None
    except OSError as error:
        raise _write_error(path, error) from None
    _remove_stale_temps(parent)
    temp = None
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name[:100]}.{os.getpid()}.",
                                        suffix=".tmp", dir=parent)
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
        temp = None
    except OSError as error:
        raise _write_error(path, error) from None
    finally:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass


def _write_error(path: Path, error: OSError) -> TensorgameError:
    reason = error.strerror or str(error)
    if error.errno == errno.ENOSPC:
        reason += " (nothing was written)"
    return TensorgameError(f"{path}: cannot write: {reason}")


def _file_in_the_way(folder: Path) -> Path:
    for candidate in [folder, *folder.parents]:
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return folder


def _umask() -> int:
    """The process umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_STALE = re.compile(r"\..+\.([0-9]{1,10})\.[a-z0-9_]{8}\.tmp")  # .NAME.PID.RANDOM.tmp
_CLEANED: set[str] = set()  # folders already swept by this process


def _remove_stale_temps(folder: Path) -> None:
    """Remove this writer's temp files (``.NAME.PID.XXXXXXXX.tmp``) whose process is gone.

    A writer killed between writing and renaming leaves one; the first write into a folder in
    each process sweeps that folder once (a sweep per write would cost a listing each time).
    """
    key = os.path.abspath(folder)
    if key in _CLEANED:
        return
    _CLEANED.add(key)
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        match = _STALE.fullmatch(name)
        if not match or int(match.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass
        except (PermissionError, OverflowError, ValueError):
            pass  # alive (another user's) or not a pid: keep


def parse_json(data: bytes, path) -> Any:
    """Strict JSON (no NaN or Infinity, no duplicate keys); a one-line TensorgameError."""
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
    except (ValueError, RecursionError) as error:  # incl. integers over 4,300 digits
        raise TensorgameError(f"{path}: invalid JSON: {error}") from None
