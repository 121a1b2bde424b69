"""Cost sketches: an architecture as a list of layer specs, costed and planned like a real model.

    sk = ps.sketch((1, 49, 10, 1), [
        ("conv2d", dict(filters=64, kernel=(10, 4), stride=2, padding="same")),
        ("depthwise_conv2d", dict(kernel=3, padding="same")),
        ("pointwise_conv2d", dict(filters=64)),
        ("avg_pool2d", dict(pool=(25, 5))),
        ("flatten", {}),
        ("fully_connected", dict(units=12)),
    ])
    sk.plan.peak_bytes                      # the arena the model would need (fused plan)
    ps.report(sk)                           # the same report as for a .tflite model

A sketch has no weights and no quantization, only shapes, and goes through the
machinery a loaded model goes through: the same layer records (pyshrink.Layer, with
zero-cost placeholder weights of the right shape), the same fusion rule (a conv whose
only consumer is an average pool becomes the fused kernel), the same scratch sizes
(`pyshrink.scratch_bytes`, i.e. what the C kernels ask for), the same arena planner
(`pyshrink.model.plan_layers`), and the same cost formulas (`pyshrink.costs`). As in a
loaded model, a 1x1 stride-1 conv2d runs as pointwise_conv2d.

The same sketch as a JSON file (`pyshrink report --sketch arch.json`; YAML too when
pyyaml is installed):

    {"name": "ds-cnn", "input_shape": [1, 49, 10, 1],
     "layers": [{"op": "conv2d", "filters": 64, "kernel": [10, 4], "stride": 2, "padding": "same"},
                {"op": "avg_pool2d", "pool": [25, 5]}, ...]}
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import _args, _ops, planner
from ._errors import ParameterError, PyshrinkError
from .model import Layer, Model, _fuse, plan_layers

__all__ = ["Network", "Sketch", "SketchError", "article_sketch", "layer_scratch_bytes", "load_sketch", "sketch"]


class SketchError(PyshrinkError, ValueError):
    """A sketch that cannot be built: which layer, and why."""


_ACTIVATIONS = (None, "none", "relu", "relu6", "relu_n1_to_1")
_CONV_GEOMETRY = {"stride": 1, "padding": "valid", "dilation": 1}
REQUIRED = "<required>"
#: each op's keywords and defaults; `activation` never changes a cost
_KEYWORDS: dict[str, dict[str, Any]] = {
    "conv2d": {"filters": REQUIRED, "kernel": REQUIRED, **_CONV_GEOMETRY, "bias": True, "activation": None},
    "depthwise_conv2d": {"kernel": REQUIRED, "depth_multiplier": 1, **_CONV_GEOMETRY, "bias": True,
                         "activation": None},
    "pointwise_conv2d": {"filters": REQUIRED, "bias": True, "activation": None},
    "fully_connected": {"units": REQUIRED, "bias": True, "activation": None},
    "avg_pool2d": {"pool": REQUIRED, "stride": None, "padding": "valid", "activation": None},
    "max_pool2d": {"pool": REQUIRED, "stride": None, "padding": "valid", "activation": None},
    "global_avg_pool2d": {"activation": None},
    "reshape": {"shape": None},
    "flatten": {},
    "softmax": {"beta": 1.0},
}
_ALIASES = {"dense": "fully_connected", "conv": "conv2d", "depthwise": "depthwise_conv2d",
            "pointwise": "pointwise_conv2d", "avg_pool": "avg_pool2d", "max_pool": "max_pool2d"}
OPS = tuple(_KEYWORDS)
_GEOMETRY_KEYS = ("stride", "padding", "dilation", "depth_multiplier")


# ---- the planning pipeline shared by sketches and the report's what-ifs ----------------------


def layer_scratch_bytes(layer: Layer) -> int:
    """Scratch of one step, from its shapes and keywords: `pyshrink.scratch_bytes`, as the kernel asks."""
    if layer.op not in _ops.OP_NAMES:
        return 0  # reshape: an alias, no call
    if layer.weights is None:
        return _ops.scratch_bytes(layer.op, layer.input_shape, **layer.params)
    return _ops.scratch_bytes(layer.op, layer.input_shape, layer.weights.shape, **layer.params)


@dataclass(frozen=True)
class Network:
    """Layers as written (before fusion) and the tensors they use: all the planner needs.

    `tensor_bytes` maps every activation tensor index to its size; `input_tensor` is
    written before the first step and each of `output_tensors` is read after the last;
    `inplace`: depthwise steps may overwrite their dying input (as a loaded model's).
    """

    layers: tuple[Layer, ...]
    tensor_bytes: Mapping[int, int]
    input_tensor: int
    output_tensors: tuple[int, ...]
    inplace: bool = True

    @classmethod
    def of_model(cls, model: Model) -> "Network":
        """A loaded model's graph as written (its unfused layers)."""
        unfused = model if not model.fused else Model(model.graph, fuse=False, inplace=model.inplace)
        return cls(unfused.layers, {t.index: t.nbytes for t in model.graph.tensors if t.data is None},
                   model.input.index, tuple(o.index for o in model.outputs), model.inplace)

    def steps(self, fuse: bool) -> tuple[tuple[Layer, ...], planner.Plan]:
        """The executed steps (fused or not) with their scratch, and their arena plan."""
        layers = [replace(layer, index=i) for i, layer in enumerate(self.layers)]
        if fuse:
            layers = _fuse(layers, self.output_tensors)
        layers = [replace(layer, scratch_bytes=layer_scratch_bytes(layer)) for layer in layers]
        return tuple(layers), plan_layers(layers, self.tensor_bytes, self.input_tensor, self.output_tensors,
                                          inplace=self.inplace)

    def next_tensor(self) -> int:
        return max(self.tensor_bytes) + 1


def placeholder(shape: tuple[int, ...], dtype: Any = np.int8) -> np.ndarray:
    """A read-only zero array of `shape` that takes no memory: a sketch's weights have only a shape."""
    return np.broadcast_to(np.zeros((), dtype), tuple(shape))


# ---- layer specs -> layers -------------------------------------------------------------------


def _normalize(spec: Any, position: int) -> tuple[str, dict[str, Any]]:
    """("op", {...}), ["op", {...}], ("op",) or {"op": "...", ...} -> (op, keywords)."""
    if isinstance(spec, Mapping):
        kw = dict(spec)
        op = kw.pop("op", None)
        if op is None:
            raise SketchError(f"sketch layer {position}: a layer given as a mapping needs an 'op' key, got {spec!r}")
    elif isinstance(spec, (tuple, list)) and 1 <= len(spec) <= 2 and isinstance(spec[0], str):
        op = spec[0]
        kw = dict(spec[1]) if len(spec) == 2 and spec[1] is not None else {}
        if len(spec) == 2 and spec[1] is not None and not isinstance(spec[1], Mapping):
            raise SketchError(f"sketch layer {position}: keywords must be a mapping, got {spec[1]!r}")
    else:
        raise SketchError(f"sketch layer {position}: expected (op, {{keywords}}) or {{'op': ..., ...}}, got {spec!r}")
    if not isinstance(op, str):
        raise SketchError(f"sketch layer {position}: op must be a string, got {op!r}")
    op = _ALIASES.get(op, op)
    if op not in _KEYWORDS:
        raise SketchError(f"sketch layer {position}: unknown op {op!r}; a sketch takes {', '.join(OPS)}")
    known = _KEYWORDS[op]
    unknown = sorted(set(kw) - set(known))
    if unknown:
        raise SketchError(f"sketch layer {position} ({op}): unknown keyword(s) {', '.join(unknown)}; "
                          f"{op} takes {', '.join(known) or 'none'}")
    missing = [k for k, v in known.items() if v is REQUIRED and k not in kw]
    if missing:
        raise SketchError(f"sketch layer {position} ({op}): missing keyword(s) {', '.join(missing)}")
    full = {k: kw.get(k, v) for k, v in known.items()}
    act = full.get("activation")
    if isinstance(act, str):
        act = act.lower()
    if "activation" in full and act not in _ACTIVATIONS:
        raise SketchError(f"sketch layer {position} ({op}): activation must be none, relu, relu6 or "
                          f"relu_n1_to_1, got {full['activation']!r}")
    return op, full


def _as_list(value: Any) -> Any:
    """JSON-friendly keyword values (tuples become lists)."""
    if isinstance(value, (tuple, list)):
        return [_as_list(v) for v in value]
    return value


def _count(value: Any, what: str) -> int:
    n = _args.as_int(value, what)
    if n < 1:
        raise ParameterError(f"{what} must be >= 1, got {n}")
    return n


def _padding(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _build(input_shape: tuple[int, ...], specs: Sequence[tuple[str, dict[str, Any]]], inplace: bool) -> Network:
    """The layer records of a sketch: tensor 0 is the input, step i writes tensor i + 1."""
    shape = input_shape
    layers: list[Layer] = []
    sizes = {0: math.prod(shape)}
    for i, (op, kw) in enumerate(specs):
        try:
            layer = _layer(i, op, kw, shape)
        except SketchError:
            raise
        except PyshrinkError as exc:  # geometry and shape errors of pyshrink's own validation
            raise SketchError(f"sketch layer {i} ({op}) on input {shape}: {exc}") from None
        layers.append(layer)
        shape = layer.output_shape
        sizes[layer.output] = math.prod(shape)
    return Network(tuple(layers), sizes, 0, (len(layers),), inplace)


def _layer(i: int, op: str, kw: dict[str, Any], x_shape: tuple[int, ...]) -> Layer:
    def make(name: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...], weights: tuple[int, ...] | None,
             channels: int = 0, params: dict[str, Any] | None = None) -> Layer:
        bias = placeholder((channels,), np.int32) if weights is not None and kw.get("bias", True) else None
        return Layer(i, name, (), (), i, i + 1, tuple(in_shape), tuple(out_shape),
                     None if weights is None else placeholder(weights), bias, params or {})

    def need_4d() -> tuple[int, int, int, int]:
        if len(x_shape) != 4:
            raise SketchError(f"sketch layer {i} ({op}) needs a 4-D NHWC input, got shape {x_shape} "
                              "(a fully_connected or reshape came before it)")
        return x_shape  # type: ignore[return-value]

    if op in ("conv2d", "depthwise_conv2d", "pointwise_conv2d"):
        n, h, w, c = need_4d()
        if op == "pointwise_conv2d":
            filters = _count(kw["filters"], "filters")
            w_shape: tuple[int, ...] = (filters, c)
            geo = _args.conv_geometry("pointwise_conv2d", x_shape, w_shape)
            return make(op, x_shape, geo.out_shape, w_shape, filters)
        kh, kw_ = _args.pair(kw["kernel"], "kernel")
        geometry = dict(stride=_padding(kw["stride"]), padding=_padding(kw["padding"]),
                        dilation=_padding(kw["dilation"]))
        if op == "conv2d":
            filters = _count(kw["filters"], "filters")
            if (kh, kw_) == (1, 1) and _args.pair(geometry["stride"], "stride") == (1, 1):
                # as a loaded model does: a 1x1 stride-1 conv runs as pointwise
                w_shape = (filters, c)
                geo = _args.conv_geometry("pointwise_conv2d", x_shape, w_shape)
                return make("pointwise_conv2d", x_shape, geo.out_shape, w_shape, filters)
            w_shape = (filters, kh, kw_, c)
        else:
            geometry["depth_multiplier"] = _count(kw["depth_multiplier"], "depth_multiplier")
            w_shape = (kh, kw_, c * geometry["depth_multiplier"])
        geo = _args.conv_geometry(op, x_shape, w_shape, **geometry)
        return make(op, x_shape, geo.out_shape, w_shape, _args.out_channels(op, w_shape), geometry)
    if op == "fully_connected":
        units = _count(kw["units"], "units")
        features = math.prod(x_shape[1:])
        fc_in = (x_shape[0], features)
        return make(op, fc_in, (x_shape[0], units), (units, features), units)
    if op in ("avg_pool2d", "max_pool2d", "global_avg_pool2d"):
        n, h, w, c = need_4d()
        if op == "global_avg_pool2d":
            op, params = "avg_pool2d", dict(pool=(h, w), stride=None, padding="valid")
        else:
            params = dict(pool=_padding(kw["pool"]), stride=_padding(kw["stride"]), padding=_padding(kw["padding"]))
        if op == "avg_pool2d":
            params["rounding"] = "tflite"
        geo = _args.pool_geometry(x_shape, **params)
        return make(op, x_shape, geo.out_shape, None, params=params)
    if op in ("reshape", "flatten"):
        target = (x_shape[0], -1) if op == "flatten" or kw.get("shape") is None else tuple(kw["shape"])
        out_shape = _reshape(math.prod(x_shape), target)
        if out_shape is None:
            raise SketchError(f"sketch layer {i} ({op}): cannot reshape {x_shape} to {target}")
        return make("reshape", x_shape, out_shape, None)
    # softmax
    return make("softmax", x_shape, x_shape, None, params=dict(input_scale=1.0, beta=float(kw["beta"])))


def _reshape(size: int, target: tuple[Any, ...]) -> tuple[int, ...] | None:
    """numpy's reshape rule (one -1 at most, inferred) on sizes alone; None if it does not fit."""
    try:
        dims = [_args.as_int(d, "shape") for d in target]
    except PyshrinkError:
        return None
    if not dims or dims.count(-1) > 1 or any(d < 1 and d != -1 for d in dims):
        return None
    known = math.prod(d for d in dims if d != -1)
    out = tuple(size // known if d == -1 else d for d in dims)
    return out if math.prod(out) == size else None


# ---- the sketch --------------------------------------------------------------------------


class Sketch:
    """An architecture without weights: its steps, their costs and the arena plan, like a Model.

    `layers` are the executed steps (fused when `fused`), `plan` their arena plan (with
    in-place depthwise steps when `inplace`, as a loaded model); `network` is the layer
    list as written, which the report re-plans for what-ifs.
    """

    def __init__(self, input_shape: Sequence[int], layers: Iterable[Any], *, fuse: bool = True,
                 name: str = "sketch", inplace: bool = True):
        if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence) or not input_shape:
            raise SketchError(f"input_shape must be a sequence of dimensions, e.g. (1, 49, 10, 1), got {input_shape!r}")
        try:
            shape = tuple(_args.as_int(d, "input_shape") for d in input_shape)
        except PyshrinkError as exc:
            raise SketchError(str(exc)) from None
        if min(shape) < 1:
            raise SketchError(f"input_shape must have positive dimensions, got {shape}")
        if isinstance(layers, (str, bytes, Mapping)):
            raise SketchError("layers must be a list of layer specs")
        specs = [_normalize(spec, i) for i, spec in enumerate(layers)]
        if not specs:
            raise SketchError("a sketch needs at least one layer")
        self.name = str(name)
        self.input_shape = shape
        self.specs: tuple[tuple[str, dict[str, Any]], ...] = tuple(specs)
        self.fused = bool(fuse)
        self.inplace = bool(inplace)
        self.network = _build(shape, self.specs, self.inplace)
        self.layers, self.plan = self.network.steps(self.fused)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.network.layers[-1].output_shape

    def with_fuse(self, fuse: bool) -> "Sketch":
        """The same sketch planned with (True) or without (False) fusion."""
        return Sketch(self.input_shape, self.specs, fuse=fuse, name=self.name, inplace=self.inplace)

    def to_dict(self) -> dict[str, Any]:
        """The sketch as its JSON file format (what `load_sketch` reads)."""
        layers = []
        for op, kw in self.specs:
            defaults = _KEYWORDS[op]
            layers.append({"op": op, **{k: _as_list(v) for k, v in kw.items() if v != defaults[k]}})
        return {"name": self.name, "input_shape": list(self.input_shape), "layers": layers}

    def summary(self) -> str:
        lines = [f"{'#':>3} {'op':<26} {'input':<18}    output"]
        lines += [f"{s.index:3d} {s.op:<26} {str(s.input_shape):<18} -> {s.output_shape}" for s in self.layers]
        for r in self.plan.inplace:
            step = next(s.index for s in self.layers if s.output == r.output)
            lines.append(f"in place: step {step} writes its output {r.offset:,} bytes below its input, over it")
        lines.append(f"arena: {self.plan.peak_bytes:,} bytes ({'fused' if self.fused else 'unfused'}"
                     f"{'' if self.inplace else ', no in-place'})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<pyshrink.Sketch {self.name!r} {len(self.layers)} layers, input {self.input_shape}, "
                f"arena {self.plan.peak_bytes:,} bytes, {'fused' if self.fused else 'unfused'}>")


def sketch(input_shape: Sequence[int], layers: Iterable[Any], *, fuse: bool = True, name: str = "sketch",
           inplace: bool = True) -> Sketch:
    """Sketch an architecture from layer specs, e.g. `("conv2d", dict(filters=32, kernel=3))`.

    Ops and keywords (defaults in brackets; `activation` is accepted and costs nothing):
      conv2d            filters, kernel, stride [1], padding ["valid"], dilation [1], bias [True]
      depthwise_conv2d  kernel, depth_multiplier [1], stride, padding, dilation, bias
      pointwise_conv2d  filters, bias
      fully_connected   units, bias (the input is read flattened, as TFLite does; alias "dense")
      avg_pool2d, max_pool2d   pool, stride [= pool], padding ["valid"]
      global_avg_pool2d        (an avg_pool2d over the whole feature map)
      reshape           shape [flatten to (N, -1)];  flatten
      softmax
    `kernel`, `stride`, `dilation` and `pool` take an int or an (h, w) pair; `padding`
    is "valid", "same" or (top, bottom, left, right). `inplace=False` plans no depthwise
    step over its input. Raises SketchError (a ValueError).
    """
    return Sketch(input_shape, layers, fuse=fuse, name=name, inplace=inplace)


def load_sketch(path: str | os.PathLike, *, fuse: bool = True, inplace: bool = True) -> Sketch:
    """Read a sketch file: JSON, or YAML (.yaml/.yml) when pyyaml is installed."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise SketchError(f"cannot read sketch file {path!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SketchError(f"sketch file {path!r} is not UTF-8 text") from None
    if path.lower().endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise SketchError(f"reading {path!r} needs pyyaml (pip install pyyaml); or write the sketch as JSON") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SketchError(f"sketch file {path!r} is not valid YAML: {' '.join(str(exc).split())}") from None
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SketchError(f"sketch file {path!r} is not valid JSON: {exc}") from None
    if not isinstance(doc, Mapping) or "input_shape" not in doc or "layers" not in doc:
        raise SketchError(f"sketch file {path!r} must be an object with 'input_shape' and 'layers' "
                          '(e.g. {"input_shape": [1, 10, 10, 3], "layers": [{"op": "conv2d", ...}]})')
    unknown = sorted(set(doc) - {"name", "input_shape", "layers"})
    if unknown:
        raise SketchError(f"sketch file {path!r}: unknown key(s) {', '.join(unknown)}")
    name = doc.get("name") or os.path.splitext(os.path.basename(path))[0]
    return Sketch(doc["input_shape"], doc["layers"], fuse=fuse, name=name, inplace=inplace)


#: The seed article's worked example: a 10x10x3 input, 32 3x3 filters (valid, ReLU), a 2x2 average pool.
ARTICLE_LAYERS = (
    ("conv2d", {"filters": 32, "kernel": 3, "padding": "valid", "activation": "relu"}),
    ("avg_pool2d", {"pool": 2}),
)


def article_sketch(*, fuse: bool = True, inplace: bool = True) -> Sketch:
    """The seed article's layer as a sketch (what `pyshrink report` reports with no model)."""
    return Sketch((1, 10, 10, 3), ARTICLE_LAYERS, fuse=fuse, name="the seed article's worked example",
                  inplace=inplace)
