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

from tensorgame.export import lean, names
from tensorgame.export.program import Program
from tensorgame.export.schedule import Plan
from tensorgame.export.tolerance import chain_length, stability_factor

_HEADER = """\
#define _POSIX_C_SOURCE 199309L /* clock_gettime for the harness timing */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

{real}
{blas}
static void *tg_alloc(long rows, long cols)
{{
    /* calloc: fresh large blocks come zeroed from the system at no extra pass */
    void *p = calloc((size_t)(rows * cols > 0 ? rows * cols : 1), sizeof(tg_real));
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
{blas_leaf}    for (long i = 0; i < N; i++) {{
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

_BLAS = """
#ifdef TG_BLAS
/* Leaves by BLAS: the prototypes are declared here, so no cblas.h is needed. Defaults are the
 * reference CBLAS names with int dimensions (-lopenblas, -lcblas); NumPy's bundled OpenBLAS
 * needs -DTG_SGEMM=scipy_cblas_sgemm64_ -DTG_DGEMM=scipy_cblas_dgemm64_ -DTG_BLAS_INT=int64_t
 * (tensorgame.export.blas.c_flags() gives the full line). Row-major = 101, no transpose = 111. */
#ifndef TG_BLAS_INT
#define TG_BLAS_INT int
#endif
#ifndef TG_SGEMM
#define TG_SGEMM cblas_sgemm
#endif
#ifndef TG_DGEMM
#define TG_DGEMM cblas_dgemm
#endif
void TG_SGEMM(int order, int transa, int transb, TG_BLAS_INT m, TG_BLAS_INT n, TG_BLAS_INT k,
              float alpha, const float *a, TG_BLAS_INT lda, const float *b, TG_BLAS_INT ldb,
              float beta, float *c, TG_BLAS_INT ldc);
void TG_DGEMM(int order, int transa, int transb, TG_BLAS_INT m, TG_BLAS_INT n, TG_BLAS_INT k,
              double alpha, const double *a, TG_BLAS_INT lda, const double *b, TG_BLAS_INT ldb,
              double beta, double *c, TG_BLAS_INT ldc);

/* 1 when tg_real is float or double (integer tg_real keeps the naive loop). */
static int tg_blas_type(void)
{
    return (tg_real)0.5 != 0 && (sizeof(tg_real) == sizeof(float) ||
                                 sizeof(tg_real) == sizeof(double));
}

/* C = A B + beta C by sgemm or dgemm. */
static void tg_gemm(long N, long M, long P, const tg_real *A, long lda, const tg_real *B,
                    long ldb, tg_real *C, long ldc, int accumulate)
{
    if (sizeof(tg_real) == sizeof(float))
        TG_SGEMM(101, 111, 111, N, P, M, 1.0f, (const float *)(const void *)A, lda,
                 (const float *)(const void *)B, ldb, accumulate ? 1.0f : 0.0f,
                 (float *)(void *)C, ldc);
    else
        TG_DGEMM(101, 111, 111, N, P, M, 1.0, (const double *)(const void *)A, lda,
                 (const double *)(const void *)B, ldb, accumulate ? 1.0 : 0.0,
                 (double *)(void *)C, ldc);
}
#endif
"""

_BLAS_LEAF = """\
#ifdef TG_BLAS
    if (tg_blas_type() && N > 0 && M > 0 && P > 0) {{
        tg_gemm(N, M, P, A, lda, B, ldb, C, ldc, accumulate);
        return;
    }}
#endif
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

/* Largest |C - A B| against an independent naive product accumulated in double: every row when
   N M P <= 2^27, else 64 rows spread over C (so big timing runs stay quick). */
static double tg_check(long N, long M, long P, const tg_real *A, const tg_real *B, const tg_real *C)
{{
    double worst = 0;
    long step = (double)N * M * P <= 134217728.0 ? 1 : (N + 63) / 64;
    for (long i = 0; i < N; i += step)
        for (long j = 0; j < P; j++) {{
            {sum_type} sum = 0;
            for (long k = 0; k < M; k++) sum {check_op};
            double error = fabs((double)C[i * P + j] - sum);
            if (error > worst) worst = error;
        }}
    return worst;
}}

#ifdef TG_BLAS
static double tg_now(void)
{{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}}

static int tg_compare(const void *a, const void *b)
{{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}}
#endif

int main(int argc, char **argv)
{{
    long N = 64, M = 64, P = 64, repeats = 3;
    if (argc == 4 || argc == 5) {{
        N = atol(argv[1]), M = atol(argv[2]), P = atol(argv[3]);
        if (argc == 5) repeats = atol(argv[4]);
    }} else if (argc != 1) {{
        fprintf(stderr, "usage: %s [N M P [TIMED_RUNS]]\\n", argv[0]);
        return 2;
    }}
    if (N < 1 || M < 1 || P < 1 || repeats < 1 || repeats > 1000) {{
        fprintf(stderr, "sizes must be positive (and 1 <= TIMED_RUNS <= 1000)\\n");
        return 2;
    }}
    tg_real *A = tg_alloc(N, M), *B = tg_alloc(M, P), *C = tg_alloc(N, P);
    for (long i = 0; i < N * M; i++) A[i] = (tg_real){integer_fill};
    for (long i = 0; i < M * P; i++) B[i] = (tg_real){integer_fill};
    {name}(N, M, P, A, M, B, P, C, P);
    double exact_error = tg_check(N, M, P, A, B, C);
    int ok = exact_error == 0;
{inexact_integers}{float_check}{timing}    printf("{name} %ldx%ldx%ld: {integer_label} max error %g", N, M, P, exact_error);
{float_print}    printf(": %s\\n", ok ? "ok" : "FAILED");
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
"""

_FLOAT_PRINT = """\
    printf(", floats in [-1,1] max error %.3g (bound %.3g)", float_error, bound);
"""

_TIMING = """\
#ifdef TG_BLAS
    /* With BLAS leaves: time the kernel against one BLAS call on the same matrices, alternately
       (kernel, gemm, kernel, ...) after one warm-up each; medians of TIMED_RUNS pairs. */
    if (tg_blas_type()) {{
        double *times = malloc(sizeof(double) * 2 * (size_t)repeats);
        if (!times) return 1;
        {name}(N, M, P, A, M, B, P, C, P);
        tg_gemm(N, M, P, A, M, B, P, C, P, 0);
        for (long r = 0; r < repeats; r++) {{
            double t0 = tg_now();
            {name}(N, M, P, A, M, B, P, C, P);
            double t1 = tg_now();
            tg_gemm(N, M, P, A, M, B, P, C, P, 0);
            times[r] = t1 - t0, times[repeats + r] = tg_now() - t1;
        }}
        qsort(times, (size_t)repeats, sizeof(double), tg_compare);
        qsort(times + repeats, (size_t)repeats, sizeof(double), tg_compare);
        double kernel = times[repeats / 2], gemm = times[repeats + repeats / 2];
        if (repeats % 2 == 0)
            kernel = (kernel + times[repeats / 2 - 1]) / 2,
            gemm = (gemm + times[repeats + repeats / 2 - 1]) / 2;
        printf("{name} %ldx%ldx%ld: time kernel %.4f s, %s %.4f s, speedup %.3fx "
               "(medians of %ld alternating runs)\\n", N, M, P, kernel,
               sizeof(tg_real) == sizeof(float) ? "sgemm" : "dgemm", gemm, gemm / kernel, repeats);
        free(times);
    }}
#endif
"""


def c_source(plan: Plan, name: str = "tg_matmul") -> str:
    """The C99 translation unit for ``plan``, with entry point ``name`` and a self-check main.

    ``name`` must be an identifier the file does not already use (else a TensorgameError).
    """
    text = _c_source(plan, names.PLACEHOLDER)
    names.check_c(name, text)
    return text.replace(names.PLACEHOLDER, name)


def _c_source(plan: Plan, name: str) -> str:
    gf2 = plan.gf2
    parts = [f"/* {name}: C = A B by block recursion, generated by tensorgame.\n"
             f" * Schedule (outermost level first): {plan.description}.\n"
             + "".join(f" * <{','.join(map(str, p.shape))}> rank {p.rank}: {p.additions} block "
                       f"additions ({p.additions_before} before common-subexpression "
                       f"elimination).\n" for p in {p.label: p for p in plan.levels}.values())
             + " * Build: cc -O2 -std=c99 FILE.c -lm  (add -DTG_REAL=float for single precision,"
             " -DTG_NO_MAIN to link into a program;\n * -DTG_BLAS -lopenblas for BLAS leaves, or"
             " the flags of tensorgame.export.blas.c_flags()\n * for NumPy's own OpenBLAS). "
             "Run: ./kernel [N M P [TIMED_RUNS]]. */\n",
             _HEADER.format(real="typedef unsigned char tg_real; /* GF(2): 0/1 with XOR/AND */"
                            if gf2 else _REAL, blas="" if gf2 else _BLAS,
                            blas_leaf="" if gf2 else _BLAS_LEAF,
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
        float_print="" if gf2 else _FLOAT_PRINT, timing="" if gf2 else _TIMING.format(name=name),
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


def _kernel(program: Program, function: str) -> str:
    """One level over the lean schedule of ``tensorgame.export.lean``: products written straight
    into their blocks of C where possible, one fused loop per combination (in place where the
    schedule says so), one workspace allocation per call."""
    n, m, p = program.shape
    gf2 = program.gf2
    plan = lean.schedule(program)
    counts = {shape: plan.buffers[shape] for shape in lean.SHAPES}
    dims = {"A": ("bn", "bm"), "B": ("bm", "bp"), "C": ("bn", "bp")}
    lines = [f"/* One level of <{n},{m},{p}> rank {program.rank}: A is {n}x{m} blocks of bn x bm, "
             f"B is {m}x{p} blocks of bm x bp;",
             f"   workspace {counts['A']} + {counts['B']} + {counts['C']} blocks. */",
             f"static void {function}(int next, long bn, long bm, long bp, const tg_real *A, "
             "long lda,",
             "                        const tg_real *B, long ldb, tg_real *C, long ldc)", "{",
             "    long i, j;"]
    for i in range(n):
        for j in range(m):
            lines.append(f"    const tg_real *a{i}_{j} = A + {i} * bn * lda + {j} * bm;")
    for j in range(m):
        for k in range(p):
            lines.append(f"    const tg_real *b{j}_{k} = B + {j} * bm * ldb + {k} * bp;")
    for k in range(p):
        for i in range(n):
            lines.append(f"    tg_real *c{k * n + i} = C + {i} * bn * ldc + {k} * bp;"
                         f" /* block ({i}, {k}) */")
    sizes = " + ".join(f"{counts[shape]} * {dims[shape][0]} * {dims[shape][1]}"
                       for shape in lean.SHAPES if counts[shape])
    if sizes:
        lines.append(f"    tg_real *work = tg_alloc(1, {sizes});")
    offset = []
    for shape in lean.SHAPES:
        for index in range(counts[shape]):
            start = " + ".join(offset) if offset else "0"
            lines.append(f"    tg_real *w{shape.lower()}{index} = work + {start};")
            offset.append(f"{dims[shape][0]} * {dims[shape][1]}")
    stride = {"A": "bm", "B": "bp", "C": "bp"}

    def var(name: str) -> _Var:
        where = plan.storage.get(name)
        if where is None:  # an input block
            return _Var(name, "lda" if name.startswith("a") else "ldb")
        kind, index = where
        return _Var(f"c{index}", "ldc") if kind == "out" else _Var(f"w{kind.lower()}{index}",
                                                                    stride[kind])

    shape_of = {}
    for ins in plan.instructions:
        if isinstance(ins, lean.Mul):
            left, right, target = var(ins.left), var(ins.right), var(ins.dst)
            lines.append(f"    tg_multiply(next, bn, bm, bp, {left.name}, {left.stride}, "
                         f"{right.name}, {right.stride}, {target.name}, {target.stride});"
                         f" /* {ins.dst} = {ins.left} {ins.right} */")
            shape_of[ins.dst] = "C"
            continue
        shape = _shape_of(ins, plan, shape_of)
        shape_of[ins.dst] = shape
        target = var(ins.dst)
        terms = [(c, var(src)) for c, src in ins.terms]
        if (len(terms) == 1 and terms[0][0] == 1 and terms[0][1].name == target.name
                and ins.denominator == 1):
            continue  # already in place
        lines.append(_loop(target, terms, dims[shape], gf2, ins.denominator, ins.dst))
    if sizes:
        lines.append("    free(work);")
    lines.append("}")
    return "\n".join(lines)


def _shape_of(ins, plan, shape_of) -> str:
    """The block class of a combination: that of its terms (inputs: a -> A, b -> B)."""
    for _, src in ins.terms:
        if src in shape_of:
            return shape_of[src]
        if plan.storage.get(src) is None:
            return "A" if src.startswith("a") else "B"
    return "C"


class _Var:
    """A block: its pointer expression and row stride."""

    def __init__(self, name: str, stride: str):
        self.name, self.stride = name, stride

    def at(self) -> str:
        return f"{self.name}[i * {self.stride} + j]"


def _loop(target: _Var, terms, dims, gf2, denominator: int = 1, label: str = "") -> str:
    if gf2:
        expression = " ^ ".join(var.at() for _, var in terms)
    else:
        expression = ""
        for coefficient, var in sorted(terms, key=lambda term: term[0] < 0):
            term = var.at()
            if abs(coefficient) != 1:
                term = f"(tg_real){abs(coefficient)} * {term}"
            if not expression:
                expression = term if coefficient > 0 else f"-{term}"
            else:
                expression += f" + {term}" if coefficient > 0 else f" - {term}"
        if denominator > 1:
            expression = f"({expression}) / (tg_real){denominator}"
    comment = f" /* {label} */" if label else ""
    return (f"    for (i = 0; i < {dims[0]}; i++){comment}\n"
            f"        for (j = 0; j < {dims[1]}; j++)\n"
            f"            {target.at()} = {expression};")
