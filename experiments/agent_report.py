"""Tables of results/agent.md from the benchmark CSVs (prints Markdown to stdout).

    .venv/bin/python experiments/agent_report.py
"""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def table(path: Path, columns: list[str]) -> str:
    if not path.is_file():
        return f"(no {path.name} yet)\n"
    rows = list(csv.DictReader(open(path)))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    results = ROOT / "results"
    for name in ("agent_rediscovery.csv", "agent_rediscovery_more_seeds.csv"):
        print(table(results / name,
                    ["seed", "found_rank7", "seconds_to_rank7", "best_rank", "batches",
                     "training_seconds", "budget_s"]))
    print(table(results / "agent_targets.csv",
                ["target", "field", "best_known", "best_rank", "found_after_training_s",
                 "batches", "games", "budget_s", "note"]))
    for name in ("agent_throughput_symmetric.csv", "agent_throughput.csv"):
        print(table(results / name,
                    ["batch", "simulations", "samples", "seconds_per_batch", "games_per_s",
                     "simulations_per_s", "compile_s"]))


if __name__ == "__main__":
    main()
