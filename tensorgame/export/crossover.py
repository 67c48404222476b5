"""Crossover tables: from which size a fast algorithm beats native matmul on this machine.

``matmul(A, B, "auto")`` asks ``choose`` what to run. A table holds measured rows (per dtype, BLAS
thread count and size: the native median and each candidate's speedup, timed alternately in one
run) and the rules derived from them::

    {"format": "tensorgame/crossover-v1", "machine": ..., "rows": [...],
     "rules": [{"dtype": "float32", "threads": 1, "min_size": 2048,
                "algorithm": "strassen", "levels": 1}, ...]}

A rule applies from ``min_size`` (the smallest of N, M, P) up to the next rule of the same dtype
and thread count; below the first rule, and for other dtypes (integers, complex) or thread counts
with no rules, the answer is native matmul. A candidate becomes a rule only where its measured
speedup is at least ``MARGIN`` (so noise cannot make "auto" slower than native).

``tensorgame tune`` measures this machine and writes the table to ``user_path()``
(``$TENSORGAME_CROSSOVER``, else ``~/.cache/tensorgame/crossover.json``); without one, the table
``SHIPPED`` (measured where the package was developed, see its ``machine``) applies.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

from tensorgame.errors import TensorgameError
from tensorgame.export import blas

FORMAT = "tensorgame/crossover-v1"
MARGIN = 1.03
DTYPES = ("float32", "float64")

# From experiments/bench_kernels.py on the development machine (results/kernels.md): Strassen's
# lean NumPy kernel against np.matmul, single-threaded OpenBLAS; native elsewhere. Float64 at
# 4096: two levels beat one in both runs that timed them (CPU time 1.05x and 1.16x against 1.01x
# and 1.04x), so float64 goes to two levels at once.
SHIPPED: dict = {
    "format": FORMAT,
    "machine": "x86_64, 2 cores shared with other jobs, NumPy 2.4 with scipy-openblas 0.3.31, "
               "single-threaded BLAS (see results/kernels.md)",
    "rows": [],
    "rules": [
        {"dtype": "float32", "threads": 1, "min_size": 4096, "algorithm": "strassen", "levels": 1},
        {"dtype": "float32", "threads": 1, "min_size": 8192, "algorithm": "strassen", "levels": 2},
        {"dtype": "float64", "threads": 1, "min_size": 4096, "algorithm": "strassen", "levels": 2},
    ],
}


def user_path() -> Path:
    """Where ``tensorgame tune`` writes and ``choose`` first looks."""
    if os.environ.get("TENSORGAME_CROSSOVER"):
        return Path(os.environ["TENSORGAME_CROSSOVER"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "tensorgame" / "crossover.json"


_LOADED: dict = {}


def table() -> tuple[dict, str]:
    """(the table in force, where it came from): the user's if it exists and is valid.

    The file is looked at again at most every ``RECHECK`` seconds (``matmul`` asks per call).
    """
    now = time.monotonic()
    if _LOADED.get("answer") is not None and now - _LOADED["checked"] < RECHECK and (
            _LOADED.get("env") == os.environ.get("TENSORGAME_CROSSOVER")):
        return _LOADED["answer"]
    answer = _table()
    _LOADED.update(answer=answer, checked=now, env=os.environ.get("TENSORGAME_CROSSOVER"))
    return answer


RECHECK = 2.0


def _table() -> tuple[dict, str]:
    path = user_path()
    try:
        stamp = path.stat().st_mtime_ns if path.is_file() else None
    except OSError:
        stamp = None
    if stamp is None:
        return SHIPPED, "shipped default"
    if _LOADED.get("key") != (str(path), stamp):
        try:
            loaded = validate(json.loads(path.read_text()))
        except (OSError, ValueError, TensorgameError) as error:
            warnings.warn(f"{path}: {error}; using the shipped crossover table", stacklevel=3)
            loaded = None
        _LOADED.update(key=(str(path), stamp), table=loaded)
    if _LOADED["table"] is None:
        return SHIPPED, "shipped default"
    return _LOADED["table"], str(path)


def validate(data) -> dict:
    """``data`` if it is a crossover table with well-formed rules, else a TensorgameError."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TensorgameError(f"not a crossover table (format must be {FORMAT!r})")
    rules = data.get("rules")
    if not isinstance(rules, list):
        raise TensorgameError("crossover table: 'rules' must be a list")
    for rule in rules:
        ok = (isinstance(rule, dict) and rule.get("dtype") in DTYPES
              and isinstance(rule.get("threads"), int) and rule["threads"] >= 1
              and isinstance(rule.get("min_size"), int) and rule["min_size"] >= 1
              and (rule.get("algorithm") == "native" or (
                  rule.get("algorithm") == "strassen" or _is_shape(rule.get("algorithm")))
                  and isinstance(rule.get("levels"), int) and 1 <= rule["levels"] <= 8))
        if not ok:
            raise TensorgameError(f"crossover table: bad rule {rule!r}")
    return data


def _is_shape(x) -> bool:
    return (isinstance(x, list) and len(x) == 3
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in x))


def current_threads() -> int:
    """Threads NumPy's BLAS runs on now (bundled OpenBLAS asked directly; else the environment)."""
    return blas.threads() or blas.environment_threads() or os.cpu_count() or 1


def choose(a_shape, b_shape, dtype, threads: int | None = None, rules=None):
    """("native", None) or (algorithm, levels) for A [..., N, M] @ B [..., M, P] of ``dtype``."""
    dtype = np.dtype(dtype).name
    if dtype not in DTYPES:
        return "native", None
    size = min(a_shape[-2], a_shape[-1], b_shape[-1])
    rules = table()[0]["rules"] if rules is None else rules
    if all(r["min_size"] > size for r in rules):
        return "native", None  # the common small case: no thread query
    threads = current_threads() if threads is None else threads
    usable = [r for r in rules if r["dtype"] == dtype and r["threads"] == threads
              and r["min_size"] <= size]
    if not usable:
        return "native", None
    rule = max(usable, key=lambda r: r["min_size"])
    if rule["algorithm"] == "native":
        return "native", None
    algorithm = rule["algorithm"]
    return (tuple(algorithm) if isinstance(algorithm, list) else algorithm), rule["levels"]


# ----------------------------------------------------------------------------- measuring

def candidates(size: int, min_leaf: int, max_levels: int):
    """(algorithm, levels) pairs worth timing at ``size``: Strassen at each depth whose leaf
    blocks stay at least ``min_leaf``."""
    return [("strassen", levels) for levels in range(1, max_levels + 1)
            if size >> levels >= min_leaf]


def measure(sizes, dtypes=DTYPES, threads: int = 1, repeats: int = 5, min_leaf: int = 512,
            max_levels: int = 2, seconds: float = 120.0, log=print) -> list[dict]:
    """Rows of alternating timings: per (dtype, size) the native median and each candidate's.

    Native and every candidate run in turn, ``repeats`` rounds after a warm-up round (fewer,
    at least 2, where they would take more than ``seconds``); a candidate's speedup is the
    median over rounds of native / candidate, in process CPU time for one thread (robust to
    other jobs) and in wall time for more.
    """
    from tensorgame.export import timing
    from tensorgame.export.multiply import matmul

    clock = "cpu" if threads == 1 else "wall"
    rows = []
    rng = np.random.default_rng(0)
    with blas.limit_threads(threads):
        for dtype in dtypes:
            for size in sizes:
                a, b = (rng.uniform(-1, 1, (size, size)).astype(dtype) for _ in range(2))
                calls = {"native": lambda: np.matmul(a, b)}
                for algorithm, levels in candidates(size, min_leaf, max_levels):
                    calls[(algorithm, levels)] = (
                        lambda algorithm=algorithm, levels=levels: matmul(a, b, algorithm, levels))
                times = timing.alternate(calls, repeats, seconds)
                native = times.pop("native")
                row = dict(dtype=dtype, threads=threads, size=size, clock=clock,
                           native=statistics.median(native["wall"]), candidates=[])
                for (algorithm, levels), measured in times.items():
                    speedup = timing.pair_ratio(native[clock], measured[clock])
                    row["candidates"].append(dict(algorithm=algorithm, levels=levels,
                                                  seconds=statistics.median(measured["wall"]),
                                                  pairs=len(measured["wall"]), speedup=speedup))
                    log(f"{dtype} N={size} {algorithm} L={levels}: {speedup:.3f}x "
                        f"({len(measured['wall'])} rounds, {clock} time)")
                rows.append(row)
    return rows


def rules_from(rows: list[dict], margin: float = MARGIN) -> list[dict]:
    """A step function per (dtype, threads): native below the smallest measured size from which
    some candidate reaches ``margin`` at *every* larger measured size (an isolated win among
    losses is noise, not a crossover); above it, the fastest candidate of each size, consecutive
    equal steps merged."""
    rules = []
    for key in dict.fromkeys((r["dtype"], r["threads"]) for r in rows):
        ordered = sorted((r for r in rows if (r["dtype"], r["threads"]) == key),
                         key=lambda r: r["size"])
        best = [max(r["candidates"], key=lambda c: c["speedup"], default=None) for r in ordered]
        start = len(ordered)
        while start > 0 and best[start - 1] is not None and best[start - 1]["speedup"] >= margin:
            start -= 1
        previous = None
        for row, top in zip(ordered[start:], best[start:]):
            choice = (top["algorithm"], top["levels"])
            if choice != previous:
                rules.append(dict(dtype=key[0], threads=key[1], min_size=row["size"],
                                  algorithm=choice[0], levels=choice[1]))
                previous = choice
    return rules


def write(rows: list[dict], path: Path, margin: float = MARGIN) -> dict:
    """Write the table for ``rows`` to ``path`` (atomically) and return it."""
    data = {
        "format": FORMAT,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, NumPy {np.__version__}",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "margin": margin,
        "rows": rows,
        "rules": rules_from(rows, margin),
    }
    validate(data)
    from tensorgame.io import write_atomic

    write_atomic(path, json.dumps(data, indent=1) + "\n")
    return data
