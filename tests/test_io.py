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


# ----------------------------------------------------------------------------- hostile input

def strassen_npy(dtype=np.int64, edit=None) -> bytes:
    array = np.stack([STRASSEN.u.T, STRASSEN.v.T, STRASSEN.w.T]).astype(dtype)
    if edit is not None:
        edit(array)
    return npy_bytes(array)


def one_line_error(call) -> str:
    with pytest.raises(TensorgameError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message
    return message


class Alarm:
    """Fail (instead of hanging the suite) if the block takes longer than ``seconds``."""

    def __init__(self, seconds: int):
        self.seconds = seconds

    def __enter__(self):
        import signal

        def timeout(*_):
            raise TimeoutError("blocked")
        self.previous = signal.signal(signal.SIGALRM, timeout)
        signal.alarm(self.seconds)

    def __exit__(self, *exc):
        import signal
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.previous)


def test_special_files_are_refused_before_reading(tmp_path):
    """/dev/zero and /dev/urandom report size 0 (the size limit never applied: MemoryError);
    a named pipe blocked forever; a folder gave IsADirectoryError's text."""
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    for path in ("/dev/zero", "/dev/urandom", fifo):
        for reader in (io.load, io.import_file):
            with Alarm(10):
                message = one_line_error(lambda: reader(path))
            assert "not a regular file" in message, message
    assert "a directory" in one_line_error(lambda: io.load(tmp_path))


def test_corrupt_gzip_is_one_line(tmp_path):
    good = gzip.compress(io.dumps(STRASSEN).encode())
    (tmp_path / "bad.json.gz").write_bytes(good[:20] + b"\x00" * 10 + good[30:])  # zlib.error
    assert "corrupt compressed data" in one_line_error(lambda: io.load(tmp_path / "bad.json.gz"))
    (tmp_path / "short.json.gz").write_bytes(good[:-12])  # EOFError
    assert "ends early" in one_line_error(lambda: io.load(tmp_path / "short.json.gz"))


def patch_zip(data: bytes, local: int, central: int, value: int, size: int = 2) -> bytes:
    """Set a field at offset ``local`` of the local header and ``central`` of the central one."""
    out = bytearray(data)
    for start, offset in ((0, local), (data.index(b"PK\x01\x02"), central)):
        out[start + offset:start + offset + size] = value.to_bytes(size, "little")
    return bytes(out)


def test_corrupt_npz_members_are_one_line(tmp_path):
    buffer = pyio.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("2,2,2.npy", strassen_npy())
    good = buffer.getvalue()
    (tmp_path / "good.npz").write_bytes(good)
    assert io.import_file(tmp_path / "good.npz")[0].field == "Z"
    data_start = 30 + len("2,2,2.npy")
    flipped = bytearray(good)
    flipped[data_start + 40] ^= 0x55
    stored = bytearray(write_npz(tmp_path / "stored.npz", {"2,2,2.npy": strassen_npy()})
                       .read_bytes())
    stored[data_start + 200] ^= 0x01  # stored data: only the CRC can tell
    cases = {
        "crc": (bytes(stored), "Bad CRC"),
        "deflate": (bytes(flipped), "corrupt or unsupported zip member"),
        "method": (patch_zip(good, 8, 10, 99), "compression method"),
        "encrypted": (patch_zip(good, 6, 8, 1), "corrupt or unsupported zip member"),
    }
    for name, (data, expected) in cases.items():
        (tmp_path / f"{name}.npz").write_bytes(data)
        message = one_line_error(lambda: io.import_file(tmp_path / f"{name}.npz"))
        assert expected in message, (name, message)


def test_npz_headers_that_lie_about_sizes_are_refused_in_bounded_memory(tmp_path, monkeypatch):
    import bz2
    import resource
    # a .npy header announcing 96 GB over 100 bytes (numpy allocated before reading)
    liar = header_bytes({"descr": "<i8", "fortran_order": False, "shape": (3, 4, 10**9)})
    write_npz(tmp_path / "npy.npz", {"2,2,2.npy": liar + b"\x00" * 100})
    assert "announces" in one_line_error(lambda: io.import_file(tmp_path / "npy.npz"))
    # a bzip2 member whose header says 1 byte: 128 MB of zeros come out of one call
    monkeypatch.setattr(io, "MAX_FILE_BYTES", 2**20)
    info = zipfile.ZipInfo("2,2,2.npy")
    info.compress_type = zipfile.ZIP_BZIP2
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w") as archive:
        archive.writestr(info, b"x")
    data = (tmp_path / "bomb.npz").read_bytes()
    compressor, chunk = bz2.BZ2Compressor(), b"\x00" * 2**20  # no 128 MB peak here
    payload = b"".join(compressor.compress(chunk) for _ in range(128)) + compressor.flush()
    header_end = 30 + len("2,2,2.npy")
    old_size = int.from_bytes(data[18:22], "little")
    bomb = bytearray(data[:header_end] + payload + data[header_end + old_size:])
    central = bomb.index(b"PK\x01\x02")
    for start, offset in ((0, 18), (central, 20)):  # compressed size in both headers
        bomb[start + offset:start + offset + 4] = len(payload).to_bytes(4, "little")
    end = bomb.index(b"PK\x05\x06")
    bomb[end + 16:end + 20] = central.to_bytes(4, "little")
    (tmp_path / "bomb.npz").write_bytes(bytes(bomb))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    message = one_line_error(lambda: io.import_file(tmp_path / "bomb.npz"))
    assert "compression method" in message
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 2**10  # KiB


def test_npz_integers_beyond_the_coefficient_limit_are_refused(tmp_path):
    """int64 near -2^63 passed an overflow guard built on np.abs, and two such terms cancel
    modulo 2^64: the file was written as "Z rank 9". uint64 2^64-1 wrapped to -1."""
    u, v, w = (np.vstack([a, np.eye(1, a.shape[1], dtype=np.int64),
                          np.eye(1, a.shape[1], dtype=np.int64)]) for a in STRASSEN.factors)
    u[7, 0] = u[8, 0] = -2**63  # the two extra terms sum to -2^64 at (0, 0, 0)
    write_npz(tmp_path / "wrap.npz", {"2,2,2.npy": npy_bytes(np.stack([u.T, v.T, w.T]))})
    assert "too large" in one_line_error(lambda: io.import_file(tmp_path / "wrap.npz"))
    signed = np.stack([STRASSEN.u.T, STRASSEN.v.T, STRASSEN.w.T])
    unsigned = signed.astype(np.uint64)  # -1 becomes 2^64 - 1
    assert unsigned.max() == 2**64 - 1
    write_npz(tmp_path / "uint.npz", {"2,2,2.npy": npy_bytes(unsigned)})
    assert "too large" in one_line_error(lambda: io.import_file(tmp_path / "uint.npz"))


def test_import_verifies_v1_files_too(tmp_path):
    obj = io.to_json(STRASSEN)
    obj["w"][0][0] = 2  # wrong over Z, Q and mod 2
    (tmp_path / "bad.json").write_text(json.dumps(obj))
    assert "not a factorization" in one_line_error(lambda: io.import_file(tmp_path / "bad.json"))
    empty = dict(io.to_json(STRASSEN), rank=0, u=[], v=[], w=[])
    (tmp_path / "empty.json").write_text(json.dumps(empty))
    assert "not a factorization" in one_line_error(
        lambda: io.import_file(tmp_path / "empty.json"))
    obj["w"][0][0] = 3  # now valid mod 2 only: imported as Z2, as README says
    (tmp_path / "mod2.json").write_text(json.dumps(obj))
    (f,) = io.import_file(tmp_path / "mod2.json")
    assert f.field == "Z2" and verify(f).valid


def test_huge_fraction_digits_and_deep_meta_are_one_line(tmp_path):
    obj = dict(io.to_json(STRASSEN), field="Q")
    obj["u"][0][0] = "1" * 4400 + "/3"  # int() raised ValueError past 4,300 digits
    (tmp_path / "digits.json").write_text(json.dumps(obj))
    assert "too large" in one_line_error(lambda: io.load(tmp_path / "digits.json"))
    meta = deep = {}
    for _ in range(500):
        deep["a"] = {}
        deep = deep["a"]
    (tmp_path / "deep.json").write_text(json.dumps(dict(io.to_json(STRASSEN), meta=meta)))
    assert "nested" in one_line_error(lambda: io.load(tmp_path / "deep.json"))
    assert "nested" in one_line_error(lambda: io.save(STRASSEN.replace(meta=meta),
                                                      tmp_path / "out.json"))
    assert not (tmp_path / "out.json").exists()


def test_saved_files_honour_the_umask_and_keep_the_mode_they_replace(tmp_path):
    old = os.umask(0o027)
    try:
        io.save(STRASSEN, tmp_path / "a.json")
        assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640
        os.chmod(tmp_path / "a.json", 0o604)
        io.save(STRASSEN, tmp_path / "a.json")
        assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o604
        os.umask(0o002)
        io.save(STRASSEN, tmp_path / "b.json.gz")
        assert (tmp_path / "b.json.gz").stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(old)


def test_temp_files_of_killed_writers_are_removed(tmp_path):
    import subprocess
    import sys
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".a.json.{dead}.k2j3h4_x.tmp"
    other = tmp_path / f".b.json.gz.{dead}.abcdefgh.tmp"  # another name's, also dead
    alive = tmp_path / f".a.json.{os.getppid()}.x8y7z6ab.tmp"  # a live writer's: kept
    foreign = tmp_path / f".notes.{dead}.tmp"  # not this writer's pattern: kept
    for path in (stale, other, alive, foreign):
        path.write_text("partial")
    io.save(STRASSEN, tmp_path / "a.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["a.json", alive.name, foreign.name])


def test_write_failures_are_one_line_and_leave_nothing(tmp_path, monkeypatch):
    import errno
    (tmp_path / "file").write_text("x")
    assert "in the way" in one_line_error(lambda: io.save(STRASSEN, tmp_path / "file" / "a.json"))
    assert "a directory" in one_line_error(lambda: io.save(STRASSEN, tmp_path))
    assert "not a regular file" in one_line_error(lambda: io.save(STRASSEN, "/dev/null"))
    for code in (errno.ENOSPC, errno.EROFS):
        def fail(*_, code=code):
            raise OSError(code, os.strerror(code))
        with monkeypatch.context() as patch:
            patch.setattr(os, "fsync", fail)
            message = one_line_error(lambda: io.save(STRASSEN, tmp_path / "c.json"))
        assert os.strerror(code) in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_npz_member_count_and_names_are_bounded(tmp_path, monkeypatch):
    from tensorgame import importers
    member = strassen_npy()
    monkeypatch.setattr(importers, "MAX_MEMBERS", 3)
    many = write_npz(tmp_path / "many.npz", {f"{i + 1},2,2.npy": member for i in range(4)})
    assert "at most 3" in one_line_error(lambda: io.import_file(many))
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate it is asked to write
        with zipfile.ZipFile(tmp_path / "twice.npz", "w") as archive:
            archive.writestr("2,2,2.npy", member)
            archive.writestr("2,2,2.npy", member)
    assert "appears twice" in one_line_error(lambda: io.import_file(tmp_path / "twice.npz"))
    write_npz(tmp_path / "zeros.npz", {"02,2,2.npy": member})
    assert "expected members named" in one_line_error(
        lambda: io.import_file(tmp_path / "zeros.npz"))
