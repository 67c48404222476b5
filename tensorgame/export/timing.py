"""Alternating timings: the one way kernels are timed against native matmul (bench, tune, the
benchmark script).

Every call of a round runs once per round, in order (native first), after one untimed warm-up
call each, so all see the same machine load; a speedup is the median of the per-round ratios
native / kernel, in wall time and in process CPU time (for one BLAS thread, CPU time does not
count the time other jobs held the core).
"""

from __future__ import annotations

import statistics
import time


def alternate(calls: dict, rounds: int, seconds: float = float("inf"),
              sync=lambda result: result) -> dict:
    """{name: {"wall": [...], "cpu": [...]}} over ``rounds`` rounds of ``calls`` (name: callable).

    ``seconds`` cuts the rounds to what fits after the warm-up round (at least 2).
    ``sync(result)`` must wait until the result exists (JAX: ``jax.block_until_ready``).
    """
    start = time.perf_counter()
    for call in calls.values():
        sync(call())
    first = time.perf_counter() - start
    count = rounds if seconds / max(first, 1e-9) >= rounds else max(2, int(seconds / first))
    times = {name: {"wall": [], "cpu": []} for name in calls}
    for _ in range(count):
        for name, call in calls.items():
            wall, cpu = time.perf_counter(), time.process_time()
            sync(call())
            times[name]["cpu"].append(time.process_time() - cpu)
            times[name]["wall"].append(time.perf_counter() - wall)
    return times


def pair_ratio(base: list, other: list) -> float:
    """Median over rounds of base / other (> 1: ``other`` is faster)."""
    return statistics.median(b / o for b, o in zip(base, other))


def pair_quartiles(base: list, other: list) -> tuple[float, float]:
    """Lower and upper quartile of the per-round ratios base / other (their spread)."""
    ratios = [b / o for b, o in zip(base, other)]
    if len(ratios) < 2:
        return ratios[0], ratios[0]
    low, _, high = statistics.quantiles(ratios, n=4, method="inclusive")
    return low, high
