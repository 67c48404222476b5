"""Straight-line programs: CSE correctness, addition counts, refusals and the export CLI."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tensorgame import export, io, library
from tensorgame.errors import TensorgameError
from tensorgame.export.cse import eliminate
from tensorgame.export.program import _integer_terms_exact, integer_terms, naive_additions
from tensorgame.factorization import change_basis, verify

SMALL = [e for e in library.catalog() if max(e.shape) <= 5]


def strassen_original():
    entry = next(e for e in library.catalog() if e.file.startswith("strassen"))
    return library.load_entry(entry)


def program_tensor(program):
    """sum_r left_r (x) right_r (x) out[:, r] / D from the program's own matrices."""
    left, right = program.left.matrix(), program.right.matrix()
    out = program.out.matrix().T  # [R, p*n]
    total = np.einsum("ri,rj,rk->ijk", left, right, out)
    return total % 2 if program.gf2 else total


@given(st.lists(st.lists(st.integers(-3, 3), min_size=6, max_size=6), min_size=1, max_size=12))
def test_eliminate_computes_the_matrix_with_no_more_additions(rows):
    matrix = np.array(rows, dtype=np.int64)
    program = eliminate(matrix)
    assert (program.matrix() == matrix).all()
    naive = sum(max(np.count_nonzero(row) - 1, 0) for row in matrix)
    assert program.additions <= naive


def test_strassen_comes_down_to_winograds_15_additions():
    f = strassen_original()
    assert naive_additions(f) == 18  # Strassen's 1969 form as bundled
    before, after = export.additions(f)
    assert (before, after) == (18, 15)
    program = export.plan(f).levels[0]
    assert program.additions <= 15
    assert verify(program.source).valid


def test_cse_alone_finds_winograds_schedule_on_winograds_form():
    """Winograd's variant written out term by term needs 24 additions; CSE recovers 15."""
    # s1 = a21 + a22, s2 = s1 - a11, s3 = a11 - a21, s4 = a12 - s2; t1 = b12 - b11,
    # t2 = b22 - t1, t3 = b22 - b12, t4 = t2 - b21; m1 = a11 b11, m2 = a12 b21, m3 = s4 b22,
    # m4 = a22 t4, m5 = s1 t1, m6 = s2 t2, m7 = s3 t3; c11 = m1 + m2, c12 = m1 + m6 + m5 + m3,
    # c21 = m1 + m6 + m7 - m4, c22 = m1 + m6 + m7 + m5. w indexes (c11, c21, c12, c22).
    u = [[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, -1, -1], [0, 0, 0, 1], [0, 0, 1, 1], [-1, 0, 1, 1],
         [1, 0, -1, 0]]
    v = [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, -1, -1, 1], [-1, 1, 0, 0],
         [1, -1, 0, 1], [0, -1, 0, 1]]
    w = [[1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 1, 1], [0, 1, 1, 1],
         [0, 1, 0, 1]]
    from tensorgame.factorization import Factorization

    f = Factorization((2, 2, 2), "Z", u, v, w)
    assert verify(f).valid
    assert naive_additions(f) == 24
    assert export.plan(f, search=False).levels[0].additions == 15


@pytest.mark.parametrize("entry", SMALL, ids=lambda e: e.file)
def test_every_small_library_program_reconstructs_its_tensor(entry):
    f = library.load_entry(entry)
    gf2 = f.field == "Z2"
    program = export.plan(f, arithmetic="gf2" if gf2 else "real").levels[0]
    target = f.target() * program.denominator
    assert (program_tensor(program) == (target % 2 if gf2 else target)).all()
    assert program.additions <= program.additions_before
    assert program.rank == f.rank


@pytest.mark.parametrize("gf2", [False, True])
def test_integer_terms_fast_path_matches_the_exact_one(gf2):
    for entry in SMALL:
        f = library.load_entry(entry)
        fast, exact = integer_terms(f, gf2), _integer_terms_exact(f, gf2)
        assert all((a == b).all() and a.dtype == b.dtype for a, b in zip(fast[:3], exact[:3]))
        assert fast[3] == exact[3] == 1


def test_rational_factorization_gets_an_integer_program_and_a_denominator():
    f = change_basis(library.get(2, 2, 2), np.array([[2, 0], [0, 1]]), np.eye(2, dtype=int),
                     np.array([[1, 1], [0, 3]]))
    assert f.field == "Q" and verify(f).valid
    u, v, w, d = integer_terms(f, gf2=False)
    assert d > 1 and u.dtype == v.dtype == w.dtype == np.int64
    program = export.plan(f, search=False).levels[0]
    assert (program_tensor(program) == f.target() * program.denominator).all()


def test_a_factorization_that_does_not_verify_is_refused_in_one_line():
    f = library.get(3, 3, 3)
    w = f.w.copy()
    w[0, 0] += 1
    with pytest.raises(TensorgameError, match="does not verify") as error:
        export.plan(f.replace(w=w))
    assert "\n" not in str(error.value)


def test_z2_only_factorization_refuses_real_arithmetic():
    f = library.get(4, 4, 4, field="Z2")
    assert f.field == "Z2" and f.rank == 47
    with pytest.raises(TensorgameError, match="only modulo 2"):
        export.plan(f, arithmetic="real")
    with pytest.raises(TensorgameError, match="only modulo 2"):
        library.matmul(np.ones((8, 8)), np.ones((8, 8)), f)
    assert export.plan(f).gf2  # GF(2) by default


def test_mixed_schedule_and_level_errors():
    plan = export.plan([(4, 4, 4), (2, 2, 2)])
    assert [p.shape for p in plan.levels] == [(4, 4, 4), (2, 2, 2)]
    assert [p.rank for p in plan.levels] == [49, 7]
    with pytest.raises(TensorgameError, match="one per level"):
        export.plan([(4, 4, 4), (2, 2, 2)], levels=3)
    with pytest.raises(TensorgameError, match="levels"):
        export.plan("strassen", levels=-1)
    with pytest.raises(TensorgameError, match="unknown algorithm"):
        export.plan("winograd-ish")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "tensorgame", *args], capture_output=True,
                          text=True)


def test_cli_exports_runnable_numpy_and_refuses_bad_files(tmp_path):
    good, bad, out = tmp_path / "f.json", tmp_path / "bad.json", tmp_path / "k.py"
    f = library.get(2, 3, 4)
    io.save(f, good)
    w = f.w.copy()
    w[3, 1] -= 1
    io.save(f.replace(w=w), bad)
    done = run_cli("export", str(good), "--lang", "numpy", "--levels", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "additions" in done.stdout
    matmul = export.load_python(out.read_text())
    rng = np.random.default_rng(0)
    a, b = rng.integers(-9, 10, (37, 29)), rng.integers(-9, 10, (29, 41))
    assert (matmul(a, b) == a @ b).all()
    refused = run_cli("export", str(bad), "--lang", "c", "--out", str(tmp_path / "x.c"))
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "does not verify" in refused.stderr
    assert not (tmp_path / "x.c").exists()
    z2 = tmp_path / "z2.json"
    io.save(library.get(3, 3, 3, field="Z2"), z2)
    assert run_cli("export", str(z2), "--lang", "jax").returncode == 0  # GF(2) kernel
    missing = run_cli("export", str(tmp_path / "nope.json"), "--lang", "numpy")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


def test_show_reports_additions_before_and_after():
    done = run_cli("show", "--shape", "2x2x2", "--no-formulas")
    assert done.returncode == 0, done.stderr
    assert "additions     18 as written, 15 exported" in done.stdout


def test_bench_command_times_a_kernel_and_refuses_gf2_only(tmp_path):
    done = run_cli("bench", "3,3,3", "--size", "40", "--repeats", "1")
    assert done.returncode == 0, done.stderr
    assert "speedup" in done.stdout and "max relative error" in done.stdout
    z2 = tmp_path / "z2.json"
    io.save(library.get(4, 4, 4, field="Z2"), z2)  # rank 47, valid mod 2 only
    refused = run_cli("bench", str(z2), "--size", "8")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
