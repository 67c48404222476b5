"""tensorgame: discover, verify, export and use fast matrix multiplication algorithms.

    import tensorgame
    f = tensorgame.library.get(2, 2, 2)      # Strassen, rank 7, over Z
    tensorgame.verify(f).valid               # exact check over the file's field
    tensorgame.save(f, "strassen.json")      # v1 JSON, written atomically
    g = tensorgame.load("strassen.json")     # strict reader: one-line TensorgameError

The public names below are loaded on first use (PEP 562 ``__getattr__``): ``import tensorgame``
imports neither NumPy nor JAX, the command line starts fast, and no import cycle can run through
this file. Everything else lives in the modules (``tensorgame.factorization``, ``tensorgame.io``,
``tensorgame.importers``, ``tensorgame.export``, ...).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"  # kept equal to pyproject.toml's version (tests/test_cli.py checks)

__all__ = ["Factorization", "TensorgameError", "import_file", "library", "load", "save",
           "verify"]

_LAZY = {  # public name -> (module, attribute; None for the module itself)
    "Factorization": ("tensorgame.factorization", "Factorization"),
    "TensorgameError": ("tensorgame.errors", "TensorgameError"),
    "import_file": ("tensorgame.io", "import_file"),
    "library": ("tensorgame.library", None),
    "load": ("tensorgame.io", "load"),
    "save": ("tensorgame.io", "save"),
    "verify": ("tensorgame.factorization", "verify"),
}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from tensorgame import library
    from tensorgame.errors import TensorgameError
    from tensorgame.factorization import Factorization, verify
    from tensorgame.io import import_file, load, save


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'tensorgame' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
