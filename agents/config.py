"""The agent's configuration: one frozen dataclass, every field with a default.

A config file (``experiments/<name>.py``) is a Python module that defines ``OVERRIDES``, a dict
of field name -> value. Unknown fields and values of the wrong type or range are one-line
TensorgameErrors. ``config_hash`` names a configuration in saved results; ``config_changes``
tells what a resumed run's config changes (fields added since count as their defaults).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import runpy
from pathlib import Path
from typing import Any

import numpy as np

from tensorgame import game
from tensorgame.errors import TensorgameError


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """Everything that shapes a training run (the target, field and seed come from the CLI)."""

    # The game.
    coefficients: tuple[int, ...] = (-1, 0, 1)  # move alphabet over Z ("Z2" always uses (0, 1))
    max_moves: int = 8  # moves per game; 0 = the naive rank n*m*p
    history: int = 2  # previous moves shown to the network
    basis_change_prob: float = 0.0  # chance a self-play game plays the target in a random basis
    block_games: float = 0.0  # chance a self-play game plays a random <s,s,s> block of the
    #                           target (agents.selfplay; needs the completion); such a game
    #                           teaches the policy only below the block's naive rank s^3
    block_size: int = 0  # s of those blocks; 0 = the target's smallest side
    block_as_game: int = 0  # 1: a block game is the <s,s,s> game itself: the block's coordinates
    #                         moved to the first s*s of each mode (<s,s,s>'s own layout) and
    #                         its moves kept there, whatever block it is (agents.selfplay)
    basis_change_entries: int = 1  # largest |entry| of the random unimodular basis matrices
    basis_pool: int = 0  # > 0: games in a random basis pick one of this many fixed bases of the
    #                      run (AlphaTensor's fixed set); 0: a fresh basis per game
    symmetric: int = 0  # 1: the cyclic-symmetric game (square targets; tensorgame.game)
    symmetry: tuple = ()  # the orbit game (tensorgame.game): integer matrices (P, Q, R) of
    #                       <n,m,p>'s index spaces, A -> P A Q^-1, B -> Q B R^-1, W -> R W P^-1,
    #                       a symmetry of order 3 of the target; moves are its orbits
    endgame: int = 0  # > 0: residuals of rank <= this are finished exactly (tensorgame.endgame;
    #                   over Z, off over Z2)
    completion: int = 0  # 1: a game out of moves is finished by its residual's fibres, so every
    #                      game is an algorithm (tensorgame.game); set max_moves below the naive

    # The network.
    torso: str = "mlp"  # "mlp" (cheap, small targets) or "attentive" (AlphaTensor's modes)
    context_slots: int = 8  # embeddings the "mlp" torso hands to the policy head
    token_entries: int = 0  # factor entries per action token; 0 = whole factor if it fits
    max_vocabulary: int = 128  # bound used when token_entries = 0
    width: int = 64  # embedding size of torso and policy head
    heads: int = 4
    torso_layers: int = 2  # attentive-modes layers
    decoder_layers: int = 0  # cross-attention layers of the policy head (0: an MLP step)
    quantiles: int = 8  # value head outputs
    risk_seeking: float = 0.75  # value read-out: mean of the quantiles above this level

    # The search.
    search: str = "gumbel"  # "gumbel" (Gumbel MuZero) or "puct" (AlphaZero's PUCT, root noise)
    samples: int = 16  # K: candidate moves sampled per node
    simulations: int = 16
    considered_actions: int = 16  # Gumbel root: actions kept by sequential halving
    gumbel_scale: float = 1.0  # exploration in self-play (0: greedy moves, as in evaluation)
    dirichlet_fraction: float = 0.25  # PUCT: share of Dirichlet noise in the root prior
    dirichlet_alpha: float = 0.3
    pb_c_init: float = 1.25  # PUCT: exploration constant
    tree_reuse: int = 0  # 1 (PUCT): a move's search starts from the chosen child's sub-tree of
    #                     the last move's search (agents.reuse)
    root_proposals: int = 0  # self-play: root candidates drawn like demonstration moves
    proposal_share: float = 0.25  # their share of the root prior (like AlphaZero's root noise)
    rotations: float = 0.0  # > 0: plain game: the last move's two cyclic rotations in its
    #                         square block join every node's candidates with this prior share
    sample_temperature: float = 1.0
    bound_value: int = 1  # 1: a leaf's value is at least -game.end_penalty (see search.py)
    value_scale: float = 0.0  # 0: mctx's min-max rescaled Q; > 0: raw Q (in multiplications)
    #                           times this scale, so one multiplication weighs the same anywhere

    # Self-play and learning.
    games: int = 64  # game slots played at once (over all devices); an ended game restarts
    moves_per_iteration: int = 0  # moves every slot plays per iteration (0 = max_moves)
    learning_rate: float = 3e-3
    weight_decay: float = 1e-5
    batch_size: int = 256  # learner batch (states)
    updates_per_batch: int = 8  # learner updates after each self-play batch
    demo_fraction: float = 0.5  # share of each learner batch that is synthetic demonstrations
    solution_fraction: float = 0.25  # share replayed from found factorizations, order shuffled
    demo_max_rank: int = 0  # 0 = max_moves
    demo_zero_prob: float = 0.75  # probability of a zero entry in a demonstration factor
    demo_zero_prob_min: float = 0.0  # > 0: each demonstration draws its zero probability
    #                                  uniformly from [this, demo_zero_prob] (sparse and dense)
    demo_fixed_prob: float = 0.3  # symmetric game: share of demonstration moves (u, u, +-u)
    demo_basis_prob: float = 0.0  # chance a demonstration is seen in a random basis
    demo_anneal: int = 0  # > 0: the demonstrations' weight in the loss falls geometrically from 1
    #                       to demo_final_weight over this many self-play batches (pretraining: 1)
    demo_final_weight: float = 0.01
    signed_permutations: float = 0.0  # chance a training example is seen under random signed
    #                                   permutations of its modes (agents.learner.permuted)
    replay_size: int = 50_000  # states kept from self-play
    solutions_kept: int = 256  # found factorizations kept for order-shuffled replay
    policy_below: int = 0  # > 0: only self-play games of a lower rank teach the policy (all
    #                        teach the value), so self-play cannot imitate the schoolbook;
    #                        block games teach it only below their block's naive rank s^3
    policy_quantile: float = 0.0  # > 0 (instead of those): a game teaches the policy only when
    #                               its rank is below this quantile of the replay's games of
    #                               its kind (on the target / blocks): a ranked reward
    value_weight: float = 1.0
    pretrain_steps: int = 200  # demonstration-only updates before the first self-play batch

    # Bookkeeping.
    checkpoint_every: int = 20  # self-play batches between checkpoints
    eval_every: int = 10  # self-play batches between greedy evaluations (0 = never)
    eval_games: int = 16
    stop_at_rank: int = 0  # stop training once this rank is found (0 = never)

    def resolved(self, shape: tuple[int, int, int], field: str) -> "AgentConfig":
        """The config with target-dependent defaults filled in (max_moves, coefficients)."""
        changes: dict[str, Any] = {}
        if self.symmetric and not shape[0] == shape[1] == shape[2]:
            raise TensorgameError(f"the symmetric game needs a square target <n,n,n>, got "
                                  f"<{shape[0]},{shape[1]},{shape[2]}>")
        if self.symmetry:
            game.symmetry_maps(shape, *(np.asarray(x) for x in self.symmetry), max(shape) ** 2)
            if (self.symmetric or field != "Z" or self.rotations or self.block_games
                    or self.basis_change_prob or self.demo_basis_prob
                    or self.signed_permutations):
                raise TensorgameError("config field symmetry needs the plain game over Z without "
                                      "rotations, block games, bases or signed permutations "
                                      "(they do not keep the orbits)")
        if self.max_moves == 0:
            n, m, p = shape  # symmetric: the naive algorithm's n symmetric terms and its orbits
            changes["max_moves"] = (n + (n ** 3 - n) // 3 if self.symmetric else
                                    -(-n * m * p // 3) if self.symmetry else n * m * p)
        if field == "Z2":
            changes["coefficients"] = (0, 1)
            changes["endgame"] = 0
        if self.root_proposals >= self.samples:
            raise TensorgameError(f"config field root_proposals ({self.root_proposals}) must be "
                                  f"smaller than samples ({self.samples})")
        if self.rotations and self.symmetric:
            raise TensorgameError("config field rotations needs the plain game (symmetric=0)")
        if self.rotations and (self.root_proposals or self.samples < 4):
            raise TensorgameError("config field rotations needs samples >= 4 and no "
                                  "root_proposals (both take the last candidates)")
        if self.tree_reuse and (self.search != "puct" or self.root_proposals):
            raise TensorgameError("config field tree_reuse needs search='puct' and no "
                                  "root_proposals (a reused root keeps its candidates)")
        side = self.block_size or min(shape)
        if self.block_size > min(shape):
            raise TensorgameError(f"config field block_size ({self.block_size}) must be at most "
                                  f"the target's smallest side ({min(shape)})")
        if self.block_games and (not self.completion or self.symmetric or
                                 (side,) * 3 == tuple(shape)):
            raise TensorgameError("config field block_games needs completion=1, the plain game "
                                  "and a block smaller than the target (block_size below the "
                                  "side of a square target)")
        if self.block_as_game and not self.block_games:
            raise TensorgameError("config field block_as_game needs block_games > 0")
        changes["block_size"] = side
        if self.policy_quantile and self.policy_below:
            raise TensorgameError("config fields policy_quantile and policy_below exclude each "
                                  "other (two thresholds for the policy)")
        if self.demo_zero_prob_min and self.demo_zero_prob_min >= self.demo_zero_prob:
            raise TensorgameError(f"config field demo_zero_prob_min ({self.demo_zero_prob_min}) "
                                  f"must be smaller than demo_zero_prob ({self.demo_zero_prob})")
        out = dataclasses.replace(self, **changes)
        if out.demo_max_rank == 0:
            out = dataclasses.replace(out, demo_max_rank=out.max_moves)
        return out


_RANGES = {  # field -> (minimum, maximum) for numbers
    "max_moves": (0, 512), "history": (0, 64), "basis_change_prob": (0.0, 1.0),
    "block_games": (0.0, 1.0), "block_size": (0, 64), "block_as_game": (0, 1),
    "policy_quantile": (0.0, 0.99),
    "basis_change_entries": (1, 3), "basis_pool": (0, 1 << 30), "symmetric": (0, 1),
    "endgame": (0, 64),
    "completion": (0, 1),
    "demo_fixed_prob": (0.0, 1.0),
    "demo_basis_prob": (0.0, 1.0), "demo_anneal": (0, 1 << 24), "demo_final_weight": (0.0, 1.0),
    "signed_permutations": (0.0, 1.0), "token_entries": (0, 64), "max_vocabulary": (2, 1 << 16),
    "width": (8, 4096), "heads": (1, 64), "torso_layers": (1, 64), "decoder_layers": (0, 64),
    "quantiles": (1, 256), "risk_seeking": (0.0, 0.99), "samples": (2, 1024),
    "simulations": (1, 10_000), "considered_actions": (1, 1024), "gumbel_scale": (0.0, 10.0),
    "dirichlet_fraction": (0.0, 1.0), "dirichlet_alpha": (0.01, 10.0), "pb_c_init": (0.0, 100.0),
    "tree_reuse": (0, 1),
    "root_proposals": (0, 1024), "proposal_share": (0.0, 0.95), "rotations": (0.0, 0.95),
    "sample_temperature": (0.05, 10.0), "context_slots": (1, 256), "value_scale": (0.0, 10.0),
    "bound_value": (0, 1), "games": (1, 1 << 20), "moves_per_iteration": (0, 4096),
    "learning_rate": (0.0, 1.0),
    "weight_decay": (0.0, 1.0), "batch_size": (1, 1 << 20), "updates_per_batch": (0, 10_000),
    "demo_fraction": (0.0, 1.0), "solution_fraction": (0.0, 1.0), "demo_max_rank": (0, 512),
    "demo_zero_prob": (0.0, 0.95), "demo_zero_prob_min": (0.0, 0.95),
    "replay_size": (1, 1 << 24), "solutions_kept": (1, 1 << 20),
    "policy_below": (0, 1 << 16),
    "value_weight": (0.0, 100.0), "pretrain_steps": (0, 1 << 20), "checkpoint_every": (1, 1 << 20),
    "eval_every": (0, 1 << 20), "eval_games": (1, 1 << 16), "stop_at_rank": (0, 1 << 16),
}


_CHOICES = {"torso": ("attentive", "mlp"), "search": ("gumbel", "puct")}


def _check(name: str, value: Any, default: Any) -> Any:
    if name == "symmetry":
        return _matrices(name, value)
    if isinstance(default, str):
        if value not in _CHOICES[name]:
            raise TensorgameError(f"config field {name} must be one of {', '.join(_CHOICES[name])}"
                                  f", got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (tuple, list)) or not value or not all(
                isinstance(x, int) and not isinstance(x, bool) for x in value):
            raise TensorgameError(f"config field {name} must be a list of integers, got {value!r}")
        value = tuple(sorted(set(int(x) for x in value)))
        if 0 not in value or len(value) < 2:
            raise TensorgameError(f"config field {name} must contain 0 and a non-zero value")
        return value
    if isinstance(default, bool) or isinstance(value, bool):
        raise TensorgameError(f"config field {name} must be a number, got {value!r}")
    if isinstance(default, int) and not isinstance(value, int):
        raise TensorgameError(f"config field {name} must be an integer, got {value!r}")
    if isinstance(default, float) and not isinstance(value, (int, float)):
        raise TensorgameError(f"config field {name} must be a number, got {value!r}")
    low, high = _RANGES[name]
    if not low <= value <= high:
        raise TensorgameError(f"config field {name} must lie in [{low}, {high}], got {value!r}")
    return float(value) if isinstance(default, float) else value


def _matrices(name: str, value: Any) -> tuple:
    """Three square integer matrices (nested lists) as nested tuples; () stays off."""
    def square(matrix):
        return (isinstance(matrix, (list, tuple)) and len(matrix) > 0 and all(
            isinstance(row, (list, tuple)) and len(row) == len(matrix) and all(
                isinstance(x, int) and not isinstance(x, bool) for x in row) for row in matrix))
    if isinstance(value, (list, tuple)) and len(value) == 0:
        return ()
    if not (isinstance(value, (list, tuple)) and len(value) == 3 and all(map(square, value))):
        raise TensorgameError(f"config field {name} must be three square integer matrices "
                              f"[P, Q, R], got {value!r}")
    return tuple(tuple(tuple(row) for row in matrix) for matrix in value)


def make_config(overrides: dict[str, Any] | None = None) -> AgentConfig:
    """The default config with ``overrides`` applied and checked."""
    defaults = AgentConfig()
    known = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(AgentConfig)}
    checked = {}
    for name, value in (overrides or {}).items():
        if name not in known:
            raise TensorgameError(f"unknown config field {name!r}")
        checked[name] = _check(name, value, known[name])
    config = dataclasses.replace(defaults, **checked)
    if config.width % config.heads:
        raise TensorgameError(
            f"config field width ({config.width}) must be a multiple of heads ({config.heads})")
    return config


def load_config(path: str | Path | None) -> AgentConfig:
    """Read ``OVERRIDES`` from a config file (None: the defaults)."""
    if path is None:
        return make_config()
    path = Path(path)
    if not path.is_file():
        raise TensorgameError(f"{path}: no such config file")
    try:
        namespace = runpy.run_path(str(path))
    except Exception as error:  # a config file is user code: any failure is one line
        raise TensorgameError(f"{path}: cannot be read: {type(error).__name__}: {error}") from None
    overrides = namespace.get("OVERRIDES")
    if not isinstance(overrides, dict):
        raise TensorgameError(f"{path}: must define OVERRIDES = {{field: value, ...}}")
    try:
        return make_config(overrides)
    except TensorgameError as error:
        raise TensorgameError(f"{path}: {error}") from None


def config_changes(saved: dict, config: AgentConfig) -> list[str]:
    """The fields in which ``config`` differs from ``saved`` (a run description's config, as
    JSON gives it back), as "name (now vs saved)". A field the saved config lacks (one added
    to AgentConfig since the run started) counts as its default, which is how the run played."""
    now = json.loads(json.dumps(dataclasses.asdict(config)))
    defaults = json.loads(json.dumps(dataclasses.asdict(AgentConfig())))
    changes = [f"{name} ({value!r} vs saved {saved.get(name, defaults[name])!r})"
               for name, value in now.items() if saved.get(name, defaults[name]) != value]
    return changes + [f"{name} (no such field now)" for name in saved if name not in now]


def config_hash(config: AgentConfig) -> str:
    """A short stable hash of every field."""
    text = json.dumps(dataclasses.asdict(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
