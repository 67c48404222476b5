"""Walkers over the flip graph of one target, and a time-boxed search with many of them.

A walker keeps pools of schemes per rank: the schemes its walks reached at each rank. It walks
with random flips (reductions happen whenever they can); after a plateau of flips without a
reduction (or when no flip exists) it makes a plus transition, so a walk wanders up to ``slack``
ranks above its own best. After ``walk_length`` flips without a lower rank the walk restarts:
with probability ``restart_fresh`` from the start scheme (a fresh descent), else from a scheme of
the best rank's pool (probability ``restart_best``) or of the pool of a rank up to
``restart_depth`` above it. A descent mostly falls into one basin of low rank in a cascade of
reductions (at <4,4,4> mod 2 from 52 to 49 within ~10^4 flips) and most such basins give nothing
lower for 10^7-10^8 flips; what got past them is more flips: with two walkers, 47 came after
0.09-2.5*10^9 flips in 9 of 9 seeds, with or without fresh descents (``results/ranks.md``). A
scheme at the walk's own best rank at the end of a chunk joins that rank's pool.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import queue
import signal
import time
from typing import Callable

import numpy as np

from agents.flipgraph import kernel, symmetric
from agents.flipgraph.packing import Packed, pack, unpack
from agents.flipgraph.symmetric import Symmetric
from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization, verify


@dataclasses.dataclass(frozen=True)
class WalkConfig:
    """How walks run. Flip counts are per walker."""

    field: str = "Z2"  # "Z2" or "Z" (coefficients kept in {-1, 0, 1})
    plateau: int = 3_000  # longest plateau (flips without a reduction) before a plus transition
    plateau_min: int = 1_000  # plateau lengths are drawn uniformly from [plateau_min, plateau]
    slack: int = 3  # how many ranks above its own best a walk may climb
    walk_length: int = 5_000_000  # flips without a lower rank before a restart from a pool
    pool_size: int = 200  # schemes kept per rank
    restart_depth: int = 16  # restarts may go to pools up to this many ranks above the best
    restart_best: float = 0.5  # probability that a restart starts from the best rank's pool
    restart_fresh: float = 0.0  # probability that a restart starts from the start scheme
    chunk: int = 100_000  # flips per kernel call (the granularity of time checks)
    symmetric: bool = False  # walk over cyclic-symmetric schemes (square formats, Z2)


@dataclasses.dataclass(frozen=True)
class Found:
    """A verified scheme of a new best rank, and when and how it was found."""

    scheme: Factorization
    walker: int
    flips: int  # flips made by that walker so far
    seconds: float  # since the search started
    cpu_seconds: float = 0.0  # process time of all walkers together (others' up to 0.25 s old)


class Walker:
    """One random walker; ``step`` runs one chunk of flips and returns a new best scheme, if any."""

    def __init__(self, start: Factorization, config: WalkConfig, seed: int):
        self.config = config
        self.capacity = start.rank + config.slack + 2
        first = self._pack(start)
        self.rng = np.random.default_rng(seed)
        kernel.seed(int(self.rng.integers(2**31)))
        self.start = first
        self.pools: dict[int, list[Packed]] = {first.rank: [first]}
        self.best_rank = first.rank
        self.walk_best = first.rank  # the lowest rank of the current walk since its restart
        self.current = first.copy()
        self.flips = 0
        self.pluses = 0
        self.resets = 0
        self._since_reset = 0
        self._info = np.zeros(3, dtype=np.int64)

    @property
    def pool(self) -> list[Packed]:
        """The schemes of the best rank."""
        return self.pools[self.best_rank]

    def best(self) -> Packed:
        return self.pool[-1]

    def adopt(self, f: Factorization) -> None:
        """Continue from ``f`` if it beats this walker's best rank."""
        if f.rank < self.best_rank:
            self.best_rank = f.rank
            self.pools[f.rank] = [self._pack(f)]
            self._restart(f.rank)

    def _pack(self, f: Factorization) -> Packed:
        """``f`` in the kernel's form, reduced."""
        s = pack(f, self.config.field, self.capacity)
        return s.copy(rank=kernel.reduce_all(s.pos, s.neg, s.rank, s.ternary))

    def _walk(self, s: Packed, max_rank: int, stop_rank: int) -> Packed:
        """One chunk of flips from ``s`` (changed in place); fills ``self._info``."""
        c = self.config
        rank = kernel.walk(s.pos, s.neg, s.rank, s.ternary, c.chunk,
                           min(c.plateau_min, c.plateau), c.plateau, max_rank, stop_rank,
                           self._info)
        return dataclasses.replace(s, rank=rank)

    def _keep(self, s: Packed) -> None:
        pool = self.pools.setdefault(s.rank, [])
        if len(pool) < self.config.pool_size:
            pool.append(s.copy())
        else:
            pool[int(self.rng.integers(len(pool)))] = s.copy()

    def _restart(self, rank: int) -> None:
        pool = self.pools[rank]
        self._continue_from(pool[int(self.rng.integers(len(pool)))])

    def _continue_from(self, s: Packed) -> None:
        self.current = s.copy()
        self.walk_best = s.rank
        self._since_reset = 0
        self.resets += 1

    def _reset(self) -> None:
        c = self.config
        # no draw when restart_fresh is 0, so that earlier runs keep their random streams
        if c.restart_fresh and self.rng.random() < c.restart_fresh:
            self._continue_from(self.start)
            return
        top = self.best_rank + c.restart_depth
        for rank in [r for r in self.pools if r > top]:
            del self.pools[rank]
        higher = sorted(r for r in self.pools if r > self.best_rank)
        if higher and self.rng.random() >= c.restart_best:
            self._restart(higher[int(self.rng.integers(len(higher)))])
        else:
            self._restart(self.best_rank)

    def step(self) -> Packed | None:
        c = self.config
        self.current = s = self._walk(self.current, self.walk_best + c.slack, self.walk_best - 1)
        status, flips, pluses = (int(x) for x in self._info)
        rank = s.rank
        self.flips += flips
        self.pluses += pluses
        self._since_reset += flips
        if status == kernel.IMPROVED:
            self.walk_best = rank
            self._since_reset = 0
            self._keep(s)
            if rank < self.best_rank:
                self.best_rank = rank
                return self.pools[rank][-1]
            return None
        if status == kernel.FLIPS_EXHAUSTED and rank == self.walk_best:
            self._keep(s)
        if self._since_reset >= c.walk_length:
            self._reset()
        return None


class SymmetricWalker(Walker):
    """A walker over cyclic-symmetric schemes (``symmetric``): moves act on whole orbits, so
    ``slack`` counts multiplications (an orbit is three)."""

    def __init__(self, start: Factorization, config: WalkConfig, seed: int):
        if config.field != "Z2":
            raise TensorgameError("symmetric walks run mod 2 (--field Z2)")
        super().__init__(start, config, seed)

    def _pack(self, f: Factorization) -> Symmetric:
        s = symmetric.split_orbits(f, self.capacity // 3 + 2)
        return s.copy(*symmetric.settle(s))

    def _walk(self, s: Symmetric, max_rank: int, stop_rank: int) -> Symmetric:
        c = self.config
        orbits, singles = symmetric.walk(s.reps, s.orbits, s.syms, s.singles, c.chunk,
                                         min(c.plateau_min, c.plateau), c.plateau, max_rank,
                                         stop_rank, self._info)
        return dataclasses.replace(s, orbits=orbits, singles=singles)


def make_walker(start: Factorization, config: WalkConfig, seed: int) -> Walker:
    """A ``SymmetricWalker`` if ``config.symmetric``, else a ``Walker``."""
    return (SymmetricWalker if config.symmetric else Walker)(start, config, seed)


def unpacked(s: Packed | Symmetric, meta: dict | None = None) -> Factorization:
    """The Factorization a walker's scheme holds."""
    return symmetric.expand(s, meta) if isinstance(s, Symmetric) else unpack(s, meta)


def _checked(s: Packed | Symmetric, meta: dict) -> Factorization:
    f = unpacked(s, meta)
    report = verify(f)
    if not report.valid:  # a kernel bug, never a user error
        raise AssertionError(f"walk produced an invalid scheme: {report.summary()}")
    return f


@dataclasses.dataclass
class Progress:
    """What a running search reports to its progress callback."""

    best_rank: int
    flips: int
    flips_per_second: float
    walkers_alive: int
    seconds: float
    cpu_seconds: float = 0.0  # process time of all walkers together


def search(start: Factorization, config: WalkConfig, seconds: float, walkers: int = 1,
           seed: int = 0, stop_rank: int = 0,
           on_found: Callable[[Found], None] = lambda found: None,
           on_progress: Callable[[Progress], None] = lambda progress: None,
           progress_every: float = 0.5, cpu_seconds: float | None = None) -> list[Found]:
    """Walk from ``start`` for ``seconds`` (or until rank ``stop_rank``) with ``walkers`` walkers.

    ``walkers`` > 1 runs one process per walker; they share every new best scheme. Each new best
    rank is verified exactly and passed to ``on_found`` at once (so an interrupted search keeps
    it), and returned in order of discovery. ``on_progress`` is called every ``progress_every``
    seconds and once at the end (with no walker alive). With ``cpu_seconds`` each walker also
    stops after its share, ``cpu_seconds / walkers``, of process time: a budget that does not
    depend on what else runs on the machine.
    """
    if seconds <= 0:
        raise TensorgameError("--seconds must be positive")
    if cpu_seconds is not None and cpu_seconds <= 0:
        raise TensorgameError("the CPU-seconds budget must be positive")
    if walkers < 1:
        raise TensorgameError("--walkers must be at least 1")
    t0 = time.monotonic()
    found: list[Found] = []
    best_rank = start.rank
    cpu_share = float("inf") if cpu_seconds is None else cpu_seconds / walkers

    def record(s: Packed, walker: int, flips: int, cpu: float) -> None:
        nonlocal best_rank
        if s.rank >= best_rank:
            return
        best_rank = s.rank
        kind = "symmetric flip-graph" if config.symmetric else "flip-graph"
        meta = {"found_by": "agents.flipgraph", "method": f"{kind} random walk over {s.field}",
                "seed": seed, "walker": walker, "walk_flips": flips,
                "wall_seconds": round(time.monotonic() - t0, 3),
                "plateau": [min(config.plateau_min, config.plateau), config.plateau],
                "slack": config.slack}
        item = Found(_checked(s, meta), walker, flips, time.monotonic() - t0, cpu)
        found.append(item)
        on_found(item)

    if walkers == 1:
        _search_here(start, config, seconds, cpu_share, seed, stop_rank, t0, record, on_progress,
                     progress_every, lambda: best_rank)
    else:
        _search_processes(start, config, seconds, cpu_share, walkers, seed, stop_rank, t0, record,
                          on_progress, progress_every, lambda: best_rank)
    return found


def _search_here(start, config, seconds, cpu_seconds, seed, stop_rank, t0, record, on_progress,
                 progress_every, best_rank):
    """``search`` with one walker, in this process."""
    walker = make_walker(start, config, seed)
    c0 = time.process_time()
    if walker.best_rank < best_rank():
        record(walker.best(), 0, 0, 0.0)
    last = t0
    while (time.monotonic() - t0 < seconds and time.process_time() - c0 < cpu_seconds
           and best_rank() > stop_rank):
        better = walker.step()
        if better is not None:
            record(better, 0, walker.flips, time.process_time() - c0)
        now = time.monotonic()
        if now - last >= progress_every:
            last = now
            on_progress(Progress(best_rank(), walker.flips, walker.flips / (now - t0), 1,
                                 now - t0, time.process_time() - c0))
    now = time.monotonic()
    on_progress(Progress(best_rank(), walker.flips, walker.flips / (now - t0), 0, now - t0,
                         time.process_time() - c0))


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux), even by SIGKILL."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere the loop below notices the new parent instead
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _worker(index, start, config, seed, seconds, cpu_seconds, stop_rank, outbox, inbox, parent):
    """One walker process: messages to the parent are (kind, index, payload, flips, cpu s)."""
    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handler is not ours
    walker = make_walker(start, config, seed)
    t0, c0 = time.monotonic(), time.process_time()
    last = t0
    outbox.put(("found", index, unpacked(walker.best()), 0, 0.0))
    while (time.monotonic() - t0 < seconds and time.process_time() - c0 < cpu_seconds
           and walker.best_rank > stop_rank):
        if os.getppid() != parent:
            os._exit(1)
        better = walker.step()
        if better is not None:
            outbox.put(("found", index, unpacked(better), walker.flips, time.process_time() - c0))
        now = time.monotonic()
        if now - last >= 0.25:
            last = now
            outbox.put(("flips", index, None, walker.flips, time.process_time() - c0))
            try:
                while True:
                    walker.adopt(inbox.get_nowait())
            except queue.Empty:
                pass
    outbox.put(("flips", index, None, walker.flips, time.process_time() - c0))
    outbox.put(("done", index, None, walker.flips, time.process_time() - c0))


def _search_processes(start, config, seconds, cpu_seconds, walkers, seed, stop_rank, t0, record,
                      on_progress, progress_every, best_rank):
    """``search`` with one process per walker; the parent relays new best schemes."""
    context = multiprocessing.get_context("fork")
    outbox = context.Queue()
    inboxes = [context.Queue() for _ in range(walkers)]
    seeds = np.random.SeedSequence(seed).spawn(walkers)
    processes = [context.Process(
        target=_worker, daemon=True,
        args=(i, start, config, int(seeds[i].generate_state(1)[0]), seconds, cpu_seconds,
              stop_rank, outbox, inboxes[i], os.getpid()))
        for i in range(walkers)]
    for process in processes:
        process.start()
    flips = [0] * walkers
    cpu = [0.0] * walkers
    alive = walkers
    last = t0

    def progress(alive: int) -> Progress:
        now = time.monotonic()
        return Progress(best_rank(), sum(flips), sum(flips) / (now - t0), alive, now - t0,
                        sum(cpu))

    try:
        while alive:
            try:
                kind, index, payload, count, seconds_used = outbox.get(timeout=progress_every)
            except queue.Empty:
                kind = None
                if not any(p.is_alive() for p in processes):
                    break  # all gone (killed, or their last messages lost): stop waiting
            if kind is not None:
                flips[index], cpu[index] = max(flips[index], count), max(cpu[index], seconds_used)
            if kind == "found" and payload.rank < best_rank():
                record(pack(payload, config.field, payload.rank), index, count, sum(cpu))
                for i, inbox in enumerate(inboxes):
                    if i != index:
                        inbox.put(payload)
                if best_rank() <= stop_rank:
                    break
            elif kind == "done":
                alive -= 1
            if time.monotonic() - last >= progress_every:
                last = time.monotonic()
                on_progress(progress(sum(p.is_alive() for p in processes)))
        on_progress(progress(0))
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)
        for inbox in inboxes:  # schemes a stopped walker never read must not block our exit
            inbox.cancel_join_thread()


def harvest(start: Factorization, config: WalkConfig, seconds: float, seed: int = 0,
            limit: int = 100, max_flips: int | None = None) -> list[Factorization]:
    """Up to ``limit`` distinct schemes of the rank of ``start`` (or lower), met by one walker.

    Used to find, among many schemes of one rank, those with a property the walk does not see
    (e.g. that they lift from Z2 to Z). The first is ``start`` itself (reduced). The walk stops
    after ``seconds`` or, if given, once it has made ``max_flips`` flips (reproducible).
    """
    config = dataclasses.replace(config, chunk=min(config.chunk, 20_000))
    walker = Walker(start, config, seed)
    seen: dict[bytes, Factorization] = {}
    t0 = time.monotonic()
    while len(seen) < limit:
        for s in [s for rank, pool in walker.pools.items() if rank <= start.rank for s in pool]:
            key = s.pos[:, :s.rank].tobytes() + s.neg[:, :s.rank].tobytes()
            if key not in seen and s.rank <= start.rank:
                seen[key] = _checked(s, {"found_by": "agents.flipgraph.harvest", "seed": seed})
        if time.monotonic() - t0 >= seconds or (max_flips is not None
                                                 and walker.flips >= max_flips):
            break
        walker.step()
    return list(seen.values())[:limit]
