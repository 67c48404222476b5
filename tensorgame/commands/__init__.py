"""CLI sub-commands, one module each (see tensorgame.cli)."""
