"""Training curves of a run (metrics.jsonl rows) as one PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_run(rows: list[dict], output: Path, title: str = "") -> None:
    """Loss curves, best rank over wall time, and the ranks of solved games per batch."""
    wall = [r["wall"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for name in ("loss", "policy_loss", "value_loss"):
        axes[0].plot(wall, [r.get(name) for r in rows], label=name)
    axes[0].set(xlabel="training seconds", ylabel="loss", title="learner losses")
    axes[0].legend()
    best = [(w, r["best_rank"]) for w, r in zip(wall, rows) if r.get("best_rank")]
    if best:
        axes[1].step(*zip(*best), where="post", marker="o")
    axes[1].set(xlabel="training seconds", ylabel="rank", title="best rank found")
    ranks = sorted({int(k) for r in rows for k in r.get("ranks", {})})
    bottom = [0.0] * len(rows)
    for rank in ranks:
        share = [r.get("ranks", {}).get(str(rank), 0)
                 / max(sum(r.get("ranks", {}).values()) + r.get("residual_games", 0), 1)
                 for r in rows]
        axes[2].bar(range(1, len(rows) + 1), share, bottom=bottom, label=f"rank {rank}")
        bottom = [b + s for b, s in zip(bottom, share)]
    axes[2].set(xlabel="self-play batch", ylabel="share of games",
                title="solved games by rank (rest: unsolved)")
    if ranks:
        axes[2].legend()
    fig.suptitle(title)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=90)
    plt.close(fig)
