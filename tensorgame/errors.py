"""The one exception type users see as a one-line message."""


class TensorgameError(Exception):
    """A problem with user input (a file, a flag, a shape), reported as one line by the CLI."""
