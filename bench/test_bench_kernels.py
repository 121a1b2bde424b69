"""Per-kernel benchmarks: each benchmark layer (bench/layers.py) in every implementation.

    pip install ".[test]" && pytest bench/ -p no:cacheprovider --benchmark-max-time=0.2

(not part of the test command; the ratio tables are printed at the end of the run.)

Variants of one layer, all on the same input and the same model bytes:
  pyshrink            the C kernel on the fastest kernel path (fused conv+pool where the
                      layer has a pool), one C call (ps_run_steps) with arguments built beforehand
  pyshrink-unfused    the conv and the pool as two steps of one C call, as a model runs them
                      (layers with a pool)
  pyshrink[<path>]    the same C call forced onto one kernel path (ref = the plain C loops)
  numpy               pyshrink.reference
  litert-ref/-opt/-xnnpack  LiteRT's `invoke()` with BUILTIN_REF, BUILTIN_WITHOUT_DEFAULT_DELEGATES
                      and AUTO (XNNPACK) op resolvers, num_threads=1
Before timing, every pyshrink variant's output is checked to equal LiteRT's reference
interpreter's, byte for byte.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

import pyshrink as ps
from harness import PATHS, Chain, interpreter
from layers import KERNELS, Spec, build
from pyshrink import _ops

SPECS = {s.name: s for s in KERNELS}
VARIANTS = ("pyshrink", "pyshrink-unfused", *(f"pyshrink[{p}]" for p in PATHS), "numpy",
            "litert-ref", "litert-opt", "litert-xnnpack")


@cache
def layer(name: str) -> tuple[bytes, np.ndarray, np.ndarray]:
    """(model bytes, input, LiteRT reference output) of a benchmark layer."""
    data = build(SPECS[name])
    x = np.random.default_rng(1).integers(-128, 128, SPECS[name].x_shape, dtype=np.int8)
    it = interpreter(data, "litert-ref")
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return data, x, it.get_tensor(it.get_output_details()[0]["index"])


def macs(spec: Spec, model: ps.Model) -> int:
    step = model.layers[0]
    if step.op in ("avg_pool2d", "max_pool2d"):
        return 0
    kind = step.op.removesuffix("_avgpool")
    geometry = {k: step.params[k] for k in ("stride", "padding", "dilation", "depth_multiplier") if k in step.params}
    return ps.costs.macs(kind, step.input_shape, step.weights.shape, **geometry)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", list(SPECS))
def test_kernel(benchmark, record, name: str, variant: str) -> None:
    spec = SPECS[name]
    data, x, expected = layer(name)
    benchmark.group = name
    if variant.startswith("litert"):
        it = interpreter(data, variant)
        it.set_tensor(it.get_input_details()[0]["index"], x)
        benchmark(it.invoke)
        record("kernel", name, variant, benchmark)
        return
    model = ps.load_tflite(data, fuse=variant != "pyshrink-unfused")
    ps_macs = macs(spec, model)
    from conftest import META
    META[name]["macs"] = ps_macs
    if variant == "pyshrink-unfused" and not spec.pool:
        pytest.skip("no pool: nothing to fuse")
    if variant == "numpy":
        step = model.layers[0]
        fn = getattr(ps.reference, step.op)
        xs = x.reshape(step.input_shape)
        run = (lambda: fn(xs, **step.params)) if step.weights is None else \
              (lambda: fn(xs, step.weights, step.bias, **step.params))
        np.testing.assert_array_equal(run().reshape(expected.shape), expected)
        benchmark(run)
        record("kernel", name, variant, benchmark)
        return
    path = variant[len("pyshrink["):-1] if "[" in variant else "auto"
    if not _ops.path_supported(path):
        pytest.skip(f"kernel path {path} is not available on this machine")
    chain = Chain(model, x, path)
    np.testing.assert_array_equal(chain.output().reshape(expected.shape), expected)
    benchmark(chain.run)
    record("kernel", name, variant, benchmark)
