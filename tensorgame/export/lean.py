"""A memory-lean schedule for one level of a Program: every value gets a home before code is made.

The NumPy backend has no fused kernels, so what it can save is memory traffic: fresh arrays (page
faults), copies, and passes. This module turns the three linear stages and the R products of a
Program into one straight line of instructions and decides where each value lives:

- ``lin`` instructions (``dst = sum c * src``, one ufunc pass per term after the first, all with
  ``out=``) and ``mul`` instructions (``dst = multiply(left, right)``, written by the product
  itself into its destination);
- products are emitted one at a time, each preceded by the operand combinations it needs, and
  followed at once by every output-stage line whose inputs are ready, so operands and products
  die early;
- **coalescing**: an output block c_k lives in its block of C from the start; walking backwards,
  a line whose result has a home passes that home to one term that dies at that line (preferably
  with coefficient +1), which is then updated in place (``np.add(x, y, out=x)``). So products land
  straight in C where the algorithm allows (Boyer, Dumas, Pernet & Zhou 2009 do this by hand for
  Strassen-Winograd's form);
- the remaining values share a few workspace buffers per block shape (A-, B- and C-shaped),
  allocated by a linear scan over live intervals; the product order is chosen among a few
  candidates for the fewest buffers, then the fewest passes.

For Winograd's 15-addition form of Strassen this gives 15 passes, no copies, and at most two
workspace buffers of each operand shape plus one C-shaped buffer.
"""

from __future__ import annotations

import dataclasses
import random

from tensorgame.export.program import LinearProgram, Program

SHAPES = ("A", "B", "C")  # block classes: bn x bm (left), bm x bp (right), bn x bp (products)


@dataclasses.dataclass(frozen=True)
class Lin:
    """dst = sum(coefficient * src) (XOR of the srcs in GF(2)); then / denominator if > 1."""

    dst: str
    terms: tuple[tuple[int, str], ...]
    denominator: int = 1


@dataclasses.dataclass(frozen=True)
class Mul:
    """dst = left @ right (by the next level)."""

    dst: str
    left: str
    right: str


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The instructions, and where each value lives.

    ``storage`` maps every value that is not an input block to ``("C", k)`` (output block k of
    C, index k*n + i for block (i, k)) or ``(shape, index)``: workspace buffer ``index`` of block
    class ``shape`` in "A", "B", "C". ``buffers`` counts the workspace buffers per class.
    """

    program: Program
    instructions: tuple
    storage: dict
    buffers: dict
    passes: int  # elementwise passes over a block: additions, copies, negations, scalings

    def store(self, value: str) -> str:
        """The expression naming ``value``'s storage in generated code (inputs: their own name)."""
        where = self.storage.get(value)
        if where is None:
            return value
        kind, index = where
        return f"c{index}" if kind == "out" else f"w{kind.lower()}{index}"


def schedule(program: Program, tries: int = 64) -> Schedule:
    """The leanest schedule found over a few product orders (deterministic)."""
    rank = program.rank
    orders = [list(range(rank)), list(range(rank))[::-1]]
    rng = random.Random(0)
    for _ in range(tries):
        order = list(range(rank))
        rng.shuffle(order)
        orders.append(order)
    best = None
    for order in orders:
        candidate = _schedule(program, order)
        cost = (sum(candidate.buffers.values()), candidate.passes)
        if best is None or cost < best[0]:
            best = (cost, candidate)
    return best[1]


def _names(program: Program):
    """Variable names of each stage: inputs first, then temporaries, then outputs."""
    n, m, p = program.shape
    a = [f"a{i}_{j}" for i in range(n) for j in range(m)]
    b = [f"b{j}_{k}" for j in range(m) for k in range(p)]
    left = a + [f"ta{t}" for t in range(len(program.left.temps))]
    right = b + [f"tb{t}" for t in range(len(program.right.temps))]
    products = [f"m{r}" for r in range(program.rank)]
    out = products + [f"tc{t}" for t in range(len(program.out.temps))]
    return a, b, left, right, out


def _definitions(side: LinearProgram, variables: list[str], operand: str, shape: str):
    """name -> (terms, class) for a side's temporaries and operands; operand r -> its name."""
    defs, operands = {}, []
    for t, combination in enumerate(side.temps):
        defs[variables[side.inputs + t]] = tuple((c, variables[v]) for c, v in combination)
    for r, combination in enumerate(side.outputs):
        if len(combination) == 1 and combination[0][0] == 1:
            operands.append(variables[combination[0][1]])  # the block itself, no copy
        else:
            defs[f"{operand}{r}"] = tuple((c, variables[v]) for c, v in combination)
            operands.append(f"{operand}{r}")
    return defs, operands


def _schedule(program: Program, order: list[int]) -> Schedule:
    a, b, left_vars, right_vars, out_vars = _names(program)
    inputs = set(a) | set(b)
    left_defs, lefts = _definitions(program.left, left_vars, "l", "A")
    right_defs, rights = _definitions(program.right, right_vars, "r", "B")
    shape_of = {name: "A" for name in left_defs} | {name: "B" for name in right_defs}
    out_defs = {}
    for t, combination in enumerate(program.out.temps):
        out_defs[f"tc{t}"] = tuple((c, out_vars[v]) for c, v in combination)
    outputs = [f"c{k}" for k in range(len(program.out.outputs))]
    for name, combination in zip(outputs, program.out.outputs):
        out_defs[name] = tuple((c, out_vars[v]) for c, v in combination)
    shape_of |= {name: "C" for name in out_defs} | {f"m{r}": "C" for r in range(program.rank)}

    instructions: list = []
    ready = set(inputs)

    def need(name, defs):
        if name in ready:
            return
        for _, src in defs[name]:
            need(src, defs)
        instructions.append(Lin(name, defs[name]))
        ready.add(name)

    pending = list(out_defs)  # temporaries first, then outputs: program order
    for r in order:
        need(lefts[r], left_defs)
        need(rights[r], right_defs)
        instructions.append(Mul(f"m{r}", lefts[r], rights[r]))
        ready.add(f"m{r}")
        progress = True
        while progress:
            progress = False
            for name in list(pending):
                if all(src in ready for _, src in out_defs[name]):
                    denominator = program.denominator if name in outputs else 1
                    instructions.append(Lin(name, out_defs[name], denominator))
                    ready.add(name)
                    pending.remove(name)
                    progress = True

    last_use: dict[str, int] = {}
    defined: dict[str, int] = {}
    for index, ins in enumerate(instructions):
        defined[ins.dst] = index
        for src in _sources(ins):
            last_use[src] = index

    # Coalescing, backwards: a home passes to one term dying at the line that defines its owner.
    home: dict[str, tuple] = {name: ("out", k) for k, name in enumerate(outputs)}
    chains = 0
    for index in range(len(instructions) - 1, -1, -1):
        ins = instructions[index]
        if ins.dst not in home:
            home[ins.dst] = ("chain", chains)
            chains += 1
        if not isinstance(ins, Lin):
            continue
        dying = [(c, src) for c, src in ins.terms if src not in inputs and src not in home
                 and last_use[src] == index and shape_of[src] == shape_of[ins.dst]]
        if dying:
            dying.sort(key=lambda term: (term[0] != 1, term[0] != -1))
            home[dying[0][1]] = home[ins.dst]

    # Workspace buffers for the chains: a linear scan over their live intervals, per class.
    spans: dict[tuple, list] = {}
    for name, where in home.items():
        if where[0] != "chain":
            continue
        start, end = defined[name], last_use.get(name, defined[name])
        span = spans.setdefault(where, [start, end, shape_of[name]])
        span[0], span[1] = min(span[0], start), max(span[1], end)
    storage: dict[str, tuple] = {}
    assigned: dict[tuple, tuple] = {}
    buffers = {shape: 0 for shape in SHAPES}
    busy: dict[str, list] = {shape: [] for shape in SHAPES}  # [end, index] of buffers in use
    for chain, (start, end, shape) in sorted(spans.items(), key=lambda item: item[1][0]):
        free = [slot for slot in busy[shape] if slot[0] < start]
        if free:
            slot = min(free, key=lambda s: s[1])
            slot[0] = end
        else:
            slot = [end, buffers[shape]]
            buffers[shape] += 1
            busy[shape].append(slot)
        assigned[chain] = (shape, slot[1])
    for name, where in home.items():
        storage[name] = where if where[0] == "out" else assigned[where]

    passes = 0
    for ins in instructions:
        if isinstance(ins, Lin):
            passes += _passes(ins, storage)
    return Schedule(program=program, instructions=tuple(instructions), storage=storage,
                    buffers=buffers, passes=passes)


def _sources(ins) -> list[str]:
    return [ins.left, ins.right] if isinstance(ins, Mul) else [src for _, src in ins.terms]


def _passes(ins: Lin, storage: dict) -> int:
    """Elementwise passes ``lin`` costs: one per term after the first, plus a copy, a scaling or a
    negation where needed, plus a division."""
    target = storage[ins.dst]
    in_place = any(storage.get(src) == target for _, src in ins.terms)
    count = len(ins.terms) - 1
    if len(ins.terms) == 1 and not (in_place and ins.terms[0][0] == 1):
        count = 1  # copy, negate or scale
    count += sum(abs(c) != 1 for c, _ in ins.terms) if len(ins.terms) > 1 else 0
    return count + (ins.denominator > 1)
