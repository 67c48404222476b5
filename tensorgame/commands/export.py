"""`tensorgame export`: a verified factorization as NumPy, JAX or C source with block recursion."""

from __future__ import annotations

import argparse
import os
import stat
import sys
import tempfile
from pathlib import Path

from tensorgame.commands.core import parse_shape
from tensorgame.errors import TensorgameError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="write a factorization as a runnable NumPy/JAX/C kernel",
        description="Verify a factorization and write it as code: a NumPy or JAX function "
                    "matmul(A, B), or C99 source with a self-checking main. Several algorithms "
                    "give one per level, outermost first (e.g. 4,4,4 2,2,2).")
    parser.add_argument("algorithms", nargs="+", metavar="FILE",
                        help="factorization JSON file, or a library shape such as 2,2,2 / 4x4x4, "
                             "or 'strassen'; several = one per level")
    parser.add_argument("--lang", required=True, choices=("numpy", "jax", "c"))
    parser.add_argument("--levels", type=int, default=None,
                        help="levels of block recursion (default 1, or one per algorithm given)")
    parser.add_argument("--gf2", action="store_true",
                        help="GF(2) arithmetic (bool/uint8, XOR/AND); implied by Z2 factorizations")
    parser.add_argument("--name", default=None,
                        help="function name (default matmul for Python, tg_matmul for C)")
    parser.add_argument("--out", default=None, help="output path (default: standard output)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tensorgame import export

    algorithms = [parse_algorithm(spec) for spec in args.algorithms]
    plan = export.plan(algorithms if len(algorithms) > 1 else algorithms[0], args.levels,
                       "gf2" if args.gf2 else None)
    if args.lang == "c":  # the generators refuse reserved and internal names in one line
        text = export.c_source(plan, args.name or "tg_matmul")
    else:
        text = export.python_source(plan, args.lang, args.name or "matmul")
    if args.out is None:
        sys.stdout.write(text)
        return 0
    regular = _write_atomic(Path(args.out), text)
    counts = ", ".join(f"<{','.join(map(str, p.shape))}> rank {p.rank}: {p.additions} additions "
                       f"(before CSE {p.additions_before})"
                       for p in {p.label: p for p in plan.levels}.values())
    print(f"wrote {args.out}: {args.lang} kernel, {len(plan.levels)} level(s); {plan.description}"
          f"{'; ' + counts if counts else ''}", file=sys.stdout if regular else sys.stderr)
    return 0


def parse_algorithm(spec: str):
    """A file path -> its Factorization; 'n,m,p' -> a library shape; 'strassen' -> the name."""
    if os.path.exists(spec):
        from tensorgame import io

        return io.load(spec)
    if spec.lower() == "strassen":
        return spec
    try:
        return parse_shape(spec, "algorithm", max_volume=None)
    except TensorgameError:
        raise TensorgameError(f"{spec}: no such file (nor a library shape like 2,2,2)") from None


def _write_atomic(path: Path, text: str) -> bool:
    """Write ``text`` to ``path``: a regular file by temporary file and rename (no partial file
    is ever left), a character device or a pipe (/dev/null, /dev/stdout) directly; a directory,
    socket or block device is refused. Every failure is one line. True for a regular file."""
    try:
        mode = path.stat().st_mode if path.exists() else None  # follows links (/dev/stdout)
        if mode is not None and stat.S_ISREG(mode) and path.is_symlink():
            path = path.resolve()  # replace the file the link names, not the link
    except OSError as error:
        raise TensorgameError(f"--out {path}: {error.strerror or error}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise TensorgameError(f"--out {path} is a directory")
    if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        try:
            with open(path, "w") as out:  # no rename: the device node stays what it is
                out.write(text)
        except OSError as error:
            raise TensorgameError(f"cannot write {path}: {error.strerror or error}") from None
        return False
    if mode is not None and not stat.S_ISREG(mode):
        raise TensorgameError(f"--out {path} is not a regular file, a character device or a pipe")
    if not path.parent.is_dir():
        raise TensorgameError(f"--out {path}: folder {path.parent} does not exist "
                              "(or is not a folder)")
    temp = None
    try:
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temp, path)
        return True
    except OSError as error:
        if temp is not None and os.path.exists(temp):
            os.unlink(temp)
        raise TensorgameError(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        if temp is not None and os.path.exists(temp):
            os.unlink(temp)
        raise
