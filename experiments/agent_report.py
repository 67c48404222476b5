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
    print(table(results / "agent_throughput.csv",
                ["target", "field", "config", "games", "moves", "simulations", "samples",
                 "seconds_per_call", "simulations_per_s", "first_call_s"]))
    print(table(results / "agent_throughput_profile.csv", ["target", "config", "games", "stage",
                                                           "ms"]))
    rediscovery = ["label", "seed", "found_rank7", "seconds_to_rank7", "best_rank", "batches",
                   "games", "training_seconds", "budget_s"]
    for name in ("agent_rediscovery.csv", "agent_ablation.csv", "agent_plain.csv"):
        print(table(results / name, rediscovery))


if __name__ == "__main__":
    main()
