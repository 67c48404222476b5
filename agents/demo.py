"""`make demo`: rediscover a rank-7 <2,2,2> algorithm (Strassen's rank) by self-play from scratch.

Trains the agent with the built-in <2,2,2> config (``agents.presets.STRASSEN_SYMMETRIC``, also
``experiments/strassen_symmetric.py``: the cyclic-symmetric game, where a move is one symmetric
term or an orbit of three terms, with the exact endgame) from a random initialisation (no known
algorithm anywhere: synthetic random demonstrations and self-play only) until a rank-7
factorization over Z appears or the budget ends (``TENSORGAME_DEMO_SECONDS``, default 600), then
verifies it exactly, checks it on random matrices, prints it as formulas and says where it was
saved.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def bilinear_product(f, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """C = A @ B computed with the R multiplications of ``f`` (DESIGN.md section 1)."""
    n, m, p = f.shape
    u, v, w = (x.astype(np.float64) for x in f.factors)
    products = (u @ a.reshape(n * m)) * (v @ b.reshape(m * p))  # [R]
    return (w.T @ products).reshape(p, n).T  # w writes C transposed


def main() -> int:
    from agents.compilation import enable_compilation_cache

    enable_compilation_cache()
    from agents.config import make_config
    from agents.presets import STRASSEN_SYMMETRIC
    from agents.setup import make_setup
    from agents.train import Trainer
    from tensorgame import formulas, io
    from tensorgame.factorization import verify

    seconds = float(os.environ.get("TENSORGAME_DEMO_SECONDS", 600))
    seed = int(os.environ.get("TENSORGAME_DEMO_SEED", 0))
    config = make_config(STRASSEN_SYMMETRIC)
    out = ROOT / "runs" / f"demo_{time.strftime('%Y%m%d-%H%M%S')}_s{seed}"
    print(f"training on <2,2,2> over Z (cyclic-symmetric game) from a random network (seed "
          f"{seed}), until a rank-7 algorithm appears or {seconds:.0f}s pass; run folder "
          f"{out.relative_to(ROOT)}")
    begin = time.perf_counter()
    setup = make_setup((2, 2, 2), "Z", config, seed)
    trainer = Trainer(setup, out, ROOT / "results" / "agent", log=print)

    def progress(m: dict) -> None:
        print(f"  batch {m['iteration']:4d}  {time.perf_counter() - begin:6.1f}s  "
              f"sims/s {m['simulations_per_s']:6.0f}  loss {m['loss']:.2f}  solved "
              f"{m['solved_fraction']:.2f}  best rank {m['best_rank'] or '-'}", flush=True)

    result = trainer.run(seconds - (time.perf_counter() - begin), progress)
    elapsed = time.perf_counter() - begin
    found = sorted((out / "found").glob("*.json"), key=lambda p: io.load(p).rank)
    if not found:
        print(f"no algorithm found in {elapsed:.0f}s; try a longer budget "
              f"(TENSORGAME_DEMO_SECONDS) or another TENSORGAME_DEMO_SEED")
        return 1
    best = io.load(found[0])
    report = verify(best)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    error = np.abs(bilinear_product(best, a, b) - a @ b).max()
    print(f"\nrank {best.rank} after {elapsed:.0f}s ({result.iteration} self-play batches, "
          f"{result.games} games): {report.summary()}; on random 2x2 A, B "
          f"max |C - A @ B| = {error:.1e}")
    print("\n".join(formulas.render(best)))
    print(f"\nsaved to {found[0].relative_to(ROOT)}")
    if not report.valid or error > 1e-9:
        print("demo failed: the algorithm does not verify", file=sys.stderr)
        return 1
    if best.rank > 7:
        print(f"rank 7 was not reached within {seconds:.0f}s (best: rank {best.rank}); a longer "
              f"TENSORGAME_DEMO_SECONDS or another TENSORGAME_DEMO_SEED may get there")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
