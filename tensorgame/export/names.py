"""Which function names generated code can take: identifiers that clash with nothing in the file.

A name is refused when it is not an identifier, is a keyword of the language, or is already used
by the generated file itself (its helpers, imports, variables; a Python builtin it calls; a C
library function it or its headers declare). The check is made against the actual source, with a
placeholder in place of the name, so it follows the generators as they change.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re

from tensorgame.errors import TensorgameError

PLACEHOLDER = "tg_placeholder_name_0"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

C_KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef
    union unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic
    _Imaginary _Noreturn _Static_assert _Thread_local bool true false NULL main
""".split())

# Declared by the headers the C file includes (stdio, stdlib, math, time, stdint, float): the
# functions and macros a user is most likely to pick, and the names of the types.
C_LIBRARY = frozenset("""
    printf fprintf sprintf snprintf puts putchar getchar fopen fclose fread fwrite fflush fputs
    fgets perror remove rename scanf sscanf malloc calloc realloc free exit abort atexit atoi atol
    atof strtol strtod qsort bsearch abs labs div ldiv rand srand system getenv fabs sqrt exp log
    log2 log10 pow sin cos tan floor ceil round trunc fmod ldexp frexp fmin fmax fma hypot time
    clock difftime mktime clock_gettime nanosleep timespec timeval FILE EOF stdin stdout stderr
    size_t ptrdiff_t int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t intptr_t
    uintptr_t INFINITY NAN HUGE_VAL isnan isinf signbit
""".split())


def check_python(name: str, source_with_placeholder: str) -> None:
    """Refuse ``name`` for a generated Python module: a keyword, a builtin, or a name the module
    binds at its top level (helpers, imports, constants)."""
    _check_identifier(name)
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise TensorgameError(f"function name {name!r} is a Python keyword")
    used = set()  # names bound at module level (locals of the functions may shadow freely)
    for node in ast.parse(source_with_placeholder).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            used.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            used.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in getattr(node, "targets", [getattr(node, "target", None)]):
                used.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    used.discard(PLACEHOLDER)
    if name in used or name in dir(builtins):
        raise TensorgameError(f"function name {name!r} is reserved: the generated module uses it "
                              "(a helper, import, variable or builtin)")


def check_c(name: str, source_with_placeholder: str) -> None:
    """Refuse ``name`` for a generated C file (see the module docstring)."""
    _check_identifier(name)
    if name in C_KEYWORDS:
        raise TensorgameError(f"function name {name!r} is a C keyword or main")
    if name.startswith("__") or re.match(r"_[A-Z]", name):
        raise TensorgameError(f"function name {name!r} is reserved to the C implementation")
    code = re.sub(r"/\*.*?\*/", " ", source_with_placeholder, flags=re.S)
    code = re.sub(r'"(\\.|[^"\\])*"', " ", code)
    used = set(_IDENTIFIER.findall(code)) - {PLACEHOLDER}
    if name in used or name in C_LIBRARY:
        raise TensorgameError(f"function name {name!r} is reserved: the generated C file or its "
                              "headers use it")


def _check_identifier(name: str) -> None:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise TensorgameError(f"function name must be an identifier, got {name!r}")
