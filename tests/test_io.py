"""Strict v1 files, lossless round trips, published-data import and the restricted unpickler."""

import gzip
import io as pyio
import json
import os
import pickle
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tensorgame import io, library
from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization, same_terms, verify

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
needs_reference = pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference data not present")
STRASSEN = library.get(2, 2, 2)


def roundtrip_text(f):
    return io.dumps(io.from_json(json.loads(io.dumps(f))))


@pytest.mark.parametrize("f", [STRASSEN, library.get(4, 4, 4, "Z2"), library.get(2, 4, 6, "Q"),
                               library.get(3, 4, 11, "Q")], ids=lambda f: f"{f.shape}{f.field}")
def test_library_entries_round_trip_losslessly(f, tmp_path):
    obj = io.to_json(f)
    assert io.to_json(io.from_json(obj)) == obj
    assert roundtrip_text(f) == io.dumps(f)
    for name in ("f.json", "f.json.gz"):
        io.save(f, tmp_path / name)
        g = io.load(tmp_path / name)
        assert io.to_json(g) == obj and same_terms(f, g) and g.field == f.field and g.meta == f.meta
    if f.field == "Q":
        assert any(isinstance(x, str) and "/" in x for row in obj["u"] + obj["v"] + obj["w"]
                   for x in row)


fractions = st.fractions(min_value=-20, max_value=20, max_denominator=50)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 4), st.data())
def test_random_rational_factorizations_round_trip(n, m, p, rank, data):
    arrays = [data.draw(st.lists(st.lists(fractions, min_size=size, max_size=size),
                                 min_size=rank, max_size=rank))
              for size in (n * m, m * p, p * n)]
    f = Factorization(shape=(n, m, p), field="Q", u=arrays[0] or np.zeros((0, n * m)),
                      v=arrays[1] or np.zeros((0, m * p)), w=arrays[2] or np.zeros((0, p * n)),
                      meta={"seed": 3, "note": "x"})
    g = io.from_json(json.loads(io.dumps(f)))
    assert g.shape == f.shape and g.field == "Q" and g.meta == f.meta
    for a, b in zip(f.factors, g.factors):
        assert [Fraction(x) for x in a.ravel()] == [Fraction(x) for x in b.ravel()]
    assert io.to_json(g) == io.to_json(f)


def test_json_text_is_one_term_per_line_and_matches_the_design():
    text = io.dumps(STRASSEN)
    obj = json.loads(text)
    assert list(obj)[:7] == ["format", "shape", "field", "rank", "u", "v", "w"]
    assert obj["format"] == "tensorgame/factorization-v1" and obj["rank"] == 7
    assert "[1, 0, 0, 1]" in text.splitlines()[6]


def test_z2_factorizations_are_written_reduced_mod_2(tmp_path):
    f = library.get(4, 4, 4, "Z2")
    g = f.replace(u=f.u - 2 * (f.u == 1))  # -1 == 1 mod 2
    io.save(g, tmp_path / "g.json")
    assert same_terms(io.load(tmp_path / "g.json"), f)


GOOD = io.to_json(STRASSEN)


def mutate(change):
    obj = json.loads(json.dumps(GOOD))
    change(obj)
    return json.dumps(obj)


def setitem(path, value):
    def change(obj):
        target = obj
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def delete(key):
    return lambda obj: obj.pop(key)


MALFORMED = {
    "missing key": (mutate(delete("w")), "missing key 'w'"),
    "unknown key": (mutate(setitem(["extra"], 1)), "unknown key 'extra'"),
    "wrong vector length": (mutate(setitem(["u", 2], [1, 0, 1])), "u[2] must be a list of 4"),
    "rank disagrees": (mutate(setitem(["rank"], 8)), "rank is 8 but u has 7 terms"),
    "float in Z": (mutate(setitem(["v", 1, 0], 1.5)), "non-integer coefficient 1.5 at v[1][0]"),
    "fraction in Z": (mutate(setitem(["v", 1, 0], "1/2")), "non-integer coefficient '1/2'"),
    "bool coefficient": (mutate(setitem(["w", 0, 0], True)), "non-integer coefficient True"),
    "malformed fraction": (mutate(lambda o: (o.update(field="Q"), o["u"][0].__setitem__(1, "1//2"))),
                           "malformed fraction '1//2' at u[0][1]"),
    "zero denominator": (mutate(lambda o: (o.update(field="Q"), o["u"][0].__setitem__(1, "3/0"))),
                         "zero denominator"),
    "float in Q": (mutate(lambda o: (o.update(field="Q"), o["u"][0].__setitem__(1, 0.5))),
                   "must be an integer or a \"p/q\" string"),
    "Z2 coefficient 2": (mutate(setitem(["field"], "Z2")), "coefficient -1 in a Z2 file"),
    "unknown field": (mutate(setitem(["field"], "F4")), "unknown field 'F4'"),
    "unknown format tag": (mutate(setitem(["format"], "tensorgame/factorization-v2")),
                           "unknown format tag 'tensorgame/factorization-v2'"),
    "other format, other keys": ('{"format": "other/v9", "data": 1}', "unknown format tag 'other/v9'"),
    "bad shape": (mutate(setitem(["shape"], [2, 2])), "shape must be a list of three positive"),
    "huge shape": (mutate(setitem(["shape"], [100, 100, 100])), "too large"),
    "negative rank": (mutate(setitem(["rank"], -1)), "rank must be a non-negative integer"),
    "meta not object": (mutate(setitem(["meta"], [1])), "meta must be a JSON object"),
    "huge coefficient": (mutate(setitem(["u", 0, 0], 2**70)), "too large"),
    "top-level array": ("[1, 2]", "expected a JSON object"),
    "invalid JSON": ('{"format": "tensorgame/factorization-v1",', "invalid JSON"),
    "NaN": (mutate(setitem(["u", 0, 0], float("nan"))), "NaN is not valid JSON"),
    "duplicate key": ('{"rank": 1, "rank": 2}', "duplicate key 'rank'"),
    "empty file": ("", "invalid JSON"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_each_malformed_file_gets_a_one_line_error(kind, tmp_path):
    text, expected = MALFORMED[kind]
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(TensorgameError) as error:
        io.load(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert expected in message


def test_binary_gzip_and_size_errors(tmp_path, monkeypatch):
    cases = {
        "binary.json": (b"\xff\xfe\x00garbage", "not UTF-8"),
        "broken.json.gz": (b"\x1f\x8b\x08\x00garbage", "cannot read"),
    }
    for name, (data, expected) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(TensorgameError, match=expected):
            io.load(tmp_path / name)
    with pytest.raises(TensorgameError, match="cannot read: No such file"):
        io.load(tmp_path / "missing.json")
    io.save(STRASSEN, tmp_path / "ok.json")
    io.save(STRASSEN, tmp_path / "ok.json.gz")
    monkeypatch.setattr(io, "MAX_FILE_BYTES", 200)
    with pytest.raises(TensorgameError, match="file too large"):
        io.load(tmp_path / "ok.json")
    (tmp_path / "bomb.json.gz").write_bytes(gzip.compress(b" " * 100_000 + b"{}"))
    with pytest.raises(TensorgameError, match="decompressed content over 200 bytes"):
        io.load(tmp_path / "bomb.json.gz")


def test_failed_save_keeps_the_old_file_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "result.json"
    io.save(STRASSEN, path)
    before = path.read_bytes()
    with pytest.raises(TensorgameError, match="cannot be written as JSON"):
        io.save(STRASSEN.replace(meta={"bad": object()}), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


# ----------------------------------------------------------------------------- import

def npy_bytes(array=None, *, object_pickle: bytes | None = None) -> bytes:
    """A .npy member; with object_pickle, an object-array header followed by those pickle bytes."""
    if object_pickle is None:
        buffer = pyio.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    return header_bytes({"descr": "|O", "fortran_order": False, "shape": (3,)}) + object_pickle


def header_bytes(header: dict) -> bytes:
    buffer = pyio.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def write_npz(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


class RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class CallsEval:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("payload", [RunsACommand, CallsEval])
def test_malicious_npz_is_refused_without_running_its_payload(payload, tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps(np.array([payload(marker), None, None], dtype=object), protocol=3)
    path = write_npz(tmp_path / "evil.npz", {"2,2,2.npy": npy_bytes(object_pickle=evil)})
    with pytest.raises(TensorgameError) as error:
        io.import_file(path)
    assert "refusing to unpickle" in str(error.value) and "\n" not in str(error.value)
    assert not marker.exists()


def test_object_member_made_only_of_numpy_arrays_is_accepted(tmp_path):
    f = library.get(2, 2, 3)
    factors = np.empty(3, dtype=object)
    factors[:] = [f.u.T.astype(np.int32), f.v.T.astype(np.int32), f.w.T.astype(np.int32)]
    path = write_npz(tmp_path / "ok.npz", {"2,2,3.npy": npy_bytes(object_pickle=pickle.dumps(
        factors, protocol=3)), "2,2,2.npy": npy_bytes(np.stack([STRASSEN.u.T, STRASSEN.v.T,
                                                                  STRASSEN.w.T]).astype(float))})
    imported = io.import_file(path)
    assert [g.shape for g in imported] == [(2, 2, 3), (2, 2, 2)]
    assert same_terms(imported[0], f) and same_terms(imported[1], STRASSEN)
    assert all(g.field == "Z" and g.u.dtype == np.int64 for g in imported)


def test_npz_floats_must_be_short_dyadic_and_wrong_data_is_an_error(tmp_path):
    third = np.stack([STRASSEN.u.T, STRASSEN.v.T, STRASSEN.w.T]).astype(float) / 3
    with pytest.raises(TensorgameError, match="not a short dyadic fraction"):
        io.import_file(write_npz(tmp_path / "a.npz", {"2,2,2.npy": npy_bytes(third)}))
    wrong = np.stack([STRASSEN.u.T, STRASSEN.v.T, 2 * STRASSEN.w.T])  # also wrong mod 2
    with pytest.raises(TensorgameError, match=r"not a factorization of <2,2,2> over Z, Q or mod 2"):
        io.import_file(write_npz(tmp_path / "b.npz", {"2,2,2.npy": npy_bytes(wrong)}))
    with pytest.raises(TensorgameError, match="expected members named"):
        io.import_file(write_npz(tmp_path / "c.npz", {"hello.npy": npy_bytes(wrong)}))
    (tmp_path / "d.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(TensorgameError, match="not a valid npz"):
        io.import_file(tmp_path / "d.npz")
    (tmp_path / "e.json").write_text('{"hello": 1}')
    with pytest.raises(TensorgameError, match="not a DeepMind npz"):
        io.import_file(tmp_path / "e.json")


def test_mod2_only_data_imports_as_z2(tmp_path):
    f = library.get(4, 4, 4, "Z2")
    members = {"4,4,4.npy": npy_bytes(np.stack([f.u.T, f.v.T, f.w.T]))}
    (g,) = io.import_file(write_npz(tmp_path / "f2.npz", members))
    assert g.field == "Z2" and verify(g).valid and not verify(g, field="Z").valid


@needs_reference
def test_deepmind_files_import_completely_with_exact_fields():
    standard = io.import_file(REFERENCE / "alphatensor" / "factorizations_r.npz")
    mod2 = io.import_file(REFERENCE / "alphatensor" / "factorizations_f2.npz")
    assert len(standard) == 93 and len(mod2) == 20
    with zipfile.ZipFile(REFERENCE / "alphatensor" / "factorizations_r.npz") as archive:
        keys = [name.removesuffix(".npy") for name in archive.namelist()]
    assert [",".join(map(str, f.shape)) for f in standard] == keys
    rational = [f for f in standard if f.field == "Q"]
    assert len(rational) == 27
    for f in rational:
        denominators = {Fraction(x).denominator for a in f.factors for x in a.ravel()}
        assert denominators <= {1, 2, 4, 8} and denominators != {1}
    assert {f.field for f in standard} == {"Z", "Q"} and {f.field for f in mod2} == {"Z2"}
    for f in standard + mod2:
        assert f.meta["licence"] == "CC BY 4.0" and "Fawzi" in f.meta["attribution"]
    assert max(f.rank for f in standard) == 990


@needs_reference
def test_fmm_catalog_imports_completely():
    paths = sorted((REFERENCE / "fmm-catalog").glob("*.json"))
    assert len(paths) == 47
    for path in paths:
        (f,) = io.import_file(path)
        declared = json.loads(path.read_text())
        assert list(f.shape) == declared["n"] and f.rank == declared["m"]
        assert f.field == ("Q" if path.stem.endswith("_Q") else "Z")
        assert f.meta["licence"] == "MIT" and "Perminov" in f.meta["attribution"]


def test_fmm_scheme_that_does_not_verify_is_an_error(tmp_path):
    obj = {"n": [2, 2, 2], "m": 7, "z2": False, "u": STRASSEN.u.tolist(), "v": STRASSEN.v.tolist(),
           "w": STRASSEN.w.tolist()}
    (tmp_path / "ok.json").write_text(json.dumps(obj))
    assert same_terms(io.import_file(tmp_path / "ok.json")[0], STRASSEN)
    obj["w"][0][0] = 2  # wrong over Z and mod 2
    (tmp_path / "bad.json").write_text(json.dumps(obj))
    with pytest.raises(TensorgameError, match="not a factorization of <2,2,2>"):
        io.import_file(tmp_path / "bad.json")
    obj["m"] = 6
    (tmp_path / "rank.json").write_text(json.dumps(obj))
    with pytest.raises(TensorgameError, match="'m' says rank 6 but u has 7 terms"):
        io.import_file(tmp_path / "rank.json")
