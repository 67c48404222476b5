"""Orbax checkpoints of a training run: one pytree (params, optimizer state, replay) plus JSON
progress. Orbax writes each step to a temporary folder and renames it when complete, so a run
killed while saving keeps its previous checkpoint. Only one process of a multi-process run keeps
checkpoints (process 0, see ``agents.processes``): orbax's barriers span that process alone, and
the tree saved holds global arrays (the same whatever the number of processes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from tensorgame.errors import TensorgameError


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
        """The latest (tree, meta), with the tree shaped like ``template``; None if none. A
        checkpoint that does not fit ``template`` (another device count, another version) is a
        one-line error, checked here so that no process goes on with arrays of another shape."""
        step = self.manager.latest_step()
        if step is None:
            return None
        template = jax.tree.map(np.asarray, template)
        where = f"{self.manager.directory}/{step}"
        try:
            restored = self.manager.restore(step, args=ocp.args.Composite(
                state=ocp.args.StandardRestore(template), meta=ocp.args.JsonRestore()))
        except (ValueError, KeyError, TypeError, OSError) as error:
            reason = (str(error).splitlines() or [type(error).__name__])[0]
            raise TensorgameError(f"{where}: cannot read the checkpoint ({reason})") from None
        tree = jax.tree.map(np.asarray, restored.state)
        if jax.tree.structure(tree) != jax.tree.structure(template):
            raise TensorgameError(f"{where}: the checkpoint does not hold this run's state")
        for (path, got), want in zip(jax.tree_util.tree_flatten_with_path(tree)[0],
                                     jax.tree.leaves(template)):
            if got.shape != want.shape or got.dtype != want.dtype:
                raise TensorgameError(
                    f"{where}: {jax.tree_util.keystr(path)} is {got.dtype}{list(got.shape)} in the "
                    f"checkpoint, this run needs {want.dtype}{list(want.shape)} (saved with "
                    f"another number of devices or another version?)")
        return tree, dict(restored.meta)

    def wait(self) -> None:
        self.manager.wait_until_finished()
