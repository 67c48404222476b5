"""Hostile input to every command that reads a file: one line, exit 2, no file written, bounded
memory, never a traceback or a wrong verdict.

A generated corpus (seeded, so failures reproduce) of malformed JSON, gzip and npz files, plus
special files, is fed to ``verify``, ``show``, ``import`` and ``export`` (and, for the files
they all refuse, to ``improve`` and ``bench``). The commands run in one child process under an
address-space limit, in-process through ``tensorgame.cli.main``; a MemoryError would surface as
"out of memory", which the test treats as a failure like a traceback. A hypothesis test mutates
the v1 object itself and feeds it to the readers in-process.
"""

from __future__ import annotations

import contextlib
import gzip
import io as pyio
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

ROOT = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = 3 * 2**30  # address space of the child: far below what the old bugs needed
HOSTILE_VALUES = [
    None, True, -0.0, 1.5, 1e400, "", "x", "1/0", "1//2", "-1/-2", "9" * 30 + "/1",
    "1/" + "9" * 30, 2**63, -2**63, 2**64 - 1, [], {}, [[[[[[[[1]]]]]]]], {"a": {"b": [1]}},
]


def strassen_json() -> dict:
    from tensorgame import io, library
    return io.to_json(library.get(2, 2, 2))


def mutate(obj, rng) -> object:
    """Replace one random value anywhere in ``obj`` by a hostile one (or delete a key)."""
    obj = json.loads(json.dumps(obj))
    parent, key = None, None
    node = obj
    for _ in range(int(rng.integers(1, 5))):
        if isinstance(node, dict) and node:
            parent, key = node, list(node)[int(rng.integers(len(node)))]
        elif isinstance(node, list) and node:
            parent, key = node, int(rng.integers(len(node)))
        else:
            break
        node = parent[key]
    if parent is None:
        return obj
    choice = int(rng.integers(len(HOSTILE_VALUES) + 1))
    if choice == len(HOSTILE_VALUES):
        if isinstance(parent, dict):
            del parent[key]
        else:
            parent.pop(key)
    else:
        parent[key] = HOSTILE_VALUES[choice]
    return obj


def npz_bytes(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = pyio.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def npy(array) -> bytes:
    buffer = pyio.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_header(header: dict) -> bytes:
    buffer = pyio.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def corpus(seed: int = 0) -> dict[str, bytes]:
    """File name -> content: malformed JSON, gzip and npz, each kind several ways."""
    from tensorgame import library
    rng = np.random.default_rng(seed)
    valid = json.dumps(strassen_json()).encode()
    f = library.get(2, 2, 2)
    factors = np.stack([f.u.T, f.v.T, f.w.T])
    good_npz = npz_bytes({"2,2,2.npy": npy(factors)})
    out: dict[str, bytes] = {}

    def flips(data: bytes, count: int) -> bytes:
        data = bytearray(data)
        for position in rng.integers(0, len(data), count):
            data[position] = int(rng.integers(256))
        return bytes(data)

    for i in range(12):
        out[f"mutated_{i}.json"] = json.dumps(mutate(strassen_json(), rng)).encode()
    for i in range(6):
        out[f"truncated_{i}.json"] = valid[:int(rng.integers(len(valid)))]
        out[f"flipped_{i}.json"] = flips(valid, 3)
    out["deep_array.json"] = b"[" * 100_000 + b"]" * 100_000
    out["deep_meta.json"] = json.dumps(dict(strassen_json(), meta=json.loads(
        '{"a":' * 500 + "1" + "}" * 500))).encode()
    out["digits.json"] = valid.replace(b"[1, 0, 0, 1]", b"[1" + b"0" * 5000 + b", 0, 0, 1]", 1)
    fraction = dict(strassen_json(), field="Q")
    fraction["u"][0][0] = "1" * 4400 + "/3"
    out["fraction_digits.json"] = json.dumps(fraction).encode()
    out["nan.json"] = valid.replace(b'"rank": 7', b'"rank": NaN')
    out["utf16.json"] = valid.decode().encode("utf-16")
    out["empty.json"] = b""
    dense = {"format": "tensorgame/factorization-v1", "shape": [16, 16, 16], "field": "Z",
             "rank": 20, "u": rng.integers(-1, 2, (20, 256)).tolist(),
             "v": rng.integers(-1, 2, (20, 256)).tolist(),
             "w": rng.integers(-1, 2, (20, 256)).tolist()}
    out["dense_16.json"] = json.dumps(dense).encode()  # 26 GB of products before the fix
    for i in range(3):
        out[f"mutated_{i}.json.gz"] = gzip.compress(out[f"mutated_{i}.json"])
    packed = gzip.compress(valid)
    for i in range(4):
        out[f"flipped_{i}.json.gz"] = flips(packed, 2)
        out[f"truncated_{i}.json.gz"] = packed[:int(rng.integers(len(packed)))]
    out["bomb.json.gz"] = gzip.compress(b" " * (80 * 2**20))  # over the 64 MiB cap
    out["not_gzip.json.gz"] = valid
    for i in range(6):
        out[f"flipped_{i}.npz"] = flips(good_npz, 2)
        out[f"truncated_{i}.npz"] = good_npz[:int(rng.integers(4, len(good_npz)))]
    big = factors.astype(np.int64)
    big[0, 0, 0] = -2**63
    out["int64_min.npz"] = npz_bytes({"2,2,2.npy": npy(big)})
    out["uint64.npz"] = npz_bytes({"2,2,2.npy": npy(factors.astype(np.uint64))})
    out["complex.npz"] = npz_bytes({"2,2,2.npy": npy(factors.astype(complex))})
    out["nan.npz"] = npz_bytes({"2,2,2.npy": npy(factors.astype(float) * np.nan)})
    out["header_lie.npz"] = npz_bytes({"2,2,2.npy": npy_header(
        {"descr": "<i8", "fortran_order": False, "shape": (3, 4, 10**10)}) + b"\0" * 64})
    out["object_garbage.npz"] = npz_bytes({"2,2,2.npy": npy_header(
        {"descr": "|O", "fortran_order": False, "shape": (3,)}) + b"\x80\x03garbage"})
    out["bad_name.npz"] = npz_bytes({"../../x.npy": npy(factors)})
    out["huge_key.npz"] = npz_bytes({"99999,99999,99999.npy": npy(factors)})
    out["bzip2.npz"] = npz_bytes({"2,2,2.npy": npy(factors)}, zipfile.ZIP_BZIP2)
    out["dense_16.npz"] = npz_bytes({"16,16,16.npy": npy(np.stack([
        np.array(dense[k]).T for k in "uvw"]))})  # 242 bytes of deflate, 26 GB before
    return out


# ----------------------------------------------------------------------------- the child

def run_corpus(folder: Path, results: Path) -> None:
    """Run every command on every file in ``folder`` in this process; write what happened."""
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    from tensorgame.cli import main

    def call(*argv) -> dict:
        out, err = pyio.StringIO(), pyio.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exit_:  # argparse
                code = exit_.code
            except BaseException:  # noqa: BLE001 - reported, then the test fails
                import traceback
                code, err = "raised", pyio.StringIO(traceback.format_exc())
        return {"argv": [str(a) for a in argv], "code": code, "out": out.getvalue(),
                "err": err.getvalue()}

    records = []
    work = folder.parent / "work"
    for index, path in enumerate(sorted(folder.iterdir()) + [Path("/dev/zero"),
                                                              Path("/dev/urandom")]):
        outputs = work / f"{index}"
        outputs.mkdir(parents=True)
        commands = [("verify", path), ("show", path),
                    ("import", path, "--out", outputs / "imported"),
                    ("export", path, "--lang", "numpy", "--out", outputs / "kernel.py"),
                    ("improve", path, "--seconds", "1", "--out", outputs / "improved"),
                    ("bench", path, "--size", "64", "--repeats", "1")]
        runs = []
        for argv in commands:
            if argv[0] in ("improve", "bench") and runs[0]["code"] != 2:
                continue  # these run for real on a readable file: only unreadable ones here
            if path.name == "dense_16.json" and argv[0] != "verify" or (
                    path.name == "dense_16.npz" and argv[0] != "import"):
                continue  # seconds each: one reader of each covers the memory bound
            before = set(outputs.rglob("*"))
            began = time.perf_counter()
            runs.append(call(*argv))
            runs[-1]["seconds"] = round(time.perf_counter() - began, 3)
            runs[-1]["written"] = sorted(str(p.relative_to(outputs))
                                         for p in set(outputs.rglob("*")) - before)
        records.append({"file": path.name, "runs": runs})
    results.write_text(json.dumps(records))


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "run":
    run_corpus(Path(sys.argv[2]), Path(sys.argv[3]))


# ----------------------------------------------------------------------------- the tests

@pytest.mark.slow
def test_every_reading_command_answers_hostile_files_in_one_line(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, data in corpus().items():
        (folder / name).write_bytes(data)
    os.mkfifo(folder / "named_pipe.json")
    (folder / "a_folder.json").mkdir()
    results = tmp_path / "results.json"
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    child = subprocess.run([sys.executable, __file__, "run", str(folder), str(results)],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert child.returncode == 0, child.stderr[-3000:]
    problems = []
    for record in json.loads(results.read_text()):
        for run in record["runs"]:
            command = run["argv"][0]
            where = f"{record['file']}: {' '.join(run['argv'][:1])}"
            text = run["out"] + run["err"]
            if run["code"] not in (0, 1, 2) or "Traceback" in text:
                problems.append(f"{where}: exit {run['code']}: {text[-500:]}")
            elif "out of memory" in text or "nested too deeply" in text:
                problems.append(f"{where}: a safety net answered: {run['err'].strip()}")
            elif run["code"] == 2:
                lines = run["err"].splitlines()
                if (len(lines) != 1 or not lines[0].startswith(f"tensorgame {command}: error: ")
                        or run["out"]):
                    problems.append(f"{where}: not one error line: {text[-500:]!r}")
                if run["written"]:
                    problems.append(f"{where}: wrote {run['written']} and exited 2")
            elif command == "verify" and len(run["out"].splitlines()) != 1:
                problems.append(f"{where}: verdict not one line: {run['out']!r}")
    assert not problems, "\n".join(problems)
    by_file = {r["file"]: r["runs"] for r in json.loads(results.read_text())}
    for name in ("dense_16.json", "dense_16.npz", "int64_min.npz", "uint64.npz", "bomb.json.gz",
                 "named_pipe.json", "zero", "urandom", "fraction_digits.json", "deep_meta.json"):
        for run in by_file[name]:  # never "valid", never written
            assert run["code"] in ((1, 2) if run["argv"][0] == "verify" else (2,)), (name, run)


jsonish = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=8) | st.sampled_from(["1/2", "-3/4", "0/1", "1/0", "2/-1"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20)


@given(st.lists(st.tuples(st.sampled_from(["format", "shape", "field", "rank", "u", "v", "w",
                                           "meta", "extra", "n", "m"]), jsonish), max_size=3),
       st.sampled_from([".json", ".json.gz"]))
def test_mutated_v1_objects_load_or_fail_in_one_line(tmp_path_factory, changes, suffix):
    from tensorgame import io
    from tensorgame.errors import TensorgameError
    from tensorgame.factorization import verify
    obj = strassen_json()
    for key, value in changes:
        obj[key] = value
    text = json.dumps(obj).encode()
    path = tmp_path_factory.mktemp("mutated") / f"f{suffix}"
    path.write_bytes(gzip.compress(text) if suffix.endswith(".gz") else text)
    for reader in (io.load, io.import_file):
        try:
            result = reader(path)
        except TensorgameError as error:
            assert "\n" not in str(error) and str(error).startswith(f"{path}: ")
            continue
        for f in result if isinstance(result, list) else [result]:
            report = verify(f)
            assert isinstance(report.valid, bool)
            if reader is io.import_file:
                assert report.valid  # import writes verified factorizations only
