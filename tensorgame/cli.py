"""`tensorgame` command line: one sub-command per module in ``tensorgame.commands``.

Each command module defines ``register(subparsers)``, which adds its parser(s) and sets
``func(args) -> int``. Modules import heavy dependencies (JAX) inside ``func`` so that light
commands start fast. Any TensorgameError (bad file, flag or value) becomes one line on stderr and
exit status 2 (control characters in it, e.g. from a file name, escaped); so do running out of
memory and nesting too deep for Python, the two ways hostile input can still fail outside the
checks. Ctrl-C exits 130 after the command has kept what it saved; a closed output pipe
(`| head`) ends quietly.
"""

from __future__ import annotations

import argparse
import os
import importlib
import pkgutil
import sys

from tensorgame import commands
from tensorgame.errors import TensorgameError, one_line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tensorgame",
        description="Discover, verify, export and use fast matrix multiplication algorithms.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        importlib.import_module(f"tensorgame.commands.{info.name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except TensorgameError as error:
        print(f"tensorgame {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"tensorgame {args.command}: error: out of memory", file=sys.stderr)
        return 2
    except RecursionError:
        print(f"tensorgame {args.command}: error: input nested too deeply", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tensorgame {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
