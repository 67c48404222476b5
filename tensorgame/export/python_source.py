"""Readable, self-contained Python source (NumPy or JAX) for a Plan, and its live function.

The source defines ``matmul(A, B)`` for A [..., N, M] and B [..., M, P] (leading dimensions
broadcast): each level splits the largest part of A and B divisible by the algorithm's block grid,
runs the straight-line program on the blocks and multiplies blocks by the next level (native
matmul after the last level); the remainder rows, columns and inner slice are peeled off and done
by native matmul. The JAX version is pure jnp on static shapes: jit-able and differentiable.
The live function is made by executing exactly this text, so the source shown is the code run.
"""

from __future__ import annotations

import linecache

from tensorgame.export import lean, names
from tensorgame.export.program import LinearProgram, Program
from tensorgame.export.schedule import Plan

BACKENDS = ("numpy", "jax")

_PRELUDE = {
    ("numpy", False): '''import threading

import numpy as np

GF2 = False


def _leaf(a, b, out):
    np.matmul(a, b, out=out)


def _accumulate(out, a, b):
    np.add(out, np.matmul(a, b), out=out)
''',
    ("jax", False): '''import jax
import jax.numpy as jnp

xp = jnp
PRECISION = jax.lax.Precision.{precision}  # {precision_note}


def _leaf(a, b):
    return jnp.matmul(a, b, precision=PRECISION)
''',
    ("numpy", True): '''import threading

import numpy as np

GF2 = True


def _product(a, b):
    """GF(2) product: uint8 sums wrap mod 256, which keeps their parity."""
    return np.matmul(a.astype(np.uint8), b.astype(np.uint8)) & 1


def _leaf(a, b, out):
    np.copyto(out, _product(a, b), casting="unsafe")


def _accumulate(out, a, b):
    np.bitwise_xor(out, _product(a, b).astype(out.dtype), out=out)
''',
    ("jax", True): '''import jax.numpy as jnp

xp = jnp


def _leaf(a, b):
    """GF(2) product: int32 sums wrap mod 2**32, which keeps their parity."""
    return (jnp.matmul(a.astype(jnp.int32), b.astype(jnp.int32)) & 1).astype(a.dtype)
''',
}

_DIVIDE = '''

def _divide(x, d):
    """Exact division of the output blocks by the common denominator d."""
    return x // d if xp.issubdtype(x.dtype, xp.integer) else x / d
'''

_DRIVER = '''

def {name}(A, B):
    """C = A @ B for A [..., N, M] and B [..., M, P]: {description}."""
    if A.shape[-1] != B.shape[-2]:
        raise ValueError(f"inner dimensions differ: A is {{A.shape}}, B is {{B.shape}}")
    return _multiply(A, B, 0)


def _multiply(A, B, level):
    if level == len(_SCHEDULE):
        return _leaf(A, B)
    kernel, (n, m, p) = _SCHEDULE[level]
    N, M, P = A.shape[-2], A.shape[-1], B.shape[-1]
    bn, bm, bp = N // n, M // m, P // p
    if min(bn, bm, bp) == 0:
        return _leaf(A, B)
    Nc, Mc, Pc = n * bn, m * bm, p * bp
    C = kernel(A[..., :Nc, :Mc], B[..., :Mc, :Pc], lambda a, b: _multiply(a, b, level + 1))
    if Mc < M:
        C = C {accumulate} _leaf(A[..., :Nc, Mc:], B[..., Mc:, :Pc])
    if Pc < P:
        C = xp.concatenate([C, _leaf(A[..., :Nc, :], B[..., :, Pc:])], axis=-1)
    if Nc < N:
        C = xp.concatenate([C, _leaf(A[..., Nc:, :], B)], axis=-2)
    return C
'''


_NUMPY_DIVIDE = '''

def _divide(x, d):
    """Exact division of an output block, in place, by the common denominator d."""
    if np.issubdtype(x.dtype, np.integer):
        np.floor_divide(x, d, out=x)
    else:
        np.divide(x, d, out=x)
'''

_NUMPY_DRIVER = '''

_WORK = threading.local()  # per thread: the workspace of the last call's shapes


def _workspace(level, A, B, C, dims, counts):
    """Workspace buffers of one level: counts[0] of A's block shape, then B's, then C's.

    Allocated once per shape and reused by every call with the same shapes (in this thread);
    a call with other shapes frees them.
    """
    bn, bm, bp = dims
    key = (level, A.shape, B.shape, C.shape, A.dtype, B.dtype, C.dtype)
    cache = _WORK.buffers
    if key not in cache:
        cache[key] = tuple([np.empty(X.shape[:-2] + shape, X.dtype) for _ in range(count)]
                           for X, shape, count in ((A, (bn, bm), counts[0]),
                                                   (B, (bm, bp), counts[1]),
                                                   (C, (bn, bp), counts[2])))
    return cache[key]


def {name}(A, B):
    """C = A @ B for A [..., N, M] and B [..., M, P]: {description}."""
    A, B = np.asarray(A), np.asarray(B)
    if A.ndim < 2 or B.ndim < 2:
        raise ValueError(f"matmul needs matrices, got shapes {{A.shape}} and {{B.shape}}")
    if A.shape[-1] != B.shape[-2]:
        raise ValueError(f"inner dimensions differ: A is {{A.shape}}, B is {{B.shape}}")
    if not GF2 and (A.dtype == np.bool_ or B.dtype == np.bool_):
        raise TypeError("boolean matrices need GF(2) arithmetic (export with --gf2) or a cast "
                        "to an integer type: real-arithmetic kernels subtract")
    batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    C = np.empty(batch + (A.shape[-2], B.shape[-1]), np.result_type(A.dtype, B.dtype))
    key = (A.shape, B.shape, A.dtype, B.dtype)
    if getattr(_WORK, "key", None) != key:
        _WORK.key, _WORK.buffers = key, {{}}
    _multiply(A, B, C, 0)
    return C


def _multiply(A, B, C, level):
    """C = A @ B (C preallocated; no other array is written)."""
    if level == len(_SCHEDULE):
        return _leaf(A, B, C)
    kernel, (n, m, p) = _SCHEDULE[level]
    N, M, P = A.shape[-2], A.shape[-1], B.shape[-1]
    bn, bm, bp = N // n, M // m, P // p
    if min(bn, bm, bp) == 0:
        return _leaf(A, B, C)
    Nc, Mc, Pc = n * bn, m * bm, p * bp
    kernel(A[..., :Nc, :Mc], B[..., :Mc, :Pc], C[..., :Nc, :Pc], level)
    if Mc < M:
        _accumulate(C[..., :Nc, :Pc], A[..., :Nc, Mc:], B[..., Mc:, :Pc])
    if Pc < P:
        _leaf(A[..., :Nc, :], B[..., :, Pc:], C[..., :Nc, Pc:])
    if Nc < N:
        _leaf(A[..., Nc:, :], B, C[..., Nc:, :])
'''


PRECISIONS = {"highest": "full float32 products at the leaves (no TF32/bf16 passes)",
              "high": "TF32-class products at the leaves where the device has them (3 bf16 passes)",
              "default": "the device's fastest float32 products at the leaves (TF32 on GPUs)"}


def python_source(plan: Plan, backend: str = "numpy", name: str = "matmul",
                  precision: str = "highest") -> str:
    """The module text defining ``name(A, B)`` for ``plan`` on ``backend`` ("numpy" or "jax").

    ``precision`` (JAX only) sets the leaves' ``jax.lax.Precision``: "highest" (default),
    "high" or "default"; always state it with a GPU timing.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {precision!r}")
    text = _python_source(plan, backend, names.PLACEHOLDER)
    if backend == "jax":
        text = text.replace("{precision}", precision.upper()).replace(
            "{precision_note}", PRECISIONS[precision])
    names.check_python(name, text)
    return text.replace(names.PLACEHOLDER, name)


def _python_source(plan: Plan, backend: str, name: str) -> str:
    kernels = {}
    for program in plan.levels:
        kernels.setdefault(program.label, program)
    numpy = backend == "numpy"
    lines = [_docstring(plan, backend, name), "", _PRELUDE[(backend, plan.gf2)].rstrip("\n")]
    if any(p.denominator > 1 for p in kernels.values()):
        lines.append((_NUMPY_DIVIDE if numpy else _DIVIDE).rstrip("\n"))
    for label, program in kernels.items():
        kernel = _numpy_kernel if numpy else _kernel
        lines += ["", "", kernel(program, f"_level_{label}")]
    schedule = ", ".join(f"(_level_{p.label}, {p.shape})" for p in plan.levels)
    lines += ["", "", f"_SCHEDULE = ({schedule}{',' if len(plan.levels) == 1 else ''})"]
    driver = _NUMPY_DRIVER if numpy else _DRIVER
    lines.append(driver.format(name=name, description=plan.description,
                               accumulate="^" if plan.gf2 else "+").rstrip("\n"))
    return "\n".join(lines) + "\n"


def load_python(source: str, name: str = "matmul"):
    """Execute generated ``source`` in a fresh namespace and return its function ``name``."""
    filename = f"<tensorgame generated {name} {abs(hash(source)):x}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": "tensorgame_generated"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


def _docstring(plan: Plan, backend: str, name: str) -> str:
    counts = "\n".join(f"<{','.join(map(str, p.shape))}> rank {p.rank}: {p.additions} block "
                       f"additions ({p.additions_before} before common-subexpression elimination)"
                       for p in {p.label: p for p in plan.levels}.values())
    return (f'"""Block matrix multiplication for {backend}, generated by tensorgame.\n\n'
            f"Schedule (outermost level first): {plan.description}.\n"
            f"{counts or 'No fast levels.'}\n"
            f'Call {name}(A, B) with A [..., N, M] and B [..., M, P]; any N, M, P.\n"""')


def _kernel(program: Program, function: str) -> str:
    n, m, p = program.shape
    xor = program.gf2
    body = [f"def {function}(A, B, multiply):",
            f'    """One level of <{n},{m},{p}> rank {program.rank}: A is {n}x{m} blocks, B is '
            f'{m}x{p} blocks; `multiply` multiplies two blocks."""',
            f"    bn, bm, bp = A.shape[-2] // {n}, A.shape[-1] // {m}, B.shape[-1] // {p}"]
    a_names = [f"a{i}_{j}" for i in range(n) for j in range(m)]
    b_names = [f"b{j}_{k}" for j in range(m) for k in range(p)]
    for name, (i, j) in zip(a_names, [(i, j) for i in range(n) for j in range(m)]):
        body.append(f"    {name} = A[..., {_span(i, 'bn')}, {_span(j, 'bm')}]")
    for name, (j, k) in zip(b_names, [(j, k) for j in range(m) for k in range(p)]):
        body.append(f"    {name} = B[..., {_span(j, 'bm')}, {_span(k, 'bp')}]")
    body.append("    # left operands: combinations of A blocks")
    lefts = _stage(body, program.left, a_names, "ta", "l", xor)
    body.append("    # right operands: combinations of B blocks")
    rights = _stage(body, program.right, b_names, "tb", "r", xor)
    body.append("    # block products")
    products = [f"m{r}" for r in range(program.rank)]
    for r in range(program.rank):
        body.append(f"    m{r} = multiply({lefts[r]}, {rights[r]})")
    body.append("    # output blocks: c{i}_{k} is block (i, k) of C")
    c_names = [f"c{i}_{k}" for k in range(p) for i in range(n)]  # index k*n + i, as in w
    temps = [f"tc{t}" for t in range(len(program.out.temps))]
    variables = products + temps
    for t, combination in enumerate(program.out.temps):
        body.append(f"    tc{t} = {_expression(combination, variables, xor)}")
    for name, combination in zip(c_names, program.out.outputs):
        expression = _expression(combination, variables, xor)
        if program.denominator > 1:
            expression = f"_divide({expression}, {program.denominator})"
        body.append(f"    {name} = {expression}")
    grid = ", ".join("[" + ", ".join(f"c{i}_{k}" for k in range(p)) + "]" for i in range(n))
    body.append(f"    return xp.block([{grid}])")
    return "\n".join(body)


def _stage(body: list[str], program: LinearProgram, inputs: list[str], temp: str, operand: str,
           xor: bool) -> list[str]:
    """Emit temporaries and operands; return the name (or input) holding each operand."""
    variables = list(inputs) + [f"{temp}{t}" for t in range(len(program.temps))]
    for t, combination in enumerate(program.temps):
        body.append(f"    {temp}{t} = {_expression(combination, variables, xor)}")
    names = []
    for r, combination in enumerate(program.outputs):
        if len(combination) == 1 and combination[0][0] == 1:
            names.append(variables[combination[0][1]])
        else:
            body.append(f"    {operand}{r} = {_expression(combination, variables, xor)}")
            names.append(f"{operand}{r}")
    return names


def _expression(combination, variables: list[str], xor: bool) -> str:
    if xor:
        return " ^ ".join(variables[v] for _, v in combination)
    text = ""
    for coefficient, v in sorted(combination, key=lambda term: (term[0] < 0, term[1])):
        magnitude = abs(coefficient)
        term = variables[v] if magnitude == 1 else f"{magnitude} * {variables[v]}"
        if not text:
            text = term if coefficient > 0 else f"-{term}"
        else:
            text += f" + {term}" if coefficient > 0 else f" - {term}"
    return text


def _span(index: int, size: str) -> str:
    start = "" if index == 0 else size if index == 1 else f"{index} * {size}"
    stop = size if index == 0 else f"{index + 1} * {size}"
    return f"{start}:{stop}"


def _numpy_kernel(program: Program, function: str) -> str:
    """One level as NumPy code over preallocated storage (see ``tensorgame.export.lean``)."""
    n, m, p = program.shape
    plan = lean.schedule(program)
    counts = tuple(plan.buffers[shape] for shape in lean.SHAPES)
    body = [f"def {function}(A, B, C, level):",
            f'    """One level of <{n},{m},{p}> rank {program.rank} into C: A is {n}x{m} blocks, B '
            f'is {m}x{p} blocks; {plan.passes} block passes, workspace {counts[0]} + {counts[1]} '
            f'+ {counts[2]} blocks."""',
            f"    bn, bm, bp = A.shape[-2] // {n}, A.shape[-1] // {m}, B.shape[-1] // {p}"]
    for i in range(n):
        for j in range(m):
            body.append(f"    a{i}_{j} = A[..., {_span(i, 'bn')}, {_span(j, 'bm')}]")
    for j in range(m):
        for k in range(p):
            body.append(f"    b{j}_{k} = B[..., {_span(j, 'bm')}, {_span(k, 'bp')}]")
    for k in range(p):
        for i in range(n):
            body.append(f"    c{k * n + i} = C[..., {_span(i, 'bn')}, {_span(k, 'bp')}]"
                        f"  # block ({i}, {k}) of C")
    body.append(f"    (wa, wb, wc) = _workspace(level, A, B, C, (bn, bm, bp), {counts})")
    for shape, count in zip(lean.SHAPES, counts):
        for index in range(count):
            body.append(f"    w{shape.lower()}{index} = w{shape.lower()}[{index}]")
    for ins in plan.instructions:
        target = plan.store(ins.dst)
        if isinstance(ins, lean.Mul):
            body.append(f"    _multiply({plan.store(ins.left)}, {plan.store(ins.right)}, {target}, "
                        f"level + 1)  # {ins.dst} = {ins.left} @ {ins.right}")
            continue
        ops = _numpy_lin(target, [(c, plan.store(src)) for c, src in ins.terms], program.gf2)
        if ins.denominator > 1:
            ops.append(f"_divide({target}, {ins.denominator})")
        if ops:
            comment = _expression([(c, v) for v, (c, _) in enumerate(ins.terms)],
                                  [src for _, src in ins.terms], program.gf2)
            body.append(f"    # {ins.dst} = {comment}")
            body += [f"    {op}" for op in ops]
    return "\n".join(body)


def _numpy_lin(target: str, terms: list[tuple[int, str]], gf2: bool) -> list[str]:
    """ufunc calls (all with out=target) computing target = sum c * term; a term may already be
    stored in target (the in-place case), and is then taken as the starting value."""
    own = [term for term in terms if term[1] == target]
    rest = [term for term in terms if term[1] != target]
    rest.sort(key=lambda term: (term[0] < 0, abs(term[0]) != 1))
    ops: list[str] = []
    if gf2:
        names = [v for _, v in rest]
        if not own:
            if len(names) == 1:
                return [f"np.copyto({target}, {names[0]})"]
            ops.append(f"np.bitwise_xor({names[0]}, {names[1]}, out={target})")
            names = names[2:]
        return ops + [f"np.bitwise_xor({target}, {v}, out={target})" for v in names]
    sign = 1  # target holds sign * (the partial sum)
    if own:
        c = own[0][0]
        if c == -1:
            sign = -1
        elif c != 1:
            ops.append(f"np.multiply({target}, {c}, out={target})")
    else:
        (c0, x), rest = rest[0], rest[1:]
        if rest and abs(c0) == 1 and abs(rest[0][0]) == 1:
            (c1, y), rest = rest[0], rest[1:]
            op = "add" if c0 == c1 else "subtract"
            ops.append(f"np.{op}({x}, {y}, out={target})")
            sign = c0
        elif c0 == 1:
            ops.append(f"np.copyto({target}, {x})")
        elif c0 == -1:
            ops.append(f"np.multiply({x}, -1, out={target})")
        else:
            ops.append(f"np.multiply({x}, {c0}, out={target})")
    for c, y in rest:
        c *= sign
        if c == 1:
            ops.append(f"np.add({target}, {y}, out={target})")
        elif c == -1 and sign == -1:
            ops.append(f"np.subtract({y}, {target}, out={target})")
            sign = 1
        elif c == -1:
            ops.append(f"np.subtract({target}, {y}, out={target})")
        else:
            ops.append(f"np.add({target}, {c} * {y}, out={target})")
    if sign == -1:
        ops.append(f"np.multiply({target}, -1, out={target})")
    return ops
