"""The bundled algorithms: an index over the JSON files in ``data/``, lookup by shape and field.

``data/index.json`` lists every bundled file with its shape, field, rank, coefficient set,
non-zeros and source, so ``get`` and ``catalog`` read one small file and load only what is asked
for. ``experiments/build_library.py`` writes both the files and the index; ``add`` bundles one more
scheme (a search's find) when it beats what is bundled.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import operator
from importlib import resources
from pathlib import Path

from tensorgame import io
from tensorgame.errors import TensorgameError
from tensorgame.factorization import FIELDS, Factorization, for_shape
from tensorgame.library._naive import naive

# Which stored fields serve a requested one: Z is valid over every ring (so also mod 2 and over
# Q); a Q algorithm needs division (not mod 2 when a denominator is even); Z2 only mod 2.
SERVES = {"Z": ("Z",), "Q": ("Z", "Q"), "Z2": ("Z", "Z2")}


@dataclasses.dataclass(frozen=True)
class Entry:
    """One row of the catalogue: a bundled factorization and where it came from."""

    shape: tuple[int, int, int]
    field: str
    rank: int
    coefficients: tuple[str, ...]  # the distinct coefficient values, as "p/q" or integers
    nonzeros: int
    source: str
    licence: str
    file: str  # name inside tensorgame/library/data


def data_dir():
    return resources.files("tensorgame.library") / "data"


@functools.lru_cache(maxsize=1)
def catalog() -> tuple[Entry, ...]:
    """Every bundled factorization, sorted by shape, field and rank."""
    index = json.loads((data_dir() / "index.json").read_text())
    rows = [Entry(shape=tuple(row["shape"]), field=row["field"], rank=row["rank"],
                  coefficients=tuple(row["coefficients"]), nonzeros=row["nonzeros"],
                  source=row["source"], licence=row["licence"], file=row["file"])
            for row in index["entries"]]
    return tuple(sorted(rows, key=lambda e: (e.shape, FIELDS.index(e.field), e.rank, e.file)))


def load_entry(entry: Entry) -> Factorization:
    """The Factorization stored for a catalogue row."""
    return _load_file(entry.file).replace()


@functools.lru_cache(maxsize=32)
def _load_file(name: str) -> Factorization:
    with resources.as_file(data_dir() / name) as path:
        return io.load(path)


def candidates(n: int, m: int, p: int, field: str = "Z") -> list[Entry]:
    """Bundled entries for any permutation of <n,m,p> that are valid over ``field``, best first:
    lowest rank, then the most general field (Z before Q/Z2), then fewest non-zeros."""
    if field not in FIELDS:
        raise TensorgameError(f"unknown field {field!r} (expected one of {', '.join(FIELDS)})")
    wanted = sorted((n, m, p))
    rows = [e for e in catalog() if sorted(e.shape) == wanted and e.field in SERVES[field]]
    return sorted(rows, key=lambda e: (e.rank, FIELDS.index(e.field), e.nonzeros, e.file))


def index_row(name: str, f: Factorization) -> dict:
    """The index.json row of ``f`` stored as ``name`` in ``data/``."""
    return {"file": name, "shape": list(f.shape), "field": f.field, "rank": f.rank,
            "coefficients": [io.coefficient_to_json(x) for x in f.coefficients()],
            "nonzeros": f.nonzeros(), "source": f.meta.get("source", ""),
            "licence": f.meta.get("licence", "")}


def beats_bundled(f: Factorization) -> bool:
    """Whether ``f`` beats every bundled scheme of its format (any side order) valid over its
    field: a lower rank, or the same rank with fewer non-zeros."""
    rows = candidates(*f.shape, field=f.field)
    return not rows or (f.rank, f.nonzeros()) < min((e.rank, e.nonzeros) for e in rows)


def add(f: Factorization) -> Entry:
    """Bundle ``f`` (verified, and beating what is bundled) as data/tensorgame_<format>.json.gz.

    Writes into the package's data folder, so it needs a writable install (a checkout installed
    with ``pip install -e``); anything else is a one-line TensorgameError.
    """
    from tensorgame.factorization import verify

    report = verify(f)
    if not report.valid:
        raise TensorgameError(f"not added to the library: {report.summary()}")
    if not beats_bundled(f):
        raise TensorgameError("not added to the library: a bundled scheme is as good")
    folder = Path(str(data_dir()))
    if not (folder / "index.json").is_file():
        raise TensorgameError(f"the library at {folder} is not a writable folder")
    name = f"tensorgame_{'x'.join(map(str, f.shape))}_rank{f.rank}_{f.field}.json.gz"
    io.save(f, folder / name)
    index = json.loads((folder / "index.json").read_text())
    index["entries"] = [row for row in index["entries"] if row["file"] != name]
    index["entries"].append(index_row(name, f))
    io.write_atomic(folder / "index.json", json.dumps(index, indent=1) + "\n")
    catalog.cache_clear()
    _load_file.cache_clear()
    return next(e for e in catalog() if e.file == name)


def get(n: int, m: int, p: int, field: str = "Z") -> Factorization:
    """The lowest-rank algorithm for <n,m,p> valid over ``field`` ("Z", "Q" or "Z2").

    Bundled algorithms of any permuted format (<m,p,n>, <p,m,n>, ...) are carried over by the
    symmetries of the tensor (``factorization.for_shape``); when nothing bundled beats it, the
    naive algorithm (rank n*m*p) is returned. The result's own field is the stored one: a Z
    algorithm is returned as "Z" even for field="Z2" or "Q", since it is valid there too.
    ``meta["library_file"]`` names the bundled file it came from.
    """
    try:
        shape = tuple(operator.index(d) for d in (n, m, p))  # numpy integers welcome
    except TypeError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise TensorgameError(f"shape must be three positive integers, got {(n, m, p)}")
    n, m, p = shape
    if n * m * p > io.MAX_VOLUME:
        raise TensorgameError(f"<{n},{m},{p}> is too large (n*m*p > {io.MAX_VOLUME})")
    rows = candidates(n, m, p, field)
    if not rows or rows[0].rank >= n * m * p:
        return naive(n, m, p)
    best = load_entry(rows[0])
    variant = for_shape(best, shape)
    meta = {**best.meta, "library_file": rows[0].file}
    if best.shape != shape:
        meta["variant_of"] = list(best.shape)
    return variant.replace(meta=meta)


