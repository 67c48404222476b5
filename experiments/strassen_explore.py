"""experiments/strassen.py with more exploration: every game in a random basis, candidates
sampled at temperature 1.5, less replay of found (schoolbook) factorizations. A late, longer
rediscovery attempt (see results/agent.md)."""

import runpy
from pathlib import Path

OVERRIDES = dict(runpy.run_path(str(Path(__file__).with_name("strassen.py")))["OVERRIDES"])
OVERRIDES.update(basis_change_prob=1.0, sample_temperature=1.5, solution_fraction=0.1,
                 samples=24, considered_actions=16, eval_every=10, checkpoint_every=20)
