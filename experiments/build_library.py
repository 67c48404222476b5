"""Build tensorgame/library/data/: every bundled algorithm as v1 JSON, plus index.json.

Re-runnable; it rewrites the folder from the published sources, all converted by
``tensorgame.io.import_file``, and checks every entry with the exact verifier:

    .venv/bin/python experiments/build_library.py [--reference ../shared/reference] [--add F...]

- Strassen (1969) and Laderman (1976), transcribed from the published formulas below;
- DeepMind's AlphaTensor factorizations (factorizations_r.npz, factorizations_f2.npz; CC BY 4.0);
- the 47 schemes of the FastMatrixMultiplication sample (fmm-catalog/*.json; MIT);
- ``--add``: v1 files found by this project (results/...), which join the library the same way.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from tensorgame import formulas, io
from tensorgame.factorization import verify
from tensorgame.library._store import index_row

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tensorgame" / "library" / "data"

STRASSEN = """
m1 = (a11 + a22) * (b11 + b22)
m2 = (a21 + a22) * b11
m3 = a11 * (b12 - b22)
m4 = a22 * (b21 - b11)
m5 = (a11 + a12) * b22
m6 = (a21 - a11) * (b11 + b12)
m7 = (a12 - a22) * (b21 + b22)
c11 = m1 + m4 - m5 + m7
c12 = m3 + m5
c21 = m2 + m4
c22 = m1 - m2 + m3 + m6
"""

LADERMAN = """
m1 = (a11 + a12 + a13 - a21 - a22 - a32 - a33) * b22
m2 = (a11 - a21) * (-b12 + b22)
m3 = a22 * (-b11 + b12 + b21 - b22 - b23 - b31 + b33)
m4 = (-a11 + a21 + a22) * (b11 - b12 + b22)
m5 = (a21 + a22) * (-b11 + b12)
m6 = a11 * b11
m7 = (-a11 + a31 + a32) * (b11 - b13 + b23)
m8 = (-a11 + a31) * (b13 - b23)
m9 = (a31 + a32) * (-b11 + b13)
m10 = (a11 + a12 + a13 - a22 - a23 - a31 - a32) * b23
m11 = a32 * (-b11 + b13 + b21 - b22 - b23 - b31 + b32)
m12 = (-a13 + a32 + a33) * (b22 + b31 - b32)
m13 = (a13 - a33) * (b22 - b32)
m14 = a13 * b31
m15 = (a32 + a33) * (-b31 + b32)
m16 = (-a13 + a22 + a23) * (b23 + b31 - b33)
m17 = (a13 - a23) * (b23 - b33)
m18 = (a22 + a23) * (-b31 + b33)
m19 = a12 * b21
m20 = a23 * b32
m21 = a21 * b13
m22 = a31 * b12
m23 = a33 * b33
c11 = m6 + m14 + m19
c12 = m1 + m4 + m5 + m6 + m12 + m14 + m15
c13 = m6 + m7 + m9 + m10 + m14 + m16 + m18
c21 = m2 + m3 + m4 + m6 + m14 + m16 + m17
c22 = m2 + m4 + m5 + m6 + m20
c23 = m14 + m16 + m17 + m18 + m21
c31 = m6 + m7 + m8 + m11 + m12 + m13 + m14
c32 = m12 + m13 + m14 + m15 + m22
c33 = m6 + m7 + m8 + m9 + m23
"""

CLASSICS = [
    ("strassen_2x2x2_rank7_Z.json", (2, 2, 2), STRASSEN,
     {"source": "Strassen, Gaussian elimination is not optimal, Numer. Math. 13, 354-356 (1969)",
      "licence": "public domain (published formulas)"}),
    ("laderman_3x3x3_rank23_Z.json", (3, 3, 3), LADERMAN,
     {"source": ("Laderman, A noncommutative algorithm for multiplying 3x3 matrices using 23 "
                 "multiplications, Bull. AMS 82(1), 126-128 (1976)"),
      "licence": "public domain (published formulas)"}),
]


def stem(f) -> str:
    return f"{'x'.join(map(str, f.shape))}_rank{f.rank}_{f.field}"


def collect(reference: Path, added: list[Path]) -> dict[str, object]:
    """{file name: Factorization} for everything that goes into the library."""
    out = {}
    for name, shape, text, meta in CLASSICS:
        out[name] = formulas.parse(shape, text.strip().splitlines(), meta=meta)
    for kind in ("r", "f2"):
        for f in io.import_file(reference / "alphatensor" / f"factorizations_{kind}.npz"):
            out[f"alphatensor_{kind}_{stem(f)}.json.gz"] = f
    catalog = reference / "fmm-catalog"
    with open(catalog / "INDEX.tsv") as handle:
        origin = {row["file"]: row["path_in_source_repository"]
                  for row in csv.DictReader(handle, delimiter="\t")}
    for path in sorted(catalog.glob("*.json")):
        (f,) = io.import_file(path)
        meta = {**f.meta, "source": f"FastMatrixMultiplication {origin[path.name]}"}
        out[f"fmm_{path.stem}.json.gz"] = f.replace(meta=meta)
    for path in added:
        f = io.load(path)
        out[f"tensorgame_{stem(f)}.json.gz"] = f.replace(meta={**f.meta, "added_from": str(path)})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "reference",
                        help="folder holding alphatensor/ and fmm-catalog/")
    parser.add_argument("--add", type=Path, nargs="*", default=[],
                        help="v1 files found by this project to bundle as well")
    args = parser.parse_args(argv)
    entries = collect(args.reference, args.add)
    rows = []
    for name, f in sorted(entries.items()):
        report = verify(f)
        if not report.valid:
            print(f"{name}: {report.summary()}", file=sys.stderr)
            return 1
        rows.append(index_row(name, f))
    DATA.mkdir(parents=True, exist_ok=True)
    for old in list(DATA.glob("*.json")) + list(DATA.glob("*.json.gz")):
        old.unlink()
    for name, f in entries.items():
        io.save(f, DATA / name)
    index = {"format": "tensorgame/library-index-v1", "entries": rows}
    (DATA / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    size = sum(p.stat().st_size for p in DATA.iterdir())
    print(f"wrote {len(rows)} entries to {DATA} ({size / 2**20:.2f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
