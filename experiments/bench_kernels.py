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

Timing (``tensorgame.export.timing.alternate``): per shape, after one warm-up round, rounds of
native and every kernel of that shape, once each, in turn; a speedup is the median over rounds of
native / kernel, in wall time and, for one BLAS thread, in process CPU time (which the other
jobs of a shared machine disturb far less: they take turns on the cores), with the quartiles of
the CPU-time ratios as their spread. Where "auto" runs native, its row is native plus the
dispatch cost of ``library.matmul`` measured directly (timing np.matmul against itself would
only show the machine's noise); where it runs an algorithm, it is timed as a kernel.

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
from tensorgame.export import blas, crossover, timing

RESULTS = Path(__file__).resolve().parent.parent / "results"
SECTIONS = ("cpu", "rect", "c", "error", "gpu")


def deepmind_444():
    entry = next(e for e in library.catalog() if e.file.startswith("alphatensor_r_4x4x4"))
    return library.load_entry(entry)


def square_rows(size: int, min_leaf: int, max_levels: int, full: bool, rank49: bool = True):
    """(label, algorithm spec, levels) to time at ``size``; ``full=False``: the cheap subset."""
    rows = [("auto", "auto", None)]
    rows += [(f"Strassen <2,2,2> r7, L={levels}", "strassen", levels)
             for levels in range(1, max_levels + 1) if size >> levels >= min_leaf]
    if rank49 and size // 4 >= min_leaf:
        rows.append(("DeepMind <4,4,4> r49, L=1", deepmind_444(), 1))
    if full and size // 3 >= min_leaf:
        rows.append(("best <3,3,3> r23, L=1", library.get(3, 3, 3), 1))
    if full and size // 8 >= min_leaf:
        rows.append(("<4,4,4> r49 then <2,2,2> r7, L=2", [deepmind_444(), library.get(2, 2, 2)],
                     None))
    return rows


# ----------------------------------------------------------------------------- timing

def sample_rows(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, 256)).astype(np.int64))


def relative_error(c, a, b) -> float:
    """max|C - C_ref| / max|C_ref| on 256 rows spread over C, C_ref the float64 product: for
    float32 inputs an independent reference; for float64 inputs np.matmul's own float64 rows
    (so that column reads "difference from native"; long double has no BLAS and takes minutes)."""
    rows = sample_rows(a.shape[0])
    reference = np.asarray(a)[rows].astype(np.float64) @ np.asarray(b).astype(np.float64)
    return float(np.abs(np.asarray(c)[rows] - reference).max() / np.abs(reference).max())


def dispatch_seconds(a, b, calls: int = 2000, rounds: int = 7) -> float:
    """What ``library.matmul(a, b)`` adds to ``np.matmul`` where "auto" runs native, measured
    directly in CPU time (an upper bound): the wrapper's cost on 8 x 8 matrices plus
    ``crossover.choose`` for the real shapes, per call, from alternating loops of ``calls``."""
    small = np.ones((8, 8), a.dtype)

    def loop(call):
        return lambda: [call() for _ in range(calls)]

    times = timing.alternate({"native": loop(lambda: np.matmul(small, small)),
                              "auto": loop(lambda: library.matmul(small, small)),
                              "choose": loop(lambda: crossover.choose(a.shape, b.shape,
                                                                      a.dtype))}, rounds)
    wrapper = statistics.median(t - n for t, n in zip(times["auto"]["cpu"],
                                                      times["native"]["cpu"]))
    return max(0.0, wrapper + statistics.median(times["choose"]["cpu"])) / calls


def bench_numpy(shapes, dtypes, threads_list, rounds, cap, rows_for, log, section="cpu"):
    """Rows for every (threads, dtype, shape, kernel): native and every kernel of the shape in
    alternating rounds; "auto" timed as a kernel where it runs an algorithm, else native plus
    its measured dispatch cost."""
    rng = np.random.default_rng(0)
    out = []
    for threads in threads_list:
        with blas.limit_threads(threads):
            for dtype in dtypes:
                for shape in shapes:
                    N, M, P = shape
                    a = rng.uniform(-1, 1, (N, M)).astype(dtype)
                    b = rng.uniform(-1, 1, (M, P)).astype(dtype)
                    out += bench_shape(a, b, threads, rows_for(shape), rounds, cap, log,
                                       section)
    return out


def bench_shape(a, b, threads, specs, rounds, cap, log, section):
    picked = crossover.choose(a.shape, b.shape, a.dtype, threads)
    calls, notes = {"native": lambda: np.matmul(a, b)}, {}
    for label, spec, levels in specs:
        if spec == "auto" and picked[0] == "native":
            continue
        if spec == "auto":
            calls[label] = lambda: library.matmul(a, b)  # noqa: E731
            notes[label] = f"auto runs {_name(picked[0])} L={picked[1]}"
        else:
            function = export.numpy_function(spec, levels)
            calls[label] = lambda f=function: f(a, b)  # noqa: E731
    errors = {label: relative_error(call(), a, b) for label, call in calls.items()}
    times = timing.alternate(calls, rounds, cap)
    native = times.pop("native")
    base = dict(section=section, dtype=a.dtype.name, threads=threads,
                shape="x".join(map(str, (*a.shape, b.shape[1]))), size=min(*a.shape, b.shape[1]),
                native_s=statistics.median(native["wall"]), native_error=errors["native"])
    rows = []
    for label, measured in times.items():
        low, high = timing.pair_quartiles(native["cpu"], measured["cpu"])
        rows.append(dict(base, kernel=label, note=notes.get(label, ""), pairs=len(measured["wall"]),
                         kernel_s=statistics.median(measured["wall"]),
                         speedup=timing.pair_ratio(native["wall"], measured["wall"]),
                         cpu_speedup=(timing.pair_ratio(native["cpu"], measured["cpu"])
                                      if threads == 1 else None),
                         cpu_quartiles=[low, high] if threads == 1 else None,
                         error=errors[label]))
    if any(spec == "auto" for _, spec, _ in specs) and picked[0] == "native":
        overhead = dispatch_seconds(a, b)
        ratio = base["native_s"] / (base["native_s"] + overhead)
        rows.insert(0, dict(base, kernel="auto", pairs=None, kernel_s=base["native_s"] + overhead,
                            speedup=ratio, cpu_speedup=ratio if threads == 1 else None,
                            cpu_quartiles=None, error=base["native_error"],
                            note=f"auto == native; dispatch {overhead * 1e6:.1f} us measured"))
    for row in rows:
        log(row)
    return rows


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
                    timed = lines[0].split("time kernel ")[1]
                    kernel_s = float(timed.split(" s,")[0])
                    gemm_s = float(timed.split("gemm ")[1].split(" s,")[0])
                    row = dict(section="c", dtype=dtype, threads=1, shape=f"{size}^3",
                               size=size, kernel=f"C {label} + {'s' if real == 'float' else 'd'}gemm leaves",
                               note="ok" if lines[-1].endswith(": ok") else "CHECK FAILED",
                               pairs=repeats, native_s=gemm_s, kernel_s=kernel_s,
                               speedup=gemm_s / kernel_s, cpu_speedup=None, cpu_quartiles=None,
                               error=None,
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
            calls = {"native": lambda: native_fn(a, b)}
            calls.update({label: (lambda k=kernel: k(a, b)) for label, kernel in kernels.items()})
            times = timing.alternate(calls, repeats, 120.0, jax.block_until_ready)
            native = times.pop("native")["wall"]
            for label, measured in times.items():
                row = dict(section="gpu", dtype=f"float32 {precision.upper()}", threads=None,
                           shape=f"{n}^3", size=n, kernel=label, note=str(device),
                           pairs=len(measured["wall"]), native_s=statistics.median(native),
                           kernel_s=statistics.median(measured["wall"]),
                           speedup=timing.pair_ratio(native, measured["wall"]), cpu_speedup=None,
                           cpu_quartiles=None,
                           error=relative_error(calls[label](), a_host, b_host),
                           native_error=native_error)
                rows.append(row)
                log(row)
    return rows, str(device)


# ----------------------------------------------------------------------------- report

PAIRED = "median of per-round ratios"
AUTO_FLOOR = 0.97


def table(rows, statistic: str):
    lines = ["| dtype | threads | shape | kernel | native median (s) | kernel median (s) | "
             f"speedup, wall ({statistic}) | speedup, CPU time | CPU time, quartiles | pairs | "
             "max rel. error (native) | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def fmt(value, pattern):
        return pattern.format(value) if value is not None else "-"

    for r in rows:
        error = (f"{fmt(r['error'], '{:.2e}')} ({fmt(r['native_error'], '{:.2e}')})"
                 if r["error"] is not None else "-")
        quartiles = r.get("cpu_quartiles")
        spread = f"{quartiles[0]:.3f}-{quartiles[1]:.3f}" if quartiles else "-"
        lines.append(f"| {r['dtype']} | {fmt(r['threads'], '{}')} | {r['shape']} | {r['kernel']} "
                     f"| {r['native_s']:.4f} | {r['kernel_s']:.4f} | **{r['speedup']:.3f}x** | "
                     f"{fmt(r['cpu_speedup'], '{:.3f}x')} | {spread} | {fmt(r['pairs'], '{}')} | "
                     f"{error} | {auto_note(r)} |")
    return lines


def auto_note(row) -> str:
    """The row's note; an "auto" row below AUTO_FLOOR (CPU time for one thread) is flagged."""
    speedup = row["cpu_speedup"] if row["cpu_speedup"] is not None else row["speedup"]
    if row["kernel"] == "auto" and speedup < AUTO_FLOOR:
        return f"{row['note']}; **below {AUTO_FLOOR}**"
    return row["note"]


def growth_table(rows):
    lines = ["| algorithm | levels | float32 error / (u N) | bound / (u N) | float64 error / (u N) "
             "| bound / (u N) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['kernel']} | {r['levels']} | {r['float32']:.3f} | "
                     f"{r['bound_float32']:.3g} | {r['float64']:.3f} | {r['bound_float64']:.3g} |")
    return lines


def plot(rows, path, title):
    """Speedup against N per (kernel, dtype, threads): CPU-time ratio for one thread, else wall."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    groups = dict.fromkeys((r["kernel"], r["dtype"], r["threads"]) for r in rows)
    for kernel, dtype, threads in groups:
        points = sorted((r["size"], r["cpu_speedup"] or r["speedup"]) for r in rows
                        if (r["kernel"], r["dtype"], r["threads"]) == (kernel, dtype, threads))
        if len(points) > 1:
            ax.plot(*zip(*points), marker="o", label=f"{kernel} ({dtype}, {threads} thr)")
    ax.axhline(1.0, color="black", linewidth=1)
    ax.axhline(AUTO_FLOOR, color="gray", linewidth=0.8, linestyle=":")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N (N x N times N x N)")
    ax.set_ylabel("speedup over np.matmul (median per-round ratio; CPU time at 1 thread)")
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
    parser.add_argument("--rounds", type=int, default=15,
                        help="alternating rounds per shape (native and every kernel once each)")
    parser.add_argument("--cap", type=float, default=600.0,
                        help="seconds of timed rounds per shape before rounds are cut (>= 2)")
    parser.add_argument("--max-levels", type=int, default=3)
    parser.add_argument("--min-leaf", type=int, default=512)
    parser.add_argument("--full-below", type=int, default=4096,
                        help="sizes up to this also time <3,3,3> and the mixed schedule")
    parser.add_argument("--no-rank49", action="store_true", help="leave out DeepMind's <4,4,4>")
    parser.add_argument("--error-size", type=int, default=512)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 rounds")
    parser.add_argument("--jax-platform", default="gpu")
    parser.add_argument("--label", default="", help="the run's title in the report")
    parser.add_argument("--out", type=Path, default=RESULTS / "kernels_run.json",
                        help="rows as JSON (the report is written from one or more such files)")
    parser.add_argument("--report", type=Path, nargs="+", default=None,
                        help="write results/kernels.md (+ .csv, plot) from these run files and "
                             "stop")
    parser.add_argument("--notes", type=Path, default=RESULTS / "kernels_notes.md",
                        help="hand-written notes appended to the report (if the file exists)")
    args = parser.parse_args()
    if args.report:
        report(args.report, RESULTS / "kernels.md", args.notes)
        return
    if args.quick:
        args.sizes, args.gpu_sizes, args.rounds, args.error_size = [256, 512], [256], 2, 128
        args.min_leaf, args.rect, args.c_sizes = 64, ["256x128x256"], [256]
    run = dict(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               minutes=0.0, machine=machine(), label=args.label, statistic=PAIRED, conditions="",
               args={k: str(v) for k, v in vars(args).items()}, notes={}, rows=[], growth=[])
    start, load_before = time.perf_counter(), os.getloadavg()

    def save(partial: bool):
        run.update(minutes=(time.perf_counter() - start) / 60, partial=partial,
                   conditions=conditions(load_before, args))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(run, indent=1) + "\n")

    def log(row):
        """Print the row and save the run so far (a stopped run keeps its finished rows)."""
        print({k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in row.items()},
              flush=True)
        run["growth" if "levels" in row else "rows"].append(row)
        save(partial=True)

    if "cpu" in args.only:
        bench_numpy([(n, n, n) for n in args.sizes], args.dtypes, args.threads, args.rounds,
                    args.cap, lambda s: square_rows(s[0], args.min_leaf, args.max_levels,
                                                    s[0] <= args.full_below, not args.no_rank49),
                    log)
    if "rect" in args.only:
        def rect_rows(shape):
            n, m, p = shape
            fits = [(f"library <{a},{b},{c}> r{library.get(a, b, c).rank}, L=1", (a, b, c), 1)
                    for a, b, c in ((4, 2, 4), (3, 2, 3), (4, 4, 2))
                    if n % a == 0 and m % b == 0 and p % c == 0 and n // a == m // b == p // c]
            return [("auto", "auto", None), ("Strassen <2,2,2> r7, L=1", "strassen", 1)] + fits

        shapes = [tuple(int(d) for d in s.split("x")) for s in args.rect]
        bench_numpy(shapes, args.dtypes[:1], [1], args.rounds, args.cap, rect_rows, log, "rect")
    if "c" in args.only:
        run["notes"]["c"] = bench_c(args.c_sizes, args.dtypes, max(3, args.rounds), log)[1]
    if "error" in args.only:
        error_growth(args.error_size, log)
    if "gpu" in args.only:
        run["notes"]["gpu"] = bench_gpu(args.gpu_sizes, args.rounds, args.jax_platform, log,
                                        args.max_levels, not args.quick)[1]
    save(partial=False)
    print(f"wrote {args.out} in {run['minutes']:.1f} min")


def machine() -> str:
    try:
        config = np.show_config(mode="dicts")
        name = config["Build Dependencies"]["blas"]["name"]
        version = config["Build Dependencies"]["blas"].get("version", "")
    except Exception:  # older NumPy: no dict mode
        name, version = "BLAS unknown", ""
    return (f"{platform.machine()}, {os.cpu_count()} cores, NumPy {np.__version__} "
            f"({name} {version})")


def conditions(load_before, args) -> str:
    """How the run ran: load averages (1 min) before and after, niceness, rounds and cap."""
    return (f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; "
            f"nice {os.nice(0)}; up to {args.rounds} rounds or {args.cap:.0f} s per shape")


def report(paths: list[Path], out: Path, notes: Path) -> None:
    """results/kernels.md (+ kernels.csv, kernels_cpu.png) from the JSON files of runs, one
    section per run, then the notes file."""
    runs = [json.loads(p.read_text()) for p in paths]
    rows = [dict(r, run=run["date"]) for run in runs for r in run["rows"]]
    fields = list(dict.fromkeys(key for r in rows for key in r))
    with open(out.with_suffix(".csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    png = out.with_name(out.stem + "_cpu.png")
    plot([r for run in runs if run.get("statistic") == PAIRED for r in run["rows"]
          if r["section"] == "cpu" and r["kernel"] != "auto"], png,
         "Lean NumPy kernels vs np.matmul (CPU)")
    lines = ["# Exported kernels against native matmul", "",
             "One section per run, each timed in itself (rows of different runs saw different "
             "machine loads). Raw rows: `results/kernels_runs/*.json`, all in `results/kernels.csv`"
             "; this file: `experiments/bench_kernels.py --report results/kernels_runs/*.json`.",
             "", f"![speedup plot]({png.name})", ""]
    titles = {"cpu": "NumPy kernels and `library.matmul(..., 'auto')` vs `np.matmul`, square",
              "rect": "rectangular shapes",
              "c": "C kernels with BLAS leaves vs one gemm call (harness)",
              "gpu": "jitted JAX kernels vs `jnp.matmul`"}
    for run in runs:
        statistic = run.get("statistic", "ratio of medians")
        lines += [f"## Run {run['date']}: {run.get('label') or ', '.join(titles)}", "",
                  f"{run['machine']}; {run.get('conditions', 'shared machine, load not recorded')}"
                  f"; {run['minutes']:.0f} min"
                  f"{' (stopped early: the rows it finished)' if run.get('partial') else ''}. "
                  f"Speedup: {statistic}.", ""]
        for section, title in titles.items():
            chosen = [r for r in run["rows"] if r["section"] == section]
            if chosen:
                note = f" ({run['notes'][section]})" if section in run.get("notes", {}) else ""
                lines += [f"### {title}{note}", "", *table(chosen, statistic), ""]
        if run["growth"]:
            lines += ["### float error growth with levels", "", *growth_table(run["growth"]), ""]
    if notes.is_file():
        lines += [notes.read_text().rstrip(), ""]
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
