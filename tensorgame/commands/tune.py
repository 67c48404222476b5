"""`tensorgame tune`: measure where fast algorithms beat native matmul here; write the table."""

from __future__ import annotations

import argparse
from pathlib import Path

MAX_SIZE = 32768  # one float64 32768^2 matrix is 8 GiB: refuse larger before allocating


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tune", help="measure the crossover table that matmul(..., 'auto') uses",
        description="Time native matmul and Strassen at 1..--max-levels levels, alternately, on "
                    "random square matrices of each size and dtype, and write the crossover "
                    "table (measurements and rules) that library.matmul(A, B, 'auto') reads. "
                    "An algorithm becomes a rule only where it was at least --margin times "
                    "faster. Run it on an otherwise idle machine: minutes per size above 4096.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 3072, 4096])
    parser.add_argument("--dtypes", nargs="+", choices=("float32", "float64"),
                        default=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads for native and leaves alike (default 1)")
    parser.add_argument("--repeats", type=int, default=5, help="timed pairs per candidate")
    parser.add_argument("--max-levels", type=int, default=2)
    parser.add_argument("--min-leaf", type=int, default=512,
                        help="skip depths whose leaf blocks would be smaller")
    parser.add_argument("--margin", type=float, default=1.03,
                        help="least measured speedup for an algorithm to be chosen")
    parser.add_argument("--out", type=Path, default=None,
                        help="table path (default: $TENSORGAME_CROSSOVER or "
                             "~/.cache/tensorgame/crossover.json)")
    parser.add_argument("--show", action="store_true",
                        help="print the table in force and where it comes from; measure nothing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from tensorgame.errors import TensorgameError
    from tensorgame.export import crossover

    if args.show:
        data, source = crossover.table()
        print(f"crossover table: {source}; BLAS threads now {crossover.current_threads()}")
        print(json.dumps(data["rules"], indent=1))
        return 0
    if any(s < 1 or s > MAX_SIZE for s in args.sizes):
        raise TensorgameError(f"--sizes must lie in 1..{MAX_SIZE}")
    if args.threads < 1 or args.repeats < 1 or args.max_levels < 1 or args.min_leaf < 1:
        raise TensorgameError("--threads, --repeats, --max-levels and --min-leaf must be positive")
    if not args.margin >= 1.0:
        raise TensorgameError("--margin must be at least 1.0")
    out = args.out or crossover.user_path()
    if out.exists() and not out.is_file():
        raise TensorgameError(f"--out {out} is not a regular file")
    rows = crossover.measure(sorted(set(args.sizes)), args.dtypes, args.threads, args.repeats,
                             args.min_leaf, args.max_levels)
    try:
        data = crossover.write(rows, out, args.margin)
    except OSError as error:
        raise TensorgameError(f"cannot write {out}: {error.strerror or error}") from None
    print(f"wrote {out}: {len(data['rules'])} rule(s)")
    for rule in data["rules"]:
        what = ("native" if rule["algorithm"] == "native"
                else f"{rule['algorithm']} L={rule['levels']}")
        print(f"  {rule['dtype']} threads={rule['threads']} from N={rule['min_size']}: {what}")
    return 0
