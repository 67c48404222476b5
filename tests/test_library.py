"""The bundled library: every entry verifies, the index is truthful, get() picks correctly."""

import itertools
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tensorgame import io, library
from tensorgame.errors import TensorgameError
from tensorgame.factorization import verify
from tensorgame.library._store import data_dir

CATALOG = library.catalog()
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.mark.parametrize("entry", CATALOG, ids=lambda e: e.file)
def test_every_bundled_entry_verifies_and_matches_its_index_row(entry):
    f = library.load_entry(entry)
    assert verify(f).valid, entry.file
    assert (f.shape, f.field, f.rank, f.nonzeros()) == (entry.shape, entry.field, entry.rank,
                                                       entry.nonzeros)
    assert [io.coefficient_to_json(x) for x in f.coefficients()] == list(entry.coefficients)
    assert f.meta["source"] == entry.source and f.meta["licence"] == entry.licence
    if f.field == "Z2":
        assert not verify(f, field="Z").valid  # mod-2-only entries really need mod 2
    if f.field == "Q":
        assert any(a.dtype == object for a in f.factors)


def test_all_sources_are_present_with_attribution():
    files = [e.file for e in CATALOG]
    standard = [e for e in CATALOG if e.file.startswith("alphatensor_r_")]
    mod2 = [e for e in CATALOG if e.file.startswith("alphatensor_f2_")]
    fmm = [e for e in CATALOG if e.file.startswith("fmm_")]
    assert (len(standard), len(mod2), len(fmm)) == (93, 20, 47)
    assert len(files) == len(set(files)) == 93 + 20 + 47 + 2
    assert any(f.startswith("strassen_2x2x2_rank7_Z") for f in files)
    assert any(f.startswith("laderman_3x3x3_rank23_Z") for f in files)
    for e in standard + mod2:
        assert e.licence == "CC BY 4.0" and "AlphaTensor" in e.source
    for e in fmm:
        assert e.licence == "MIT" and e.source.startswith("FastMatrixMultiplication schemes/")
    assert {e.field for e in mod2} == {"Z2"}
    assert sum(e.field == "Q" for e in standard) == 27
    on_disk = {p.name for p in data_dir().iterdir()} - {"index.json"}
    assert on_disk == set(files)
    size = sum(p.stat().st_size for p in Path(str(data_dir())).iterdir())
    assert size < 4 * 2**20


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference data not present")
def test_bundled_deepmind_keys_and_fmm_files_match_the_sources():
    for kind in ("r", "f2"):
        with zipfile.ZipFile(REFERENCE / "alphatensor" / f"factorizations_{kind}.npz") as archive:
            keys = {tuple(map(int, n.removesuffix(".npy").split(","))) for n in archive.namelist()}
        bundled = {e.shape for e in CATALOG if e.file.startswith(f"alphatensor_{kind}_")}
        assert bundled == keys
    names = {p.stem for p in (REFERENCE / "fmm-catalog").glob("*.json")}
    assert {e.file.removeprefix("fmm_").removesuffix(".json.gz") for e in CATALOG
            if e.file.startswith("fmm_")} == names


BEST = {  # DESIGN.md section 5 figures that the bundled data reaches
    (2, 2, 2): 7, (2, 2, 3): 11, (2, 3, 3): 15, (2, 3, 4): 20, (3, 3, 3): 23, (3, 3, 4): 29,
    (3, 3, 5): 36, (3, 4, 4): 38, (3, 4, 5): 47, (3, 5, 5): 58, (4, 4, 4): 49, (4, 4, 5): 61,
    (4, 5, 5): 76, (5, 5, 5): 93,
}


@pytest.mark.parametrize("shape", sorted(BEST))
def test_get_returns_the_best_known_rank_in_every_permutation(shape):
    for permuted in set(itertools.permutations(shape)):
        f = library.get(*permuted)
        assert f.shape == permuted and f.rank == BEST[shape] and f.field == "Z"
        assert verify(f).valid
        if permuted != tuple(f.meta.get("variant_of", permuted)):
            assert sorted(f.meta["variant_of"]) == sorted(permuted)


def test_field_rules():
    assert library.get(4, 4, 4, "Z2").rank == 47 and library.get(4, 4, 4, "Z2").field == "Z2"
    assert library.get(4, 4, 4, "Q").rank == 49 and library.get(4, 4, 4, "Q").field == "Z"
    assert library.get(2, 2, 2, "Z2").field == "Z"  # a Z algorithm serves mod 2 too
    big_q = library.get(12, 11, 12, "Q")
    assert (big_q.field, big_q.rank, big_q.shape) == ("Q", 990, (12, 11, 12))
    assert verify(big_q).valid
    big_z = library.get(11, 12, 12)
    assert big_z.field == "Z" and big_z.rank > 990  # the rank-990 one needs 1/2: not over Z
    for field, allowed in library._store.SERVES.items():
        for shape in [(2, 4, 5), (3, 4, 11), (4, 5, 5), (2, 2, 2)]:
            assert library.get(*shape, field=field).field in allowed
    with pytest.raises(TensorgameError):
        library.get(2, 2, 2, field="F4")
    with pytest.raises(TensorgameError):
        library.get(0, 2, 2)
    with pytest.raises(TensorgameError):
        library.get(2.5, 2, 2)
    assert library.get(*np.array([3, 2, 2])).shape == (3, 2, 2)


def test_get_prefers_lowest_rank_over_all_serving_entries():
    for shape in {e.shape for e in CATALOG}:
        for field, allowed in library._store.SERVES.items():
            ranks = [e.rank for e in CATALOG if sorted(e.shape) == sorted(shape) and e.field in allowed]
            if ranks:
                assert library.candidates(*shape, field=field)[0].rank == min(ranks)


@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))
def test_naive_is_valid_with_rank_nmp(n, m, p):
    f = library.naive(n, m, p)
    assert f.rank == n * m * p and f.field == "Z" and verify(f).valid
    assert f.nonzeros() == 3 * n * m * p


def test_get_falls_back_to_naive_when_nothing_bundled():
    f = library.get(7, 7, 7)
    assert f.rank == 343 and verify(f).valid


def test_get_returns_independent_copies():
    f = library.get(2, 2, 2)
    f.u[0, 0] = 99
    assert library.get(2, 2, 2).u[0, 0] != 99


def test_catalog_rows_have_the_documented_columns():
    row = CATALOG[0]
    assert len(row.shape) == 3 and row.field in ("Z", "Q", "Z2") and row.rank > 0
    assert row.coefficients and row.source
    index = json.loads((data_dir() / "index.json").read_text())
    assert len(index["entries"]) == len(CATALOG)
    assert list(CATALOG) == sorted(CATALOG, key=lambda e: (e.shape, ("Z", "Q", "Z2").index(e.field),
                                                          e.rank, e.file))
