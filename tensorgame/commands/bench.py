"""`tensorgame bench`: time one exported kernel against native matmul, quickly, on this machine."""

from __future__ import annotations

import argparse
import os


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="time an exported kernel against native matmul",
        description="Multiply random N x N float32 (or --dtype) matrices with an exported kernel and with native "
                    "matmul, alternately (so both see the same machine load), and print the "
                    "medians, the speedup and the max relative error. The full benchmark is "
                    "experiments/bench_kernels.py.")
    parser.add_argument("algorithms", nargs="*", default=["strassen"], metavar="ALGORITHM",
                        help="file, library shape (4,4,4) or 'strassen'; several = one per level")
    parser.add_argument("--levels", type=int, default=None)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", choices=("numpy", "jax"), default="numpy")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.set_defaults(func=run)


MAX_SIZE = 32768


def memory_needed(size: int, itemsize: int) -> int:
    """Bytes the run holds at once: A, B, two products, the workspace (at most ~2 products) and
    the float64 reference rows."""
    return 6 * size * size * itemsize + 256 * size * 8 * 2


def physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def run(args: argparse.Namespace) -> int:
    import statistics

    import numpy as np

    from tensorgame import export
    from tensorgame.commands.export import parse_algorithm
    from tensorgame.errors import TensorgameError
    from tensorgame.export import timing

    if args.size < 1 or args.repeats < 1:
        raise TensorgameError("--size and --repeats must be positive")
    needed, available = memory_needed(args.size, np.dtype(args.dtype).itemsize), physical_memory()
    if args.size > MAX_SIZE or (available is not None and needed > available // 2):
        raise TensorgameError(
            f"--size {args.size} needs about {needed / 2**30:.1f} GiB for {args.dtype} matrices "
            f"(limit: N <= {MAX_SIZE} and half of this machine's "
            f"{(available or 0) / 2**30:.0f} GiB); choose a smaller size")
    algorithms = [parse_algorithm(spec) for spec in args.algorithms]
    plan = export.plan(algorithms if len(algorithms) > 1 else algorithms[0], args.levels)
    if plan.gf2:
        raise TensorgameError("bench times real arithmetic; this algorithm is GF(2)-only")
    kernel = export.load_python(export.python_source(plan, args.backend))
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (args.size, args.size)).astype(args.dtype) for _ in range(2))
    if args.backend == "jax":
        import jax
        import jax.numpy as jnp

        kernel = jax.jit(kernel)
        native = jax.jit(lambda x, y: jnp.matmul(x, y, precision=jax.lax.Precision.HIGHEST))
        a, b = jnp.asarray(a), jnp.asarray(b)
        sync = jax.block_until_ready
    else:
        native, sync = np.matmul, (lambda result: result)
    times = timing.alternate({"native": lambda: native(a, b), "kernel": lambda: kernel(a, b)},
                             args.repeats, sync=sync)  # the warm-up round compiles
    rows = np.unique(np.linspace(0, args.size - 1, min(args.size, 256)).astype(np.int64))
    reference = np.asarray(a, np.float64)[rows] @ np.asarray(b, np.float64)
    error = float(np.abs(np.asarray(kernel(a, b))[rows] - reference).max()
                  / np.abs(reference).max())
    t_native, t_kernel = (statistics.median(times[k]["wall"]) for k in ("native", "kernel"))
    speedup = timing.pair_ratio(times["native"]["wall"], times["kernel"]["wall"])
    print(f"{plan.description}; {args.backend}, {args.dtype}, N={args.size}, {args.repeats} "
          f"alternating rounds: kernel {t_kernel:.4f} s, native {t_native:.4f} s, speedup "
          f"{speedup:.3f}x (median of per-round ratios), max relative error {error:.2e}")
    return 0
