"""Benchmark exported kernels against native matmul; writes results/kernels.md (+ .csv, plot).

Sections (``--only`` picks some; each writes its own table, merged into one report):

- ``cpu``: NumPy kernels (lean schedule, np.matmul at the leaves) and ``library.matmul(...,
  "auto")`` against np.matmul, square N x N, per dtype and BLAS thread count;
- ``rect``: rectangular shapes with the library's rectangular algorithms (<4,2,4>, <3,2,3>,
  <4,4,2>) and Strassen;
- ``c``: C kernels with BLAS leaves (``-DTG_BLAS``, NumPy's own OpenBLAS), the harness timing the
  kernel against one sgemm/dgemm call;
- ``error``: float error growth with levels;
- ``gpu``: JAX kernels, jitted once per shape, against ``jnp.matmul`` at precision HIGHEST (full
  float32) and DEFAULT (TF32 on recent GPUs), with ``block_until_ready``; only where JAX sees
  the platform (``--jax-platform cpu --quick`` smoke-tests this path on the CPU).

Timing: after one warm-up pair, native and kernel run alternately (native, kernel, native, ...);
each row reports the median of each and the speedup = native median / kernel median, both from
the same pairs. Single-threaded rows also report the same ratio in process CPU time, which the
other jobs of a shared machine disturb far less than wall time (they take turns on the cores).

    .venv/bin/python experiments/bench_kernels.py --only cpu --dtypes float32   # ~20 min
    .venv/bin/python experiments/bench_kernels.py --quick                       # smoke run
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from tensorgame import export, library
from tensorgame.export import blas, crossover

RESULTS = Path(__file__).resolve().parent.parent / "results"
SECTIONS = ("cpu", "rect", "c", "error", "gpu")


def deepmind_444():
    entry = next(e for e in library.catalog() if e.file.startswith("alphatensor_r_4x4x4"))
    return library.load_entry(entry)


def square_rows(size: int, min_leaf: int, max_levels: int, full: bool):
    """(label, algorithm spec, levels) to time at ``size``; ``full=False``: the cheap subset."""
    rows = [("auto", "auto", None)]
    rows += [(f"Strassen <2,2,2> r7, L={levels}", "strassen", levels)
             for levels in range(1, max_levels + 1) if size >> levels >= min_leaf]
    if size // 4 >= min_leaf:
        rows.append(("DeepMind <4,4,4> r49, L=1", deepmind_444(), 1))
    if full and size // 3 >= min_leaf:
        rows.append(("best <3,3,3> r23, L=1", library.get(3, 3, 3), 1))
    if full and size // 8 >= min_leaf:
        rows.append(("<4,4,4> r49 then <2,2,2> r7, L=2", [deepmind_444(), library.get(2, 2, 2)],
                     None))
    return rows


# ----------------------------------------------------------------------------- timing

def timed_pairs(native, kernel, repeats: int, cap_seconds: float):
    """One warm-up pair, then alternating timed pairs (cut to >= 2 by ``cap_seconds``).

    Returns (native wall, kernel wall, native cpu, kernel cpu) lists.
    """
    start = time.perf_counter()
    native(), kernel()
    first = time.perf_counter() - start
    count = max(2, min(repeats, int(cap_seconds / max(first, 1e-9))))
    out = ([], [], [], [])
    for _ in range(count):
        for call, wall, cpu in ((native, out[0], out[2]), (kernel, out[1], out[3])):
            w, c = time.perf_counter(), time.process_time()
            call()
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - w)
    return out


def sample_rows(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, 256)).astype(np.int64))


def relative_error(c, a, b) -> float:
    """max|C - C_ref| / max|C_ref| on 256 rows spread over C, C_ref the float64 product: for
    float32 inputs an independent reference; for float64 inputs np.matmul's own float64 rows
    (so that column reads "difference from native"; long double has no BLAS and takes minutes)."""
    rows = sample_rows(a.shape[0])
    reference = np.asarray(a)[rows].astype(np.float64) @ np.asarray(b).astype(np.float64)
    return float(np.abs(np.asarray(c)[rows] - reference).max() / np.abs(reference).max())


def bench_numpy(shapes, dtypes, threads_list, repeats, cap, rows_for, log):
    """Rows for every (threads, dtype, shape, kernel)."""
    rng = np.random.default_rng(0)
    out = []
    for threads in threads_list:
        with blas.limit_threads(threads):
            for dtype in dtypes:
                for shape in shapes:
                    N, M, P = shape
                    a = rng.uniform(-1, 1, (N, M)).astype(dtype)
                    b = rng.uniform(-1, 1, (M, P)).astype(dtype)
                    native_error = relative_error(np.matmul(a, b), a, b)
                    for label, spec, levels in rows_for(shape):
                        if spec == "auto":
                            picked = crossover.choose(a.shape, b.shape, a.dtype, threads)
                            note = ("native" if picked[0] == "native"
                                    else f"{_name(picked[0])} L={picked[1]}")
                            kernel = (lambda: library.matmul(a, b))  # noqa: E731
                        else:
                            note = ""
                            function = export.numpy_function(spec, levels)
                            kernel = (lambda f=function: f(a, b))  # noqa: E731
                        error = relative_error(kernel(), a, b)
                        nw, kw, nc, kc = timed_pairs(lambda: np.matmul(a, b), kernel, repeats,
                                                     cap)
                        row = dict(section="cpu", dtype=np.dtype(dtype).name, threads=threads,
                                   shape="x".join(map(str, shape)), size=min(shape),
                                   kernel=label, note=note, pairs=len(kw),
                                   native_s=statistics.median(nw), kernel_s=statistics.median(kw),
                                   speedup=statistics.median(nw) / statistics.median(kw),
                                   cpu_speedup=(statistics.median(nc) / statistics.median(kc)
                                                if threads == 1 else None),
                                   error=error, native_error=native_error)
                        out.append(row)
                        log(row)
    return out


def _name(algorithm) -> str:
    return algorithm if isinstance(algorithm, str) else "<" + ",".join(map(str, algorithm)) + ">"


# ----------------------------------------------------------------------------- C with BLAS

def bench_c(sizes, dtypes, repeats, log):
    """The C harness with BLAS leaves: kernel vs one gemm call, alternating, single-threaded."""
    flags = blas.c_flags()
    if flags is None:
        return [], "no OpenBLAS bundled with NumPy here: C rows not measured"
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, spec, levels in (("Strassen <2,2,2> r7, L=1", "strassen", 1),
                                    ("Strassen <2,2,2> r7, L=2", "strassen", 2)):
            source = Path(folder) / "kernel.c"
            source.write_text(export.c_source(export.plan(spec, levels)))
            for dtype in dtypes:
                real = "float" if dtype == "float32" else "double"
                binary = Path(folder) / f"kernel_{real}_{levels}"
                subprocess.run(["cc", "-O3", "-march=native", "-std=c99", str(source), *flags,
                                f"-DTG_REAL={real}", "-o", str(binary), "-lm"], check=True)
                for size in sizes:
                    done = subprocess.run([str(binary), str(size), str(size), str(size),
                                           str(repeats)], capture_output=True, text=True,
                                          env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
                    lines = done.stdout.strip().split("\n")
                    timing = lines[0].split("time kernel ")[1]
                    kernel_s = float(timing.split(" s,")[0])
                    gemm_s = float(timing.split("gemm ")[1].split(" s,")[0])
                    row = dict(section="c", dtype=dtype, threads=1, shape=f"{size}^3",
                               size=size, kernel=f"C {label} + {'s' if real == 'float' else 'd'}gemm leaves",
                               note="ok" if lines[-1].endswith(": ok") else "CHECK FAILED",
                               pairs=repeats, native_s=gemm_s, kernel_s=kernel_s,
                               speedup=gemm_s / kernel_s, cpu_speedup=None, error=None,
                               native_error=None)
                    rows.append(row)
                    log(row)
    return rows, "cc -O3 -march=native " + " ".join(flags[:4]) + " (NumPy's OpenBLAS)"


# ----------------------------------------------------------------------------- error growth

def error_growth(n: int, log):
    """Max error / (u n max|A| max|B|) per level, float32 and float64, against long double."""
    rng = np.random.default_rng(1)
    a32, b32 = (rng.uniform(-1, 1, (n, n)).astype(np.float32) for _ in range(2))
    reference = (a32.astype(np.longdouble) @ b32.astype(np.longdouble)).astype(np.float64)
    rows = []
    for name, f, top in (("Strassen <2,2,2> r7", library.get(2, 2, 2), 4),
                         ("DeepMind <4,4,4> r49", deepmind_444(), 2),
                         ("best <3,3,3> r23", library.get(3, 3, 3), 3)):
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
            log(row)
    return rows


# ----------------------------------------------------------------------------- GPU

def bench_gpu(sizes, repeats, platform_name, log, max_levels=3, rank49=True):
    """JAX kernels (jitted once per shape and precision) vs jnp.matmul at the same precision."""
    import jax
    import jax.numpy as jnp

    try:
        device = jax.devices(platform_name)[0]
    except RuntimeError:
        return [], f"no {platform_name.upper()} visible to JAX"
    rows = []
    specs = [(f"Strassen <2,2,2> r7, L={levels}", "strassen", levels)
             for levels in range(1, max_levels + 1)]
    if rank49:
        specs.append(("DeepMind <4,4,4> r49, L=1", deepmind_444(), 1))
    for precision in ("highest", "default"):
        lax_precision = getattr(jax.lax.Precision, precision.upper())
        native_fn = jax.jit(lambda x, y, p=lax_precision: jnp.matmul(x, y, precision=p))
        kernels = {label: jax.jit(export.jax_function(spec, levels, precision=precision))
                   for label, spec, levels in specs}
        for n in sizes:
            key_a, key_b = jax.random.split(jax.random.PRNGKey(n))
            a = jax.device_put(jax.random.uniform(key_a, (n, n), jnp.float32, -1, 1), device)
            b = jax.device_put(jax.random.uniform(key_b, (n, n), jnp.float32, -1, 1), device)
            a_host, b_host = np.asarray(a), np.asarray(b)
            native_error = relative_error(native_fn(a, b), a_host, b_host)
            for label, kernel in kernels.items():
                nw, kw, _, _ = timed_pairs(lambda: native_fn(a, b).block_until_ready(),
                                           lambda k=kernel: k(a, b).block_until_ready(),
                                           repeats, 60.0)
                row = dict(section="gpu", dtype=f"float32 {precision.upper()}", threads=None,
                           shape=f"{n}^3", size=n, kernel=label, note=str(device),
                           pairs=len(kw), native_s=statistics.median(nw),
                           kernel_s=statistics.median(kw),
                           speedup=statistics.median(nw) / statistics.median(kw), cpu_speedup=None,
                           error=relative_error(kernel(a, b), a_host, b_host),
                           native_error=native_error)
                rows.append(row)
                log(row)
    return rows, str(device)


# ----------------------------------------------------------------------------- report

def table(rows):
    lines = ["| dtype | threads | shape | kernel | native median (s) | kernel median (s) | "
             "speedup (wall) | speedup (CPU time) | pairs | max rel. error (native) | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]

    def fmt(value, pattern):
        return pattern.format(value) if value is not None else "-"

    for r in rows:
        error = (f"{fmt(r['error'], '{:.2e}')} ({fmt(r['native_error'], '{:.2e}')})"
                 if r["error"] is not None else "-")
        lines.append(f"| {r['dtype']} | {fmt(r['threads'], '{}')} | {r['shape']} | {r['kernel']} "
                     f"| {r['native_s']:.4f} | {r['kernel_s']:.4f} | **{r['speedup']:.3f}x** | "
                     f"{fmt(r['cpu_speedup'], '{:.3f}x')} | {r['pairs']} | {error} | "
                     f"{r['note']} |")
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
    groups = dict.fromkeys((r["kernel"], r["dtype"], r["threads"]) for r in rows)
    for kernel, dtype, threads in groups:
        points = sorted((r["size"], r["speedup"]) for r in rows
                        if (r["kernel"], r["dtype"], r["threads"]) == (kernel, dtype, threads))
        if len(points) > 1:
            ax.plot(*zip(*points), marker="o", label=f"{kernel} ({dtype}, {threads} thr)")
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N (N x N times N x N)")
    ax.set_ylabel("speedup over native matmul (ratio of medians)")
    ax.set_title(title)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--rect", nargs="+", default=["4096x2048x4096", "3072x2048x3072",
                                                       "4096x4096x2048"])
    parser.add_argument("--c-sizes", type=int, nargs="+", default=[2048, 4096])
    parser.add_argument("--gpu-sizes", type=int, nargs="+",
                        default=[4096, 8192, 12288, 16384, 20480])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cap", type=float, default=90.0,
                        help="seconds of timed pairs per row before repeats are cut (>= 2 pairs)")
    parser.add_argument("--max-levels", type=int, default=3)
    parser.add_argument("--min-leaf", type=int, default=512)
    parser.add_argument("--full-below", type=int, default=4096,
                        help="sizes up to this also time <3,3,3> and the mixed schedule")
    parser.add_argument("--error-size", type=int, default=512)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 repeats")
    parser.add_argument("--jax-platform", default="gpu")
    parser.add_argument("--out", type=Path, default=RESULTS / "kernels_run.json",
                        help="rows as JSON (the report is written from one or more such files)")
    parser.add_argument("--report", type=Path, nargs="+", default=None,
                        help="write results/kernels.md (+ .csv, plot) from these run files and "
                             "stop")
    args = parser.parse_args()
    if args.report:
        report(args.report, RESULTS / "kernels.md")
        return
    if args.quick:
        args.sizes, args.gpu_sizes, args.repeats, args.error_size = [256, 512], [256], 2, 128
        args.min_leaf, args.rect, args.c_sizes = 64, ["256x128x256"], [256]
    start = time.perf_counter()

    def log(row):
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()},
              flush=True)

    rows, notes = [], {}
    if "cpu" in args.only:
        rows += bench_numpy([(n, n, n) for n in args.sizes], args.dtypes, args.threads,
                            args.repeats, args.cap,
                            lambda s: square_rows(s[0], args.min_leaf, args.max_levels,
                                                  s[0] <= args.full_below), log)
    if "rect" in args.only:
        def rect_rows(shape):
            n, m, p = shape
            fits = [(f"library <{a},{b},{c}> r{library.get(a, b, c).rank}, L=1", (a, b, c), 1)
                    for a, b, c in ((4, 2, 4), (3, 2, 3), (4, 4, 2))
                    if n % a == 0 and m % b == 0 and p % c == 0 and n // a == m // b == p // c]
            return [("auto", "auto", None), ("Strassen <2,2,2> r7, L=1", "strassen", 1)] + fits

        shapes = [tuple(int(d) for d in s.split("x")) for s in args.rect]
        for row in bench_numpy(shapes, args.dtypes[:1], [1], args.repeats, args.cap, rect_rows,
                               log):
            row["section"] = "rect"
            rows.append(row)
    if "c" in args.only:
        c_rows, notes["c"] = bench_c(args.c_sizes, args.dtypes, max(3, args.repeats), log)
        rows += c_rows
    growth = error_growth(args.error_size, log) if "error" in args.only else []
    if "gpu" in args.only:
        gpu_rows, notes["gpu"] = bench_gpu(args.gpu_sizes, args.repeats, args.jax_platform, log,
                                           args.max_levels, not args.quick)
        rows += gpu_rows
    elapsed = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        minutes=elapsed / 60, machine=machine(), args={k: str(v) for k, v in vars(args).items()},
        notes=notes, rows=rows, growth=growth), indent=1) + "\n")
    print(f"wrote {args.out} in {elapsed / 60:.1f} min")


def machine() -> str:
    try:
        config = np.show_config(mode="dicts")
        name = config["Build Dependencies"]["blas"]["name"]
        version = config["Build Dependencies"]["blas"].get("version", "")
    except Exception:  # older NumPy: no dict mode
        name, version = "BLAS unknown", ""
    return (f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs, NumPy "
            f"{np.__version__} ({name} {version})")


def report(paths: list[Path], out: Path) -> None:
    """results/kernels.md (+ kernels.csv, kernels_cpu.png) from the JSON files of runs."""
    runs = [json.loads(p.read_text()) for p in paths]
    rows = [r for run in runs for r in run["rows"]]
    growth = [g for run in runs for g in run["growth"]]
    with open(out.with_suffix(".csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    png = out.with_name(out.stem + "_cpu.png")
    plot([r for r in rows if r["section"] == "cpu" and r["kernel"] != "auto"], png,
         "Lean NumPy kernels vs np.matmul (CPU)")
    lines = ["# Exported kernels against native matmul", "",
             "Runs: " + "; ".join(f"{run['date']} ({run['minutes']:.0f} min, {run['machine']})"
                                  for run in runs) + ".", ""]
    for section, title in (("cpu", "CPU: NumPy kernels and `library.matmul(..., 'auto')` vs "
                                   "`np.matmul`, square"),
                           ("rect", "CPU: rectangular shapes"),
                           ("c", "C kernels with BLAS leaves vs one gemm call (harness)"),
                           ("gpu", "GPU: jitted JAX kernels vs `jnp.matmul`")):
        chosen = [r for r in rows if r["section"] == section]
        if chosen:
            lines += [f"## {title}", "", *table(chosen), ""]
    if growth:
        lines += ["## Float error growth with levels", "", *growth_table(growth), ""]
    lines += [f"![speedup plot]({png.name})", ""]
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
