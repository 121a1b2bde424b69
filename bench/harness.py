"""What the benchmarks time: pyshrink kernels with prebuilt arguments, the NumPy reference,
LiteRT's three op resolvers. Shared by test_bench_kernels.py and test_bench_models.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import pyshrink as ps
from pyshrink.model import _kernel as _model_kernel
from pyshrink import _ops
from pyshrink._pyshrink import ffi, lib

RESOLVERS = {
    "litert-ref": OpResolverType.BUILTIN_REF,
    "litert-opt": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    "litert-xnnpack": OpResolverType.AUTO,  # the default: builtin kernels + the XNNPACK delegate
}
PATHS = ("ref", "portable", "avx2", "avx512", "dsp")
_run_steps = lib.ps_run_steps


def kernel_of(layer: ps.Layer) -> _ops.Kernel:
    """The marshalled C call of a model step, built exactly as the model runner builds it."""
    return _model_kernel(layer)


class Chain:
    """A model's steps (reshapes aside) on preallocated buffers: the kernels only, all of them
    in one C call (ps_run_steps, as `model(x)` makes it). `run()` is what is timed; `output()`
    the result."""

    def __init__(self, model: ps.Model, x: np.ndarray, path: str = "auto"):
        with _ops.kernel_path(path):
            kernels = [(layer, kernel_of(layer)) for layer in model.layers if layer.op != "reshape"]
        self._keep: list[Any] = [kernels]
        self.steps = ffi.new("ps_step[]", len(kernels))
        self.count = len(kernels)
        buf = np.ascontiguousarray(x)
        self._keep.append(buf)
        for i, (layer, k) in enumerate(kernels):
            y = np.zeros(k.out_shape, np.int8)
            scratch = np.zeros(max(1, (k.scratch_bytes + 3) // 4), np.int32)
            self._keep += [y, scratch]
            s = ffi.from_buffer("char[]", scratch) if k.scratch_bytes else ffi.NULL
            k.step(self.steps[i], ffi.from_buffer("int8_t[]", buf), ffi.from_buffer("int8_t[]", y), s)
            buf = y
        self.out = buf
        self.paths = {k.path for _, k in kernels}

    def run(self) -> None:
        _run_steps(self.steps, self.count, ffi.NULL)

    def output(self) -> np.ndarray:
        assert _run_steps(self.steps, self.count, ffi.NULL) == 0, "a C kernel returned an error status"
        return self.out.copy()


def reference_run(model: ps.Model) -> Callable[[np.ndarray], dict[int, np.ndarray]]:
    """The model run through pyshrink.reference (NumPy), step by step."""

    def run(x: np.ndarray) -> dict[int, np.ndarray]:
        tensors = {model.input.index: x}
        for layer in model.layers:
            a = tensors[layer.input]
            if layer.op == "reshape":
                tensors[layer.output] = a.reshape(model.graph.tensors[layer.output].shape)
                continue
            a = a.reshape(layer.input_shape)
            fn = getattr(ps.reference, layer.op)
            if layer.weights is None:
                y = fn(a, **layer.params)
            else:
                y = fn(a, layer.weights, layer.bias, **layer.params)
            tensors[layer.output] = y.reshape(model.graph.tensors[layer.output].shape)
        return tensors

    return run


def interpreter(model: bytes, resolver: str) -> Interpreter:
    it = Interpreter(model_content=model, num_threads=1, experimental_op_resolver_type=RESOLVERS[resolver])
    it.allocate_tensors()
    return it
