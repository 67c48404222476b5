"""C99 source for a Plan: a block-recursive kernel over row-major blocks with explicit strides.

The file defines

    void NAME(long N, long M, long P, const tg_real *A, long lda,
              const tg_real *B, long ldb, tg_real *C, long ldc);

computing C = A B for row-major A [N x M], B [M x P], C [N x P] with row strides lda, ldb, ldc.
``tg_real`` is ``double`` unless compiled with ``-DTG_REAL=float``; GF(2) plans use
``unsigned char`` with XOR/AND. Remainders are peeled off and done by the naive leaf loop, which
also multiplies the blocks below the last level. Unless compiled with ``-DTG_NO_MAIN`` the file
also holds a harness: ``./kernel N M P`` fills random matrices, compares with an independent naive
product (exactly on small integers; within the bound of tensorgame.export.tolerance on floats)
and exits 0 when both agree, 1 otherwise.
"""

from __future__ import annotations

from tensorgame.export.program import LinearProgram, Program
from tensorgame.export.schedule import Plan
from tensorgame.export.tolerance import chain_length, stability_factor

_HEADER = """\
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

{real}

static void *tg_alloc(long rows, long cols)
{{
    void *p = malloc(sizeof(tg_real) * (size_t)(rows * cols > 0 ? rows * cols : 1));
    if (!p) {{
        fprintf(stderr, "tensorgame kernel: out of memory\\n");
        exit(1);
    }}
    return p;
}}

/* C = A B (or C {acc}= A B when accumulate) for row-major blocks with row strides. */
static void tg_leaf(long N, long M, long P, const tg_real *A, long lda, const tg_real *B, long ldb,
                    tg_real *C, long ldc, int accumulate)
{{
    for (long i = 0; i < N; i++) {{
        tg_real *c = C + i * ldc;
        if (!accumulate)
            for (long j = 0; j < P; j++) c[j] = 0;
        for (long k = 0; k < M; k++) {{
            const tg_real a = A[i * lda + k];
            const tg_real *b = B + k * ldb;
            for (long j = 0; j < P; j++) c[j] {leaf_op};
        }}
    }}
}}

static void tg_multiply(int level, long N, long M, long P, const tg_real *A, long lda,
                        const tg_real *B, long ldb, tg_real *C, long ldc);
"""

_REAL = """#ifndef TG_REAL
#define TG_REAL double
#endif
typedef TG_REAL tg_real;"""

_DRIVER = """
typedef void (*tg_level_fn)(int, long, long, long, const tg_real *, long, const tg_real *, long,
                            tg_real *, long);
static const tg_level_fn tg_schedule[{levels}] = {{{functions}}};
static const long tg_shapes[{levels}][3] = {{{shapes}}};

static void tg_multiply(int level, long N, long M, long P, const tg_real *A, long lda,
                        const tg_real *B, long ldb, tg_real *C, long ldc)
{{
    if (level == {levels}) {{
        tg_leaf(N, M, P, A, lda, B, ldb, C, ldc, 0);
        return;
    }}
    long n = tg_shapes[level][0], m = tg_shapes[level][1], p = tg_shapes[level][2];
    long bn = N / n, bm = M / m, bp = P / p;
    if (bn == 0 || bm == 0 || bp == 0) {{
        tg_leaf(N, M, P, A, lda, B, ldb, C, ldc, 0);
        return;
    }}
    long Nc = n * bn, Mc = m * bm, Pc = p * bp;
    tg_schedule[level](level + 1, bn, bm, bp, A, lda, B, ldb, C, ldc);
    if (Mc < M) tg_leaf(Nc, M - Mc, Pc, A + Mc, lda, B + Mc * ldb, ldb, C, ldc, 1);
    if (Pc < P) tg_leaf(Nc, M, P - Pc, A, lda, B + Pc, ldb, C + Pc, ldc, 0);
    if (Nc < N) tg_leaf(N - Nc, M, P, A + Nc * lda, lda, B, ldb, C + Nc * ldc, ldc, 0);
}}

/* C = A B: {description}. */
void {name}(long N, long M, long P, const tg_real *A, long lda, const tg_real *B, long ldb,
            tg_real *C, long ldc)
{{
    tg_multiply(0, N, M, P, A, lda, B, ldb, C, ldc);
}}
"""

_MAIN = """
#ifndef TG_NO_MAIN
static unsigned long long tg_seed = 88172645463325252ULL;

static double tg_uniform(void) /* xorshift64, in [0, 1) */
{{
    tg_seed ^= tg_seed << 13;
    tg_seed ^= tg_seed >> 7;
    tg_seed ^= tg_seed << 17;
    return (double)(tg_seed >> 11) / 9007199254740992.0;
}}

/* Largest |C - A B| against an independent naive product accumulated in double. */
static double tg_check(long N, long M, long P, const tg_real *A, const tg_real *B, const tg_real *C)
{{
    double worst = 0;
    for (long i = 0; i < N; i++)
        for (long j = 0; j < P; j++) {{
            {sum_type} sum = 0;
            for (long k = 0; k < M; k++) sum {check_op};
            double error = fabs((double)C[i * P + j] - sum);
            if (error > worst) worst = error;
        }}
    return worst;
}}

int main(int argc, char **argv)
{{
    long N = 64, M = 64, P = 64;
    if (argc == 4) {{
        N = atol(argv[1]), M = atol(argv[2]), P = atol(argv[3]);
    }} else if (argc != 1) {{
        fprintf(stderr, "usage: %s [N M P]\\n", argv[0]);
        return 2;
    }}
    if (N < 1 || M < 1 || P < 1) {{
        fprintf(stderr, "sizes must be positive\\n");
        return 2;
    }}
    tg_real *A = tg_alloc(N, M), *B = tg_alloc(M, P), *C = tg_alloc(N, P);
    for (long i = 0; i < N * M; i++) A[i] = (tg_real){integer_fill};
    for (long i = 0; i < M * P; i++) B[i] = (tg_real){integer_fill};
    {name}(N, M, P, A, M, B, P, C, P);
    double exact_error = tg_check(N, M, P, A, B, C);
    int ok = exact_error == 0;
{inexact_integers}
    printf("{name} %ldx%ldx%ld: {integer_label} max error %g", N, M, P, exact_error);
{float_check}    printf(": %s\\n", ok ? "ok" : "FAILED");
    free(A), free(B), free(C);
    return ok ? 0 : 1;
}}
#endif
"""

_INEXACT_INTEGERS = """\
    /* Exact unless intermediates (up to 16 M times the scaled stability factor) can exceed the
       mantissa; then the float bound applies to the integer inputs too (max|A| max|B| = 16). */
    double mantissa = sizeof(tg_real) == sizeof(float) ? FLT_MANT_DIG : DBL_MANT_DIG;
    if (16.0 * M * {magnitude} >= ldexp(1.0, (int)mantissa)) {{
        double eps0 = sizeof(tg_real) == sizeof(float) ? FLT_EPSILON / 2 : DBL_EPSILON / 2;
        double leaf0 = (double)M / {inner_product};
        ok = exact_error <= 16 * eps0 * {stability} * ((leaf0 > 1 ? leaf0 : 1) + {chains});
    }}
"""

_FLOAT_CHECK = """\
    for (long i = 0; i < N * M; i++) A[i] = (tg_real)(2 * tg_uniform() - 1);
    for (long i = 0; i < M * P; i++) B[i] = (tg_real)(2 * tg_uniform() - 1);
    {name}(N, M, P, A, M, B, P, C, P);
    double eps = sizeof(tg_real) == sizeof(float) ? FLT_EPSILON / 2 : DBL_EPSILON / 2;
    double leaf = (double)M / {inner_product};
    double bound = eps * {stability} * ((leaf > 1 ? leaf : 1) + {chains});
    double float_error = tg_check(N, M, P, A, B, C);
    ok = ok && float_error <= bound;
    printf(", floats in [-1,1] max error %.3g (bound %.3g)", float_error, bound);
"""


def c_source(plan: Plan, name: str = "tg_matmul") -> str:
    """The C99 translation unit for ``plan``, with entry point ``name`` and a self-check main."""
    gf2 = plan.gf2
    parts = [f"/* {name}: C = A B by block recursion, generated by tensorgame.\n"
             f" * Schedule (outermost level first): {plan.description}.\n"
             + "".join(f" * <{','.join(map(str, p.shape))}> rank {p.rank}: {p.additions} block "
                       f"additions ({p.additions_before} before common-subexpression "
                       f"elimination).\n" for p in {p.label: p for p in plan.levels}.values())
             + " * Build: cc -O2 -std=c99 FILE.c -lm  (add -DTG_REAL=float for single precision,"
             " -DTG_NO_MAIN to link into a program). */\n",
             _HEADER.format(real="typedef unsigned char tg_real; /* GF(2): 0/1 with XOR/AND */"
                            if gf2 else _REAL,
                            acc="^" if gf2 else "+",
                            leaf_op="^= a & b[j]" if gf2 else "+= a * b[j]")]
    kernels = {}
    for program in plan.levels:
        kernels.setdefault(program.label, program)
    for label, program in kernels.items():
        parts.append(_kernel(program, f"tg_level_{label}"))
    if plan.levels:
        parts.append(_DRIVER.format(
            levels=len(plan.levels), description=plan.description, name=name,
            functions=", ".join(f"tg_level_{p.label}" for p in plan.levels),
            shapes=", ".join("{" + ", ".join(map(str, p.shape)) + "}" for p in plan.levels)))
    else:
        parts.append(_DRIVER.split("static void tg_multiply", 1)[0].split("typedef void")[0]
                     + _NO_LEVELS.format(name=name, description=plan.description))
    inner = 1
    for p in plan.levels:
        inner *= p.shape[1]
    stability = 1.0
    for p in plan.levels:
        stability *= stability_factor(p)
    magnitude = stability
    for p in plan.levels:
        magnitude *= p.denominator
    numbers = dict(name=name, inner_product=inner, stability=repr(stability),
                   magnitude=repr(magnitude), chains=sum(chain_length(p) for p in plan.levels))
    float_check = "" if gf2 else _FLOAT_CHECK.format(**numbers)
    inexact = "" if gf2 else _INEXACT_INTEGERS.format(**numbers)
    parts.append(_MAIN.format(
        name=name, float_check=float_check, inexact_integers=inexact,
        sum_type="int" if gf2 else "double",
        check_op="^= A[i * M + k] & B[k * P + j]" if gf2 else
        "+= (double)A[i * M + k] * (double)B[k * P + j]",
        integer_fill="(tg_uniform() < 0.5)" if gf2 else "((long)(9 * tg_uniform()) - 4)",
        integer_label="GF(2)" if gf2 else "integers in [-4,4]"))
    return "\n".join(parts)


_NO_LEVELS = """
static void tg_multiply(int level, long N, long M, long P, const tg_real *A, long lda,
                        const tg_real *B, long ldb, tg_real *C, long ldc)
{{
    (void)level;
    tg_leaf(N, M, P, A, lda, B, ldb, C, ldc, 0);
}}

/* C = A B: {description}. */
void {name}(long N, long M, long P, const tg_real *A, long lda, const tg_real *B, long ldb,
            tg_real *C, long ldc)
{{
    tg_multiply(0, N, M, P, A, lda, B, ldb, C, ldc);
}}
"""


class _Var:
    """A block: its pointer expression and row stride."""

    def __init__(self, name: str, stride: str):
        self.name, self.stride = name, stride

    def at(self) -> str:
        return f"{self.name}[i * {self.stride} + j]"


def _kernel(program: Program, function: str) -> str:
    n, m, p = program.shape
    gf2 = program.gf2
    lines = [f"/* One level of <{n},{m},{p}> rank {program.rank}: A is {n}x{m} blocks of bn x bm, "
             f"B is {m}x{p} blocks of bm x bp. */",
             f"static void {function}(int next, long bn, long bm, long bp, const tg_real *A, "
             "long lda,",
             "                        const tg_real *B, long ldb, tg_real *C, long ldc)", "{",
             "    long i, j;"]
    a_vars = [_Var(f"a{i}_{j}", "lda") for i in range(n) for j in range(m)]
    b_vars = [_Var(f"b{j}_{k}", "ldb") for j in range(m) for k in range(p)]
    c_vars = [_Var(f"c{i}_{k}", "ldc") for k in range(p) for i in range(n)]  # index k*n + i
    for var, (row, col) in zip(a_vars, [(i, j) for i in range(n) for j in range(m)]):
        lines.append(f"    const tg_real *{var.name} = A + {row} * bn * lda + {col} * bm;")
    for var, (row, col) in zip(b_vars, [(j, k) for j in range(m) for k in range(p)]):
        lines.append(f"    const tg_real *{var.name} = B + {row} * bm * ldb + {col} * bp;")
    for var, (row, col) in zip(c_vars, [(i, k) for k in range(p) for i in range(n)]):
        lines.append(f"    tg_real *{var.name} = C + {row} * bn * ldc + {col} * bp;")
    owned: list[str] = []
    lines.append("    /* left operands: combinations of A blocks */")
    lefts = _stage(lines, owned, program.left, a_vars, "ta", "l", ("bn", "bm"), gf2)
    lines.append("    /* right operands: combinations of B blocks */")
    rights = _stage(lines, owned, program.right, b_vars, "tb", "r", ("bm", "bp"), gf2)
    lines.append("    /* block products */")
    products = []
    for r in range(program.rank):
        product = _Var(f"m{r}", "bp")
        lines.append(f"    tg_real *m{r} = tg_alloc(bn, bp);")
        lines.append(f"    tg_multiply(next, bn, bm, bp, {lefts[r].name}, {lefts[r].stride}, "
                     f"{rights[r].name}, {rights[r].stride}, m{r}, bp);")
        owned.append(f"m{r}")
        products.append(product)
    lines.append("    /* output blocks: c{i}_{k} is block (i, k) of C */")
    variables = products + [_Var(f"tc{t}", "bp") for t in range(len(program.out.temps))]
    for t, combination in enumerate(program.out.temps):
        lines.append(f"    tg_real *tc{t} = tg_alloc(bn, bp);")
        owned.append(f"tc{t}")
        lines.append(_loop(variables[program.out.inputs + t], combination, variables,
                           ("bn", "bp"), gf2))
    for var, combination in zip(c_vars, program.out.outputs):
        lines.append(_loop(var, combination, variables, ("bn", "bp"), gf2, program.denominator))
    lines += [f"    free({name});" for name in owned] + ["}"]
    return "\n".join(lines)


def _stage(lines, owned, program: LinearProgram, inputs, temp, operand, dims, gf2):
    """Emit temporaries and operands into fresh buffers; return the block of each operand."""
    variables = list(inputs) + [_Var(f"{temp}{t}", dims[1]) for t in range(len(program.temps))]
    for t, combination in enumerate(program.temps):
        var = variables[len(inputs) + t]
        lines.append(f"    tg_real *{var.name} = tg_alloc({dims[0]}, {dims[1]});")
        owned.append(var.name)
        lines.append(_loop(var, combination, variables, dims, gf2))
    names = []
    for r, combination in enumerate(program.outputs):
        if len(combination) == 1 and combination[0][0] == 1:
            names.append(variables[combination[0][1]])
            continue
        var = _Var(f"{operand}{r}", dims[1])
        lines.append(f"    tg_real *{var.name} = tg_alloc({dims[0]}, {dims[1]});")
        owned.append(var.name)
        lines.append(_loop(var, combination, variables, dims, gf2))
        names.append(var)
    return names


def _loop(target: _Var, combination, variables, dims, gf2, denominator: int = 1) -> str:
    if gf2:
        expression = " ^ ".join(variables[v].at() for _, v in combination)
    else:
        expression = ""
        for coefficient, v in sorted(combination, key=lambda term: (term[0] < 0, term[1])):
            term = variables[v].at()
            if abs(coefficient) != 1:
                term = f"(tg_real){abs(coefficient)} * {term}"
            if not expression:
                expression = term if coefficient > 0 else f"-{term}"
            else:
                expression += f" + {term}" if coefficient > 0 else f" - {term}"
        if denominator > 1:
            expression = f"({expression}) / (tg_real){denominator}"
    return (f"    for (i = 0; i < {dims[0]}; i++)\n        for (j = 0; j < {dims[1]}; j++)\n"
            f"            {target.at()} = {expression};")
