"""Training curves of a run as one PNG, and the reader of its metrics.jsonl.

Rows are read as written by the trainer, but any field may be missing or not a number (an older
run, a hand-edited file): curves then use what is there. Without a numeric ``wall`` on every row
the x axis is the self-play batch instead of training seconds.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_metrics(run: Path) -> list[dict]:
    """The rows of RUN/metrics.jsonl; a last line cut short by a kill is dropped, any other
    problem (missing file, a line that is not a JSON object) is a one-line TensorgameError."""
    from tensorgame.errors import TensorgameError
    from tensorgame.io import read_bytes

    metrics_file = Path(run) / "metrics.jsonl"
    if not metrics_file.is_file():
        raise TensorgameError(f"{run}: no metrics.jsonl (not a training run folder?)")
    try:
        lines = read_bytes(metrics_file).decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise TensorgameError(f"{metrics_file}: not UTF-8 text") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            if number == len(lines):
                break  # a run killed while writing its last line
            raise TensorgameError(f"{metrics_file}:{number}: not JSON") from None
        if not isinstance(row, dict):
            raise TensorgameError(f"{metrics_file}:{number}: not a JSON object")
        rows.append(row)
    if not rows:
        raise TensorgameError(f"{metrics_file}: empty")
    return rows


def _number(value) -> float:
    """A finite JSON number as float, else NaN (a gap in the curve)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float range
            return math.nan
        return number if math.isfinite(number) else math.nan
    return math.nan


def _ranks(row: dict) -> dict[int, float]:
    """{rank: count} from a row's "ranks" object; malformed keys or counts are left out."""
    ranks = row.get("ranks")
    if not isinstance(ranks, dict):
        return {}
    out = {}
    for key, count in ranks.items():
        if isinstance(key, str) and key.isdigit() and len(key) < 10 and _number(count) >= 0:
            out[int(key)] = _number(count)
    return out


def render_run(rows: list[dict], title: str = "") -> bytes:
    """Loss curves, best rank over wall time, and the ranks of solved games per batch, as PNG."""
    walls = [_number(r.get("wall")) for r in rows]
    if rows and all(math.isfinite(w) for w in walls):
        x, x_label = walls, "training seconds"
    else:
        x, x_label = list(range(1, len(rows) + 1)), "self-play batch"
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for name in ("loss", "policy_loss", "value_loss"):
        axes[0].plot(x, [_number(r.get(name)) for r in rows], label=name)
    axes[0].set(xlabel=x_label, ylabel="loss", title="learner losses")
    axes[0].legend()
    best = [(xi, _number(r.get("best_rank"))) for xi, r in zip(x, rows)]
    best = [(xi, b) for xi, b in best if b > 0]
    if best:
        axes[1].step(*zip(*best), where="post", marker="o")
    axes[1].set(xlabel=x_label, ylabel="rank", title="best rank found")
    per_row = [_ranks(r) for r in rows]
    games = []  # solved plus unsolved games of each batch
    for counts, r in zip(per_row, rows):
        residual = _number(r.get("residual_games"))
        games.append(max(sum(counts.values()) + (residual if residual >= 0 else 0.0), 1.0))
    ranks = sorted({k for counts in per_row for k in counts})
    bottom = [0.0] * len(rows)
    for rank in ranks:
        share = [counts.get(rank, 0) / total for counts, total in zip(per_row, games)]
        axes[2].bar(range(1, len(rows) + 1), share, bottom=bottom, label=f"rank {rank}")
        bottom = [b + s for b, s in zip(bottom, share)]
    axes[2].set(xlabel="self-play batch", ylabel="share of games",
                title="solved games by rank (rest: unsolved)")
    if ranks:
        axes[2].legend()
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def plot_run(rows: list[dict], output: Path, title: str = "") -> None:
    """``render_run`` written to ``output`` atomically (tensorgame.io.write_atomic)."""
    from tensorgame.io import write_atomic

    write_atomic(output, render_run(rows, title))
