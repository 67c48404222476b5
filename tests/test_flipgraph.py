"""Flip-graph walks keep the tensor exactly; reductions, plus transitions, lifting and the CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.flipgraph import WalkConfig, Walker, kernel, pack, search, unpack
from agents.flipgraph.lifting import LiftResult, lift, lift_with_retries
from agents.flipgraph.starts import composite_start, start_for
from tensorgame.cli import main
from tensorgame.compose import direct_sum, product
from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization, reduced_mod2, verify

# Strassen in the project convention (u reads A, v reads B row-major; w writes C^T row-major),
# written out by hand as an independent reference.
STRASSEN = Factorization(
    (2, 2, 2), "Z",
    u=[[1, 0, 0, 1], [0, 0, 1, 1], [1, 0, 0, 0], [0, 0, 0, 1], [1, 1, 0, 0], [-1, 0, 1, 0],
       [0, 1, 0, -1]],
    v=[[1, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, -1], [-1, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0],
       [0, 0, 1, 1]],
    w=[[1, 0, 0, 1], [0, 1, 0, -1], [0, 0, 1, 1], [1, 1, 0, 0], [-1, 0, 1, 0], [0, 0, 0, 1],
       [1, 0, 0, 0]])


def naive(n: int, m: int, p: int) -> Factorization:
    eye = [np.eye(size, dtype=np.int64) for size in (n * m, m * p, p * n)]
    terms = [(i * m + j, j * p + k, k * n + i)
             for i in range(n) for j in range(m) for k in range(p)]
    return Factorization((n, m, p), "Z", *(e[[t[x] for t in terms]] for x, e in enumerate(eye)))


STARTS = {"strassen": STRASSEN, "naive333": naive(3, 3, 3)}


def test_references_are_valid():
    assert verify(STRASSEN).valid and verify(naive(3, 3, 3)).valid


def _walked(start: Factorization, field: str, flips: int, plateau: int, seed: int) -> Factorization:
    s = pack(start, field, start.rank + 6)
    kernel.seed(seed)
    info = np.zeros(3, dtype=np.int64)
    rank = kernel.walk(s.pos, s.neg, s.rank, s.ternary, flips, 1, plateau, start.rank + 4, -1,
                       info)
    assert info[1] <= flips
    return unpack(s.copy(rank=rank))


@settings(max_examples=40)
@given(start=st.sampled_from(sorted(STARTS)), field=st.sampled_from(["Z2", "Z"]),
       flips=st.integers(0, 3000), plateau=st.integers(1, 200), seed=st.integers(0, 2**31 - 1))
def test_random_walks_keep_the_tensor(start, field, flips, plateau, seed):
    # small plateaus make many plus transitions; long walks make many flips and reductions
    walked = _walked(STARTS[start], field, flips, plateau, seed)
    assert walked.field == field
    assert verify(walked).valid  # exact: mod 2 for Z2, over the integers for Z
    if field == "Z":
        assert set(walked.coefficients()) <= {-1, 0, 1}
    assert walked.rank <= STARTS[start].rank + 4


@settings(max_examples=30)
@given(start=st.sampled_from(sorted(STARTS)), field=st.sampled_from(["Z2", "Z"]),
       flips=st.integers(0, 2000), plateau=st.integers(1, 100), seed=st.integers(0, 2**31 - 1))
def test_the_flip_index_stays_equal_to_one_rebuilt_after_every_flip(start, field, flips, plateau,
                                                                     seed):
    # the kernel updates its pair lists incrementally; a listed pair that shares no factor would
    # break the tensor, but a missing one would only bias the walk: compare after every flip
    s = pack(STARTS[start], field, STARTS[start].rank + 6)
    kernel.seed(seed)
    info = np.zeros(3, dtype=np.int64)
    rank = kernel.walk(s.pos, s.neg, s.rank, s.ternary, flips, 1, plateau, STARTS[start].rank + 4,
                       -1, info, audit=True)
    assert info[0] != kernel.INDEX_BROKEN
    assert verify(unpack(s.copy(rank=rank))).valid


@settings(max_examples=30)
@given(a=st.lists(st.integers(-3, 3), min_size=12, max_size=12),
       b=st.lists(st.integers(-3, 3), min_size=12, max_size=12))
def test_plus_transition_formula_expands_exactly(a, b):
    a1, b1, c1, a2, b2, c2 = (np.array(x) for x in (a[:4], a[4:8], a[8:], b[:4], b[4:8], b[8:]))
    before = np.einsum("i,j,k->ijk", a1, b1, c1) + np.einsum("i,j,k->ijk", a2, b2, c2)
    after = (np.einsum("i,j,k->ijk", a1, b1 - b2, c1) + np.einsum("i,j,k->ijk", a1, b2, c1 + c2)
             + np.einsum("i,j,k->ijk", a2 - a1, b2, c2))
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("field", ["Z2", "Z"])
def test_plus_transition_raises_rank_by_one(field):
    s = pack(STRASSEN, field, 12)
    applied = 0
    for i in range(7):
        for j in range(7):
            for k in range(3):
                if i == j:
                    continue
                t = s.copy()
                rank = kernel.plus(t.pos, t.neg, 7, t.ternary, i, j, k)
                assert rank in (7, 8)
                if rank == 8:
                    applied += 1
                    assert verify(unpack(t.copy(rank=8))).valid
    assert applied > 0


@pytest.mark.parametrize("field", ["Z2", "Z"])
@settings(max_examples=20)
@given(term=st.integers(0, 6), position=st.integers(0, 2), seed=st.integers(0, 10**6))
def test_reduction_lowers_rank_by_exactly_one(field, term, position, seed):
    # split one Strassen term in two along one factor: c = c1 + c2; a reduction must merge them
    rng = np.random.default_rng(seed)
    factors = [a.copy() for a in STRASSEN.factors]
    c = factors[position][term]
    part = np.where(rng.integers(0, 2, c.shape) == 1, c, 0)
    if not part.any() or not (c - part).any():
        part = np.zeros_like(c)
        first = np.flatnonzero(c)[0]
        part[first] = c[first]
        if not (c - part).any():
            return  # a single non-zero: no split into two non-zero parts in {-1, 0, 1}
    factors = [np.vstack([f, f[term]]) for f in factors]
    factors[position][term] = part
    factors[position][-1] = c - part
    split = Factorization((2, 2, 2), "Z", *factors)
    assert verify(split).valid and split.rank == 8
    s = pack(split, field, 10)
    rank = kernel.reduce_all(s.pos, s.neg, s.rank, s.ternary)
    assert rank == 7
    assert verify(unpack(s.copy(rank=rank))).valid


def test_short_walk_from_naive_2x2x2_finds_rank_7():
    found = search(naive(2, 2, 2), WalkConfig(field="Z2"), seconds=60, seed=1, stop_rank=7)
    assert found[-1].scheme.rank == 7 and verify(found[-1].scheme).valid
    assert [f.scheme.rank for f in found] == sorted({f.scheme.rank for f in found}, reverse=True)


def test_walk_over_z_keeps_integer_validity_and_lowers_rank():
    found = search(naive(3, 3, 3), WalkConfig(field="Z"), seconds=20, seed=2, stop_rank=25)
    best = found[-1].scheme
    assert best.field == "Z" and best.rank <= 25 and verify(best).valid


def test_parallel_walkers_share_the_best():
    found = search(naive(2, 2, 2), WalkConfig(field="Z2"), seconds=30, walkers=2, seed=3,
                   stop_rank=7)
    assert found[-1].scheme.rank == 7 and verify(found[-1].scheme).valid


def test_walker_adopts_better_schemes_only():
    walker = Walker(naive(2, 2, 2), WalkConfig(), seed=0)
    walker.adopt(STRASSEN)
    assert walker.best_rank == 7
    walker.adopt(naive(2, 2, 2))
    assert walker.best_rank == 7


def test_lifting_returns_a_z_scheme_or_says_why():
    found = search(naive(3, 3, 3), WalkConfig(field="Z2"), seconds=30, seed=4, stop_rank=23)
    mod2 = found[-1].scheme
    result = lift(mod2)
    assert result.how
    if result.scheme is not None:
        assert result.scheme.field == "Z" and verify(result.scheme).valid
        for lifted, original in zip(result.scheme.factors, mod2.factors):
            np.testing.assert_array_equal(lifted % 2, original % 2)
    strassen_mod2 = STRASSEN.replace(field="Z2", u=STRASSEN.u % 2, v=STRASSEN.v % 2,
                                     w=STRASSEN.w % 2)
    assert verify(lift(strassen_mod2).scheme).valid
    refused = lift(strassen_mod2, sign_seconds=0, hensel_limit=0)
    assert refused.scheme is None and "size limit" in refused.how
    broken = strassen_mod2.replace(u=np.vstack([strassen_mod2.u[:-1], [[1, 1, 1, 1]]]))
    with pytest.raises(TensorgameError, match="not valid mod 2"):
        lift(broken)


def test_lifting_cancels_terms_that_vanish_mod_2():
    # Strassen plus a term taken twice is valid mod 2 only; over Z the copies must cancel
    mod2 = STRASSEN.replace(field="Z2", u=np.vstack([STRASSEN.u % 2, [[1, 1, 0, 0]] * 2]),
                            v=np.vstack([STRASSEN.v % 2, [[0, 1, 1, 0]] * 2]),
                            w=np.vstack([STRASSEN.w % 2, [[1, 0, 1, 0]] * 2]))
    assert verify(mod2).valid and not verify(mod2, field="Z").valid
    result = lift(mod2)
    assert result.scheme is not None and verify(result.scheme).valid


def test_improve_cli_writes_verified_schemes(tmp_path, capsys, monkeypatch, request):
    start = tmp_path / "naive.json"
    from tensorgame import io, library
    from tensorgame.library import _store

    data = tmp_path / "library"  # an empty library, so that what improve finds beats it
    data.mkdir()
    (data / "index.json").write_text(json.dumps({"format": "tensorgame/library-index-v1",
                                                 "entries": []}))
    monkeypatch.setattr(_store, "data_dir", lambda: data)
    _store.catalog.cache_clear()
    request.addfinalizer(_store.catalog.cache_clear)  # later tests read the real library
    io.save(naive(2, 2, 2), start)
    code = main(["improve", str(start), "--seconds", "20", "--stop-rank", "7", "--seed", "5",
                 "--library", "--out", str(tmp_path / "out")])
    assert code == 0
    assert {(e.field, e.rank) for e in library.catalog()} == {("Z2", 7), ("Z", 7)}
    bundled = library.get(2, 2, 2, "Z")
    assert bundled.rank == 7 and verify(bundled).valid and "flip-graph" in bundled.meta["source"]
    with pytest.raises(TensorgameError, match="as good"):
        library.add(bundled)  # the same scheme again does not beat itself
    assert "library: added" in capsys.readouterr().err
    files = sorted((tmp_path / "out").glob("*.json"))
    assert any(f.name == "2x2x2_rank7_Z2.json" for f in files)
    for f in files:
        scheme = io.load(f)
        assert verify(scheme).valid
        meta = json.loads(f.read_text())["meta"]
        assert {"method", "seed", "walk_flips", "wall_seconds"} <= set(meta) or "lifting" in meta
    assert "2x2x2_rank7_Z.json" in {f.name for f in files}  # lifted to Z at the end


def test_improve_cli_target_and_bad_input(tmp_path, capsys):
    code = main(["improve", "--target", "2,2,2", "--seconds", "20", "--stop-rank", "7",
                 "--field", "Z", "--out", str(tmp_path)])
    assert code == 0 and (tmp_path / "2x2x2_rank7_Z.json").exists()
    capsys.readouterr()
    assert main(["improve", "--target", "2,x,2", "--out", str(tmp_path)]) == 2
    assert main(["improve", "--out", str(tmp_path)]) == 2
    assert main(["improve", str(tmp_path / "missing.json"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("tensorgame improve: error:") for line in err)


def test_pack_refuses_what_walks_cannot_hold():
    with pytest.raises(TensorgameError, match="-1, 0, 1"):
        pack(STRASSEN.replace(u=STRASSEN.u * 2), "Z", 10)
    with pytest.raises(TensorgameError, match="lift it first"):
        pack(STRASSEN.replace(field="Z2", u=STRASSEN.u % 2, v=STRASSEN.v % 2, w=STRASSEN.w % 2),
             "Z", 10)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_direct_sums_and_products_are_valid_starts(axis):
    small = naive(2, 3, 2)
    other = naive(*(1 if a == axis else small.shape[a] for a in range(3)))
    summed = direct_sum(STRASSEN, naive(2, 2, 2), axis)
    assert verify(summed).valid and summed.rank == 15
    summed = direct_sum(small, other, axis)
    assert verify(summed).valid and summed.rank == small.rank + other.rank
    square = product(STRASSEN, STRASSEN)
    assert square.shape == (4, 4, 4) and square.rank == 49 and verify(square).valid
    with pytest.raises(TensorgameError):
        direct_sum(naive(2, 2, 2), naive(3, 3, 3), axis)


def _children(pid: int) -> list[int]:
    try:
        text = open(f"/proc/{pid}/task/{pid}/children").read()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has stopped running


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc")
def test_walkers_die_with_their_parent_on_sigkill(tmp_path):
    # issue 12: after SIGKILL of `improve --walkers 2` the walkers ran on and then hung forever
    command = [sys.executable, "-m", "tensorgame", "improve", "--target", "3,3,3", "--walkers",
               "2", "--seconds", "120", "--out", str(tmp_path)]
    parent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while len(_children(parent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        children = _children(parent.pid)
        assert len(children) == 2, "the walkers did not start"
        time.sleep(1.0)  # let them get into their walk loops
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(c) for c in children)
    finally:
        if parent.poll() is None:
            parent.kill()
        for child in _children(parent.pid):
            os.kill(child, signal.SIGKILL)


def test_improve_refuses_a_start_that_does_not_verify(tmp_path, capsys):
    from tensorgame import io

    broken = STRASSEN.replace(u=np.vstack([STRASSEN.u[:-1], [[1, 1, 1, 1]]]))
    assert not verify(broken).valid
    io.save(broken, tmp_path / "broken.json")
    out = tmp_path / "out"
    assert main(["improve", str(tmp_path / "broken.json"), "--seconds", "5", "--out",
                 str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tensorgame improve: error:")
    assert "not a valid scheme" in err[0]
    assert not out.exists()


def test_improve_checks_the_size_before_allocating(tmp_path, capsys, monkeypatch):
    import tensorgame.library
    import tensorgame.library._naive

    real = tensorgame.library._naive.naive

    def small_only(n, m, p):  # <100,100,100> naive would be 10^6 x 10^4 per factor (80 GB)
        assert n * m * p <= 10**4, "allocated the naive scheme of a huge format"
        return real(n, m, p)

    monkeypatch.setattr(tensorgame.library, "naive", small_only)
    monkeypatch.setattr(tensorgame.library._naive, "naive", small_only)
    assert main(["improve", "--target", "100,100,100", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "at most 64" in err[0]
    assert not (tmp_path / "o").exists()


def test_long_factors_start_from_a_direct_sum_of_library_schemes(tmp_path, capsys):
    # <2,2,9> has factors of 18 entries: from the naive scheme (rank 36) walks stall
    start = start_for((2, 2, 9), "Z2")
    assert start.rank < 36 and verify(start).valid and "direct sum" in start.meta["construction"]
    assert start_for((3, 3, 3), "Z2").rank == 27  # short factors: the naive scheme
    z = composite_start((2, 2, 9), "Z")
    assert z.field == "Z" and verify(z).valid and set(z.coefficients()) <= {-1, 0, 1}
    assert main(["improve", "--target", "2,2,9", "--seconds", "1", "--no-lift", "--out",
                 str(tmp_path)]) == 0
    assert "starting from a direct sum" in capsys.readouterr().err


def test_lift_with_retries_tries_other_schemes_of_the_rank(monkeypatch):
    import agents.flipgraph.lifting as lifting
    from agents.flipgraph.starts import library_scheme

    strassen_mod2 = STRASSEN.replace(field="Z2", u=STRASSEN.u % 2, v=STRASSEN.v % 2,
                                     w=STRASSEN.w % 2)
    # budgets in flips and sign-search restarts, not seconds: the outcome does not depend on load
    assert lift_with_retries(strassen_mod2, WalkConfig(), 5, flips=10**5).how.startswith(
        "lifted with signs")
    mod2 = library_scheme((2, 2, 3), "Z2")  # rank 11, reduced mod 2
    assert mod2.field == "Z2" and mod2.rank == 11
    real = lifting.lift

    def refuse_the_first(f, **kwargs):
        if f is mod2:
            return LiftResult(None, "refused for the test")
        return real(f, **kwargs)

    monkeypatch.setattr(lifting, "lift", refuse_the_first)
    result = lift_with_retries(mod2, WalkConfig(), 60, seed=1, flips=2 * 10**5)
    assert result.scheme is not None and "another of" in result.how
    assert result.scheme.field == "Z" and verify(result.scheme).valid
    assert result.scheme.rank == 11


def test_restarts_draw_from_the_pools_of_higher_ranks():
    config = WalkConfig(walk_length=1, restart_best=0.0, restart_depth=5, chunk=2000)
    walker = Walker(naive(3, 3, 3), config, seed=0)
    for _ in range(40):
        walker.step()
    assert walker.best_rank < 27 and walker.resets > 0
    walker._reset()  # drops pools more than restart_depth above the best
    higher = [r for r in walker.pools if r > walker.best_rank]
    assert higher and max(walker.pools) <= walker.best_rank + 5
    assert walker.walk_best in higher and walker.current.rank == walker.walk_best
    for rank, pool in walker.pools.items():
        assert all(s.rank == rank and verify(unpack(s)).valid for s in pool)
    walker.config = dataclasses.replace(config, restart_best=1.0)
    walker._reset()
    assert walker.walk_best == walker.best_rank


def _is_symmetric(f: Factorization) -> bool:
    from agents.flipgraph.symmetric import split_orbits

    try:
        split_orbits(f, f.rank)
    except TensorgameError:
        return False
    return True


def test_symmetric_walks_keep_the_tensor_and_the_symmetry():
    from agents.flipgraph import symmetric
    from agents.flipgraph.starts import symmetric_start

    start = symmetric_start(4)  # Strassen squared: 11 orbits and 16 symmetric terms
    s = symmetric.split_orbits(start, 30)
    assert (s.orbits, s.singles, s.rank) == (11, 16, 49)
    kernel.seed(0)
    info = np.zeros(3, dtype=np.int64)
    for _ in range(4):  # plateaus of 50-100 flips: many plus transitions and reductions
        orbits, singles = symmetric.walk(s.reps, s.orbits, s.syms, s.singles, 3000, 50, 100,
                                         58, 0, info)
        s = s.copy(orbits, singles)
        f = symmetric.expand(s)
        assert verify(f).valid and _is_symmetric(f) and f.rank == s.rank
    assert info[2] > 0  # plus transitions happened


def test_symmetric_starts_and_refusals():
    from agents.flipgraph.starts import symmetric_start

    ranks = {n: symmetric_start(n).rank for n in (2, 3, 5)}
    assert ranks == {2: 7, 3: 26, 5: 110}  # Strassen; bordered Strassen; bordered Strassen^2
    assert all(verify(symmetric_start(n)).valid and _is_symmetric(symmetric_start(n))
               for n in (3, 5))
    assert _is_symmetric(STRASSEN) and not _is_symmetric(naive(2, 2, 3))  # not square
    broken = STRASSEN.replace(u=STRASSEN.u[:-1], v=STRASSEN.v[:-1], w=STRASSEN.w[:-1])
    assert not _is_symmetric(broken)  # one term of an orbit missing


def test_improve_symmetric_reaches_23_at_3x3x3(tmp_path, capsys):
    from tensorgame import io

    code = main(["improve", "--target", "3,3,3", "--symmetric", "--stop-rank", "23", "--seed",
                 "7", "--seconds", "60", "--no-lift", "--out", str(tmp_path)])
    assert code == 0
    f = io.load(tmp_path / "3x3x3_rank23_Z2.json")
    assert verify(f).valid and _is_symmetric(f) and "symmetric" in f.meta["method"]
    capsys.readouterr()
    assert main(["improve", "--target", "2,2,3", "--symmetric", "--out", str(tmp_path)]) == 2
    assert main(["improve", "--target", "3,3,3", "--symmetric", "--field", "Z", "--out",
                 str(tmp_path)]) == 2
    assert main(["improve", str(tmp_path / "3x3x3_rank23_Z2.json"), "--symmetric", "--seconds",
                 "1", "--out", str(tmp_path / "again")]) == 0  # a symmetric file is a start
    err = capsys.readouterr().err.splitlines()
    assert sum(line.startswith("tensorgame improve: error:") for line in err) == 2


def test_a_cpu_budget_ends_a_search_and_is_reported():
    progress = []
    found = search(naive(3, 3, 3), WalkConfig(field="Z2"), seconds=3600, walkers=2, seed=5,
                   cpu_seconds=0.6, on_progress=progress.append)
    end = progress[-1]
    assert end.walkers_alive == 0 and end.cpu_seconds >= 0.6  # each walker used its share
    cpu = [f.cpu_seconds for f in found]
    assert found and cpu == sorted(cpu) and cpu[-1] <= end.cpu_seconds


@pytest.fixture
def ranks_script(experiment_script, monkeypatch, tmp_path):
    """experiments/ranks.py as a module, writing into ``tmp_path`` instead of results/."""
    module = experiment_script("ranks")
    monkeypatch.setattr(module, "RESULTS", tmp_path)
    return module


def test_ranks_seeds_runs_each_seed_with_a_cpu_budget_and_tabulates(ranks_script, tmp_path):
    from tensorgame import io

    ranks = ranks_script
    ranks.run_seeds([1, 2], "2x2x2", scale=0.05, redo=False)  # 1 CPU s per walk at most
    data = json.loads((tmp_path / ranks.SEEDS_FILE).read_text())
    assert sorted(data["2x2x2"]) == ["1", "2"]
    for row in data["2x2x2"].values():
        assert row["budget_z2_cpu_s"] == 1.0 and row["z2_rank"] == 7 and row["z_rank"] == 7
        assert [r for r, _ in row["z2_path"]] == sorted((r for r, _ in row["z2_path"]),
                                                        reverse=True)
        assert row["cpu_s"] >= row["z_path"][-1][1] >= 0
    saved = sorted(p.name for p in (tmp_path / "flipgraph").iterdir())
    assert saved == ["2x2x2_rank7_Z.json", "2x2x2_rank7_Z2.json"]  # the second seed: not better
    assert all(verify(io.load(tmp_path / "flipgraph" / name)).valid for name in saved)
    table = (tmp_path / "ranks.md").read_text()
    assert "| 2x2x2 | Z2 | 7 | **7** | 7 |" in table and "| 2x2x2 | Z | 7 | **7** | 7 |" in table


def test_ranks_seeds_table_counts_seeds_that_miss_as_past_the_budget(ranks_script, tmp_path):
    ranks = ranks_script

    def row(seed, z2, z2_time, z):
        return {"shape": [4, 4, 4], "seed": seed, "budget_z2_cpu_s": 300, "z2_rank": z2,
                "z2_start": 64,
                "z2_path": [[64, 0.0], [z2, z2_time]], "z_rank": z, "z_how": "Z walk",
                "z_path": [[z, 400.0, "Z walk"]], "z_walk_budget_cpu_s": 100, "cpu_s": 420}

    data = {"4x4x4": {"1": row(1, 47, 50.0, 52), "2": row(2, 48, 10.0, 52),
                      "3": row(3, 47, 90.0, 53)}}
    lines = ranks.multi_seed_table(data)
    z2 = next(line for line in lines if line.startswith("| 4x4x4 | Z2 |"))
    assert "| **47** | 47 | 47 (50.0), 48 (10.0), 47 (90.0) | 90.0 (2 of 3 seeds reach it) | 300 |" \
        in z2
    z = next(line for line in lines if line.startswith("| 4x4x4 | Z |"))
    assert "| 52 | 52 |" in z and "| 400.0 (2 of 3 seeds reach it) |" in z
    data["4x4x4"]["2"] = row(2, 48, 10.0, 53)
    data["4x4x4"]["3"] = row(3, 49, 90.0, 53)
    z2 = next(line for line in ranks.multi_seed_table(data) if line.startswith("| 4x4x4 | Z2 |"))
    assert "| budget (1 of 3 seeds reach it) |" in z2


def test_ranks_records_walks_from_the_catalog_scheme_and_checks_a_record_twice(
        ranks_script, monkeypatch, tmp_path):
    """``--records`` on a monkeypatched catalog: 2x2x3 at rank 11 (optimal: no record) and a fake
    entry that lists the naive 2x2x4 (rank 16) as the best known, which the walk beats at once:
    that scheme is verified by ours and the independent check, saved and lifted to Z."""

    from tensorgame import io
    from tensorgame.library import naive

    ranks = ranks_script
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    source = ranks.CATALOG / "2x2x3_m11_ZT.json"
    (catalog / "2x2x3_m11_ZT.json").write_bytes(source.read_bytes())
    f = naive(2, 2, 4)
    fake = {"n": [2, 2, 4], "m": f.rank, "z2": False, "u": f.u.tolist(), "v": f.v.tolist(),
            "w": f.w.tolist()}
    (catalog / "2x2x4_m16_ZT.json").write_text(json.dumps(fake))
    (catalog / "INDEX.tsv").write_text(
        "file\tformat\tcoefficients\trank\tpath\n2x2x3_m11_ZT.json\t2x2x3\tZT\t11\tx\n"
        "2x2x4_m16_ZT.json\t2x2x4\tZT\t16\tx\n2x2x2_m7_ZT.json\t2x2x2\tZT\t7\tx\n")
    monkeypatch.setattr(ranks, "CATALOG", catalog)
    monkeypatch.setattr(ranks, "RECORD_SIDE", 2)
    monkeypatch.setattr(ranks, "RELIFT_FLIPS", 20_000)
    entries = ranks.catalog_formats()
    assert sorted(entries) == [(2, 2, 2), (2, 2, 3), (2, 2, 4)]  # side 2 (2x2x2: no file here)
    ranks.run_records("2x2x3,2x2x4", scale=0.02, seed=3, redo=False)  # 1 CPU s per walk
    data = json.loads((tmp_path / ranks.RECORDS_FILE).read_text())
    no = data["2x2x3"]
    assert no["catalog_rank"] == no["start_rank_z2"] == no["best_rank_z2"] == 11
    assert not no["record_z2"] and not no["record_z"] and no["saved"] == []
    assert no["catalog_check"]["passed"] and no["budget_cpu_s"] == pytest.approx(1.0)
    yes = data["2x2x4"]
    assert yes["start_rank_z2"] == 16 and yes["best_rank_z2"] < 16 and yes["record_z2"]
    assert yes["z2_checks"]["verifier"] and yes["z2_checks"]["independent"]["wrong_entries"] == 0
    saved = {name: io.load(tmp_path / "flipgraph" / name) for name in yes["saved"]}
    assert all(verify(s).valid for s in saved.values())
    if yes["record_z"]:  # lifted: float64 check passed as well
        assert yes["z_checks"]["independent"]["max_relative_error"] < 1e-9
    table = (tmp_path / "ranks.md").read_text()
    assert "## Record attempts" in table and "Records (below the catalog rank): 2x2x4." in table
    assert "| 2x2x3 | 11 (Z, coefficients in {-1,0,1}) | 11 | 11 |" in table
    # the independent check catches a wrong scheme, mod 2 and in float64
    u = f.u.copy()
    u[5] = 0  # one product of the naive scheme missing
    broken = f.replace(u=u)
    assert not ranks.independent_check(broken)["passed"]
    assert not ranks.independent_check(reduced_mod2(broken))["passed"]
    assert ranks.independent_check(f)["max_relative_error"] < 1e-12
