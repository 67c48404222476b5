"""The persistent XLA compilation cache shared by every training entry point."""

from __future__ import annotations

import os
from pathlib import Path


def enable_compilation_cache() -> None:
    """Keep compiled XLA programs between runs (``TENSORGAME_JAX_CACHE``, default
    ~/.cache/tensorgame/jax): a config's first run compiles for tens of seconds."""
    import jax

    cache = Path(os.environ.get("TENSORGAME_JAX_CACHE",
                                Path.home() / ".cache" / "tensorgame" / "jax"))
    jax.config.update("jax_compilation_cache_dir", str(cache))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
