"""Per-model benchmarks: the fixture networks (tests/data/models) end to end.

    pip install ".[test]" && pytest bench/ -p no:cacheprovider --benchmark-max-time=0.2

Variants, all on the same input:
  pyshrink           `model(x)` of `ps.load_tflite(path)` (fused): input copied in, every
                     step in one C call (ps_run_steps), output copied out
  pyshrink-unfused   the same with fuse=False
  pyshrink-kernels   the fused model's steps alone, in one C call on buffers built beforehand
                     (the difference to `pyshrink` is the per-call Python cost of `model(x)`)
  numpy              every step through pyshrink.reference
  litert-ref/-opt/-xnnpack  `set_tensor`, `invoke`, `get_tensor` with BUILTIN_REF,
                     BUILTIN_WITHOUT_DEFAULT_DELEGATES and AUTO (XNNPACK), num_threads=1
Before timing, pyshrink's output is checked to equal LiteRT's reference interpreter's.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

import pyshrink as ps
from harness import Chain, interpreter, reference_run

MODELS = Path(__file__).resolve().parent.parent / "tests" / "data" / "models"
NAMES = ("article_conv_pool", "mobilenet_slice_96", "ds_cnn_kws", "ds_cnn_kws_softmax", "per_tensor",
         "pool_variety", "relu_n1_to_1", "conv_pool_shared")
VARIANTS = ("pyshrink", "pyshrink-unfused", "pyshrink-kernels", "numpy", "litert-ref", "litert-opt",
            "litert-xnnpack")


@cache
def fixture(name: str) -> tuple[bytes, np.ndarray, tuple[np.ndarray, ...]]:
    """(model bytes, input, LiteRT reference outputs in the model's output order)."""
    data = (MODELS / f"{name}.tflite").read_bytes()
    it = interpreter(data, "litert-ref")
    inp = it.get_input_details()[0]
    x = np.random.default_rng(2).integers(-128, 128, inp["shape"], dtype=np.int8)
    it.set_tensor(inp["index"], x)
    it.invoke()
    by_index = {d["index"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
    order = ps.load_tflite(data).graph.outputs
    return data, x, tuple(by_index[i] for i in order)


def _outputs(y) -> tuple[np.ndarray, ...]:
    return y if isinstance(y, tuple) else (y,)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", NAMES)
def test_model(benchmark, record, name: str, variant: str) -> None:
    data, x, expected = fixture(name)
    benchmark.group = f"model {name}"
    if variant.startswith("litert"):
        it = interpreter(data, variant)
        i = it.get_input_details()[0]["index"]
        outs = [d["index"] for d in it.get_output_details()]

        def run():
            it.set_tensor(i, x)
            it.invoke()
            return [it.get_tensor(o) for o in outs]

        benchmark(run)
    elif variant == "numpy":
        model = ps.load_tflite(data)
        ref = reference_run(model)
        got = ref(x)
        for o, want in zip(model.graph.outputs, expected):
            np.testing.assert_array_equal(got[o], want)
        benchmark(ref, x)
    elif variant == "pyshrink-kernels":
        model = ps.load_tflite(data)
        if len(model.outputs) > 1:
            pytest.skip("several outputs: the C chain keeps only the last step's")
        chain = Chain(model, x)
        np.testing.assert_array_equal(chain.output().reshape(expected[0].shape), expected[0])
        benchmark(chain.run)
    else:
        model = ps.load_tflite(data, fuse=variant == "pyshrink")
        for got, want in zip(_outputs(model(x)), expected):
            np.testing.assert_array_equal(got, want)
        benchmark(model, x)
    record("model", name, variant, benchmark)
