"""Median wall time of repeated calls after warm-up (the benchmark's one way to time)."""

from __future__ import annotations

import statistics
import time


def median_seconds(call, repeats: int, warmup: int = 1, sync=lambda result: result) -> float:
    """Median over ``repeats`` timed calls of ``call()``, after ``warmup`` untimed ones.

    ``sync(result)`` must wait until the result exists (JAX: ``jax.block_until_ready``).
    """
    for _ in range(warmup):
        sync(call())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sync(call())
        times.append(time.perf_counter() - start)
    return statistics.median(times)
