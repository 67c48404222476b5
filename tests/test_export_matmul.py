"""library.matmul for users: "auto" and its crossover table, `tensorgame tune`, odd inputs, the lean
NumPy schedule, and the export/bench command-line guards (issue 12)."""

import json
import os
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from tensorgame import export, library
from tensorgame.errors import TensorgameError
from tensorgame.export import crossover, lean


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "tensorgame", *args], capture_output=True,
                          text=True, env=env)


def test_library_does_not_import_export():
    """Data flows library -> export: importing the library must not load the exporter."""
    code = ("import sys, tensorgame.library as l; "
            "assert 'tensorgame.export' not in sys.modules, 'export imported'; "
            "import numpy as np; a = np.arange(16.).reshape(4, 4); "
            "assert (l.matmul(a, a, 'strassen') == a @ a).all()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_matmul_takes_lists_and_bools():
    assert library.matmul([[1, 2], [3, 4]], [[5], [6]], "strassen").tolist() == [[17], [39]]
    assert library.matmul([[1.5, 2], [3, 4]], [[1, 0], [0, 1]]).tolist() == [[1.5, 2], [3, 4]]
    rng = np.random.default_rng(0)
    a, b = rng.random((37, 41)) < 0.5, rng.random((41, 29)) < 0.5
    for algorithm, levels in (("strassen", 2), ((3, 3, 3), 1), ("auto", None)):
        product = library.matmul(a, b, algorithm, levels)
        assert product.dtype == np.bool_ and (product == (a @ b)).all()
    mixed = library.matmul(a, b.astype(np.int64), "strassen")  # bool with int: the int product
    assert (mixed == a.astype(np.int64) @ b).all()
    for bad in ([["a", "b"]], [[1, 2], [3]], np.array([[object()]])):
        with pytest.raises(TensorgameError, match="numeric"):
            library.matmul(bad, bad, "strassen")
    with pytest.raises(TensorgameError, match="matrices"):
        library.matmul([1, 2], [3, 4])


def test_exported_real_kernel_refuses_bools_clearly():
    kernel = export.numpy_function("strassen")
    with pytest.raises(TypeError, match="GF\\(2\\)"):
        kernel(np.ones((4, 4), bool), np.ones((4, 4), bool))


RULES = [{"dtype": "float32", "threads": 1, "min_size": 64, "algorithm": "strassen", "levels": 1},
         {"dtype": "float32", "threads": 1, "min_size": 256, "algorithm": "strassen", "levels": 2},
         {"dtype": "float32", "threads": 1, "min_size": 1024, "algorithm": "native"},
         {"dtype": "float64", "threads": 2, "min_size": 64, "algorithm": [3, 3, 3], "levels": 1}]


def test_choose_follows_the_rules():
    choose = crossover.choose
    assert choose((32, 32), (32, 32), np.float32, 1, RULES) == ("native", None)
    assert choose((64, 64), (64, 64), np.float32, 1, RULES) == ("strassen", 1)
    assert choose((300, 300), (300, 63), np.float32, 1, RULES) == ("native", None)  # min(N,M,P)
    assert choose((300, 300), (300, 300), np.float32, 1, RULES) == ("strassen", 2)
    assert choose((4096, 4096), (4096, 4096), np.float32, 1, RULES) == ("native", None)
    assert choose((99, 99), (99, 99), np.float64, 1, RULES) == ("native", None)  # threads
    assert choose((99, 99), (99, 99), np.float64, 2, RULES) == ((3, 3, 3), 1)
    assert choose((999, 999), (999, 999), np.int64, 1, RULES) == ("native", None)


def test_auto_runs_what_the_table_says(tmp_path, monkeypatch):
    path = tmp_path / "crossover.json"
    monkeypatch.setenv("TENSORGAME_CROSSOVER", str(path))
    monkeypatch.setattr(crossover, "RECHECK", 0.0)  # look at the file on every call
    threads = crossover.current_threads()
    rng = np.random.default_rng(1)
    a, b = (rng.uniform(-1, 1, (96, 96)).astype(np.float32) for _ in range(2))
    strassen = export.numpy_function("strassen", 1)(a, b)
    assert not np.array_equal(strassen, a @ b)  # so the two paths can be told apart
    for rule, expected in ((dict(algorithm="strassen", levels=1), strassen), (
            dict(algorithm="native"), a @ b)):
        rules = [dict(dtype="float32", threads=threads, min_size=64, **rule)]
        path.write_text(json.dumps({"format": crossover.FORMAT, "rules": rules}))
        os.utime(path, ns=(time.time_ns(), time.time_ns() + len(str(rule))))
        assert crossover.table()[1] == str(path)
        assert np.array_equal(library.matmul(a, b), expected)
    path.write_text("{not json")
    with pytest.warns(UserWarning, match="shipped"):
        assert crossover.table()[1] == "shipped default"
    with pytest.raises(TensorgameError, match="levels"):
        library.matmul(a, b, "auto", levels=2)


def test_rules_need_a_win_at_every_larger_size():
    def row(size, speedup):
        return dict(dtype="float32", threads=1, size=size, native=1.0, candidates=[
            dict(algorithm="strassen", levels=1, seconds=1.0, pairs=3, speedup=speedup)])

    noisy = [row(256, 2.4), row(512, 0.8), row(1024, 0.97)]
    assert crossover.rules_from(noisy) == []
    steady = [row(256, 0.8), row(512, 1.05), row(1024, 1.10), row(2048, 1.2)]
    assert crossover.rules_from(steady) == [dict(dtype="float32", threads=1, min_size=512,
                                                 algorithm="strassen", levels=1)]
    with pytest.raises(TensorgameError, match="bad rule"):
        crossover.validate({"format": crossover.FORMAT, "rules": [{"dtype": "float32"}]})


def test_tune_writes_a_table_that_auto_reads(tmp_path):
    out = tmp_path / "t.json"
    env = dict(os.environ, TENSORGAME_CROSSOVER=str(out))
    done = run_cli("tune", "--sizes", "64", "128", "--dtypes", "float32", "--repeats", "2",
                   "--min-leaf", "32", env=env)
    assert done.returncode == 0, done.stderr
    data = crossover.validate(json.loads(out.read_text()))
    assert [r["size"] for r in data["rows"]] == [64, 128]
    assert all(c["pairs"] >= 2 for r in data["rows"] for c in r["candidates"])
    shown = run_cli("tune", "--show", env=env)
    assert shown.returncode == 0 and str(out) in shown.stdout
    refused = run_cli("tune", "--sizes", "100000", env=env)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1


def test_lean_schedule_of_strassen_winograd():
    program = export.plan("strassen").levels[0]
    plan = lean.schedule(program)
    assert program.additions == 15 and plan.passes == 15  # no copies, no extra passes
    into_c = [name for name, where in plan.storage.items()
              if name.startswith("m") and where[0] == "out"]
    assert len(into_c) >= 4  # most products land in their block of C
    assert sum(plan.buffers.values()) <= 5
    source = export.python_source(export.plan("strassen"), "numpy")
    assert "np.negative" not in source  # NumPy 2.4 negates strided views wrongly


def test_lean_schedule_values_never_share_storage_while_live():
    """Replay every schedule of the small library symbolically: a value read must still be
    where it was written (a clobbered buffer would show as a wrong name)."""
    for entry in [e for e in library.catalog() if max(e.shape) <= 4][:30]:
        program = export.plan(library.load_entry(entry)).levels[0]
        plan = lean.schedule(program, tries=4)
        held = {}
        for ins in plan.instructions:
            sources = [ins.left, ins.right] if isinstance(ins, lean.Mul) else [
                s for _, s in ins.terms]
            for src in sources:
                if src in plan.storage:
                    assert held[plan.storage[src]] == src, (entry.file, ins)
            held[plan.storage[ins.dst]] = ins.dst


def test_numpy_kernel_is_thread_safe_and_reuses_its_workspace():
    kernel = export.numpy_function("strassen", 2)
    rng = np.random.default_rng(2)
    pairs = [(rng.integers(-9, 10, (70, 66)), rng.integers(-9, 10, (66, 58))) for _ in range(4)]
    results = [None] * len(pairs)

    def work(i):
        for _ in range(20):
            results[i] = kernel(*pairs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(pairs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (a, b), c in zip(pairs, results):
        assert (c == a @ b).all()


def test_export_refuses_reserved_names_in_one_line(tmp_path):
    for lang, name in (("numpy", "class"), ("numpy", "np"), ("numpy", "_leaf"), ("jax", "jnp"),
                       ("c", "main"), ("c", "int"), ("c", "tg_leaf"), ("c", "printf")):
        out = tmp_path / f"{lang}_{name}.txt"
        done = run_cli("export", "strassen", "--lang", lang, "--name", name, "--out", str(out))
        assert done.returncode == 2 and done.stderr.count("\n") == 1, (lang, name, done.stderr)
        assert "reserved" in done.stderr or "keyword" in done.stderr
        assert not out.exists()
    source = export.c_source(export.plan("strassen"), "my_kernel")
    assert "void my_kernel(long N" in source
    assert export.load_python(export.python_source(export.plan("strassen"), "numpy", "kernel"),
                              "kernel")(np.eye(4), np.eye(4)).trace() == 4


def test_export_out_keeps_pipes_and_devices_what_they_are(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    done = run_cli("export", "strassen", "--lang", "numpy", "--out", str(fifo))
    reader.join(timeout=60)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # not replaced by a regular file
    assert "def matmul(A, B)" in received[0]
    assert "wrote" in done.stderr and "wrote" not in done.stdout  # the stream holds only code
    if os.path.exists("/dev/null"):
        done = run_cli("export", "strassen", "--lang", "c", "--out", "/dev/null")
        assert done.returncode == 0 and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    regular = tmp_path / "file.txt"
    regular.write_text("x")
    under = run_cli("export", "strassen", "--lang", "c", "--out", str(regular / "k.c"))
    assert under.returncode == 2 and under.stderr.count("\n") == 1


def test_bench_refuses_a_huge_size_before_allocating():
    start = time.perf_counter()
    done = run_cli("bench", "--size", "100000")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "GiB" in done.stderr
    assert time.perf_counter() - start < 60


def test_alternate_runs_every_call_in_turn_after_a_warm_up_round():
    from tensorgame.export import timing

    order = []
    times = timing.alternate({"native": lambda: order.append("n"),
                              "kernel": lambda: order.append("k")}, rounds=3)
    assert order == ["n", "k"] * 4  # one warm-up round, then three timed ones
    assert all(len(times[name][clock]) == 3 for name in times for clock in ("wall", "cpu"))
    assert timing.pair_ratio([2.0, 9.0, 3.0], [1.0, 3.0, 3.0]) == 2.0  # ratios 2, 3, 1
    assert timing.pair_quartiles([1.0, 2.0, 3.0, 4.0, 5.0], [1.0] * 5) == (2.0, 4.0)


def test_benchmark_times_auto_only_where_it_runs_an_algorithm(tmp_path, monkeypatch,
                                                               experiment_script):
    """Where "auto" runs native its row is native plus the measured dispatch cost (not a noisy
    native-vs-native timing); where it runs an algorithm it is timed like every kernel."""
    bench = experiment_script("bench_kernels")
    monkeypatch.setenv("TENSORGAME_CROSSOVER", str(tmp_path / "crossover.json"))
    monkeypatch.setattr(crossover, "RECHECK", 0.0)
    rules = [dict(dtype="float32", threads=1, min_size=128, algorithm="strassen", levels=1)]
    (tmp_path / "crossover.json").write_text(json.dumps({"format": crossover.FORMAT,
                                                         "rules": rules}))
    specs = [("auto", "auto", None), ("Strassen L=1", "strassen", 1)]
    for size, timed in ((64, False), (128, True)):
        rows = bench.bench_numpy([(size, size, size)], ["float32"], [1], 2, 60.0,
                                 lambda shape: specs, lambda row: None)
        auto = next(r for r in rows if r["kernel"] == "auto")
        assert [r["kernel"] for r in rows] == ["auto", "Strassen L=1"]
        if timed:
            assert auto["pairs"] == 2 and auto["note"] == "auto runs strassen L=1"
        else:
            assert auto["pairs"] is None and auto["note"].startswith("auto == native; dispatch")
            assert 0 < auto["speedup"] < 1 and auto["kernel_s"] > auto["native_s"]


def test_report_gives_one_section_per_run_and_flags_slow_auto_rows(tmp_path, experiment_script):
    bench = experiment_script("bench_kernels")
    row = dict(section="cpu", dtype="float32", threads=1, shape="64x64x64", size=64,
               native_s=1.0, native_error=1e-7, kernel="auto", note="auto runs strassen L=1",
               pairs=3, kernel_s=1.1, speedup=0.95, cpu_speedup=0.96, cpu_quartiles=[0.9, 1.0],
               error=1e-6)
    runs = []
    for day, speedup in (("01", 0.96), ("02", 0.99)):
        runs.append(tmp_path / f"run{day}.json")
        runs[-1].write_text(json.dumps(dict(
            date=f"2026-12-{day}", minutes=1.0, machine="m", label=f"run {day}",
            statistic=bench.PAIRED, conditions="c", notes={},
            rows=[dict(row, cpu_speedup=speedup), dict(row, kernel="Strassen", note="")],
            growth=[])))
    notes = tmp_path / "notes.md"
    notes.write_text("## Notes\n\nhand-written")
    out = tmp_path / "kernels.md"
    bench.report(runs, out, notes)
    text = out.read_text()
    assert text.count("## Run 2026-12-") == 2 and text.rstrip().endswith("hand-written")
    assert text.count("**below 0.97**") == 1  # the 0.96x auto row, not 0.99x nor the kernel
    assert (tmp_path / "kernels.csv").read_text().count("\n") == 5


def test_shipped_table_stays_native_where_nothing_was_measured_to_pay():
    """The shipped rules (results/kernels.md): native up to 2048 for both float types and with
    several BLAS threads; Strassen from 4096 on one thread."""
    rules = crossover.SHIPPED["rules"]
    for dtype in (np.float32, np.float64):
        assert crossover.choose((2048, 2048), (2048, 2048), dtype, 1, rules) == ("native", None)
        assert crossover.choose((8192, 8192), (8192, 8192), dtype, 2, rules) == ("native", None)
    assert crossover.choose((4096,) * 2, (4096,) * 2, np.float32, 1, rules) == ("strassen", 1)
    assert crossover.choose((4096,) * 2, (4096,) * 2, np.float64, 1, rules) == ("strassen", 2)
    assert crossover.choose((8192,) * 2, (8192,) * 2, np.float32, 1, rules) == ("strassen", 2)
