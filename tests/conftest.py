import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=30, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=10, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Most of the suite's time is XLA compiling the agent's programs on a 2-core CPU. The tests run
# tiny configs whose compiled code runs for well under a second, so LLVM's optimisations are
# not worth their compile time (about half of it): the same programs, compiled at -O0. Set here,
# before JAX starts, for the test processes and every subprocess they launch.
FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
if FAST_COMPILE not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILE}".strip()


def pytest_configure(config):
    """One fresh persistent compilation cache for the whole session (`TENSORGAME_JAX_CACHE`),
    shared by the xdist workers and the `tensorgame train` subprocesses, so that a program
    compiled once (say, by the run a resume test kills) is loaded, not recompiled, by the
    others; nothing is kept between sessions."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller set it before starting this worker
    config._tensorgame_cache = tempfile.mkdtemp(prefix="tensorgame-test-jax-cache-")
    os.environ["TENSORGAME_JAX_CACHE"] = config._tensorgame_cache


def pytest_unconfigure(config):
    cache = getattr(config, "_tensorgame_cache", None)
    if cache:
        shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture
def experiment_script():
    """A loader of experiments/<name>.py as a module (the scripts are not a package)."""

    folder = Path(__file__).resolve().parent.parent / "experiments"
    if str(folder) not in sys.path:  # the scripts import their siblings, as when run directly
        sys.path.insert(0, str(folder))

    def load(name: str):
        path = folder / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"{name}_script", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
