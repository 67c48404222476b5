"""Benchmark exported block-recursive kernels against native matmul; writes results/kernels.md.

CPU: NumPy kernels (np.matmul at the leaves) against np.matmul, float32, N x N times N x N,
timed in alternation with np.matmul so both see the same load.
GPU (only where JAX sees one): JAX kernels under jit against jnp.matmul with
precision=HIGHEST in float32 (no TF32), with block_until_ready. Each row: median of ``--repeats``
timed runs after one warm-up run, the speedup (native median / kernel median, measured in the
same run) and the max relative error max|C - C64| / max|C64| against a float64 product of the
same float32 inputs on 256 rows spread over C. A kernel whose warm-up run alone would blow the
per-row time cap is skipped or timed with fewer repeats, and the table says so. A second table
measures how the float error grows with levels.

    .venv/bin/python experiments/bench_kernels.py                 # CPU, ~15 min on 2 cores
    .venv/bin/python experiments/bench_kernels.py --quick         # smoke run, sizes 256-512
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from pathlib import Path

# Single-threaded BLAS unless told otherwise: the 2 cores are shared with other jobs, and
# multithreaded OpenBLAS timings of many small block products were erratic there.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after the thread setting)

from tensorgame import export, library  # noqa: E402
from tensorgame.export.timing import median_seconds  # noqa: E402

RESULTS = Path(__file__).resolve().parent.parent / "results"


def algorithms():
    """name -> Factorization: Strassen, DeepMind's <4,4,4> rank 49, the best <3,3,3> (23)."""
    deepmind = next(e for e in library.catalog() if e.file.startswith("alphatensor_r_4x4x4"))
    return {
        "Strassen <2,2,2> r7": library.get(2, 2, 2),
        "DeepMind <4,4,4> r49": library.load_entry(deepmind),
        "best <3,3,3> r23": library.get(3, 3, 3),
    }


def schedules(max_levels: int):
    """(label, algorithm spec, levels) rows to time: each algorithm at 1..max_levels levels,
    plus the mixed schedule <4,4,4> then <2,2,2>."""
    rows = [(f"{name}, L={levels}", f, levels)
            for name, f in algorithms().items() for levels in range(1, max_levels + 1)]
    mixed = [algorithms()["DeepMind <4,4,4> r49"], library.get(2, 2, 2)]
    rows.append(("<4,4,4> r49 then <2,2,2> r7, L=2", mixed, None))
    return rows


def sample_rows(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, 256)).astype(np.int64))


def relative_error(c: np.ndarray, a: np.ndarray, b: np.ndarray, rows: np.ndarray) -> float:
    reference = a[rows].astype(np.float64) @ b.astype(np.float64)
    return float(np.abs(np.asarray(c)[rows] - reference).max() / np.abs(reference).max())


def leaf_size(spec, levels, n):
    plan = export.plan(spec, levels)
    for program in plan.levels:
        n //= program.shape[0]
    return n


# ----------------------------------------------------------------------------- CPU

def bench_cpu(sizes, repeats, cap_seconds, max_levels, min_leaf, level_caps):
    """Each kernel row times np.matmul and the kernel alternately (native, kernel, native, ...)
    so that both see the same load from the machine's other jobs; speedup = ratio of medians."""
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
        b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
        sample = sample_rows(n)
        native_times = []
        base = dict(size=n, kernel="np.matmul", speedup=1.0, native=None, repeats=0, note="",
                    error=relative_error(np.matmul(a, b), a, b, sample))
        rows.append(base)
        top = level_caps.get(n, max_levels)
        for label, spec, levels in schedules(max_levels):
            if levels is not None and levels > top:
                continue
            row = dict(size=n, kernel=label, seconds=None, speedup=None, native=None, repeats=0,
                       error=None, note="")
            leaf = leaf_size(spec, levels, n)
            if leaf < min_leaf:
                row["note"] = f"skipped: leaf blocks {leaf} < {min_leaf}"
            else:
                kernel = export.numpy_function(spec, levels)
                row["error"] = relative_error(kernel(a, b), a, b, sample)
                native, seconds, count = timed_pair(lambda: np.matmul(a, b), lambda: kernel(a, b),
                                                    repeats, cap_seconds)
                native_times += native
                row.update(seconds=statistics.median(seconds), native=statistics.median(native),
                           repeats=count)
                row["speedup"] = row["native"] / row["seconds"]
                if count < repeats:
                    row["note"] = f"{count} timed pairs (time cap)"
            rows.append(row)
            print(f"[cpu] {n}: {row}", flush=True)
        base.update(seconds=statistics.median(native_times), repeats=len(native_times),
                    note="all native runs at this size")
    return rows


def timed_pair(native_call, kernel_call, repeats, cap_seconds):
    """One warm-up pair, then ``repeats`` alternating timed pairs (cut to at least 2 when they
    would take more than ``cap_seconds``): (native times, kernel times, pairs)."""
    start = time.perf_counter()
    native_call(), kernel_call()
    first = time.perf_counter() - start
    count = max(2, min(repeats, int(cap_seconds / max(first, 1e-9))))
    native, kernel = [], []
    for _ in range(count):
        native.append(median_seconds(native_call, 1, warmup=0))
        kernel.append(median_seconds(kernel_call, 1, warmup=0))
    return native, kernel, count


# ----------------------------------------------------------------------------- error growth

def error_growth(n: int):
    """Max error / (u * n * max|A| max|B|) per level, float32 and float64, N = n.

    The inputs are float32 numbers (so both precisions multiply the same matrices) and the
    reference is their product in long double (64-bit mantissa on x86).
    """
    rng = np.random.default_rng(1)
    a32, b32 = (rng.uniform(-1, 1, (n, n)).astype(np.float32) for _ in range(2))
    reference = (a32.astype(np.longdouble) @ b32.astype(np.longdouble)).astype(np.float64)
    rows = []
    for name, f in algorithms().items():
        top = {"Strassen <2,2,2> r7": 4, "best <3,3,3> r23": 3, "DeepMind <4,4,4> r49": 2}[name]
        for levels in range(0, top + 1):
            row = dict(kernel=name, levels=levels)
            for dtype in (np.float32, np.float64):
                a, b = a32.astype(dtype), b32.astype(dtype)
                product = export.numpy_function(f, levels)(a, b) if levels else a @ b
                eps = float(np.finfo(dtype).eps) / 2
                scale = eps * n * np.abs(a32).max() * np.abs(b32).max()
                row[dtype.__name__] = float(np.abs(product - reference).max() / scale)
                row[f"bound_{dtype.__name__}"] = (
                    export.error_bound(export.plan(f, levels), n, dtype) / (eps * n)
                    if levels else 1.0)
            rows.append(row)
            print(f"[error] {row}", flush=True)
    return rows


# ----------------------------------------------------------------------------- GPU

def bench_gpu(sizes, repeats, max_levels, jax_platform="gpu"):
    """JAX kernels vs jnp.matmul(precision=HIGHEST), float32, on the first GPU; [] if none.

    ``jax_platform="cpu"`` runs the same code on the CPU (a smoke test of this path)."""
    import jax
    import jax.numpy as jnp

    try:
        device = jax.devices(jax_platform)[0]
    except RuntimeError:
        return [], f"no {jax_platform.upper()} visible to JAX"
    native_fn = jax.jit(lambda x, y: jnp.matmul(x, y, precision=jax.lax.Precision.HIGHEST))
    rows = []
    for n in sizes:
        key_a, key_b = jax.random.split(jax.random.PRNGKey(n))
        a = jax.device_put(jax.random.uniform(key_a, (n, n), jnp.float32, -1, 1), device)
        b = jax.device_put(jax.random.uniform(key_b, (n, n), jnp.float32, -1, 1), device)
        sample = sample_rows(n)
        a_host, b_host = np.asarray(a), np.asarray(b)
        native = median_seconds(lambda: native_fn(a, b), repeats, 2, jax.block_until_ready)
        rows.append(dict(size=n, kernel="jnp.matmul HIGHEST", seconds=native, speedup=1.0,
                         repeats=repeats, note="",
                         error=relative_error(native_fn(a, b), a_host, b_host, sample)))
        print(f"[gpu] {n}: native {native:.4f} s", flush=True)
        for label, spec, levels in schedules(max_levels):
            if "<4,4,4>" in label and (levels or 2) > 1 and "then" not in label:
                continue  # thousands of block products: minutes of XLA compile, no gain
            fn = jax.jit(export.jax_function(spec, levels))
            seconds = median_seconds(lambda: fn(a, b), repeats, 2, jax.block_until_ready)
            rows.append(dict(size=n, kernel=label, seconds=seconds, speedup=native / seconds,
                             repeats=repeats, note="",
                             error=relative_error(fn(a, b), a_host, b_host, sample)))
            print(f"[gpu] {n}: {label}: {rows[-1]}", flush=True)
    return rows, str(device)


# ----------------------------------------------------------------------------- report

def table(rows, unit="s"):
    lines = ["| N | kernel | median time (s) | native median, same runs (s) | speedup vs native "
             "| max rel. error | timed runs | note |", "|---|---|---|---|---|---|---|---|"]

    def fmt(value, pattern):
        return pattern.format(value) if value is not None else "-"

    for r in rows:
        lines.append(f"| {r['size']} | {r['kernel']} | {fmt(r['seconds'], '{:.4f}')} | "
                     f"{fmt(r.get('native'), '{:.4f}')} | {fmt(r['speedup'], '{:.3f}x')} | "
                     f"{fmt(r['error'], '{:.2e}')} | {r['repeats']} | {r['note']} |")
    return lines


def growth_table(rows):
    lines = ["| algorithm | levels | float32 error / (u N) | bound / (u N) | float64 error / (u N) "
             "| bound / (u N) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['kernel']} | {r['levels']} | {r['float32']:.3f} | "
                     f"{r['bound_float32']:.3g} | {r['float64']:.3f} | {r['bound_float64']:.3g} |")
    return lines


def plot(rows, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    kernels = [k for k in dict.fromkeys(r["kernel"] for r in rows) if "matmul" not in k]
    for kernel in kernels:
        points = [(r["size"], r["speedup"]) for r in rows
                  if r["kernel"] == kernel and r["speedup"] is not None]
        if points:
            ax.plot(*zip(*points), marker="o", label=kernel)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N (N x N times N x N)")
    ax.set_ylabel("speedup over native matmul (median)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    parser.add_argument("--gpu-sizes", type=int, nargs="+",
                        default=[4096, 8192, 12288, 16384, 20480])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--cap", type=float, default=45.0,
                        help="seconds of timed runs per CPU row before repeats are cut")
    parser.add_argument("--max-levels", type=int, default=3)
    parser.add_argument("--level-caps", nargs="*", default=["4096:2", "8192:1"],
                        help="SIZE:L: at SIZE time only levels up to L (and the mixed schedule); "
                             "one np.matmul at 8192 takes ~16 s single-threaded here")
    parser.add_argument("--min-leaf", type=int, default=64,
                        help="skip CPU rows whose leaf blocks would be smaller than this")
    parser.add_argument("--error-size", type=int, default=512)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 3 repeats")
    parser.add_argument("--jax-platform", default="gpu",
                        help="device for the JAX part (cpu: smoke-test that path here)")
    parser.add_argument("--out", type=Path, default=RESULTS / "kernels.md")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.gpu_sizes, args.repeats, args.error_size = [256, 512], [512], 3, 256
        args.min_leaf, args.level_caps = 8, ["512:1"]
    start = time.perf_counter()
    caps = {int(k): int(v) for k, v in (item.split(":") for item in args.level_caps)}
    cpu = bench_cpu(args.sizes, args.repeats, args.cap, args.max_levels, args.min_leaf, caps)
    growth = error_growth(args.error_size)
    gpu, gpu_device = bench_gpu(args.gpu_sizes, args.repeats, args.max_levels, args.jax_platform)
    elapsed = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    png = args.out.with_name(args.out.stem + "_cpu.png")
    plot(cpu, png, "NumPy block-recursive kernels vs np.matmul, float32, CPU")
    lines = [
        "# Exported kernels against native matmul",
        "",
        f"Written by `experiments/bench_kernels.py` on {datetime.date.today()} in "
        f"{elapsed / 60:.1f} min. CPU: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores shared with other jobs (timings are noisy; speedups are ratios "
        f"of medians measured in the same run), NumPy {np.__version__} "
        f"({_blas_name()}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}: "
        "one thread for np.matmul and for every leaf product alike).",
        "",
        "Precision: float32 inputs and outputs everywhere (NumPy/OpenBLAS sgemm at the leaves on "
        "the CPU). Error: max|C - C64| / max|C64| on 256 rows spread over C, C64 the float64 "
        "product of the same float32 inputs. Time: after one warm-up pair, np.matmul and the "
        "kernel run alternately (native, kernel, native, ...) so both see the same load; the "
        "speedup is the ratio of the two medians of the same row.",
        "",
        "## CPU: NumPy kernels vs `np.matmul` (float32)",
        "",
        *table(cpu),
        "",
        f"![speedup plot]({png.name})",
        "",
        f"## Float error growth with levels (N = {args.error_size}, inputs uniform in [-1, 1])",
        "",
        "Max |C - AB| over all entries divided by u N max|A| max|B| (u the unit roundoff, so "
        "the classical worst-case bound is 1), against `export.error_bound` on the same scale "
        "(the bound the tests enforce). Level 0 is np.matmul.",
        "",
        *growth_table(growth),
        "",
        f"## {args.jax_platform.upper()}: JAX kernels vs `jnp.matmul(precision=HIGHEST)` "
        "(float32, jit, block_until_ready)",
        "",
    ]
    if gpu:
        gpu_png = args.out.with_name(args.out.stem + "_gpu.png")
        plot(gpu, gpu_png, f"JAX kernels vs jnp.matmul HIGHEST, float32, {gpu_device}")
        lines += [f"Device: {gpu_device}.", "", *table(gpu), "", f"![gpu plot]({gpu_png.name})"]
    else:
        lines += [f"Not measured in this session ({gpu_device}). The same script runs the GPU rows "
                  "(sizes " + ", ".join(map(str, args.gpu_sizes)) + ") where JAX sees a GPU."]
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out} and {png} in {elapsed / 60:.1f} min")


def _blas_name() -> str:
    try:
        config = np.show_config(mode="dicts")
        return config["Build Dependencies"]["blas"]["name"]
    except Exception:  # older NumPy: no dict mode
        return "BLAS unknown"


if __name__ == "__main__":
    main()
