"""`tensorgame verify | show | import | list`: check, read, convert and browse factorizations."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tensorgame.errors import TensorgameError, one_line

MAX_VOLUME = 4096  # as tensorgame.io.MAX_VOLUME, without importing numpy at start-up
_SHAPE = re.compile(r"\s*([0-9]{1,9})\s*[x,]\s*([0-9]{1,9})\s*[x,]\s*([0-9]{1,9})\s*")


def register(subparsers) -> None:
    verify = subparsers.add_parser(
        "verify", help="exactly check factorization files",
        description="Check each v1 factorization file (.json or .json.gz) exactly: the sum of its "
                    "rank-1 terms must equal the matrix multiplication tensor over the file's "
                    "field (or --field). Prints one line per file. Exit status: 0 all valid, "
                    "1 some invalid, 2 some file unreadable.",
        epilog="example: tensorgame verify results/flipgraph/*.json --field Z2")
    verify.add_argument("files", nargs="+", metavar="FILE", help="v1 factorization files")
    verify.add_argument("--field", choices=("Z", "Q", "Z2"),
                        help="check over this field instead of the file's own (Z2: modulo 2)")
    verify.add_argument("--json", action="store_true",
                        help="print one JSON array with a result object per file")
    verify.set_defaults(func=run_verify)

    show = subparsers.add_parser(
        "show", help="print an algorithm as formulas",
        description="Print shape, field, rank, coefficient set, non-zeros, provenance and the "
                    "algorithm as formulas (m1 = (a11 + a22) * (b11 + b22) ... c11 = m1 + ...). "
                    "Entries are 1-based (a12 is row 1, column 2; a1_10 past 9); c = A @ B.",
        epilog="examples: tensorgame show result.json; tensorgame show --shape 3x3x3")
    show.add_argument("file", nargs="?", metavar="FILE", help="a v1 factorization file")
    show.add_argument("--shape", metavar="NxMxP",
                      help="instead of a file, show the library's best algorithm for <N,M,P>")
    show.add_argument("--field", choices=("Z", "Q", "Z2"), default="Z",
                      help="with --shape: the field it must be valid over (default Z)")
    show.add_argument("--no-formulas", action="store_true", help="print the summary only")
    show.set_defaults(func=run_show)

    imp = subparsers.add_parser(
        "import", help="convert published factorizations to v1 JSON",
        description="Convert DeepMind's AlphaTensor npz files (factorizations_r.npz, "
                    "factorizations_f2.npz) and FastMatrixMultiplication JSON schemes into v1 "
                    "files, one per factorization; the input format is detected from the "
                    "content. Each field is decided by exact verification: Z (or Q) if valid "
                    "over the integers (rationals), else Z2 if valid mod 2, else an error. "
                    "Pickled npz members are read by a loader that admits only numpy arrays.",
        epilog="example: tensorgame import ../shared/reference/alphatensor/*.npz --out imported")
    imp.add_argument("files", nargs="+", metavar="FILE", help="npz or JSON files to convert")
    imp.add_argument("--out", required=True, type=Path, metavar="DIR",
                     help="folder for the v1 files (created if missing)")
    imp.add_argument("--force", action="store_true", help="overwrite existing output files")
    imp.set_defaults(func=run_import)

    lst = subparsers.add_parser(
        "list", help="print the library catalogue",
        description="Print every bundled algorithm: shape, field, rank, coefficient set, "
                    "non-zeros and source. Z algorithms are valid over any ring, Q ones need "
                    "division, Z2 ones hold modulo 2 only.",
        epilog="example: tensorgame list --shape 4x4x4")
    lst.add_argument("--shape", metavar="NxMxP",
                     help="only this format and its permutations (e.g. 2x3x4 also lists 4x3x2)")
    lst.add_argument("--field", choices=("Z", "Q", "Z2"), help="only entries of this field")
    lst.add_argument("--json", action="store_true", help="print the rows as a JSON array")
    lst.set_defaults(func=run_list)


# ----------------------------------------------------------------------------- verify

def run_verify(args) -> int:
    from tensorgame import io
    from tensorgame.factorization import verify

    results, status = [], 0
    for path in args.files:
        try:
            f = io.load(path)
            result = _check(f, args.field or f.field, verify)
        except Exception as error:  # noqa: BLE001 - one bad file must not stop the others
            message = str(error) if isinstance(error, TensorgameError) else (
                f"{path}: unexpected {type(error).__name__}: {error}")
            print(f"tensorgame verify: error: {one_line(message)}", file=sys.stderr)
            results.append({"path": path, "valid": None, "error": message})
            status = 2
            continue
        result = {"path": path, **result}
        results.append(result)
        status = max(status, 0 if result["valid"] else 1)
        if not args.json:
            print(_verdict_line(result))
    if args.json:
        print(json.dumps(results, indent=1))
    return status


def _check(f, field: str, verify) -> dict:
    """The verdict on ``f`` over ``field`` as a plain dict."""
    report = verify(f, field=field)  # the field rules (no fractions over Z, Z2) live there
    return {"shape": list(f.shape), "field": field, "rank": f.rank, "valid": report.valid,
            "wrong_entries": None if report.reason else report.wrong_entries,
            "first_wrong": [list(x) for x in report.first_wrong],
            "reason": "" if report.valid else report.summary()}


def _verdict_line(result: dict) -> str:
    shape = "<" + ",".join(map(str, result["shape"])) + ">"
    head = f"{one_line(result['path'])}  {shape} {result['field']} rank {result['rank']}"
    return f"OK  {head}" if result["valid"] else f"INVALID  {head}: {result['reason']}"


# ----------------------------------------------------------------------------- show

FIELD_NOTES = {"Z": "integer coefficients, valid over every ring",
               "Q": "rational coefficients, needs division",
               "Z2": "valid modulo 2 only"}


def run_show(args) -> int:
    from tensorgame import formulas, io, library
    from tensorgame.factorization import verify

    if (args.file is None) == (args.shape is None):
        raise TensorgameError("give either FILE or --shape NxMxP")
    if args.file is not None:
        f, title = io.load(args.file), one_line(args.file)
    else:
        f = library.get(*parse_shape(args.shape, "--shape"), field=args.field)
        title = f"library {args.shape} over {args.field}: {f.meta.get('library_file', 'naive')}"
    n, m, p = f.shape
    report = verify(f)
    lines = [
        title,
        f"shape         <{n},{m},{p}>  (A {n}x{m} times B {m}x{p})",
        f"field         {f.field}  ({FIELD_NOTES[f.field]})",
        f"rank          {f.rank}  (naive {n * m * p})",
        f"coefficients  {coefficient_set(f.coefficients())}",
        f"non-zeros     {f.nonzeros()}",
        f"verified      {report.summary()}",
    ]
    if report.valid:  # block additions of one level, as written and as `tensorgame export` emits
        from tensorgame.export import additions
        before, after = additions(f)
        lines.append(f"additions     {before} as written, {after} exported (basis search + CSE)")
    lines += [f"{one_line(key):<13} {one_line(value)}" for key, value in f.meta.items()]
    if not args.no_formulas:
        lines += [""] + formulas.render(f)
    print("\n".join(lines))
    return 0


def coefficient_set(values, limit: int = 8) -> str:
    """``{-1, 0, 1}``; long sets are cut after ``limit`` values."""
    from tensorgame.io import coefficient_to_json

    text = [str(coefficient_to_json(x)) for x in values]
    if len(text) > limit:
        text = text[:limit] + [f"... {len(values)} values"]
    return "{" + ", ".join(text) + "}"


def parse_shape(text: str, flag: str = "shape",
                max_volume: int | None = MAX_VOLUME) -> tuple[int, int, int]:
    """The one shape parser of the commands: "2x3x4" or "2,3,4" (spaces allowed) -> (2, 3, 4).

    Every problem is a one-line TensorgameError naming ``flag``: not three positive integers, or
    n*m*p over ``max_volume`` (None: no limit; the caller then checks its own sizes).
    """
    match = _SHAPE.fullmatch(text)
    if not match or min(int(x) for x in match.groups()) < 1:
        raise TensorgameError(f"{flag} must look like 2x3x4 or 2,3,4 (three positive "
                              f"integers), got {text!r}")
    shape = tuple(int(x) for x in match.groups())
    if max_volume is not None and shape[0] * shape[1] * shape[2] > max_volume:
        raise TensorgameError(f"{flag} {text.strip()} is too large (n*m*p = "
                              f"{shape[0] * shape[1] * shape[2]} > {max_volume})")
    return shape


MAX_SEED = 2 ** 32 - 1


def check_seed(seed: int) -> int:
    """A --seed both random generators take (JAX's keys and NumPy's): 0 .. 2^32 - 1, else a
    one-line TensorgameError."""
    if not 0 <= seed <= MAX_SEED:
        raise TensorgameError(f"--seed must be an integer from 0 to {MAX_SEED}, got {seed}")
    return seed


# ----------------------------------------------------------------------------- import

def run_import(args) -> int:
    from tensorgame import io

    if args.out.exists() and not args.out.is_dir():
        raise TensorgameError(f"--out {args.out}: exists and is not a folder")
    status = 0
    for path in args.files:
        try:
            imported = io.import_file(path)
        except Exception as error:  # noqa: BLE001 - one bad file must not stop the others
            message = str(error) if isinstance(error, TensorgameError) else (
                f"{path}: unexpected {type(error).__name__}: {error}")
            print(f"tensorgame import: error: {one_line(message)}", file=sys.stderr)
            status = 2
            continue
        prefix = Path(path).name.removesuffix(".gz").removesuffix(".json").removesuffix(".npz")
        for f in imported:
            name = f"{prefix}_{'x'.join(map(str, f.shape))}_rank{f.rank}_{f.field}.json"
            target = args.out / name
            try:
                if target.exists() and not args.force:
                    raise TensorgameError(f"{target} exists (use --force to overwrite)")
                io.save(f, target)
            except TensorgameError as error:
                print(f"tensorgame import: error: {one_line(error)}", file=sys.stderr)
                status = 2
                continue
            print(f"wrote {one_line(target)}  <{','.join(map(str, f.shape))}> {f.field} "
                  f"rank {f.rank}")
    return status


# ----------------------------------------------------------------------------- list

def run_list(args) -> int:
    from tensorgame import library

    rows = library.catalog()
    if args.shape:
        wanted = sorted(parse_shape(args.shape, "--shape"))
        rows = [e for e in rows if sorted(e.shape) == wanted]
    if args.field:
        rows = [e for e in rows if e.field == args.field]
    if args.json:
        print(json.dumps([{"shape": list(e.shape), "field": e.field, "rank": e.rank,
                           "coefficients": list(e.coefficients), "nonzeros": e.nonzeros,
                           "source": e.source, "licence": e.licence, "file": e.file}
                          for e in rows], indent=1))
        return 0
    table = [("shape", "field", "rank", "coefficients", "non-zeros", "source")]
    for e in rows:
        table.append((f"<{','.join(map(str, e.shape))}>", e.field, str(e.rank),
                      coefficient_set(e.coefficients, limit=5), str(e.nonzeros), e.source))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[5])
    print(f"{len(rows)} algorithms")
    return 0
