"""`tensorgame improve`: flip-graph random walks that lower the rank of a scheme."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from tensorgame.commands.core import check_seed, parse_shape
from tensorgame.errors import TensorgameError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "improve", help="lower the rank of a scheme by flip-graph random walks",
        description="Random walks on the flip graph of a matrix multiplication tensor (Kauers & "
                    "Moosbauer 2022, with plus transitions after Arai et al. 2024), from a scheme "
                    "file or the naive algorithm. Every new lower-rank scheme is verified and "
                    "written to DIR at once; Ctrl-C keeps them. Over Z2 the best scheme is then "
                    "lifted to Z when possible. --target formats with factors longer than 16 "
                    "entries start from the lowest-rank direct sum of bundled smaller schemes.")
    parser.add_argument("file", nargs="?", metavar="FILE", help="starting scheme (JSON v1)")
    parser.add_argument("--target", metavar="N,M,P", help="start from the naive <N,M,P> instead")
    parser.add_argument("--field", choices=("Z2", "Z"), default="Z2",
                        help="walk mod 2 (default) or over Z with coefficients in {-1,0,1}")
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget (default 60)")
    parser.add_argument("--walkers", type=int, default=1,
                        help="parallel walkers, one process each (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plateau", type=int, default=3_000,
                        help="longest plateau: flips without a reduction before a plus transition, "
                             "drawn from [1000, PLATEAU] each time (default 3000)")
    parser.add_argument("--slack", type=int, default=3,
                        help="ranks a walk may climb above the best before a reset (default 3)")
    parser.add_argument("--symmetric", action="store_true",
                        help="walk over cyclic-symmetric schemes of a square format mod 2 (orbits "
                             "of three terms, Moosbauer & Poole 2025); --target starts from the "
                             "best symmetric scheme at hand")
    parser.add_argument("--stop-rank", type=int, default=0,
                        help="stop once this rank is reached (default: use the whole budget)")
    parser.add_argument("--no-lift", action="store_true",
                        help="over Z2, do not try to lift the best scheme to Z")
    parser.add_argument("--library", action="store_true",
                        help="add the best scheme found (and its lift to Z) to the bundled library "
                             "when it beats what is bundled: a lower rank, or the same rank with "
                             "fewer non-zeros")
    parser.add_argument("--out", required=True, metavar="DIR", help="where found schemes go")
    parser.set_defaults(func=run)


def _start(args):
    from agents.flipgraph.starts import check_shape, start_for, symmetric_start
    from tensorgame import io
    from tensorgame.factorization import verify

    if (args.file is None) == (args.target is None):
        raise TensorgameError("give either a scheme FILE or --target N,M,P")
    if args.file is not None:
        start = io.load(args.file)
        check_shape(start.shape)
        report = verify(start)
        if not report.valid:
            raise TensorgameError(f"{args.file} is not a valid scheme over {start.field}: "
                                  f"{report.summary()}")
        return start
    # check_shape refuses what is too large before anything that large is built.
    shape = check_shape(parse_shape(args.target, "--target", max_volume=None))
    if args.symmetric:
        if len(set(shape)) != 1:
            raise TensorgameError("--symmetric needs a square format N,N,N")
        return symmetric_start(shape[0])
    return start_for(shape, args.field)


def _name(f) -> str:
    n, m, p = f.shape
    return f"{n}x{m}x{p}_rank{f.rank}_{f.field}.json"


def run(args: argparse.Namespace) -> int:
    from agents.flipgraph import WalkConfig, pack, search
    from agents.flipgraph.symmetric import split_orbits
    from tensorgame import io

    if args.symmetric and args.field != "Z2":
        raise TensorgameError("--symmetric walks run mod 2 (--field Z2)")
    check_seed(args.seed)
    start = _start(args)
    limits = {"plateau": 2 ** 31 - 1,  # a 32-bit count in the compiled walk
              "slack": 1000,  # a walk's arrays hold rank + slack terms
              "walkers": 4 * (os.cpu_count() or 1)}  # one process (and its pipes) each
    for flag, limit in limits.items():
        if not 1 <= getattr(args, flag) <= limit:
            raise TensorgameError(f"--{flag} must lie in 1..{limit}, got {getattr(args, flag)}")
    if not args.seconds > 0:
        raise TensorgameError("--seconds must be positive")
    if args.symmetric:
        split_orbits(start, start.rank)  # refuses a start that is not symmetric, before any output
    else:
        pack(start, args.field, start.rank)  # refuses what a walk cannot hold, before any output
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TensorgameError(f"cannot create {out}: {error.strerror}") from None
    config = WalkConfig(field=args.field, plateau=args.plateau, slack=args.slack,
                        symmetric=args.symmetric)
    tty = sys.stderr.isatty()
    saved: list[Path] = []
    last_line = [0.0]
    t0 = time.monotonic()

    def on_found(found) -> None:
        path = out / _name(found.scheme)
        io.save(found.scheme, path)
        saved.append(path)
        _line(f"rank {found.scheme.rank} after {found.seconds:.1f}s -> {path}", tty, final=True)

    def on_progress(p) -> None:
        text = (f"best rank {p.best_rank} | {p.flips_per_second:,.0f} flips/s | "
                f"walkers alive {p.walkers_alive}/{args.walkers} | {p.seconds:.0f}s")
        if tty or p.seconds - last_line[0] >= 10:
            last_line[0] = p.seconds
            _line(text, tty)

    print(f"improving <{','.join(map(str, start.shape))}> from rank {start.rank} over "
          f"{args.field} for {args.seconds:g}s with {args.walkers} walker(s), seed {args.seed}",
          file=sys.stderr)
    if start.meta.get("construction"):
        print(f"starting from a {start.meta['construction']} (rank {start.rank}; the naive scheme "
              f"has {start.shape[0] * start.shape[1] * start.shape[2]})", file=sys.stderr)
    try:
        found = search(start, config, args.seconds, walkers=args.walkers, seed=args.seed,
                       stop_rank=args.stop_rank, on_found=on_found, on_progress=on_progress)
    except KeyboardInterrupt:
        _line(f"interrupted after {time.monotonic() - t0:.0f}s; kept {len(saved)} scheme(s)"
              f"{': ' + ', '.join(map(str, saved)) if saved else ''}", tty, final=True)
        return 130
    if not found:
        _line(f"no scheme below rank {start.rank} in {args.seconds:g}s", tty, final=True)
        return 0
    best = found[-1].scheme
    _line(f"best rank {best.rank} (from {start.rank}) in {found[-1].seconds:.1f}s; "
          f"{len(saved)} file(s) in {out}", tty, final=True)
    finds = [best]
    if args.field == "Z2" and not args.no_lift:
        finds += [f for f in [_lift(best, config, args, out)] if f is not None]
    if args.library:
        for f in finds:
            _offer_to_library(f, args.seed)
    return 0


def _offer_to_library(f, seed: int) -> None:
    """Bundle ``f`` when it beats the library's best for its format and field; say either way."""
    from tensorgame import library

    label = f"<{','.join(map(str, f.shape))}> rank {f.rank} over {f.field}"
    if not library.beats_bundled(f):
        best = library.candidates(*f.shape, field=f.field)[0]
        print(f"library: not added, {label} does not beat {best.file} (rank {best.rank}, "
              f"{best.nonzeros} non-zeros)", file=sys.stderr)
        return
    meta = {**f.meta, "source": f"tensorgame improve (flip-graph walk, seed {seed})",
            "licence": "Apache-2.0"}
    entry = library.add(f.replace(meta=meta))
    print(f"library: added {label} as {entry.file}", file=sys.stderr)


def _lift(best, config, args, out: Path):
    """Lift the best Z2 scheme to Z (if it does not lift, try other schemes of its rank); returns
    the lifted scheme or None."""
    from agents.flipgraph.lifting import lift_with_retries
    from tensorgame import io

    result = lift_with_retries(best, config, 3 * min(30.0, args.seconds / 4), seed=args.seed,
                               log=lambda line: print(line, file=sys.stderr))
    if result.scheme is None:
        print(f"rank {best.rank} does not lift to Z: {result.how}", file=sys.stderr)
        return None
    path = out / _name(result.scheme)
    io.save(result.scheme, path)
    print(f"rank {best.rank} lifts to Z ({result.how}) -> {path}", file=sys.stderr)
    return result.scheme


def _line(text: str, tty: bool, final: bool = False) -> None:
    if tty:
        sys.stderr.write("\r\033[K" + text + ("\n" if final else ""))
    else:
        sys.stderr.write(text + "\n")
    sys.stderr.flush()
