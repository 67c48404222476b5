"""Which ranks a game's settings can reach at all: for flip-graph schemes of a target at a rank,
the fewest moves the agent itself must choose before the endgame or the completion finishes.

A game with the completion after M moves and the exact endgame up to E (tensorgame/game.py) ends
a scheme of rank r in one of two ways:

- **completion**: the agent plays M of its terms, among them every term that is not a *fibre
  term* (one whose factors in two modes are +-unit vectors, at distinct positions: the
  completion writes exactly those, one per non-zero fibre); needs hard <= M <= r;
- **endgame**: the agent plays r - j terms and Jennrich's algorithm (``tensorgame.endgame``)
  finds the other j <= E exactly; the appended terms count as moves, so it needs r <= M.

Each scheme's cheapest way is replayed in the real game (``game.step``) and must end as an
algorithm of rank r, so the table does not rest on this script's own bookkeeping. Schemes come
from flip-graph walks over Z from the naive algorithm (seed s: the walk's first scheme of rank r),
duplicates removed.

    .venv/bin/python experiments/reachable.py --target 2,3,3 --rank 15 --seeds 0-99 \
        --moves 7,11,15 [--endgame 6] [--output results/agent_reachable.csv]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from bench_rediscovery import append_rows  # a sibling script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.flipgraph.search import WalkConfig, search  # noqa: E402
from tensorgame import endgame, game  # noqa: E402
from tensorgame.factorization import Factorization, canonical, same_terms  # noqa: E402
from tensorgame.library import naive  # noqa: E402
from tensorgame.tensors import matmul_tensor  # noqa: E402

COEFFICIENTS = (-2, -1, 0, 1, 2)


def schemes(shape: tuple[int, int, int], rank: int, seeds: list[int]) -> list[Factorization]:
    """Distinct rank-``rank`` schemes, one per flip-graph walk that reaches it within 30 s."""
    found: list[Factorization] = []
    for seed in seeds:
        walk = search(naive(*shape), WalkConfig(field="Z"), seconds=30, seed=seed,
                      stop_rank=rank)
        at_rank = [item.scheme for item in walk if item.scheme.rank == rank]
        if at_rank and not any(same_terms(canonical(at_rank[0]), f) for f in found):
            found.append(canonical(at_rank[0]))
    return found


def terms_of(f: Factorization, size: int) -> np.ndarray:
    """The scheme's terms as game actions [R, 3, S]."""
    actions = np.zeros((f.rank, 3, size), np.int32)
    for mode, factor in enumerate((f.u, f.v, f.w)):
        actions[:, mode, :factor.shape[1]] = factor
    return actions


def fibre_terms(actions: np.ndarray) -> np.ndarray:
    """[R] bool: the terms the completion can write, for the mode where they are most."""
    unit = np.sum(actions != 0, axis=-1) == 1
    unit &= np.max(np.abs(actions), axis=-1) == 1  # [R, 3]
    best = np.zeros(len(actions), bool)
    for mode in range(3):
        others = [k for k in range(3) if k != mode]
        easy = unit[:, others[0]] & unit[:, others[1]]
        positions = [tuple(np.argmax(actions[t, others] != 0, axis=-1)) for t in range(
            len(actions))]
        seen: set = set()
        for t in np.flatnonzero(easy):  # a second term at the same fibre is not the completion's
            easy[t] = positions[t] not in seen
            seen.add(positions[t])
        if easy.sum() > best.sum():
            best = easy
    return best


def jennrich_tail(actions: np.ndarray, dims: np.ndarray, limit: int) -> tuple[int, ...]:
    """The largest set of at most ``limit`` terms whose sum the endgame decomposes (() if none)."""
    solve = jax.jit(jax.vmap(lambda r: endgame.solve(r, jnp.asarray(dims), COEFFICIENTS,
                                                     limit)[0]))
    tensors = np.einsum("ri,rj,rk->rijk", actions[:, 0], actions[:, 1], actions[:, 2])
    for size in range(min(limit, len(actions)), 0, -1):
        subsets = np.array(list(itertools.combinations(range(len(actions)), size)))
        solved = np.asarray(solve(tensors[subsets].sum(axis=1).astype(np.int32)))
        if solved.any():
            return tuple(int(t) for t in subsets[np.argmax(solved)])
    return ()


def cheapest(actions: np.ndarray, fibres: np.ndarray, tail: tuple[int, ...], moves: int
             ) -> tuple[str, list[int]] | None:
    """(way, the terms the agent plays in order) for a move limit, or None when neither fits."""
    rank, hard = len(actions), int((~fibres).sum())
    ways = []
    if hard <= moves <= rank:
        easy = list(np.flatnonzero(fibres))[:moves - hard]
        ways.append(("completion", [int(t) for t in np.flatnonzero(~fibres)] + easy))
    if tail and rank <= moves:
        ways.append(("endgame", [t for t in range(rank) if t not in tail]))
    return min(ways, key=lambda way: len(way[1])) if ways else None


def replayed_rank(actions: np.ndarray, played: list[int], target: np.ndarray, dims: np.ndarray,
                  config: game.GameConfig) -> int:
    """The rank of the game that plays ``played`` (it must end as an algorithm)."""
    state = game.init(jnp.asarray(target), jnp.asarray(dims), config)
    for t in played:
        state = game.step(state, jnp.asarray(actions[t]), config)[0]
    if not (bool(state.terminated) and bool(game.is_algorithm(state, config))):
        raise AssertionError("the replayed game did not end as an algorithm")
    return int(state.rank)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default="2,3,3")
    parser.add_argument("--rank", type=int, default=15)
    parser.add_argument("--seeds", default="0-99", help="first-last walk seeds")
    parser.add_argument("--moves", default="7,11,15", help="move limits M to check")
    parser.add_argument("--endgame", type=int, default=6)
    parser.add_argument("--output", default=str(ROOT / "results" / "agent_reachable.csv"))
    args = parser.parse_args()
    shape = tuple(int(x) for x in args.target.split(","))
    first, last = (int(x) for x in args.seeds.split("-"))
    tensor = matmul_tensor(*shape)
    size = max(tensor.shape)
    target, dims = game.pad_target(tensor, size)
    found = schemes(shape, args.rank, list(range(first, last + 1)))
    analysed = []
    for f in found:
        actions = terms_of(f, size)
        fibres = fibre_terms(actions)
        analysed.append((actions, fibres, jennrich_tail(actions, dims, args.endgame)))
    hard = [int((~fibres).sum()) for _, fibres, _ in analysed]
    tails = [len(tail) for _, _, tail in analysed]
    print(f"<{args.target}> rank {args.rank}: {len(found)} distinct schemes from walks "
          f"{args.seeds}; non-fibre terms min {min(hard)} median {statistics.median(hard)}; "
          f"largest endgame tail min {min(tails)} max {max(tails)}")
    rows = []
    for moves in (int(x) for x in args.moves.split(",")):
        config = game.GameConfig(size=size, max_moves=moves, coefficients=COEFFICIENTS,
                                 endgame=args.endgame, completion=True)
        chosen, ways = [], {"completion": 0, "endgame": 0}
        for actions, fibres, tail in analysed:
            way = cheapest(actions, fibres, tail, moves)
            if way is None:
                continue
            if replayed_rank(actions, way[1], target, dims, config) > args.rank:
                raise AssertionError(f"a replayed game ended above rank {args.rank}")
            chosen.append(len(way[1]))
            ways[way[0]] += 1
        row = {"target": args.target, "rank": args.rank, "max_moves": moves,
               "endgame": args.endgame, "schemes": len(found), "seeds": args.seeds,
               "reachable": len(chosen),
               "fewest_chosen_moves": min(chosen) if chosen else "",
               "median_chosen_moves": statistics.median(chosen) if chosen else "",
               "by_completion": ways["completion"], "by_endgame": ways["endgame"],
               "non_fibre_terms_min": min(hard), "non_fibre_terms_median":
                   statistics.median(hard), "endgame_tail_max": max(tails)}
        rows.append(row)
        print(f"  M={moves}: reachable in {len(chosen)} of {len(found)} schemes; fewest moves "
              f"to choose {row['fewest_chosen_moves'] or '-'} (median "
              f"{row['median_chosen_moves'] or '-'}); completion {ways['completion']}, "
              f"endgame {ways['endgame']}")
    append_rows(Path(args.output), rows)

if __name__ == "__main__":
    main()
