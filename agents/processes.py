"""Several processes (``jax.distributed``): process 0 alone reads and writes the run folder, the
others take its values. Each helper is a collective (every process calls it, in the same order);
with one process it returns its input."""

from __future__ import annotations

import hashlib
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils

TEXT_BYTES = 4096


def from_process_0(tree: Any) -> Any:
    """Process 0's ``tree`` of numpy arrays (the same shapes and dtypes on every process), bit
    for bit whatever the dtype (sent as bytes: no int64 -> int32, no bool sums)."""
    if jax.process_count() == 1:
        return tree
    leaves, treedef = jax.tree.flatten(tree)
    leaves = [np.asarray(leaf) for leaf in leaves]
    sent = multihost_utils.broadcast_one_to_all(
        [np.frombuffer(np.ascontiguousarray(leaf).tobytes(), np.uint8) for leaf in leaves])
    return jax.tree.unflatten(treedef, [
        np.frombuffer(np.asarray(raw).tobytes(), leaf.dtype).reshape(leaf.shape).copy()
        for raw, leaf in zip(sent, leaves)])


def text_from_process_0(text: str) -> str:
    """Process 0's ``text`` (its first ``TEXT_BYTES`` bytes) on every process."""
    data = text.encode()[:TEXT_BYTES]
    buffer = np.zeros(TEXT_BYTES, np.uint8)
    buffer[: len(data)] = np.frombuffer(data, np.uint8)
    return from_process_0(buffer).tobytes().rstrip(b"\0").decode(errors="replace")


def same_on_every_process(text: str) -> bool:
    """Whether every process passed the same ``text`` (the same answer on every process)."""
    if jax.process_count() == 1:
        return True
    digest = np.frombuffer(hashlib.sha256(text.encode()).digest(), np.uint8)
    gathered = np.asarray(multihost_utils.process_allgather(digest))
    return bool((gathered == gathered[0]).all())
