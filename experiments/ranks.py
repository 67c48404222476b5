"""Ranks reached by flip-graph walks for every format 2 <= n <= m <= p <= 5, against the best known.

For each format, from the naive algorithm: a walk mod 2 (one walker, a per-format budget, stopping
early at the best known rank mod 2), then Hensel lifting of the schemes found (lowest rank first,
up to LIFT_ATTEMPTS), then a walk over Z (coefficients in {-1, 0, 1}) with a third of the budget,
from the lifted scheme (or the naive one if none lifted) when it is above the best known Z rank.
Results are saved per format as they come (results/ranks.json, results/ranks.md, verified schemes
under results/flipgraph/), so an interrupted run still leaves a table; a re-run skips formats done.

    .venv/bin/python experiments/ranks.py [--scale 1.0] [--formats 3x3x3,4x4x4] [--seed 0]

``--seeds 401,402,403`` is the reporting run (results/ranks_by_seed.json, the first table of
results/ranks.md): per seed and format, budgets in CPU seconds (CPU_BUDGET), see ``run_seeded``;
one process per seed may run at once (rows are merged under a lock).

``--records`` (seed 501 unless ``--seed``) aims at records: for each format with a side of 6 in the
FMM catalog sample, one walker mod 2 from the catalog scheme itself (reduced mod 2) for
RECORD_CPU_BUDGET CPU s, stopping one rank below it (rows in results/flipgraph/records.json, the
"Record attempts" section of results/ranks.md); see ``run_record``. Processes given disjoint
``--formats`` may run at once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.flipgraph import WalkConfig, search  # noqa: E402
from agents.flipgraph import starts  # noqa: E402
from agents.flipgraph.lifting import lift, lift_with_retries  # noqa: E402
from tensorgame import io, library  # noqa: E402
from tensorgame.factorization import for_shape, reduced_mod2, verify  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"

# Best known ranks (DESIGN.md section 5 and the issue): z2 = mod 2, z = over the integers,
# q = over the rationals where lower than z. Sources name the first scheme of that rank.
KNOWN = {
    (2, 2, 2): (7, 7, None, "Strassen 1969 (optimal: Winograd 1971)"),
    (2, 2, 3): (11, 11, None, "Hopcroft & Kerr 1971"),
    (2, 2, 4): (14, 14, None, "Hopcroft & Kerr 1971"),
    (2, 2, 5): (18, 18, None, "Hopcroft & Kerr 1971"),
    (2, 3, 3): (15, 15, None, "Hopcroft & Kerr 1971"),
    (2, 3, 4): (20, 20, None, "Hopcroft & Kerr 1971"),
    (2, 3, 5): (25, 25, None, "Hopcroft & Kerr 1971"),
    (2, 4, 4): (26, 26, None, "Hopcroft & Kerr 1971"),
    (2, 4, 5): (33, 33, 32, "Hopcroft & Kerr 1971 (33); AlphaEvolve 2025 (32 over Q)"),
    (2, 5, 5): (40, 40, None, "Hopcroft & Kerr 1971"),
    (3, 3, 3): (23, 23, None, "Laderman 1976"),
    (3, 3, 4): (29, 29, None, "Smirnov 2013"),
    (3, 3, 5): (36, 36, None, "Smirnov 2013"),
    (3, 4, 4): (38, 38, None, "Smirnov 2013"),
    (3, 4, 5): (47, 47, None, "AlphaTensor 2022"),
    (3, 5, 5): (58, 58, None, "AlphaTensor 2022 (as in the fmm-catalog sample)"),
    (4, 4, 4): (47, 49, 48, "AlphaTensor 2022 (47 mod 2); Strassen^2 (49 over Z); "
                            "AlphaEvolve 2025 (48 over Q)"),
    (4, 4, 5): (60, 61, None, "Kauers & Moosbauer 2022 (60 mod 2); AlphaEvolve 2025 (61)"),
    (4, 5, 5): (73, 76, None, "Arai, Ichikawa & Hukushima 2024 (73 mod 2); AlphaTensor 2022 (76)"),
    (5, 5, 5): (93, 93, None, "Moosbauer & Poole 2025"),
}

Z_PLATEAU = 30_000  # longest plateau of the second Z walk (longer than the Z2 default 3000)
LIFT_ATTEMPTS = 4  # mod-2 schemes tried for lifting per format, lowest rank first

# Seconds for the mod-2 walk per format (the Z walk gets a third): the machine has 2 cores
# shared by about five agents, so these are wall-clock budgets for one walker.
BUDGET = {
    (2, 2, 2): 20, (2, 2, 3): 20, (2, 2, 4): 30, (2, 2, 5): 40, (2, 3, 3): 30, (2, 3, 4): 60,
    (2, 3, 5): 90, (2, 4, 4): 120, (2, 4, 5): 180, (2, 5, 5): 180, (3, 3, 3): 60,
    (3, 3, 4): 150, (3, 3, 5): 180, (3, 4, 4): 240, (3, 4, 5): 300, (3, 5, 5): 300,
    (4, 4, 4): 600, (4, 4, 5): 420, (4, 5, 5): 420, (5, 5, 5): 600,
}


def _ours(shape, field: str):
    """Our saved scheme of the lowest rank for ``shape`` (any side order) over ``field``, if any."""
    key = "x".join(map(str, sorted(shape)))
    schemes = [io.load(f) for f in (RESULTS / "flipgraph").glob(f"{key}_rank*_{field}.json")]
    if not schemes:
        return None
    return for_shape(min(schemes, key=lambda f: f.rank), tuple(shape))


def composite_start(shape, field: str):
    """The lowest-rank direct sum of two of our smaller schemes (see agents.flipgraph.starts)."""
    return starts.composite_start(shape, field, lookup=_ours)


def run_format(shape, budget: float, seed: int) -> dict:
    n, m, p = shape
    z2_known, z_known, _, _ = KNOWN[shape]
    naive = library.naive(n, m, p)
    long_factors = max(n * m, m * p, p * n) > starts.LONG_FACTOR
    start = composite_start(shape, "Z2") if long_factors else None
    start = naive if start is None or start.rank >= naive.rank else start
    stats = {}

    def progress(p):
        stats.update(flips=p.flips, flips_per_second=p.flips_per_second, seconds=p.seconds)

    found = search(start, WalkConfig(field="Z2"), budget, seed=seed, stop_rank=z2_known,
                   on_progress=progress)
    row = {"shape": list(shape), "naive": naive.rank, "budget_z2_s": budget,
           "z2_start": start.rank, "z2_start_how": start.meta.get("construction", "naive"),
           "z2_flips": stats["flips"], "z2_flips_per_s": stats["flips_per_second"],
           "z2_wall_s": stats["seconds"]}
    best = found[-1] if found else None
    row["z2_rank"] = best.scheme.rank if best else start.rank
    row["z2_time_s"] = best.seconds if best else 0.0
    if best:
        _save(best.scheme, "Z2")
    elif start is not naive:
        _save(start, "Z2")
    # lift, lowest rank first, until one lifts
    row["lift"] = []
    lifted = None
    for item in list(reversed(found))[:LIFT_ATTEMPTS]:
        t0 = time.monotonic()
        result = lift(item.scheme, seed=seed)
        row["lift"].append({"rank": item.scheme.rank, "lifted": result.scheme is not None,
                            "how": result.how, "seconds": round(time.monotonic() - t0, 2)})
        if result.scheme is not None:
            lifted = result.scheme
            break
    z_budget = budget / 3
    z_stop = min(z_known, lifted.rank - 1) if lifted is not None else z_known
    stats.clear()
    ternary = lifted is not None and set(lifted.coefficients()) <= {-1, 0, 1}
    z_start = lifted if ternary else naive
    z_composite = composite_start(shape, "Z") if long_factors else None
    candidates_extra = []
    if z_composite is not None and z_composite.rank < naive.rank:
        candidates_extra = [(z_composite.rank, "direct sum", z_composite)]
        if set(z_composite.coefficients()) <= {-1, 0, 1} and z_composite.rank < z_start.rank:
            z_start, ternary = z_composite, False
    z_found = search(z_start, WalkConfig(field="Z"), z_budget, seed=seed, stop_rank=z_stop,
                     on_progress=progress) if (lifted is None or lifted.rank > z_known) else []
    row.update(budget_z_s=z_budget if z_found or lifted is None or lifted.rank > z_known else 0,
               z_walk_rank=z_found[-1].scheme.rank if z_found else None,
               z_walk_time_s=z_found[-1].seconds if z_found else None,
               z_flips_per_s=stats.get("flips_per_second"))
    candidates = [(lifted.rank, "lifted", lifted)] if lifted is not None else []
    candidates += candidates_extra
    if z_found:
        how = ("lifted + Z walk" if ternary else
               "direct sum + Z walk" if candidates_extra else "Z walk")
        candidates.append((z_found[-1].scheme.rank, how, z_found[-1].scheme))
    if candidates:
        rank, how, scheme = min(candidates, key=lambda c: c[0])
        _save(scheme, "Z")
        row.update(z_rank=rank, z_how=how)
    else:
        row.update(z_rank=naive.rank, z_how="naive")
    return row


def _scheme_path(scheme) -> Path:
    """results/flipgraph/<n>x<m>x<p>_rank<R>_<field>.json (the folder made if needed)."""
    n, m, p = scheme.shape
    folder = RESULTS / "flipgraph"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{n}x{m}x{p}_rank{scheme.rank}_{scheme.field}.json"


def _save(scheme, field) -> None:
    assert scheme.field == field and verify(scheme).valid
    n, m, p = scheme.shape
    for old in (RESULTS / "flipgraph").glob(f"{n}x{m}x{p}_rank*_{field}.json"):
        old.unlink()
    io.save(scheme, _scheme_path(scheme))


# CPU seconds of the mod-2 walk per format in the multi-seed table (``--seeds``); the Z walk gets a
# third. Process time of the one walker, so a budget does not depend on what else runs.
CPU_BUDGET = {
    (2, 2, 2): 20, (2, 2, 3): 20, (2, 2, 4): 20, (2, 2, 5): 20, (2, 3, 3): 20, (2, 3, 4): 20,
    (2, 3, 5): 60, (2, 4, 4): 30, (2, 4, 5): 60, (2, 5, 5): 60, (3, 3, 3): 20,
    (3, 3, 4): 30, (3, 3, 5): 60, (3, 4, 4): 60, (3, 4, 5): 60, (3, 5, 5): 60,
    (4, 4, 4): 150, (4, 4, 5): 60, (4, 5, 5): 60, (5, 5, 5): 60,
}
SEEDS_FILE = "ranks_by_seed.json"  # under RESULTS: {format: {seed: row}}
RELIFT_FLIPS = 1_000_000  # lift_with_retries (by work) where the mod-2 rank reaches the known Z


def _saved_rank(shape, field: str) -> int | None:
    key = "x".join(map(str, shape))
    ranks = [int(p.name.split("_rank")[1].split("_")[0])
             for p in (RESULTS / "flipgraph").glob(f"{key}_rank*_{field}.json")]
    return min(ranks, default=None)


def _save_if_better(scheme, field: str, how: str, seed: int) -> bool:
    """Save ``scheme`` under results/flipgraph/ if its rank is below every saved one (older files
    are kept); verified exactly first."""
    saved = _saved_rank(scheme.shape, field)
    if saved is not None and scheme.rank >= saved:
        return False
    assert scheme.field == field and verify(scheme).valid
    scheme = scheme.replace(meta={**scheme.meta, "found_by": "experiments/ranks.py --seeds",
                                  "how": how, "seed": seed})
    io.save(scheme, _scheme_path(scheme))
    return True


def run_seeded(shape, budget: float, seed: int) -> dict:
    """One seed of one format with budgets in CPU seconds (process time of this process).

    Mod 2: one walker from the naive scheme (a direct sum of our schemes for long factors) for
    ``budget`` CPU s, stopping at the best known mod-2 rank. Z: the lowest-rank lift of the (up
    to LIFT_ATTEMPTS) lowest mod-2 schemes found, by work (20 sign restarts, then Hensel); where
    the best mod-2 rank is at the best known Z rank but does not lift, other schemes of that rank
    met by a walk (``lift_with_retries`` by work: RELIFT_FLIPS flips); a direct sum of our Z
    schemes (long factors) or the square of our 2x2x2 (4x4x4); then, if above the best known Z
    rank, a walk over Z for ``budget / 3`` CPU s from the lowest ternary candidate (or naive).
    Times are CPU
    seconds from the start of the format (the mod-2 walk included) to each new best rank:
    ``z2_path`` and ``z_path`` list [rank, CPU s]."""
    c0 = time.process_time()
    cpu = lambda: round(time.process_time() - c0, 2)  # noqa: E731
    z2_known, z_known, _, _ = KNOWN[shape]
    naive = library.naive(*shape)
    long_factors = max(shape[0] * shape[1], shape[1] * shape[2], shape[2] * shape[0]) \
        > starts.LONG_FACTOR
    start = composite_start(shape, "Z2") if long_factors else None
    start = naive if start is None or start.rank >= naive.rank else start
    found = search(start, WalkConfig(field="Z2"), float("inf"), seed=seed, stop_rank=z2_known,
                   cpu_seconds=budget)
    z2 = found[-1].scheme if found else start
    row = {"shape": list(shape), "seed": seed, "budget_z2_cpu_s": budget,
           "z2_start": start.rank, "z2_rank": z2.rank,
           "z2_path": [[start.rank, 0.0]] + [[f.scheme.rank, round(f.cpu_seconds, 2)]
                                            for f in found],
           "z2_cpu_s": cpu(), "saved": [], "date": time.strftime("%Y-%m-%d %H:%M"),
           "load": os.getloadavg()[0]}
    if _save_if_better(z2, "Z2", "mod-2 walk" if found else "direct sum", seed) \
            if found or start is not naive else False:
        row["saved"].append(f"Z2 {z2.rank}")
    candidates = []  # (rank, CPU s, how, scheme)
    lift_log = []
    for item in list(reversed(found))[:LIFT_ATTEMPTS]:
        result = lift(item.scheme, seed=seed, sign_tries=20)
        lift_log.append({"rank": item.scheme.rank, "lifted": result.scheme is not None,
                         "how": result.how})
        if result.scheme is not None:
            candidates.append((result.scheme.rank, cpu(), "lifted", result.scheme))
            break
    if z2.rank <= z_known and (not candidates or candidates[0][0] > z2.rank):
        result = lift_with_retries(z2, WalkConfig(field="Z2"), 0, seed=seed, flips=RELIFT_FLIPS)
        lift_log.append({"rank": z2.rank, "lifted": result.scheme is not None,
                         "how": result.how})
        if result.scheme is not None:
            candidates.append((result.scheme.rank, cpu(), "lifted (harvest)", result.scheme))
    if long_factors:
        summed = composite_start(shape, "Z")
        if summed is not None and summed.rank < naive.rank:
            candidates.append((summed.rank, cpu(), "direct sum", summed))
    if shape == (4, 4, 4):
        from tensorgame.compose import product

        small = _ours((2, 2, 2), "Z")
        if small is not None:
            candidates.append((small.rank ** 2, cpu(), "square of our 2x2x2",
                               product(small, small)))
    row["lift"] = lift_log
    candidates.sort(key=lambda c: (c[0], c[1]))
    best = candidates[0] if candidates else (naive.rank, 0.0, "naive", naive)
    row["z_walk_budget_cpu_s"] = 0
    if best[0] > z_known:
        ternary = [c for c in candidates if set(c[3].coefficients()) <= {-1, 0, 1}]
        z_start, start_how = (ternary[0][3], ternary[0][2]) if ternary else (naive, "naive")
        before = cpu()
        row["z_walk_budget_cpu_s"] = budget / 3
        z_found = search(z_start, WalkConfig(field="Z"), float("inf"), seed=seed,
                         stop_rank=z_known, cpu_seconds=budget / 3)
        for f in z_found:
            candidates.append((f.scheme.rank, round(before + f.cpu_seconds, 2),
                               f"{start_how} + Z walk", f.scheme))
        candidates.sort(key=lambda c: (c[0], c[1]))
        best = candidates[0]
    path, low = [], naive.rank + 1
    for rank, seconds, how, _ in sorted(candidates, key=lambda c: c[1]):
        if rank < low:
            path.append([rank, seconds, how])
            low = rank
    row.update(z_rank=best[0], z_how=best[2], z_path=path or [[naive.rank, 0.0, "naive"]],
               cpu_s=cpu())
    if candidates and _save_if_better(best[3], "Z", best[2], seed):
        row["saved"].append(f"Z {best[0]}")
    return row


def _merge_seed_row(row: dict) -> None:
    """Add ``row`` to RESULTS/SEEDS_FILE (under a lock: one process per seed may run)."""
    key = "x".join(map(str, row["shape"]))
    _locked_update(RESULTS / SEEDS_FILE,
                   lambda data: data.setdefault(key, {}).__setitem__(str(row["seed"]), row))


def _time_to(path: list, rank: int) -> float | None:
    """CPU s at which a path of [rank, CPU s, ...] first reached ``rank`` or lower."""
    times = [entry[1] for entry in path if entry[0] <= rank]
    return min(times) if times else None


def multi_seed_table(data: dict, seeds: list[str] | None = None) -> list[str]:
    """Markdown for RESULTS/SEEDS_FILE: per format and field, over the seeds run."""
    import statistics

    every = sorted({s for rows in data.values() for s in rows}, key=int)
    lines = ["| format | field | best known | ours, best of seeds | median | per seed "
             f"({', '.join(s for s in every if seeds is None or s in seeds)}): rank (CPU s to "
             "it) | median CPU s to our best | budget (CPU s) |",
             "|---|---|---|---|---|---|---|---|"]
    order = sorted(data, key=lambda key: (max(data[key][next(iter(data[key]))]["shape"]) == 5,
                                          data[key][next(iter(data[key]))]["shape"]))
    for key in order:
        chosen = [s for s in every if seeds is None or s in seeds]
        rows = [data[key][s] for s in chosen if s in data[key]]
        if not rows:
            continue
        shape = tuple(rows[0]["shape"])
        z2k, zk, qk, _ = KNOWN[shape]
        budget = rows[0]["budget_z2_cpu_s"]
        for field, known, rank_key, path_key in (("Z2", z2k, "z2_rank", "z2_path"),
                                                  ("Z", zk, "z_rank", "z_path")):
            ranks = [r[rank_key] for r in rows]
            ours = min(ranks)
            times = [_time_to(r[path_key], ours) for r in rows]
            per_seed = ", ".join(
                f"{r[rank_key]} ({_time_to(r[path_key], r[rank_key]):.1f})" if r else "not run"
                for r in (data[key].get(s) for s in chosen))
            if field == "Z2":
                budget_text = f"{budget:g}"
            else:
                walks = sorted({r["z_walk_budget_cpu_s"] for r in rows})
                budget_text = (f"{budget:g} + lifting" +
                               (f" + {'/'.join(f'{w:g}' for w in walks if w)} (Z walk)"
                                if any(walks) else ""))
            reached = sum(t is not None for t in times)
            median = statistics.median(float("inf") if t is None else t for t in times)
            time_text = "budget" if median == float("inf") else f"{median:.1f}"
            if reached < len(rows):
                time_text += f" ({reached} of {len(rows)} seeds reach it)"
            if len(rows) < len(chosen):
                time_text += f"; {len(rows)} of {len(chosen)} seeds run"
            mark = f"**{ours}**" if ours <= known else f"{ours}"
            known_text = f"{known}" + (f" ({qk} Q)" if field == "Z" and qk else "")
            hows = sorted({r["z_how"] for r in rows if r["z_rank"] == ours}) if field == "Z" \
                else []
            how_text = f"; from: {', '.join(hows)}" if hows else ""
            naive_rank = shape[0] * shape[1] * shape[2]
            sums = sorted({r["z2_start"] for r in rows if r["z2_start"] < naive_rank})
            if field == "Z2" and sums:
                how_text = f"; walks from direct sums of rank {', '.join(map(str, sums))}"
            lines.append(f"| {key} | {field} | {known_text} | {mark} | "
                         f"{statistics.median(ranks):g} | {per_seed}{how_text} | {time_text} | "
                         f"{budget_text} |")
    return lines


def _dates(data: dict) -> str:
    days = sorted({r.get("date", "")[:10] for v in data.values() for r in v.values()} - {""})
    return ", ".join(days) or "undated"


def write_table(rows: dict, seed: int) -> None:
    lines = ["# Flip-graph walks: ranks reached from the naive algorithm", ""]
    records = records_section()
    seeds_data = RESULTS / SEEDS_FILE
    if seeds_data.exists():
        data = json.loads(seeds_data.read_text())
        lines += [
            "## Per format over several seeds, CPU-second budgets (`--seeds`)", "",
            "Written by `experiments/ranks.py --seeds` (%s). Seeds %s are reporting seeds, never "
            "used for tuning (a first start of the same seeds, stopped during 2x3x5 (after the "
            "formats up to 3x3x4) to make the harvest lifting work-bounded, not wall-clock, was "
            "discarded; of it only 2x3x5 rank 25 mod 2, seed 403, which the rerun reached "
            "again, was kept). Per seed and format: one walker "
            "mod 2 from the naive scheme (formats with a factor longer than 16 entries: from the "
            "lowest-rank direct sum of our schemes for smaller formats saved at the time, those an "
            "earlier format of this run saved included; the table names the start ranks) for "
            "the budget "
            "in CPU seconds (process time of the walker; jobs at nice 19 on 2 shared cores), "
            "stopping at the best known mod-2 rank. Z: the lowest mod-2 schemes found are lifted "
            "(20 sign restarts, then Hensel lifting); where the mod-2 rank equals the best known "
            "Z rank but does not lift, other schemes of that rank met by a short walk are tried "
            "(`lift_with_retries` by work: up to 100 schemes met in %.0e flips); long formats "
            "also have the direct sum of our Z schemes, "
            "4x4x4 the square of our 2x2x2; if still above the best known Z rank, a walk over Z "
            "(coefficients in {-1, 0, 1}) from the lowest such candidate for a third of the "
            "budget. CPU seconds to a Z rank count from the start of the format (mod-2 walk "
            "included). Median CPU s to our best: over the seeds, a seed that does not reach "
            "that rank counting as past the budget ('budget' when most do not). Bold: the best "
            "known rank reached. Schemes saved under `results/flipgraph/` only when below every "
            "saved one."
            % (_dates(data), ", ".join(sorted({s for v in data.values() for s in v}, key=int)),
               RELIFT_FLIPS), ""]
        lines += multi_seed_table(data)
        lines += [""] + records if records else []
        lines += ["", "## One seed, wall-clock budgets (seed 0, 2026-11-23, the kernel before the "
                      "flip index by buckets; superseded by the table above)", ""]
    elif records:
        lines += records + [""]
    lines += [
        "Written by `experiments/ranks.py` (seed %d). One walker per format on a machine with 2 "
        "cores shared by about five agents (load average often 4-7), so budgets are wall-clock "
        "and flips/s are low and noisy. Mod 2: a walk from the naive algorithm, stopping at the "
        "best known mod-2 rank. Z: the lowest-rank mod-2 scheme that Hensel-lifts (of the 4 lowest "
        "found), then, if above the best known Z rank, a walk over Z with coefficients in "
        "{-1, 0, 1} from that lifted scheme (or from the naive one; a third of the budget); "
        "`--relift` then tries other schemes of the best Z2 rank met by a short walk (Z from: "
        "'lifted (harvest)') and, where Z is still above the best known, a second Z walk "
        "(a third of the budget, plateaus up to 30000 flips) from our best Z scheme "
        "('second Z walk'); for 4x4x4 the product of our 2x2x2 Z scheme with itself is a "
        "further Z candidate. "
        "Every scheme is verified exactly and saved under "
        "`results/flipgraph/`." % seed,
        "",
        "| format | naive | Z2 walk from | known Z2 | ours Z2 | time (s) | known Z | ours Z | "
        "Z from | budget Z2 / Z (s) | flips/s (Z2) | source of the known ranks |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(rows):
        r = rows[key]
        z2k, zk, qk, source = KNOWN[tuple(r["shape"])]
        known_z = f"{zk}" + (f" ({qk} Q)" if qk else "")
        mark = lambda ours, best: f"**{ours}**" if ours <= best else f"{ours}"  # noqa: E731
        second = f" + {r['z_walk2']['seconds']:.0f}" if "z_walk2" in r else ""
        speed = f"{r['z2_flips_per_s']:,.0f}" if r["z2_wall_s"] >= 5 else "–"
        start = "naive" if r.get("z2_start", r["naive"]) == r["naive"] else \
            f"sum, rank {r['z2_start']}"
        lines.append(
            f"| {key} | {r['naive']} | {start} | {z2k} | {mark(r['z2_rank'], z2k)} | "
            f"{r['z2_time_s']:.1f} | "
            f"{known_z} | {mark(r['z_rank'], zk)} | {r['z_how']} | {r['budget_z2_s']:.0f} / "
            f"{r['budget_z_s']:.0f}{second} | {speed} | {source} |")
    lines += ["", "Bold: the best known rank reached. Time: wall-clock seconds from the walk's "
                  "start to the Z2 rank shown (numba kernels cached). flips/s: flips of the Z2 walk "
                  "per wall-clock second, shown when the walk ran 5 s or more.", "",
              "Lifting attempts (lowest rank first):", ""]
    for key in sorted(rows):
        for attempt in rows[key]["lift"]:
            lines.append(f"- {key} rank {attempt['rank']}: "
                         f"{'lifts' if attempt['lifted'] else 'does not lift'} — {attempt['how']}"
                         f" ({attempt['seconds']} s)")
    speed_file = RESULTS / "ranks_throughput.json"
    if speed_file.exists():
        lines += ["", "Kernel throughput (`--throughput`: one thread, flips per CPU second, "
                      "median of 5 walks of 10^6 flips with plus transitions, kernel seeds 0-4, at "
                      "the rank a walk of 2*10^6 flips from the naive scheme reaches, and at our "
                      "best 5x5x5 scheme; the machine's 2 cores are shared, the load average "
                      "during the run is shown; goal of issue 11: 5M at 4x4x4, 2.5M at 5x5x5; "
                      "the C++ ternary_flip_graph runs about 5.8M per thread at 4x4x4):", "",
                  "| format | field | rank | flips per CPU second | load |",
                  "|---|---|---|---|---|"]
        for key, value in json.loads(speed_file.read_text()).items():
            fmt, field = key.split(maxsplit=1)
            lines.append(f"| {fmt} | {field} | {value['rank']} | "
                         f"{value['flips_per_cpu_s']:,.0f} | {value.get('load', 0):.1f} |")
        lines += ["", "The kernel keeps, per position, buckets of terms with equal factors (a hash "
                      "table per position, linked lists, one pair list) and updates them in "
                      "O(bucket size) per flip (2026-12-02). The kernel before it (one pass over "
                      "all terms per flip), measured right after on the same states at load 5-6 "
                      "(median of 5): 7.9M at 3x3x3 Z2, 2.8M at 4x4x4 Z2, 1.2M at 5x5x5 Z2, 1.1M "
                      "at 3x3x3 Z; the new one in the same run: 10.6M, 9.3M, 6.3M, 5.5M."]
    seeds_file = RESULTS / "ranks_seeds.json"
    if seeds_file.exists():
        lines += seed_table(json.loads(seeds_file.read_text()))
    lines += ["", f"Machine: {platform.processor() or platform.machine()}, "
                  f"{os.cpu_count()} cores (shared); Python {platform.python_version()}."]
    (RESULTS / "ranks.md").write_text("\n".join(lines) + "\n")


def seed_table(data: dict) -> list[str]:
    """Markdown for ``results/ranks_seeds.json`` (experiments/flipgraph_seeds.py): per seed, the
    CPU and wall time to the target rank or the best rank reached; medians over the seeds. Rows
    without a ``kernel`` entry were measured with the kernel before the flip index by buckets
    (about 3.5x slower) and are listed apart."""
    lines = ["", "Robustness (`experiments/flipgraph_seeds.py`: per seed, walkers in one process "
                 "each, sharing every new best scheme, from the naive scheme (symmetric: from the "
                 "best symmetric scheme at hand, see `starts.symmetric_start`), stopping at the "
                 "target or once the walkers together have used a budget of CPU seconds; tuning "
                 "seeds were used to choose the settings, reporting seeds were run once with the "
                 "settings shown; CPU seconds are process time of all walkers on the shared 2 "
                 "cores, inflated when the load is high, wall seconds depend on what else runs; "
                 "symmetric walks count flips of orbits, three flips of terms each):", ""]
    current = {key: [r for r in rows if "kernel" in r] for key, rows in data.items()}
    old = {key: [r for r in rows if "kernel" not in r] for key, rows in data.items()}
    lines += _seed_rows(current)
    lines += ["", "Earlier runs, one walker, with the kernel before the flip index by buckets "
                  "(2026-12-02, before 06:00):", ""]
    lines += _seed_rows(old)
    return lines


def _setting(r: dict) -> str:
    """The settings of a seed run, in words."""
    c = r["config"]
    text = (f"{r.get('walkers', 1)} walker(s), plateau {c['plateau_min']}-{c['plateau']}, "
            f"slack {c['slack']}, restart after {c['walk_length']:.0e} flips, depth "
            f"{c.get('restart_depth', 0)}, best-rank pool {c.get('restart_best', 0.5):.0%}")
    if c.get("restart_fresh"):
        text += f", fresh descents {c['restart_fresh']:.0%} of restarts"
    if c.get("symmetric"):
        text = f"symmetric (C3) from rank {r['start_rank']}, " + text
    return text


def _seed_rows(data: dict) -> list[str]:
    """The table of seed runs and, per target, label and setting, one summary line."""
    import statistics

    lines = ["| target | label | settings | seed | best rank | reached | CPU s to target (or "
             "budget) | wall s to target (or end) | flips |",
             "|---|---|---|---|---|---|---|---|---|"]
    summary = []
    for key, rows in data.items():
        groups: dict[tuple, list] = {}
        for r in rows:
            groups.setdefault((r["label"], _setting(r)), []).append(r)
        for (label, setting), group in groups.items():
            for r in sorted(group, key=lambda r: r["seed"]):
                cpu, wall = (r["path"][-1]["cpu_s"], r["path"][-1]["wall_s"]) if r["reached"] \
                    else (r["cpu_s"], r["wall_s"])
                stopped = " (stopped early)" if r.get("stopped_early") else ""
                lines.append(f"| {key} | {label} | {setting} | {r['seed']} | {r['best_rank']} | "
                             f"{'yes' if r['reached'] else 'not reached'} | {cpu:.1f}{stopped} | "
                             f"{wall:.0f} | {r['flips']:,} |")
            reached = [r for r in group if r["reached"]]
            median = statistics.median(r["best_rank"] for r in group)
            fresh = group[0]["config"].get("restart_fresh", 0)
            text = (f"- {key}, {label} ({group[0].get('walkers', 1)} walker(s), "
                    f"{f'fresh descents {fresh:.0%}' if fresh else 'no fresh descents'}), seeds "
                    f"{', '.join(str(r['seed']) for r in group)}: "
                    f"reached in {len(reached)} of {len(group)}; best rank "
                    f"{min(r['best_rank'] for r in group)}, median best rank {median:g}")
            if len(reached) == len(group):
                text += (f"; median time to the target "
                         f"{statistics.median(r['path'][-1]['cpu_s'] for r in group):.1f} CPU s, "
                         f"{statistics.median(r['path'][-1]['wall_s'] for r in group):.0f} wall s")
            summary.append(text)
    return lines + [""] + summary


def relift(key: str, row: dict, seconds: float, seed: int) -> None:
    """Where the best Z2 scheme did not lift: try other schemes of that rank met by a walk."""
    if row["z_rank"] <= row["z2_rank"]:
        return
    scheme = io.load(RESULTS / "flipgraph" / f"{key}_rank{row['z2_rank']}_Z2.json")
    t0 = time.monotonic()
    result = lift_with_retries(scheme, WalkConfig(field="Z2"), seconds, seed=seed)
    row["lift"].append({"rank": scheme.rank, "lifted": result.scheme is not None,
                        "seconds": round(time.monotonic() - t0, 1), "how": result.how})
    if result.scheme is not None and result.scheme.rank < row["z_rank"]:
        _save(result.scheme, "Z")
        row.update(z_rank=result.scheme.rank, z_how="lifted (harvest)")


def second_z_walk(key: str, row: dict, seconds: float, seed: int) -> None:
    """Where Z is above the best known: walk over Z again, longer plateaus, from our best Z."""
    shape = tuple(row["shape"])
    if row["z_rank"] <= KNOWN[shape][1]:
        return
    start = library.naive(*shape)
    path = RESULTS / "flipgraph" / f"{key}_rank{row['z_rank']}_Z.json"
    if path.exists() and set(io.load(path).coefficients()) <= {-1, 0, 1}:
        start = io.load(path)
    found = search(start, WalkConfig(field="Z", plateau=Z_PLATEAU), seconds, seed=seed + 1,
                   stop_rank=KNOWN[shape][1])
    row["z_walk2"] = {"start_rank": start.rank, "seconds": seconds, "plateau": Z_PLATEAU,
                      "rank": found[-1].scheme.rank if found else None,
                      "time_s": found[-1].seconds if found else None}
    if found and found[-1].scheme.rank < row["z_rank"]:
        _save(found[-1].scheme, "Z")
        row.update(z_rank=found[-1].scheme.rank, z_how="second Z walk")


def square_of_2x2x2(rows: dict) -> None:
    """<4,4,4> over Z from the product of our own <2,2,2> scheme with itself (rank 49)."""
    from tensorgame.compose import product

    if "4x4x4" not in rows or "2x2x2" not in rows:
        return
    small = io.load(RESULTS / "flipgraph" / f"2x2x2_rank{rows['2x2x2']['z_rank']}_Z.json")
    square = product(small, small)
    square = square.replace(meta=dict(square.meta, found_by="experiments/ranks.py"))
    row = rows["4x4x4"]
    if verify(square).valid and square.rank < row["z_rank"]:
        _save(square, "Z")
        row.update(z_rank=square.rank, z_how="square of our 2x2x2")


def throughput(repeats: int = 5, flips: int = 1_000_000) -> dict:
    """Kernel flips per CPU second: median of ``repeats`` walks (kernel seeds 0, 1, ...).

    Each walk makes ``flips`` flips with plus transitions (plateaus of 1000-3000 flips, up to 3
    ranks above the start) from a fixed state: the naive scheme after 2*10^6 flips of a walk with
    kernel seed 0 (as the numbers in issue 11 were measured), and for 5x5x5 also our best scheme,
    where the long walks run.
    """
    import numpy as np

    from agents.flipgraph import kernel, pack

    def walked(shape, field):
        naive = library.naive(*shape)
        s = pack(naive, field, naive.rank + 6)
        kernel.seed(0)
        info = np.zeros(3, dtype=np.int64)
        low = s.rank
        for _ in range(20):
            rank = kernel.walk(s.pos, s.neg, s.rank, s.ternary, 100_000, 1000, 3000, low + 3, -1,
                               info)
            s = s.copy(rank=rank)
            low = min(low, rank)
        return s

    states = {f"{n}x{m}x{p} {field}": walked((n, m, p), field)
              for (n, m, p), field in (((3, 3, 3), "Z2"), ((4, 4, 4), "Z2"), ((5, 5, 5), "Z2"),
                                       ((3, 3, 3), "Z"))}
    ours = _ours((5, 5, 5), "Z2")
    if ours is not None:
        states["5x5x5 Z2 (ours)"] = pack(ours, "Z2", ours.rank + 6)
    out = {}
    for name, state in states.items():
        rates = []
        for repeat in range(repeats):
            s = state.copy()
            kernel.seed(repeat)
            info = np.zeros(3, dtype=np.int64)
            t0 = time.process_time()
            kernel.walk(s.pos, s.neg, s.rank, s.ternary, flips, 1000, 3000, s.rank + 3, -1, info)
            rates.append(info[1] / (time.process_time() - t0))
        out[name] = {"rank": int(state.rank), "flips_per_cpu_s": float(np.median(rates)),
                     "all": [round(r) for r in rates], "load": os.getloadavg()[0]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every budget")
    parser.add_argument("--formats", default=None, help="e.g. 3x3x3,4x4x4 (default: all)")
    parser.add_argument("--seed", type=int, default=None,
                        help=f"walk seed (default 0; {RECORD_SEED} with --records)")
    parser.add_argument("--redo", action="store_true", help="recompute formats already done")
    parser.add_argument("--seeds", default=None, metavar="S1,S2,...",
                        help="per seed and format, CPU-second budgets (CPU_BUDGET x --scale); "
                             "rows go to results/ranks_by_seed.json (formats and seeds done are "
                             "skipped unless --redo)")
    parser.add_argument("--records", action="store_true",
                        help="record attempts: for each FMM catalog format with a side of 6, a "
                             "walk mod 2 from the catalog scheme, stopping one rank below it "
                             "(RECORD_CPU_BUDGET x --scale CPU s each); rows go to "
                             "results/flipgraph/records.json (formats done are skipped unless "
                             "--redo)")
    parser.add_argument("--relift", type=float, default=0, metavar="SECONDS",
                        help="second pass over formats done: where Z is above Z2, lift other "
                             "schemes of the Z2 rank (this long); where Z is above the best "
                             "known, a second Z walk (a third of the budget, longer plateaus)")
    parser.add_argument("--throughput", action="store_true",
                        help="only measure kernel flips/s and rewrite the table")
    parser.add_argument("--table", action="store_true",
                        help="only rewrite results/ranks.md from the saved results")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = RECORD_SEED if args.records else 0
    if args.records:
        run_records(args.formats, args.scale, args.seed, args.redo)
        return
    if args.table:
        write_table(json.loads((RESULTS / "ranks.json").read_text()), args.seed)
        return
    if args.relift:
        rows = json.loads((RESULTS / "ranks.json").read_text())
        square_of_2x2x2(rows)
        for key, row in sorted(rows.items(), key=lambda item: BUDGET[tuple(item[1]["shape"])]):
            print(f"{time.strftime('%H:%M:%S')} relift {key}", flush=True)
            relift(key, row, args.relift, args.seed)
            second_z_walk(key, row, BUDGET[tuple(row["shape"])] / 3 * args.scale, args.seed)
            _write_state(rows)
            write_table(rows, args.seed)
        return
    if args.throughput:
        (RESULTS / "ranks_throughput.json").write_text(json.dumps(throughput(), indent=1))
        write_table(json.loads((RESULTS / "ranks.json").read_text()), args.seed)
        return
    if args.seeds is not None:
        run_seeds([int(s) for s in args.seeds.split(",")], args.formats, args.scale, args.redo)
        return
    # formats with all sides <= 4 first: they carry the goals
    shapes = sorted(KNOWN, key=lambda s: (max(s) == 5, s)) if args.formats is None else [
        tuple(int(x) for x in f.split("x")) for f in args.formats.split(",")]
    state_file = RESULTS / "ranks.json"
    rows = json.loads(state_file.read_text()) if state_file.exists() else {}
    RESULTS.mkdir(exist_ok=True)
    for shape in shapes:
        key = "x".join(map(str, shape))
        if key in rows and not args.redo:
            continue
        t0 = time.monotonic()
        print(f"{time.strftime('%H:%M:%S')} {key}: budget {BUDGET[shape] * args.scale:.0f}s",
              flush=True)
        rows[key] = run_format(shape, BUDGET[shape] * args.scale, args.seed)
        r = rows[key]
        print(f"{time.strftime('%H:%M:%S')} {key}: Z2 {r['z2_rank']} in {r['z2_time_s']:.1f}s, "
              f"Z {r['z_rank']} ({r['z_how']}), {time.monotonic() - t0:.0f}s", flush=True)
        _write_state(rows)
        write_table(rows, args.seed)


def _warm_up(fields: tuple[str, ...]) -> list:
    """Compile (or load) the walk kernels of ``fields`` before any budget starts: a 2x2x2 walk
    each; returns the mod-2 walk's finds (to warm the lifting on)."""
    finds = {field: search(library.naive(2, 2, 2), WalkConfig(field=field), float("inf"),
                           stop_rank=7, cpu_seconds=5) for field in fields}
    return finds.get("Z2", [])


def run_seeds(seeds: list[int], formats: str | None, scale: float, redo: bool) -> None:
    """``--seeds``: every format (sides <= 4 first: they carry the goals; then by budget), each
    seed in turn, table rewritten after each; a format with a row for a seed already is skipped
    unless ``redo``."""
    shapes = sorted(KNOWN, key=lambda s: (max(s) == 5, CPU_BUDGET[s], s)) \
        if formats is None else [tuple(int(x) for x in f.split("x")) for f in formats.split(",")]
    warm = _warm_up(("Z2", "Z"))
    if warm:
        lift(warm[-1].scheme, sign_tries=1)
    done_file = RESULTS / SEEDS_FILE
    for shape in shapes:
        key = "x".join(map(str, shape))
        for seed in seeds:
            done = json.loads(done_file.read_text()) if done_file.exists() else {}
            if str(seed) in done.get(key, {}) and not redo:
                continue
            budget = CPU_BUDGET[shape] * scale
            print(f"{time.strftime('%H:%M:%S')} {key} seed {seed}: {budget:g} CPU s", flush=True)
            row = run_seeded(shape, budget, seed)
            print(f"{time.strftime('%H:%M:%S')} {key} seed {seed}: Z2 {row['z2_rank']}, "
                  f"Z {row['z_rank']} ({row['z_how']}), {row['cpu_s']:.1f} CPU s"
                  + (f", saved {row['saved']}" if row["saved"] else ""), flush=True)
            _merge_seed_row(row)
            state = RESULTS / "ranks.json"
            write_table(json.loads(state.read_text()) if state.exists() else {}, 0)


# ----------------------------------------------------------------------------- record attempts

# ``--records``: walks mod 2 that start from the FMM catalog sample's best scheme of a format with
# a side of RECORD_SIDE (reduced mod 2) and stop one rank below it. A scheme below the catalog
# rank would be a record: it is verified exactly (our verifier) and by an independent check
# (random matrices; float64 for schemes over Z, integer arithmetic mod 2 for schemes mod 2), and
# lifted to Z if it can be.
CATALOG = Path(__file__).resolve().parents[2] / "shared" / "reference" / "fmm-catalog"
RECORD_SIDE = 6
RECORD_CPU_BUDGET = 50  # CPU seconds of the one walker per format (13 formats: under 11 CPU min)
RECORD_SEED = 501
RECORDS_FILE = "flipgraph/records.json"  # under RESULTS: {format: row}
FLOAT64_TOLERANCE = 1e-9


def catalog_formats(catalog: Path | None = None, side: int | None = None) -> dict:
    """The catalog sample's formats with a side of ``side`` that a walk can hold: per format its
    lowest rank, the coefficient classes listed at that rank and the file to start from (the
    integer one at that rank, ZT before Z; None if only rational schemes have it)."""
    catalog = CATALOG if catalog is None else catalog
    side = RECORD_SIDE if side is None else side
    out: dict[tuple, dict] = {}
    for line in (catalog / "INDEX.tsv").read_text().splitlines()[1:]:
        if not line.strip():
            continue
        name, fmt, coefficients, rank = line.split("\t")[:4]
        shape = tuple(int(x) for x in fmt.split("x"))
        if side not in shape:
            continue
        try:
            starts.check_shape(shape)
        except Exception:  # factors longer than a walk holds
            continue
        entry = out.setdefault(shape, {"rank": int(rank), "classes": [], "file": None})
        if int(rank) < entry["rank"]:
            entry.update(rank=int(rank), classes=[], file=None)
        if int(rank) == entry["rank"]:
            entry["classes"].append(coefficients)
            if coefficients in ("ZT", "Z") and (entry["file"] is None or coefficients == "ZT"):
                entry["file"] = name
    return out


def independent_check(f, trials: int | None = None, seed: int = 0) -> dict:
    """Multiply random matrices with the scheme's own formula, without tensorgame's verifier.

    Over Z or Q: float64 matrices with entries uniform in [-1, 1], the scheme's product against
    ``A @ B``, the largest relative error (Frobenius norms) over ``trials`` (default 3); passes
    below FLOAT64_TOLERANCE. Mod 2: random 0/1 matrices, integer arithmetic, the number of entries
    where the scheme's product differs from ``A @ B`` mod 2 over ``trials`` (default 64: a wrong
    term may show only for some entries of A and B); passes at 0.
    """
    import numpy as np

    n, m, p = f.shape
    rng = np.random.default_rng(seed)
    if f.field == "Z2":
        trials = 64 if trials is None else trials
        u, v, w = (np.asarray(a, dtype=np.int64) for a in f.factors)
        wrong = 0
        for _ in range(trials):
            a, b = rng.integers(0, 2, (n, m)), rng.integers(0, 2, (m, p))
            products = (u @ a.ravel()) * (v @ b.ravel())
            ct = (products @ w) % 2  # vec(C^T), row-major
            wrong += int(np.count_nonzero(ct.reshape(p, n).T != (a @ b) % 2))
        return {"check": "mod 2, random 0/1 matrices", "trials": trials, "wrong_entries": wrong,
                "passed": wrong == 0}
    trials = 3 if trials is None else trials
    u, v, w = (np.array([[float(x) for x in row] for row in a.tolist()]).reshape(a.shape)
               for a in f.factors)
    error = 0.0
    for _ in range(trials):
        a, b = rng.uniform(-1, 1, (n, m)), rng.uniform(-1, 1, (m, p))
        products = (u @ a.ravel()) * (v @ b.ravel())
        c = (products @ w).reshape(p, n).T  # the scheme writes vec(C^T)
        exact = a @ b
        error = max(error, float(np.linalg.norm(c - exact) / np.linalg.norm(exact)))
    return {"check": "float64, random matrices in [-1, 1]", "trials": trials,
            "max_relative_error": error, "passed": error < FLOAT64_TOLERANCE}


def run_record(shape, entry: dict, budget: float, seed: int, catalog: Path | None = None) -> dict:
    """One record attempt: one walker mod 2 from the catalog scheme reduced mod 2, for ``budget``
    CPU s, stopping at the catalog rank - 1; anything below the catalog rank is verified twice,
    saved under results/flipgraph/ and lifted to Z if it can be."""
    from tensorgame import importers

    catalog = CATALOG if catalog is None else catalog
    c0 = time.process_time()
    rank = entry["rank"]
    scheme = importers.import_file(catalog / entry["file"])[0]
    if scheme.shape != tuple(shape) or scheme.rank != rank:
        raise SystemExit(f"{entry['file']}: holds <{scheme.shape}> rank {scheme.rank}, "
                         f"INDEX.tsv says {shape} rank {rank}")
    start = reduced_mod2(scheme)
    if not verify(start).valid:
        raise SystemExit(f"{entry['file']}: not valid mod 2 after reduction")
    stats = {}

    def progress(p):
        stats.update(flips=p.flips, cpu=p.cpu_seconds)

    found = search(start, WalkConfig(field="Z2"), float("inf"), seed=seed, stop_rank=rank - 1,
                   cpu_seconds=budget, on_progress=progress)
    best = found[-1].scheme if found else start
    row = {"shape": list(shape), "catalog_rank": rank, "catalog_classes": entry["classes"],
           "catalog_file": entry["file"], "catalog_check": independent_check(scheme, seed=seed),
           "start_rank_z2": start.rank, "best_rank_z2": best.rank, "seed": seed,
           "budget_cpu_s": budget, "walk_cpu_s": round(stats.get("cpu", 0.0), 2),
           "flips": stats.get("flips", 0),
           "path": [[f.scheme.rank, round(f.cpu_seconds, 2)] for f in found],
           "record_z2": False, "record_z": False, "saved": [],
           "date": time.strftime("%Y-%m-%d %H:%M"), "load": os.getloadavg()[0]}
    if best.rank < rank:
        meta = {**best.meta, "found_by": "experiments/ranks.py --records", "seed": seed,
                "start": f"FMM catalog sample {entry['file']} (rank {rank}) reduced mod 2"}
        best = best.replace(meta=meta)
        ours, other = verify(best), independent_check(best, seed=seed)
        row["z2_checks"] = {"verifier": ours.valid, "independent": other}
        row["record_z2"] = ours.valid and other["passed"]
        if row["record_z2"]:
            io.save(best, _scheme_path(best))
            row["saved"].append(_scheme_path(best).name)
        lifted = lift_with_retries(best, WalkConfig(field="Z2"), 0, seed=seed,
                                   flips=RELIFT_FLIPS)
        row["lift"] = lifted.how
        if lifted.scheme is not None:
            z = lifted.scheme.replace(meta={**meta, **lifted.scheme.meta})
            ours, other = verify(z), independent_check(z, seed=seed)
            row["z_checks"] = {"verifier": ours.valid, "independent": other}
            row["record_z"] = ours.valid and other["passed"] and z.rank < rank
            if row["record_z"]:
                io.save(z, _scheme_path(z))
                row["saved"].append(_scheme_path(z).name)
    row["cpu_s"] = round(time.process_time() - c0, 2)
    return row


def _locked_update(out: Path, update) -> None:
    """Rewrite the JSON file ``out`` as ``update(its content)`` under a lock (processes share)."""
    import fcntl
    import tempfile

    with open(Path(tempfile.gettempdir()) / f"{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(out.read_text()) if out.exists() else {}
        update(data)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, out)


def run_records(formats: str | None, scale: float, seed: int, redo: bool) -> None:
    """``--records``: every catalog format with a side of RECORD_SIDE (lowest catalog rank first),
    RECORD_CPU_BUDGET x ``scale`` CPU s each; rows go to RESULTS/RECORDS_FILE as they come (a
    format done is skipped unless ``redo``) and the table is rewritten after each."""
    entries = catalog_formats()
    shapes = sorted(entries, key=lambda s: (entries[s]["rank"], s)) if formats is None else [
        tuple(int(x) for x in f.split("x")) for f in formats.split(",")]
    _warm_up(("Z2",))
    out = RESULTS / RECORDS_FILE
    for shape in shapes:
        key = "x".join(map(str, shape))
        if shape not in entries or entries[shape]["file"] is None:
            print(f"{key}: no integer scheme of the catalog's lowest rank; skipped", flush=True)
            continue
        if not redo and out.exists() and key in json.loads(out.read_text()):
            continue
        budget = RECORD_CPU_BUDGET * scale
        print(f"{time.strftime('%H:%M:%S')} {key}: from catalog rank {entries[shape]['rank']}, "
              f"{budget:g} CPU s, seed {seed}", flush=True)
        row = run_record(shape, entries[shape], budget, seed)
        print(f"{time.strftime('%H:%M:%S')} {key}: mod 2 {row['start_rank_z2']} -> "
              f"{row['best_rank_z2']} (catalog {row['catalog_rank']}), {row['walk_cpu_s']} CPU s, "
              f"record mod 2: {row['record_z2']}, over Z: {row['record_z']}", flush=True)
        _locked_update(out, lambda data: data.__setitem__(key, row))
        state = RESULTS / "ranks.json"
        write_table(json.loads(state.read_text()) if state.exists() else {}, 0)


def records_table(data: dict) -> list[str]:
    """Markdown for RESULTS/RECORDS_FILE."""
    lines = ["| format | catalog rank (field) | start rank mod 2 | best rank reached mod 2 | "
             "walk CPU s (budget) | flips | record |", "|---|---|---|---|---|---|---|"]
    for key in sorted(data, key=lambda k: (data[k]["catalog_rank"], k)):
        r = data[key]
        classes = set(r["catalog_classes"])
        fields = "; ".join(([("Z, coefficients in {-1,0,1}" if "ZT" in classes else "Z")]
                            if classes & {"Z", "ZT"} else []) + (["Q"] if "Q" in classes else []))
        if r["record_z"]:
            record = "**yes, over Z** (verified twice)"
        elif r["record_z2"]:
            record = f"**yes, mod 2 only** (verified twice; lifting: {r.get('lift', '')})"
        else:
            record = "no"
        lines.append(f"| {key} | {r['catalog_rank']} ({fields}) | {r['start_rank_z2']} | "
                     f"{r['best_rank_z2']} | {r['walk_cpu_s']:.1f} ({r['budget_cpu_s']:g}) | "
                     f"{r['flips']:,} | {record} |")
    return lines


def records_section() -> list[str]:
    """The "Record attempts" section of results/ranks.md, if RESULTS/RECORDS_FILE exists."""
    path = RESULTS / RECORDS_FILE
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    seeds = sorted({r["seed"] for r in data.values()})
    days = sorted({r["date"][:10] for r in data.values()})
    records = [k for k, r in data.items() if r["record_z2"] or r["record_z"]]
    checks = [r["catalog_check"] for r in data.values()]
    worst = max((c.get("max_relative_error", 0.0) for c in checks), default=0.0)
    lines = [
        f"## Record attempts: catalog formats with a side of {RECORD_SIDE} (`--records`)", "",
        "Written by `experiments/ranks.py --records` (%s, seed %s). For each format with a side "
        f"of {RECORD_SIDE} in the FMM catalog sample (`../shared/reference/fmm-catalog/`), one "
        "walker mod 2 "
        "starts from the catalog's best scheme itself (the integer one of the lowest rank, "
        "reduced mod 2: terms that vanish mod 2 dropped; verified mod 2 first) and stops at the "
        "catalog rank - 1, within a budget of CPU seconds (process time of the walker; jobs at "
        "nice 19 on 2 shared cores). A scheme below the catalog rank would be verified twice "
        "(our exact verifier and an independent check by random matrices: integer arithmetic "
        "mod 2, float64 against `A @ B` with relative error < 1e-9 over Z), saved under "
        "`results/flipgraph/` and lifted to Z (`lift_with_retries` by work). The catalog schemes "
        "themselves %s the float64 check (largest relative error %.1e). Flips: of the walk, "
        "plus transitions included." % (", ".join(days), ", ".join(map(str, seeds)),
                                        "pass" if all(c["passed"] for c in checks) else
                                        "do NOT all pass", worst), "",
    ]
    lines += records_table(data)
    import statistics

    median = statistics.median(r["flips"] for r in data.values())
    few = sorted(k for k, r in data.items() if r["flips"] < median / 10)
    if few:
        lines += ["", f"Fewer than a tenth of the median flips ({median:,.0f}): {', '.join(few)}: "
                      "around these schemes few flips exist, so the walk spends its budget on "
                      "plus transitions."]
    if records:
        verdict = "Records (below the catalog rank): " + ", ".join(sorted(records)) + "."
    else:
        verdict = (f"No record: in none of the {len(data)} formats did the walk get below the "
                   "catalog rank within its budget.")
    verdict += (f" In all {sum(r['cpu_s'] for r in data.values()):.0f} CPU s "
                f"({sum(r['flips'] for r in data.values()):.2g} flips).")
    return lines + ["", verdict]


def _write_state(rows: dict) -> None:
    state_file = RESULTS / "ranks.json"
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, indent=1))
    os.replace(tmp, state_file)


if __name__ == "__main__":
    main()
