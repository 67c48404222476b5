"""Orbax checkpoints of a training run: one pytree (params, optimizer state, replay) plus JSON
progress. Orbax writes each step to a temporary folder and renames it when complete, so a run
killed while saving keeps its previous checkpoint. Only one process of a multi-process run keeps
checkpoints (process 0, see ``agents.processes``): orbax's barriers span that process alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp


class Checkpoints:
    def __init__(self, directory: Path, keep: int = 2):
        directory = Path(directory).absolute()
        directory.mkdir(parents=True, exist_ok=True)
        alone = ocp.options.MultiprocessingOptions(active_processes={jax.process_index()})
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=False,
                                               enable_async_checkpointing=False,
                                               multiprocessing_options=alone)
        self.manager = ocp.CheckpointManager(directory, options=options)

    def save(self, step: int, tree: Any, meta: dict) -> None:
        """Save ``tree`` and ``meta`` as ``step`` (a no-op if that step is already saved)."""
        if self.manager.latest_step() == step:
            return
        tree = jax.tree.map(np.asarray, tree)
        self.manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(tree),
                                                        meta=ocp.args.JsonSave(meta)),
                          force=True)

    def restore(self, template: Any) -> tuple[Any, dict] | None:
        """The latest (tree, meta), with the tree shaped like ``template``; None if none."""
        step = self.manager.latest_step()
        if step is None:
            return None
        template = jax.tree.map(np.asarray, template)
        restored = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(template), meta=ocp.args.JsonRestore()))
        return jax.tree.map(np.asarray, restored.state), dict(restored.meta)

    def wait(self) -> None:
        self.manager.wait_until_finished()
