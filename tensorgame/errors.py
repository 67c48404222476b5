"""The one exception type users see as a one-line message, and the helper that keeps it one line."""


class TensorgameError(Exception):
    """A problem with user input (a file, a flag, a shape), reported as one line by the CLI."""


def one_line(text: object) -> str:
    """``text`` with control characters escaped (a file name holding a newline, a carriage return
    or a terminal escape stays on one line and cannot rewrite the terminal); other characters,
    non-ASCII letters included, are kept as they are."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
