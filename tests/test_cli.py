"""`tensorgame verify | show | import | list` as a user runs them: output lines and exit codes."""

import io as io_bytes
import json
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tensorgame import formulas, io, library
from tensorgame.cli import main
from agents.demo import bilinear_product
from tensorgame.factorization import Factorization, change_basis, same_terms, verify

DATA = Path(str(library._store.data_dir()))
STRASSEN_FILE = DATA / "strassen_2x2x2_rank7_Z.json"
F2_FILE = next(DATA.glob("alphatensor_f2_4x4x4_rank47_Z2.json.gz"))


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def files(tmp_path):
    good = tmp_path / "good.json"
    shutil.copy(STRASSEN_FILE, good)
    f = io.load(good)
    w = f.w.copy()
    w[0, 0] += 1
    bad = tmp_path / "bad.json"
    io.save(f.replace(w=w), bad)
    unreadable = tmp_path / "unreadable.json"
    unreadable.write_text('{"format": "tensorgame/factorization-v1"}')
    return good, bad, unreadable


def test_verify_ok_invalid_and_unreadable(capsys, files):
    good, bad, unreadable = files
    assert run(capsys, "verify", good) == (0, f"OK  {good}  <2,2,2> Z rank 7\n", "")
    code, out, err = run(capsys, "verify", good, bad)
    assert code == 1 and out.splitlines()[1].startswith(f"INVALID  {bad}  <2,2,2> Z rank 7: ")
    assert out.splitlines()[1].endswith("wrong entries, first at (0,0,0)")
    code, out, err = run(capsys, "verify", good, bad, unreadable)
    assert code == 2 and len(out.splitlines()) == 2
    assert err == f"tensorgame verify: error: {unreadable}: missing key 'shape'\n"


def test_verify_judges_unseen_changes_of_basis_and_kronecker_products(capsys, tmp_path):
    f = library.get(2, 2, 2)
    x, y, z = np.array([[1, 2], [0, 1]]), np.array([[0, 1], [1, 1]]), np.array([[1, 0], [-3, 1]])
    io.save(change_basis(f, x, y, z), tmp_path / "basis.json")
    factors = [[np.kron(a.reshape(2, 2), b.reshape(2, 2)).reshape(-1) for a in fa for b in fa]
               for fa in f.factors]
    kron = Factorization(shape=(4, 4, 4), field="Z", u=factors[0], v=factors[1], w=factors[2])
    io.save(kron, tmp_path / "kron.json")
    broken = kron.w.copy()
    broken[5, 3] -= 1
    io.save(kron.replace(w=broken), tmp_path / "kron_bad.json")
    code, out, _ = run(capsys, "verify", tmp_path / "basis.json", tmp_path / "kron.json",
                       tmp_path / "kron_bad.json")
    lines = out.splitlines()
    assert code == 1 and lines[0].startswith("OK") and lines[1].endswith("<4,4,4> Z rank 49")
    assert lines[2].startswith("INVALID")


def test_verify_field_z2_and_json(capsys, files, tmp_path):
    assert run(capsys, "verify", F2_FILE)[0] == 0
    code, out, _ = run(capsys, "verify", F2_FILE, "--field", "Z")
    assert code == 1 and out.startswith("INVALID") and "<4,4,4> Z rank 47" in out
    assert run(capsys, "verify", STRASSEN_FILE, "--field", "Z2")[1].startswith("OK")
    q = tmp_path / "q.json"
    io.save(library.get(3, 4, 11, "Q"), q)
    assert run(capsys, "verify", q)[0] == 0
    code, out, _ = run(capsys, "verify", q, "--field", "Z")
    assert code == 1 and "non-integer coefficients" in out
    good, bad, unreadable = files
    code, out, err = run(capsys, "verify", "--json", good, bad, unreadable)
    results = json.loads(out)
    assert code == 2 and [r["valid"] for r in results] == [True, False, None]
    assert results[1]["first_wrong"][0] == [0, 0, 0] and results[1]["wrong_entries"] > 0
    assert "missing key" in results[2]["error"] and err.count("\n") == 1


@pytest.mark.parametrize("argv", [
    ("train", "--target", "2,2,2", "--seed=99999999999999999999"),  # was an OverflowError
    ("train", "--target", "2,2,2", "--seed=-3"),
    ("improve", "--target", "2,2,2", "--seconds", "1", "--seed=-1"),  # was a NumPy ValueError
    ("train", "--target", "2,2,2", "--seconds", "nan"),  # was a run that never stopped
    ("improve", "--target", "2,2,2", "--slack", "100000"),  # allocated rank + slack terms
    ("improve", "--target", "2,2,2", "--plateau", "10000000000000000000000"),  # a traceback
    ("improve", "--target", "2,2,2", "--walkers", "100000"),  # "too many open files"
])
def test_a_seed_budget_or_walk_setting_out_of_range_is_one_line(capsys, tmp_path, argv):
    code, out, err = run(capsys, *argv, "--out", tmp_path / "run")
    assert code == 2 and err.count("\n") == 1
    assert any(text in err for text in ("--seed must be an integer from 0 to",
                                        "--seconds must be positive", "must lie in 1.."))
    assert not (tmp_path / "run").exists()


def test_show_prints_summary_and_formulas(capsys):
    code, out, _ = run(capsys, "show", STRASSEN_FILE)
    lines = out.splitlines()
    assert code == 0
    for expected in ["shape         <2,2,2>", "field         Z", "rank          7  (naive 8)",
                     "coefficients  {-1, 0, 1}", "non-zeros     36", "verified      valid over Z"]:
        assert any(line.startswith(expected) for line in lines), expected
    assert "m1 = (a11 + a22) * (b11 + b22)" in lines and "c11 = m1 + m4 - m5 + m7" in lines
    assert "m2 = (a21 + a22) * b11" in lines and "c22 = m1 - m2 + m3 + m6" in lines
    code, out, _ = run(capsys, "show", "--shape", "3x2x2", "--no-formulas")
    assert code == 0 and "<3,2,2>" in out and "rank          11" in out and "m1 =" not in out
    code, out, err = run(capsys, "show", "--shape", "2x2")
    assert code == 2 and "shape must look like 2x3x4" in err


def test_formulas_render_and_parse_round_trip_including_rationals_and_large_indices():
    for f in [library.get(2, 2, 2), library.get(2, 4, 6, "Q"), library.get(4, 5, 10, "Q"),
              library.naive(2, 11, 3)]:
        lines = formulas.render(f)
        assert len(lines) == f.rank + f.shape[0] * f.shape[2]
        g = formulas.parse(f.shape, lines, field=f.field)
        assert same_terms(f, g) and verify(g).valid
    text = "\n".join(formulas.render(library.naive(2, 11, 3)))
    assert "a1_10" in text and "b11_3" in text and "a1_11" in text
    assert "1/2*" in "\n".join(formulas.render(library.get(3, 4, 11, "Q")))
    assert formulas.entry_name("c", 0, 0) == "c11" and formulas.entry_name("a", 9, 0) == "a10_1"


def test_import_writes_one_verified_file_per_factorization(capsys, tmp_path):
    scheme = tmp_path / "2x2x2_m7_ZT.json"
    f = library.get(2, 2, 2)
    scheme.write_text(json.dumps({"n": [2, 2, 2], "m": 7, "z2": False, "u": f.u.tolist(),
                                  "v": f.v.tolist(), "w": f.w.tolist()}))
    npz = tmp_path / "pair.npz"
    g = library.get(2, 2, 3)
    factors = np.empty(3, dtype=object)
    factors[:] = [g.u.T, g.v.T, g.w.T]
    write_npz(npz, {"2,2,2": np.stack([f.u.T, f.v.T, f.w.T]), "2,2,3": factors})
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "import", scheme, npz, "--out", out_dir)
    assert code == 0 and err == ""
    written = sorted(p.name for p in out_dir.iterdir())
    assert written == ["2x2x2_m7_ZT_2x2x2_rank7_Z.json", "pair_2x2x2_rank7_Z.json",
                       "pair_2x2x3_rank11_Z.json"]
    assert run(capsys, "verify", *sorted(out_dir.iterdir()))[0] == 0
    code, out, err = run(capsys, "import", scheme, "--out", out_dir)
    assert code == 2 and "exists (use --force" in err
    assert run(capsys, "import", scheme, "--out", out_dir, "--force")[0] == 0


def write_npz(path, arrays):
    """An npz like DeepMind's: plain members via np.save, object members as header + pickle."""
    with zipfile.ZipFile(path, "w") as archive:
        for key, array in arrays.items():
            buffer = io_bytes.BytesIO()
            if array.dtype == object:
                np.lib.format.write_array_header_1_0(
                    buffer, {"descr": "|O", "fortran_order": False, "shape": array.shape})
                pickle.dump(array, buffer, protocol=3)
            else:
                np.save(buffer, array)
            archive.writestr(f"{key}.npy", buffer.getvalue())


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.marker}",))


def test_import_refuses_a_malicious_npz(capsys, tmp_path):
    marker = tmp_path / "pwned"
    evil = np.empty(3, dtype=object)
    evil[:] = [Payload(marker), None, None]
    npz = tmp_path / "evil.npz"
    write_npz(npz, {"2,2,2": evil})
    code, out, err = run(capsys, "import", npz, "--out", tmp_path / "out")
    assert code == 2 and "refusing to unpickle" in err and err.count("\n") == 1
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_list_prints_the_catalogue(capsys):
    code, out, _ = run(capsys, "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["shape", "field", "rank"]
    assert lines[-1] == f"{len(library.catalog())} algorithms"
    code, out, _ = run(capsys, "list", "--shape", "4x4x4", "--field", "Z2")
    assert "<4,4,4>  Z2     47" in out and out.splitlines()[-1] == "1 algorithms"
    code, out, _ = run(capsys, "list", "--shape", "4x3x2", "--json")
    rows = json.loads(out)
    assert rows and all(sorted(r["shape"]) == [2, 3, 4] for r in rows)
    assert {"shape", "field", "rank", "coefficients", "source", "licence"} <= set(rows[0])


@pytest.mark.parametrize("command", ["verify", "show", "import", "list"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "usage: tensorgame " + command in out
    assert "example" in out


def test_console_script_exit_codes_and_no_traceback(files):
    good, bad, unreadable = files
    script = Path(sys.executable).parent / "tensorgame"
    result = subprocess.run([str(script), "verify", str(good), str(bad), str(unreadable),
                             str(good.parent / "missing.json")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stdout.splitlines()[0].startswith("OK")
    assert result.stdout.splitlines()[1].startswith("INVALID")
    errors = result.stderr.splitlines()
    assert len(errors) == 2 and all(e.startswith("tensorgame verify: error: ") for e in errors)
    assert "Traceback" not in result.stderr



def test_output_closed_early_ends_quietly():
    script = Path(sys.executable).parent / "tensorgame"
    with subprocess.Popen([str(script), "list"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as process:
        process.stdout.readline()
        process.stdout.close()  # as `tensorgame list | head -1` does
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=120) == 0
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr

def test_bilinear_product_of_library_algorithms_matches_matmul():
    rng = np.random.default_rng(1)
    for shape in [(2, 2, 2), (3, 4, 5), (4, 4, 4)]:
        f = library.get(*shape)
        a, b = rng.standard_normal(shape[:2]), rng.standard_normal(shape[1:])
        np.testing.assert_allclose(bilinear_product(f, a, b), a @ b, atol=1e-10)


# ----------------------------------------------------------------------------- hostile input

def test_one_crashing_file_does_not_stop_the_files_after_it(capsys, files, tmp_path):
    good, bad, _ = files
    broken = tmp_path / "broken.json.gz"
    data = (DATA / "strassen_2x2x2_rank7_Z.json").read_bytes()
    import gzip
    packed = gzip.compress(data)
    broken.write_bytes(packed[:20] + b"\x00" * 10 + packed[30:])  # zlib.error escaped before
    code, out, err = run(capsys, "verify", good, broken, bad)
    assert code == 2 and [line.split()[0] for line in out.splitlines()] == ["OK", "INVALID"]
    assert len(err.splitlines()) == 1 and err.startswith(f"tensorgame verify: error: {broken}: ")


def test_a_newline_in_a_file_name_does_not_split_the_verdict_line(capsys, tmp_path):
    odd = tmp_path / "a\nOK  forged.json"
    shutil.copy(STRASSEN_FILE, odd)
    code, out, err = run(capsys, "verify", odd)
    assert code == 0 and out.count("\n") == 1 and out.startswith("OK  ") and "a\\nOK" in out
    missing = tmp_path / "b\rc.json"
    code, out, err = run(capsys, "verify", missing)
    assert code == 2 and err.count("\n") == 1 and "b\\rc.json" in err


def test_show_prints_hostile_meta_on_one_line_each(capsys, tmp_path):
    f = io.load(STRASSEN_FILE)
    io.save(f.replace(meta={"note": "line one\nline two\x1b[2J"}), tmp_path / "m.json")
    code, out, err = run(capsys, "show", tmp_path / "m.json", "--no-formulas")
    assert code == 0
    assert [line for line in out.splitlines() if line.startswith("note")] == [
        "note          line one\\nline two\\x1b[2J"]


def test_import_out_onto_or_under_a_file_is_one_line_and_writes_nothing(capsys, tmp_path):
    (tmp_path / "taken").write_text("x")
    for out_dir in (tmp_path / "taken", tmp_path / "taken" / "sub"):
        code, out, err = run(capsys, "import", STRASSEN_FILE, "--out", out_dir)
        assert code == 2 and out == "" and len(err.splitlines()) == 1, err
        assert err.startswith("tensorgame import: error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_import_writes_nothing_for_a_v1_file_that_does_not_verify(capsys, tmp_path):
    obj = io.to_json(io.load(STRASSEN_FILE))
    obj["w"][0][0] = 2
    (tmp_path / "bad.json").write_text(json.dumps(obj))
    code, out, err = run(capsys, "import", tmp_path / "bad.json", STRASSEN_FILE,
                         "--out", tmp_path / "out")
    assert code == 2 and "not a factorization of <2,2,2>" in err and len(err.splitlines()) == 1
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["strassen_2x2x2_rank7_Z_2x2x2_rank7_Z.json"]


def test_plot_draws_metrics_without_wall_and_refuses_non_objects(capsys, tmp_path):
    rows = [{"iteration": i, "loss": 1.0 / i, "best_rank": 8 - (i > 2), "ranks": {"8": i}}
            for i in range(1, 5)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, err = run(capsys, "plot", tmp_path)
    assert code == 0 and (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "metrics.jsonl").write_text("[1, 2]\n{}\n")
    code, out, err = run(capsys, "plot", tmp_path, "--output", tmp_path / "other.png")
    assert code == 2 and "not a JSON object" in err and not (tmp_path / "other.png").exists()


def test_one_shape_parser_for_every_flag(capsys):
    from tensorgame.commands.core import parse_shape
    assert parse_shape(" 2 x3,4 ") == (2, 3, 4)
    for text in ("2x2", "0,2,2", "2,2,2,2", "٢,2,2", "9" * 30 + ",1,1"):
        with pytest.raises(io.TensorgameError, match="must look like 2x3x4 or 2,3,4"):
            parse_shape(text)
    code, _, err = run(capsys, "train", "--target", "2x2")
    assert code == 2 and err == ("tensorgame train: error: --target must look like 2x3x4 or "
                                 "2,3,4 (three positive integers), got '2x2'\n")
    code, _, err = run(capsys, "show", "--shape", "99,99,99")
    assert code == 2 and "--shape 99,99,99 is too large" in err


def test_public_surface_is_small_lazy_and_versioned():
    import tomllib

    import tensorgame
    version = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert tensorgame.__version__ == version["project"]["version"]
    assert set(tensorgame.__all__) >= {"Factorization", "verify", "load", "save", "library"}
    for name in tensorgame.__all__:
        assert getattr(tensorgame, name) is not None
    assert tensorgame.verify(tensorgame.library.get(2, 2, 2)).valid
    code = ("import sys, tensorgame, tensorgame.cli; "
            "assert 'numpy' not in sys.modules, 'numpy imported'; "
            "from tensorgame import Factorization, load; assert 'numpy' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
