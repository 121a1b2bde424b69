"""Run converted int8 TFLite models: import, fuse conv + average pool, plan one arena.

    model = ps.load_tflite("kws.tflite")      # fuse=True by default
    y = model(x)                             # int8 NHWC in, int8 out: LiteRT's bytes
    model.layers                             # the executed steps, fused ones shown as such
    model.plan.peak_bytes                    # the one arena every run uses

Each TFLite operator becomes one pyshrink op with the parameters LiteRT derives
(multipliers from the float32 scales in double precision, fused-activation ranges
from the output scale in float32, rounding half away from zero), and the
requantization rounding LiteRT's reference kernel uses: double for CONV_2D and
DEPTHWISE_CONV_2D, single for FULLY_CONNECTED. With `fuse=True`, a CONV_2D or
DEPTHWISE_CONV_2D (a 1x1, stride-1 CONV_2D runs as pointwise) whose only consumer
is an AVERAGE_POOL_2D runs as the fused kernel, so its output is never stored.

All activations and scratch live in one arena, allocated once when the model is
loaded, at offsets planned ahead (pyshrink.planner). Each step is one C call
whose every argument, arena pointers included, was marshalled at load time.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from . import _args, _ops, planner
from ._errors import DTypeError, PyshrinkError, ShapeError
from ._pyshrink import ffi, lib
from ._tflite import Graph, ModelError, Operator, Tensor, parse

_INT8 = np.dtype(np.int8)
_run_steps = lib.ps_run_steps

#: LiteRT's reference kernels (BUILTIN_REF), measured: see SPEC.md.
REQUANT = {"CONV_2D": "double", "DEPTHWISE_CONV_2D": "double", "FULLY_CONNECTED": "single"}
SUPPORTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "RESHAPE",
                 "SOFTMAX")
_CONV_OPS = ("conv2d", "depthwise_conv2d", "pointwise_conv2d")
_POOL_RENAME = {"pool": "pool", "stride": "pool_stride", "padding": "pool_padding", "rounding": "rounding",
                "act_min": "pool_act_min", "act_max": "pool_act_max"}


@dataclass(frozen=True)
class Layer:
    """One executed step: a pyshrink op, the TFLite operators it runs, and its parameters.

    `params` are the keyword arguments of `pyshrink.<op>` (so `getattr(ps, op)(x, weights,
    bias, **params)` reproduces the step); a fused step lists both TFLite operators.
    """

    index: int
    op: str
    tflite_ops: tuple[str, ...]
    tflite_indices: tuple[int, ...]
    input: int
    output: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    weights: np.ndarray | None = field(default=None, repr=False)
    bias: np.ndarray | None = field(default=None, repr=False)
    params: dict[str, Any] = field(default_factory=dict, repr=False)
    scratch_bytes: int = 0
    #: the conv output a fused step never stores: (tensor index, shape)
    hidden: tuple[int, tuple[int, ...]] | None = None

    @property
    def fused(self) -> bool:
        return len(self.tflite_ops) > 1

    def __str__(self) -> str:
        source = " + ".join(f"{c}#{i}" for c, i in zip(self.tflite_ops, self.tflite_indices))
        return f"{self.index:3d} {self.op:<26} {str(self.input_shape):<18} -> {str(self.output_shape):<18} [{source}]"


# ---- quantization as LiteRT derives it ----------------------------------------------------


def _round_half_away(v: float) -> int:
    """TfLiteRound / C's round(): halves go away from zero (Python's round() does not)."""
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def activation_range(activation: str, scale: np.float32, zero_point: int) -> tuple[int, int]:
    """int8 clamp of a fused activation: zero_point + round(f / scale), the division in float32."""

    def q(f: float) -> int:
        return zero_point + _round_half_away(float(np.float32(f) / np.float32(scale)))

    if activation == "NONE":
        return -128, 127
    if activation == "RELU":
        return max(-128, q(0.0)), 127
    if activation == "RELU6":
        return max(-128, q(0.0)), min(127, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(-128, q(-1.0)), min(127, q(1.0))
    raise ModelError(f"unsupported fused activation {activation}")


def effective_scales(code: str, in_scale: np.float32, w_scales: np.ndarray, out_scale: np.float32) -> np.ndarray:
    """in_scale * w_scale / out_scale with LiteRT's precision.

    Conv, depthwise and per-channel FC widen each float32 scale to double first
    (kernel_util.cc PopulateConvolutionQuantizationParams); per-tensor FC multiplies
    the two float32 scales in float32 (GetQuantizedConvolutionMultipler).
    """
    w = np.asarray(w_scales, dtype=np.float32)
    if code == "FULLY_CONNECTED" and w.size == 1:
        product = (np.float32(in_scale) * w).astype(np.float64)
    else:
        product = np.float64(in_scale) * w.astype(np.float64)
    return product / np.float64(out_scale)


# ---- graph -> layers ------------------------------------------------------------------------


class _Builder:
    """Turns the operators of a parsed graph into validated layers."""

    def __init__(self, graph: Graph):
        self.g = graph
        self.layers: list[Layer] = []

    def fail(self, op: Operator, message: str) -> ModelError:
        return ModelError(f"operator {op.index} ({op.code}): {message}")

    def tensor(self, op: Operator, position: int, what: str, *, const: bool | None = None,
               dtype: str | None = "int8") -> Tensor:
        ids = op.inputs if what != "output" else op.outputs
        if position >= len(ids) or ids[position] < 0:
            raise self.fail(op, f"missing {what}")
        t = self.g.tensors[ids[position]]
        if not t.shape or min(t.shape) < 1:
            raise self.fail(op, f"{what} tensor {t.index} has an empty or scalar shape {t.shape}")
        if dtype is not None and t.dtype != dtype:
            raise self.fail(op, f"{what} tensor {t.index} is {t.dtype}, expected {dtype}")
        if const is True and t.data is None:
            raise self.fail(op, f"{what} tensor {t.index} must be a constant")
        if const is False and t.data is not None:
            raise self.fail(op, f"{what} tensor {t.index} must be an activation, not a constant")
        return t

    def per_tensor(self, op: Operator, t: Tensor, what: str) -> tuple[np.float32, int]:
        if t.scale.size != 1 or t.zero_point.size != 1:
            raise self.fail(op, f"{what} tensor {t.index} must have one scale and zero point "
                                f"(got {t.scale.size} scales)")
        scale = np.float32(t.scale[0])
        if not (np.isfinite(scale) and scale > 0):
            raise self.fail(op, f"{what} tensor {t.index} has scale {scale}")
        zp = int(t.zero_point[0])
        if not -128 <= zp <= 127:
            raise self.fail(op, f"{what} tensor {t.index} zero point {zp} is outside int8")
        return scale, zp

    def add(self, op: Operator, name: str, x: Tensor, y: Tensor, x_shape: tuple[int, ...], **rest: Any) -> None:
        self.layers.append(Layer(len(self.layers), name, (op.code,), (op.index,), x.index, y.index, x_shape,
                                 y.shape, **rest))

    # -- ops --

    def conv(self, op: Operator) -> None:
        x = self.tensor(op, 0, "input", const=False)
        w = self.tensor(op, 1, "weights", const=True)
        y = self.tensor(op, 0, "output", const=False)
        o = op.options
        if len(x.shape) != 4:
            raise self.fail(op, f"input must be 4-D NHWC, got shape {x.shape}")
        if op.code == "CONV_2D":
            if len(w.shape) != 4:
                raise self.fail(op, f"weights must be (C_out, KH, KW, C_in), got shape {w.shape}")
            weights, channels = w.data, w.shape[0]
        else:
            if len(w.shape) != 4 or w.shape[0] != 1:
                raise self.fail(op, f"depthwise weights must be (1, KH, KW, C_in*M), got shape {w.shape}")
            weights, channels = w.data.reshape(w.shape[1:]), w.shape[3]
        bias = self.bias(op, channels, f"{channels} output channels")
        if o.get("padding") not in ("same", "valid"):
            raise self.fail(op, f"unsupported padding {o.get('padding')}")
        params = self.quant_params(op, x, w, y, channels)
        geometry: dict[str, Any] = dict(stride=o["stride"], padding=o["padding"], dilation=o["dilation"])
        name = "conv2d"
        if op.code == "DEPTHWISE_CONV_2D":
            name = "depthwise_conv2d"
            if channels % x.shape[3]:
                raise self.fail(op, f"{channels} output channels is not a multiple of {x.shape[3]} input channels")
            mult = channels // x.shape[3]
            if o.get("depth_multiplier", 0) not in (0, mult):
                raise self.fail(op, f"depth_multiplier option {o['depth_multiplier']} does not match the weights "
                                    f"({channels} channels / {x.shape[3]} = {mult})")
            geometry["depth_multiplier"] = mult
        elif w.shape[1:3] == (1, 1) and tuple(o["stride"]) == (1, 1):
            name, geometry = "pointwise_conv2d", {}
            weights = weights.reshape(channels, -1)
        params.update(geometry)
        self.check_output(op, name, x.shape, weights, bias, params, y)
        self.add(op, name, x, y, x.shape, weights=np.ascontiguousarray(weights), bias=bias, params=params)

    def fully_connected(self, op: Operator) -> None:
        x = self.tensor(op, 0, "input", const=False)
        w = self.tensor(op, 1, "weights", const=True)
        y = self.tensor(op, 0, "output", const=False)
        o = op.options
        if len(w.shape) != 2:
            raise self.fail(op, f"weights must be (units, features), got shape {w.shape}")
        if o.get("weights_format", 0) != 0:
            raise self.fail(op, "only the default weights format is supported (not shuffled weights)")
        units, features = w.shape
        size = int(np.prod(x.shape, dtype=np.int64))
        if features < 1 or size % features:
            raise self.fail(op, f"input of {size} values is not a whole number of rows of {features} features")
        x_shape = (size // features, features)
        if int(np.prod(y.shape, dtype=np.int64)) != x_shape[0] * units or (y.shape and y.shape[-1] != units):
            raise self.fail(op, f"output tensor shape {y.shape} does not match {x_shape[0]} rows x {units} units")
        bias = self.bias(op, units, f"{units} units")
        params = self.quant_params(op, x, w, y, units)
        self.check_output(op, "fully_connected", x_shape, w.data, bias, params, None)
        self.layers.append(Layer(len(self.layers), "fully_connected", (op.code,), (op.index,), x.index, y.index,
                                 x_shape, (x_shape[0], units), weights=np.ascontiguousarray(w.data), bias=bias,
                                 params=params))

    def pool(self, op: Operator) -> None:
        x = self.tensor(op, 0, "input", const=False)
        y = self.tensor(op, 0, "output", const=False)
        if len(x.shape) != 4:
            raise self.fail(op, f"input must be 4-D NHWC, got shape {x.shape}")
        in_q = self.per_tensor(op, x, "input")
        out_scale, out_zp = self.per_tensor(op, y, "output")
        if in_q != (out_scale, out_zp):
            raise self.fail(op, f"the pool changes quantization (input scale {in_q[0]}, zero point {in_q[1]}; "
                                f"output scale {out_scale}, zero point {out_zp}); pyshrink, like TFLite Micro, "
                                "needs them equal")
        o = op.options
        if o.get("padding") not in ("same", "valid"):
            raise self.fail(op, f"unsupported padding {o.get('padding')}")
        act_min, act_max = self.act(op, o.get("activation", "NONE"), out_scale, out_zp)
        params: dict[str, Any] = dict(pool=o["pool"], stride=o["stride"], padding=o["padding"], act_min=act_min,
                                      act_max=act_max)
        name = "avg_pool2d" if op.code == "AVERAGE_POOL_2D" else "max_pool2d"
        if name == "avg_pool2d":
            params["rounding"] = "tflite"
        try:
            geo = _args.pool_geometry(x.shape, **params)
        except PyshrinkError as exc:
            raise self.fail(op, str(exc)) from None
        if geo.out_shape != y.shape:
            raise self.fail(op, f"output tensor shape {y.shape} does not match the pool's {geo.out_shape}")
        self.add(op, name, x, y, x.shape, params=params)

    def reshape(self, op: Operator) -> None:
        x = self.tensor(op, 0, "input", const=False)
        y = self.tensor(op, 0, "output", const=False)
        if x.nbytes != y.nbytes:
            raise self.fail(op, f"reshape from {x.shape} to {y.shape} changes the number of values")
        if (x.scale.tolist(), x.zero_point.tolist()) != (y.scale.tolist(), y.zero_point.tolist()):
            raise self.fail(op, "reshape changes quantization")
        self.add(op, "reshape", x, y, x.shape)

    def softmax(self, op: Operator) -> None:
        x = self.tensor(op, 0, "input", const=False)
        y = self.tensor(op, 0, "output", const=False)
        if x.shape != y.shape or not x.shape:
            raise self.fail(op, f"output tensor shape {y.shape} does not match the input's {x.shape}")
        in_scale, _ = self.per_tensor(op, x, "input")
        out_scale, out_zp = self.per_tensor(op, y, "output")
        if (out_scale, out_zp) != (np.float32(1 / 256), -128):
            raise self.fail(op, f"int8 softmax output must have scale 1/256 and zero point -128 (as the converter "
                                f"makes it), got scale {out_scale}, zero point {out_zp}")
        params = dict(input_scale=float(in_scale), beta=op.options.get("beta", 1.0))
        try:
            _args.softmax_call(np.zeros(x.shape, np.int8), **params)
        except PyshrinkError as exc:
            raise self.fail(op, str(exc)) from None
        self.add(op, "softmax", x, y, x.shape, params=params)

    # -- helpers --

    def bias(self, op: Operator, channels: int, what: str) -> np.ndarray | None:
        """The optional int32 bias (input 2) of a weighted op, one value per output channel."""
        if len(op.inputs) <= 2 or op.inputs[2] < 0:
            return None
        b = self.tensor(op, 2, "bias", const=True, dtype="int32")
        if b.shape != (channels,):
            raise self.fail(op, f"bias shape {b.shape} does not match {what}")
        return np.ascontiguousarray(b.data)

    def quant_params(self, op: Operator, x: Tensor, w: Tensor, y: Tensor, channels: int) -> dict[str, Any]:
        """Zero points, multipliers, shifts, rounding and activation clamp of a weighted op."""
        in_scale, in_zp = self.per_tensor(op, x, "input")
        out_scale, out_zp = self.per_tensor(op, y, "output")
        params: dict[str, Any] = dict(input_zp=in_zp, output_zp=out_zp)
        params.update(self.requant(op, in_scale, w, channels, out_scale))
        params["act_min"], params["act_max"] = self.act(op, op.options.get("activation", "NONE"), out_scale, out_zp)
        return params

    def requant(self, op: Operator, in_scale: np.float32, w: Tensor, channels: int,
                out_scale: np.float32) -> dict[str, Any]:
        if w.scale.size not in (1, channels):
            raise self.fail(op, f"weights have {w.scale.size} scales for {channels} output channels")
        channel_axis = 3 if op.code == "DEPTHWISE_CONV_2D" else 0
        if w.scale.size > 1 and w.quantized_dimension != channel_axis:
            raise self.fail(op, f"per-channel weights must be quantized along axis {channel_axis} (the output "
                                f"channels), got quantized_dimension {w.quantized_dimension}")
        if w.zero_point.size and np.any(w.zero_point != 0):
            raise self.fail(op, "weights must be symmetric (zero point 0)")
        if not np.all(np.isfinite(w.scale) & (w.scale > 0)):
            raise self.fail(op, "weight scales must be positive")
        real = effective_scales(op.code, in_scale, w.scale, out_scale)
        mult, shift = _ops.quantize_multiplier(np.broadcast_to(real, (channels,)).copy())
        return dict(multiplier=mult, shift=shift, requant=REQUANT[op.code])

    def act(self, op: Operator, activation: str, scale: np.float32, zp: int) -> tuple[int, int]:
        try:
            return activation_range(activation, scale, zp)
        except ModelError:
            raise self.fail(op, f"unsupported fused activation {activation}") from None

    def check_output(self, op: Operator, name: str, x_shape: tuple[int, ...], w: np.ndarray,
                     bias: np.ndarray | None, params: dict[str, Any], y: Tensor | None) -> None:
        """Validate the op as pyshrink would run it, and its output shape against the graph's."""
        try:
            call = _args.conv_call(name, np.zeros(x_shape, np.int8), w, bias, **params)
        except PyshrinkError as exc:
            raise self.fail(op, str(exc)) from None
        if y is not None and call.geometry.out_shape != y.shape:
            raise self.fail(op, f"output tensor shape {y.shape} does not match the op's {call.geometry.out_shape}")


def _build_layers(graph: Graph) -> list[Layer]:
    b = _Builder(graph)
    handlers: dict[str, Callable[[Operator], None]] = {
        "CONV_2D": b.conv, "DEPTHWISE_CONV_2D": b.conv, "AVERAGE_POOL_2D": b.pool, "MAX_POOL_2D": b.pool,
        "FULLY_CONNECTED": b.fully_connected, "RESHAPE": b.reshape, "SOFTMAX": b.softmax,
    }
    writer: dict[int, int] = {}
    for op in graph.operators:
        handler = handlers.get(op.code)
        if handler is None:
            raise ModelError(f"unsupported operator {op.code} at index {op.index}; pyshrink runs "
                             f"{', '.join(SUPPORTED_OPS)}")
        if len(op.outputs) != 1:
            raise b.fail(op, f"expected one output, got {len(op.outputs)}")
        out = op.outputs[0]
        if out in op.inputs:
            raise b.fail(op, f"tensor {out} is both an input and the output")
        if out in graph.inputs:
            raise b.fail(op, f"writes tensor {out}, the model's input")
        if out in writer:
            raise b.fail(op, f"writes tensor {out}, already written by operator {writer[out]}")
        writer[out] = op.index
        handler(op)
    return b.layers


def _fuse(layers: list[Layer], graph_outputs: tuple[int, ...]) -> list[Layer]:
    """Merge each conv-like layer whose only consumer is an avg_pool2d into the fused op."""
    readers: dict[int, list[Layer]] = {}
    for layer in layers:
        readers.setdefault(layer.input, []).append(layer)
    fused_pools: set[int] = set()
    result: list[Layer] = []
    for layer in layers:
        if layer.index in fused_pools:
            continue
        consumers = readers.get(layer.output, [])
        if (layer.op in _CONV_OPS and layer.output not in graph_outputs and len(consumers) == 1
                and consumers[0].op == "avg_pool2d"):
            pool = consumers[0]
            fused_pools.add(pool.index)
            params = dict(layer.params) | {_POOL_RENAME[k]: v for k, v in pool.params.items()}
            layer = Layer(0, f"{layer.op}_avgpool", layer.tflite_ops + pool.tflite_ops,
                          layer.tflite_indices + pool.tflite_indices, layer.input, pool.output, layer.input_shape,
                          pool.output_shape, layer.weights, layer.bias, params,
                          hidden=(layer.output, layer.output_shape))
        result.append(layer)
    return [replace(layer, index=i) for i, layer in enumerate(result)]


def _kernel(layer: Layer) -> _ops.Kernel:
    """The marshalled C call of a layer (validated again, exactly as the public op would)."""
    x = np.zeros(layer.input_shape, np.int8)
    if layer.op == "softmax":
        return _ops.Kernel("softmax", softmax=_args.softmax_call(x, **layer.params))
    if layer.op in ("avg_pool2d", "max_pool2d"):
        return _ops.Kernel(layer.op, pool=_args.pool_geometry(layer.input_shape, **layer.params),
                           x_shape=layer.input_shape)
    kind = layer.op.removesuffix("_avgpool")
    conv_kw = {k: v for k, v in layer.params.items() if k not in _args.POOL_KEYWORDS}
    call = _args.conv_call(kind, x, layer.weights, layer.bias, **conv_kw)
    if kind == layer.op:
        return _ops.Kernel(kind, call)
    pool_kw = {k: v for k, v in layer.params.items() if k in _args.POOL_KEYWORDS}
    return _ops.Kernel(layer.op, call, _args.fused_pool_geometry(call.geometry.out_shape, **pool_kw))


_GEOMETRY_KEYS = ("stride", "padding", "dilation", "depth_multiplier")


def inplace_offset(layer: Layer) -> int | None:
    """Bytes below its input at which a step's output may start, overwriting that input
    (ps_depthwise_conv2d_inplace_offset, rounded up to a multiple of the channel count
    that keeps the arena's alignment); None if the step cannot run in place."""
    if layer.op != "depthwise_conv2d" or layer.weights is None:
        return None
    geometry = {k: layer.params[k] for k in _GEOMETRY_KEYS if k in layer.params}
    d = _ops.depthwise_inplace_offset(layer.input_shape, layer.weights.shape, **geometry)
    if d is None:
        return None
    step = math.lcm(layer.input_shape[-1], planner.ALIGNMENT)  # still d + a multiple of C
    return -(-d // step) * step


def plan_layers(layers: Sequence[Layer], tensor_bytes: Mapping[int, int], input_tensor: int,
                output_tensors: Iterable[int], *, inplace: bool = True) -> planner.Plan:
    """The arena plan of executed steps: one buffer per activation tensor and per step's scratch.

    `tensor_bytes` maps each tensor index to its size; a reshape's output aliases its
    input. The input tensor is alive from the first step (written before it), each
    output tensor until the last step (read after it). With `inplace`, a depthwise step
    (depth multiplier 1) whose input is read by no later step and is no model output
    may write its output over that input, starting `inplace_offset` bytes below it (the
    model input too: the runner copies it into the arena, so the caller's array is never
    touched); it does where that makes the arena smaller (planner.plan_inplace). `Model`
    plans with this, and so do cost sketches (ps.sketch) and the report's what-if variants.
    """
    root: dict[int, int] = {}
    for layer in layers:
        if layer.op == "reshape":
            root[layer.output] = root.get(layer.input, layer.input)
    last_step = len(layers) - 1
    span: dict[int, list[int]] = {}

    def use(tensor: int, step: int) -> None:
        r = root.get(tensor, tensor)
        lo, hi = span.get(r, [step, step])
        span[r] = [min(lo, step), max(hi, step)]

    use(input_tensor, 0)  # written before the first step
    for layer in layers:
        use(layer.input, layer.index)
        use(layer.output, layer.index)
    outputs = {root.get(out, out) for out in output_tensors}
    for out in outputs:
        use(out, last_step)  # read after the last step
    buffers = [planner.Buffer(t, tensor_bytes[t], lo, hi) for t, (lo, hi) in span.items()]
    buffers += [planner.Buffer(("scratch", layer.index), layer.scratch_bytes, layer.index, layer.index)
                for layer in layers if layer.scratch_bytes]
    relations = []
    for layer in layers if inplace else ():
        source = root.get(layer.input, layer.input)
        if span[source][1] != layer.index or source in outputs:
            continue  # the input is read later: it must stay whole
        d = inplace_offset(layer)
        if d is not None and d < tensor_bytes[layer.output]:  # else no overlap, nothing saved
            relations.append(planner.InPlace(layer.output, source, d))
    return planner.plan_inplace(buffers, len(layers), aliases=root, candidates=relations)


# ---- the model -----------------------------------------------------------------------------


class Model:
    """A loaded int8 model: call it on int8 input to get LiteRT's output bytes."""

    def __init__(self, graph: Graph, *, fuse: bool = True, inplace: bool = True):
        if len(graph.inputs) != 1:
            raise ModelError(f"the model has {len(graph.inputs)} inputs; pyshrink runs models with one")
        if not graph.outputs:
            raise ModelError("the model has no outputs")
        self.graph = graph
        self.fused = fuse
        self.inplace = inplace
        self.input = graph.tensors[graph.inputs[0]]
        self.outputs = tuple(graph.tensors[i] for i in graph.outputs)
        for t, what in [(self.input, "input"), *[(o, "output") for o in self.outputs]]:
            if t.dtype != "int8":
                raise ModelError(f"model {what} tensor {t.index} is {t.dtype}: pyshrink runs int8 models "
                                 "(convert with full-integer quantization and int8 input/output)")
        layers = _build_layers(graph)
        layers = _fuse(layers, graph.outputs) if fuse else layers
        kernels = [None if layer.op == "reshape" else _kernel(layer) for layer in layers]
        self.layers: tuple[Layer, ...] = tuple(
            replace(layer, scratch_bytes=0 if k is None else k.scratch_bytes) for layer, k in zip(layers, kernels))
        self._check_dataflow()
        self.plan = self._plan()
        # The one arena, allocated once, exactly the planned size. Offsets are multiples of
        # planner.ALIGNMENT; NumPy's allocator aligns the base further (checked, not assumed).
        self._arena = np.zeros(self.plan.peak_bytes, dtype=np.uint8)
        if self._arena.ctypes.data % planner.ALIGNMENT:
            raise RuntimeError("the arena's base address is not aligned for the fused kernels' int32 scratch")
        base = ffi.from_buffer("int8_t[]", self._arena)
        # One ps_step per step: model(x) runs them all in one C call, run() one at a time
        # (watching the arena around each).
        running = [(layer, k) for layer, k in zip(self.layers, kernels) if k is not None]  # reshapes alias
        self._steps = ffi.new("ps_step[]", max(len(running), 1))
        self._step_count = len(running)
        self._failed_step = ffi.new("int32_t *")
        self._step_layers = tuple(layer for layer, _ in running)
        for i, (layer, k) in enumerate(running):
            scratch = base + self.plan.offset(("scratch", layer.index)) if k.scratch_bytes else ffi.NULL
            x, y = base + self.plan.offset(layer.input), base + self.plan.offset(layer.output)
            k.step(self._steps[i], x, y, scratch)
        self._kernels = kernels  # keep weights and params alive for the C pointers
        # The arena views every call uses, made once: model(x) is then one copy in, the
        # prebuilt C calls and one copy out (a view costs ~2 us of Python per tensor).
        self._input_view = self._view(self.input.index)
        self._output_views = tuple(self._view(o.index) for o in self.outputs)

    # -- planning --

    def _check_dataflow(self) -> None:
        produced = {self.input.index}
        for layer in self.layers:
            if layer.input not in produced:
                raise ModelError(f"layer {layer.index} ({layer.op}) reads tensor {layer.input} before any "
                                 "operator writes it (operators must be in execution order)")
            produced.add(layer.output)
        missing = [o.index for o in self.outputs if o.index not in produced]
        if missing:
            raise ModelError(f"model output tensor {missing[0]} is never written")

    def _plan(self) -> planner.Plan:
        """One buffer per activation tensor (reshapes alias their input) and per step's scratch."""
        return plan_layers(self.layers, {t.index: t.nbytes for t in self.graph.tensors}, self.input.index,
                           [o.index for o in self.outputs], inplace=self.inplace)

    # -- running --

    def _view(self, tensor: int) -> np.ndarray:
        t = self.graph.tensors[tensor]
        offset = self.plan.offset(tensor)
        return self._arena[offset:offset + t.nbytes].view(np.int8).reshape(t.shape)

    def _set_input(self, x: Any) -> None:
        if type(x) is not np.ndarray or x.dtype is not _INT8 or x.shape != self._input_view.shape:
            self._check_input(x)  # raises, unless x is a subclass or has an equal, non-identical dtype
        self._input_view[...] = x  # dtype and shape are exact: a plain copy (faster than np.copyto)

    def _check_input(self, x: Any) -> None:
        if not isinstance(x, np.ndarray):
            raise DTypeError(f"x must be a numpy.ndarray of int8, got {type(x).__name__}")
        if x.dtype != _INT8:
            raise DTypeError(f"x must have dtype int8 (the model's input is int8, scale {self.input.scale[0]}, "
                             f"zero point {self.input.zero_point[0]}), got {x.dtype}")
        if x.shape != self.input.shape:
            raise ShapeError(f"x must have the model's input shape {self.input.shape}, got {x.shape}")

    def __call__(self, x: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
        """Run the model on int8 input of the model's input shape; one array per model output."""
        # Written for the per-call cost: a tiny model runs in ~1 us of C, so each attribute
        # lookup, generator or method call here is visible in its time.
        view = self._input_view
        if type(x) is not np.ndarray or x.dtype is not _INT8 or x.shape != view.shape:
            self._check_input(x)  # raises, unless x is a subclass or has an equal, non-identical dtype
        view[...] = x
        status = _run_steps(self._steps, self._step_count, self._failed_step)
        if status:
            self._step_failed(status, self._failed_step[0])
        views = self._output_views
        if len(views) == 1:
            return views[0].copy()
        return tuple(map(np.ndarray.copy, views))

    def _step_failed(self, status: int, step: int) -> None:
        """Raise the status step `step` (an index into the ps_step array) returned, naming its layer."""
        layer = self._step_layers[step]
        try:
            _ops._check(status)
        except PyshrinkError as exc:
            raise type(exc)(f"{exc}, in layer {layer.index} ({layer.op})") from None

    def run(self, x: np.ndarray, *, check: bool = False) -> dict[int, np.ndarray]:
        """Run and return every activation tensor the run produced, by TFLite tensor index.

        With check=True each step runs under watch: the arena bytes that are not alive at
        that step are filled with random values first (so a read outside the plan gives a
        wrong answer), and afterwards every byte outside the step's output and scratch
        regions must be unchanged (a write outside the plan raises AssertionError). An
        in-place step's output overlaps its dying input: those bytes hold the input.
        """
        self._set_input(x)
        tensors = {self.input.index: self._view(self.input.index).copy()}
        rng = np.random.default_rng(0)
        step = 0
        for layer in self.layers:
            if layer.op != "reshape":
                if check:
                    allowed = self._poison_dead_bytes(layer, rng)
                    before = self._arena.copy()
                status = _run_steps(self._steps + step, 1, ffi.NULL)
                if status:
                    self._step_failed(status, step)
                step += 1
                if check:
                    changed = np.flatnonzero((self._arena != before) & ~allowed)
                    if changed.size:
                        raise AssertionError(f"layer {layer.index} ({layer.op}) wrote arena byte {changed[0]} "
                                             "outside its planned output and scratch")
            tensors[layer.output] = self._view(layer.output).copy()
        return tensors

    def _poison_dead_bytes(self, layer: Layer, rng: np.random.Generator) -> np.ndarray:
        """Randomise the bytes this step must not read; return the mask it may write.

        Not read: every buffer not alive at this step, and the step's own output and
        scratch (alive, but holding nothing yet) where no other live buffer (an in-place
        step's input) lies. Written: the output and scratch only.
        """
        readable = np.zeros(self._arena.size, dtype=bool)
        writable = np.zeros(self._arena.size, dtype=bool)
        own = [self.plan.buffer(layer.output)]
        if layer.scratch_bytes:
            own.append(self.plan.buffer(("scratch", layer.index)))
        for b in self.plan.buffers:
            if b.alive_at(layer.index) and b not in own:
                readable[b.offset:b.end] = True
        for b in own:
            writable[b.offset:b.end] = True
        garbage = ~readable
        self._arena[garbage] = rng.integers(0, 256, int(garbage.sum()), dtype=np.uint8)
        return writable

    # -- description --

    @property
    def arena_bytes(self) -> int:
        """Bytes actually allocated for the arena: the plan's peak."""
        return self._arena.nbytes

    def summary(self) -> str:
        lines = [f"{'#':>3} {'op':<26} {'input':<18}    {'output':<18} [TFLite operators]"]
        lines += [str(layer) for layer in self.layers]
        for r in self.plan.inplace:
            step = next(layer.index for layer in self.layers if layer.output == r.output)
            lines.append(f"in place: step {step} writes its output {r.offset:,} bytes below its input, over it")
        lines.append(f"arena: {self.plan.peak_bytes:,} bytes ({'fused' if self.fused else 'unfused'}"
                     f"{'' if self.inplace else ', no in-place'})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<pyshrink.Model {len(self.layers)} layers, input {self.input.shape}, "
                f"arena {self.plan.peak_bytes:,} bytes, {'fused' if self.fused else 'unfused'}>")


def load_tflite(model: str | os.PathLike | bytes | bytearray | memoryview, *, fuse: bool = True,
                inplace: bool = True) -> Model:
    """Load an int8 .tflite model (a path or its bytes) to run with pyshrink's kernels.

    `fuse`: conv + average pool pairs run as the fused kernel. `inplace`: a depthwise
    step whose input dies there writes its output over that input (a smaller arena).

    Raises ModelError (a ValueError) naming the problem for anything it cannot run:
    not a flatbuffer, truncated, float, an unsupported operator (named, with its index)
    or fused activation, a pool that changes quantization, a tensor shape that does not
    match its operator.
    """
    return Model(parse(model), fuse=fuse, inplace=inplace)
