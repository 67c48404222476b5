"""JAX kernels: jit, gradients, batching and agreement with A @ B on a representative subset.

The NumPy tests cover every library entry; the JAX source is the same generator with jnp
primitives, so here we take one algorithm per kind (square/rectangular, ranks 7 to 93, Z and
Z2, mixed schedules) rather than all 70: XLA's CPU compiler needs minutes for one jitted kernel
with thousands of block products (two levels of <4,4,4> rank 47 took 7 minutes on this shared
machine), so two-level kernels of the large formats run eagerly (op by op) instead of jitted.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tensorgame import export, library

CASES = [  # (algorithm, levels, jit)
    ("strassen", 2, True),
    ((2, 3, 4), 1, True),
    ((3, 3, 3), 1, False),
    ((4, 4, 4), 1, False),
    ((5, 5, 5), 1, False),
    ((3, 3, 3), 2, False),
    ([(4, 4, 4), (2, 2, 2)], None, False),
]


@pytest.mark.parametrize("algorithm,levels,jit", CASES, ids=str)
def test_jax_kernel_matches_matmul(algorithm, levels, jit):
    plan = export.plan(algorithm, levels)
    matmul = export.load_python(export.python_source(plan, "jax"))
    if jit:
        matmul = jax.jit(matmul)
    rng = np.random.default_rng(0)
    for N, M, P in [(37, 29, 41)]:  # a remainder in every dimension, at every level
        a, b = rng.integers(-8, 9, (N, M)).astype(np.int32), rng.integers(-8, 9, (M, P))
        assert (np.asarray(matmul(a, b.astype(np.int32))) == a @ b).all()
        a, b = rng.uniform(-1, 1, (N, M)).astype(np.float32), rng.uniform(-1, 1, (M, P))
        b = b.astype(np.float32)
        product = np.asarray(matmul(a, b))
        assert product.dtype == np.float32
        error = np.abs(product - a.astype(np.float64) @ b).max() / (abs(a).max() * abs(b).max())
        assert error <= export.error_bound(plan, M, np.float32)


def test_jit_traces_once_and_batches_over_leading_dimensions():
    matmul = export.jax_function("strassen", 1)
    a = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, (4, 3, 21, 19)), jnp.float32)
    b = jnp.asarray(np.random.default_rng(2).uniform(-1, 1, (19, 23)), jnp.float32)
    traced = jax.jit(chex.assert_max_traces(matmul, n=1))
    first, second = traced(a, b), traced(a + 1, b)
    np.testing.assert_allclose(first, a @ b, atol=1e-5)
    np.testing.assert_allclose(second, (a + 1) @ b, atol=1e-4)
    batched = jax.vmap(matmul, in_axes=(0, None))(a, b)
    np.testing.assert_allclose(batched, first, atol=1e-6)


def test_gradients_match_those_of_matmul():
    matmul = export.jax_function((2, 3, 4), 1)
    rng = np.random.default_rng(3)
    a, b = (jnp.asarray(rng.uniform(-1, 1, s), jnp.float32) for s in ((10, 13), (13, 8)))

    def loss(fn):
        return lambda x, y: jnp.sum(jnp.sin(fn(x, y)))

    got = jax.grad(loss(matmul), argnums=(0, 1))(a, b)
    want = jax.grad(loss(lambda x, y: jnp.matmul(x, y, precision="highest")), argnums=(0, 1))(a, b)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-5)


def test_gf2_jax_kernel():
    f = library.get(4, 4, 4, field="Z2")
    matmul = export.jax_function(f, 1)
    rng = np.random.default_rng(4)
    a, b = rng.random((19, 17)) < 0.5, rng.random((17, 22)) < 0.5
    product = np.asarray(matmul(a, b))
    assert product.dtype == np.bool_
    assert (product == (a.astype(int) @ b.astype(int)) % 2).all()


def test_library_matmul_jax_backend():
    rng = np.random.default_rng(5)
    a, b = (rng.uniform(-1, 1, s).astype(np.float32) for s in ((30, 22), (22, 35)))
    np.testing.assert_allclose(library.matmul(a, b, "strassen", 1, backend="jax"),
                               a.astype(np.float64) @ b, atol=1e-5)


def test_benchmark_gpu_path_runs_on_the_cpu(tmp_path):
    """experiments/bench_kernels.py's GPU section, as a lent accelerator would run it, on the
    CPU: jitted kernels at precision HIGHEST and DEFAULT against jnp.matmul at the same one."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "experiments" / "bench_kernels.py"
    out = tmp_path / "run.json"
    done = subprocess.run([sys.executable, str(script), "--quick", "--only", "gpu",
                           "--jax-platform", "cpu", "--gpu-sizes", "64", "--max-levels", "2",
                           "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert {r["dtype"] for r in rows} == {"float32 HIGHEST", "float32 DEFAULT"}
    assert len(rows) == 4 and all(r["pairs"] >= 2 and r["speedup"] > 0 for r in rows)
    assert all(r["error"] < 1e-5 for r in rows)
