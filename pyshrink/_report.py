"""The shrink report: where every MAC and byte of a model goes, before and after shrinking.

    rep = ps.report(ps.load_tflite("kws.tflite"))   # or a Sketch, or nothing: the article's layer
    print(rep)                                      # per-step table, totals, both peaks, what-ifs
    rep.to_dict()                                   # the --json document (SCHEMA_VERSION)
    rep.plot("kws.png")                             # live bytes per step, unfused | fused

Every number comes from the machinery that runs models: MACs and bytes from the
SPEC.md formulas (pyshrink.costs), scratch as the C kernels ask for it, live and peak
bytes from the arena plans the models allocate (`Model.plan` of the unfused and the
fused model). The what-ifs change the model (it would need retraining): each one
rebuilds the layer list with the change and plans it with the same fusion rule,
scratch sizes and planner.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from . import _args, costs
from .model import Layer, Model, load_tflite
from ._sketch import Network, Sketch, article_sketch, load_sketch, placeholder

__all__ = ["BOARDS", "PLOT_MISSING", "Report", "SCHEMA", "SCHEMA_VERSION", "StepCost", "WhatIf", "parse_bytes",
           "report"]

SCHEMA = "pyshrink.report"
#: bump when a field of the JSON document changes meaning or disappears (adding fields does not)
SCHEMA_VERSION = 1
#: RAM of common TinyML boards (bytes), drawn as reference lines by `Report.plot`
BOARDS: tuple[tuple[str, int], ...] = (
    ("Arduino Uno (ATmega328P), 2 KB SRAM", 2 * 1024),
    ("Nucleo-L432KC (STM32L432KC), 64 KB SRAM", 64 * 1024),
    ("Arduino Nano 33 BLE Sense (nRF52840), 256 KB", 256 * 1024),
    ("ESP32, 320 KB DRAM", 320 * 1024),
)
PLOT_MISSING = "--plot needs matplotlib, which is not installed: pip install 'pyshrink[plot]'"
PLANS = ("unfused", "fused")
_CONV_KINDS = ("conv2d", "depthwise_conv2d", "pointwise_conv2d")
_POOLS = ("avg_pool2d", "max_pool2d")
_GEOMETRY_KEYS = ("stride", "padding", "dilation", "depth_multiplier")
_POOL_KEYS = {"pool": "pool", "pool_stride": "stride", "pool_padding": "padding"}


# ---- one step -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StepCost:
    """The costs of one executed step (a fused step counts its conv's MACs and weights)."""

    index: int
    op: str
    parts: tuple[str, ...]  # the ops it runs: (op,), or (conv, "avg_pool2d") for a fused step
    tflite_ops: tuple[str, ...] | None  # "CONV_2D#0", ...; None for a sketch
    detail: str  # kernel, stride, padding, pool
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    conv_output_shape: tuple[int, ...] | None  # a fused step's pre-pool map (never stored)
    macs: int
    weight_bytes: int
    bias_bytes: int
    activation_bytes: int  # the step's output tensor
    scratch_bytes: int
    live_bytes: int  # bytes the buffers alive at this step occupy, from the arena plan
    weight_share: float | None  # weights / (weights + the convolution's output), as the article
    alias: bool = False  # a reshape: its output shares its input's bytes
    pool_detail: str = ""  # a fused step's pool window, stride, padding
    inplace_offset: int | None = None  # in place: the output starts this many bytes below its input

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "op": self.op, "fused_ops": list(self.parts),
            "tflite_ops": None if self.tflite_ops is None else list(self.tflite_ops), "detail": self.detail,
            "pool_detail": self.pool_detail or None,
            "input_shape": list(self.input_shape), "output_shape": list(self.output_shape),
            "conv_output_shape": None if self.conv_output_shape is None else list(self.conv_output_shape),
            "macs": self.macs, "weight_bytes": self.weight_bytes, "bias_bytes": self.bias_bytes,
            "activation_bytes": self.activation_bytes, "scratch_bytes": self.scratch_bytes,
            "live_bytes": self.live_bytes, "weight_share": self.weight_share, "aliases_input": self.alias,
            "inplace_offset": self.inplace_offset,
        }


def _pair(value: Any) -> tuple[int, int]:
    return _args.pair(value, "value")


def _geometry(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k in _GEOMETRY_KEYS}


def _conv_detail(kind: str, layer: Layer, params: dict[str, Any]) -> str:
    if kind == "fully_connected":
        return f"{layer.weights.shape[1]} -> {layer.weights.shape[0]}"
    if kind == "pointwise_conv2d":
        return "1x1"
    geo = _args.conv_geometry(kind, layer.input_shape, layer.weights.shape, **_geometry(params))
    text = f"{geo.kernel[0]}x{geo.kernel[1]}"
    if geo.stride != (1, 1):
        text += f" s{geo.stride[0]}" if geo.stride[0] == geo.stride[1] else f" s{geo.stride[0]}x{geo.stride[1]}"
    if geo.dilation != (1, 1):
        text += f" d{geo.dilation[0]}" if geo.dilation[0] == geo.dilation[1] else f" d{geo.dilation[0]}x{geo.dilation[1]}"
    if geo.depth_multiplier > 1:
        text += f" x{geo.depth_multiplier}"
    padding = params.get("padding", "valid")
    return text + (f" {padding}" if isinstance(padding, str) else f" pad{tuple(padding)}")


def _pool_detail(params: dict[str, Any]) -> str:
    window = _pair(params["pool"])
    stride = window if params.get("stride") is None else _pair(params["stride"])
    text = f"{window[0]}x{window[1]}"
    if stride != window:
        text += f" s{stride[0]}" if stride[0] == stride[1] else f" s{stride[0]}x{stride[1]}"
    padding = params.get("padding", "valid")
    return text + (f" {padding}" if padding != "valid" else "")


def _step_cost(layer: Layer, live: int, inplace_offset: int | None = None) -> StepCost:
    kind = layer.op.removesuffix("_avgpool")
    fused = kind != layer.op
    parts = (kind, "avg_pool2d") if fused else (layer.op,)
    tflite = tuple(f"{c}#{i}" for c, i in zip(layer.tflite_ops, layer.tflite_indices)) or None
    macs = weight_bytes = bias_bytes = 0
    share = None
    pool_detail = ""
    conv_out = layer.hidden[1] if layer.hidden else None
    if layer.weights is not None:
        w_shape = tuple(layer.weights.shape)
        macs = costs.macs(kind, layer.input_shape, w_shape, **_geometry(layer.params))
        weight_bytes = costs.weight_bytes(w_shape)
        bias_bytes = 0 if layer.bias is None else costs.bias_bytes(_args.out_channels(kind, w_shape))
        produced = costs.activation_bytes(conv_out or layer.output_shape)
        share = weight_bytes / (weight_bytes + produced)
        detail = _conv_detail(kind, layer, layer.params)
        if fused:
            pool = {_POOL_KEYS[k]: v for k, v in layer.params.items() if k in _POOL_KEYS}
            pool_detail = _pool_detail(pool)
    elif layer.op in _POOLS:
        detail = _pool_detail(layer.params)
    else:
        detail = ""
    return StepCost(layer.index, layer.op, parts, tflite, detail, tuple(layer.input_shape), tuple(layer.output_shape),
                    conv_out, macs, weight_bytes, bias_bytes, costs.activation_bytes(layer.output_shape),
                    layer.scratch_bytes, live, share, alias=layer.op == "reshape", pool_detail=pool_detail,
                    inplace_offset=inplace_offset)


# ---- what-ifs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatIf:
    """An estimate for a change to the model (it would need retraining): costs before and after.

    `kind` is "stride2" (a conv + pool pair becomes one strided conv) or "separable" (a
    standard conv becomes depthwise + pointwise). `peak_bytes` is the arena of the changed
    model, planned both ways with the same fusion rule, scratch sizes and planner.
    """

    kind: str
    step: int  # the listed step holding the layer(s) it changes
    change: str
    macs_before: int
    macs_after: int
    macs_parts: tuple[int, ...]  # separable: (depthwise, pointwise)
    weight_bytes_before: int
    weight_bytes_after: int
    bias_bytes_before: int
    bias_bytes_after: int
    weight_share_after: float
    output_shape_after: tuple[int, ...]
    peak_bytes: dict[str, int]
    savings_factor: float  # macs_after / macs_before
    savings_formula: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "step": self.step, "change": self.change, "estimate": True,
            "macs": {"before": self.macs_before, "after": self.macs_after, "parts": list(self.macs_parts)},
            "weight_bytes": {"before": self.weight_bytes_before, "after": self.weight_bytes_after},
            "bias_bytes": {"before": self.bias_bytes_before, "after": self.bias_bytes_after},
            "weight_share_after": self.weight_share_after, "output_shape_after": list(self.output_shape_after),
            "peak_bytes": dict(self.peak_bytes), "savings_factor": self.savings_factor,
            "savings_formula": self.savings_formula,
        }


def _listed_step(steps: Sequence[Layer], layer: Layer) -> int:
    """The executed step that runs an as-written layer (a fused step runs two)."""
    for s in steps:
        pairs = {(s.input, s.output)}
        if s.hidden:
            pairs |= {(s.input, s.hidden[0]), (s.hidden[0], s.output)}
        if (layer.input, layer.output) in pairs:
            return s.index
    raise AssertionError(f"layer {layer.index} ({layer.op}) is in no step")  # pragma: no cover


def _peaks(net: Network) -> dict[str, int]:
    return {plan: net.steps(plan == "fused")[1].peak_bytes for plan in PLANS}


def _stride2(net: Network, layer: Layer, pool: Layer) -> tuple[Network, Layer] | None:
    """The conv with the pool's stride folded in, when it gives the pool's output shape."""
    geo = _args.pool_geometry(pool.input_shape, **pool.params)
    if max(geo.stride) < 2 or geo.out_shape[1] * geo.out_shape[2] == 1:
        return None  # not a downsampling pool, or a global pool (a strided conv would sample, not average)
    kind = "depthwise_conv2d" if layer.op == "depthwise_conv2d" else "conv2d"
    w_shape = tuple(layer.weights.shape)
    if layer.op == "pointwise_conv2d":
        w_shape = (w_shape[0], 1, 1, w_shape[1])
    own = _pair(layer.params.get("stride", 1))
    geometry = _geometry(layer.params) | {"stride": (own[0] * geo.stride[0], own[1] * geo.stride[1])}
    try:
        out = _args.conv_geometry(kind, layer.input_shape, w_shape, **geometry).out_shape
    except ValueError:
        return None
    if out != pool.output_shape:
        return None  # a different shape would change every later layer
    new = Layer(0, kind, (), (), layer.input, pool.output, layer.input_shape, out, placeholder(w_shape), layer.bias,
                geometry)
    layers = [new if x is layer else x for x in net.layers if x is not pool]
    return replace(net, layers=tuple(layers)), new


def _separable(net: Network, layer: Layer) -> tuple[Network, Layer, Layer]:
    c_out, kh, kw, c_in = layer.weights.shape
    geometry = _geometry(layer.params) | {"depth_multiplier": 1}
    dw_out = _args.conv_geometry("depthwise_conv2d", layer.input_shape, (kh, kw, c_in), **geometry).out_shape
    t = net.next_tensor()
    dw = Layer(0, "depthwise_conv2d", (), (), layer.input, t, layer.input_shape, dw_out, placeholder((kh, kw, c_in)),
               None if layer.bias is None else placeholder((c_in,), np.int32), geometry)
    pw = Layer(0, "pointwise_conv2d", (), (), t, layer.output, dw_out, layer.output_shape,
               placeholder((c_out, c_in)), layer.bias, {})
    layers: list[Layer] = []
    for x in net.layers:
        layers += [dw, pw] if x is layer else [x]
    sizes = dict(net.tensor_bytes) | {t: costs.activation_bytes(dw_out)}
    return replace(net, layers=tuple(layers), tensor_bytes=sizes), dw, pw


def _what_ifs(net: Network, steps: Sequence[Layer]) -> list[WhatIf]:
    readers: dict[int, list[Layer]] = {}
    for layer in net.layers:
        readers.setdefault(layer.input, []).append(layer)
    result = []
    for layer in net.layers:
        if layer.op not in _CONV_KINDS:
            continue
        before = _step_cost(layer, 0)
        consumers = readers.get(layer.output, [])
        if len(consumers) == 1 and consumers[0].op in _POOLS and layer.output not in net.output_tensors:
            pool = consumers[0]
            changed = _stride2(net, layer, pool)
            if changed is not None:
                new_net, new = changed
                after = _step_cost(new, 0)
                change = f"{layer.op} {before.detail} + {pool.op} {_pool_detail(pool.params)} -> {new.op} {after.detail}"
                result.append(WhatIf(
                    "stride2", _listed_step(steps, layer), change, before.macs, after.macs, (after.macs,),
                    before.weight_bytes, after.weight_bytes, before.bias_bytes, after.bias_bytes,
                    after.weight_share, new.output_shape, _peaks(new_net), after.macs / before.macs,
                    f"computes only the {_shape(new.output_shape[1:3])} pooled outputs, not "
                    f"{_shape(layer.output_shape[1:3])}"))
        if layer.op == "conv2d":
            c_out, kh, kw, c_in = layer.weights.shape
            if kh * kw > 1 and c_in > 1:
                new_net, dw, pw = _separable(net, layer)
                d, p = _step_cost(dw, 0), _step_cost(pw, 0)
                weights = d.weight_bytes + p.weight_bytes
                result.append(WhatIf(
                    "separable", _listed_step(steps, layer),
                    f"{layer.op} {before.detail} -> depthwise_conv2d {d.detail} + pointwise_conv2d 1x1",
                    before.macs, d.macs + p.macs, (d.macs, p.macs), before.weight_bytes, weights,
                    before.bias_bytes, d.bias_bytes + p.bias_bytes,
                    weights / (weights + p.activation_bytes), pw.output_shape, _peaks(new_net),
                    1 / c_out + 1 / (kh * kw),
                    f"1/N + 1/DK^2 = 1/{c_out} + 1/{kh * kw}" if kh == kw else f"1/N + 1/(KH*KW) = 1/{c_out} + 1/{kh * kw}"))
    return result


# ---- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """Per-step costs of one plan (`plan`), both plans' peaks and live bytes, and what-ifs."""

    name: str
    source: str  # "tflite", "sketch" or "article"
    plan: str  # "fused" or "unfused": whose steps are listed
    input_shape: tuple[int, ...]
    steps: tuple[StepCost, ...]
    totals: dict[str, int]
    peak_bytes: dict[str, int]  # {"unfused": ..., "fused": ...}: Model.plan.peak_bytes of each
    live_bytes: dict[str, tuple[int, ...]]
    step_ops: dict[str, tuple[str, ...]]
    what_ifs: tuple[WhatIf, ...]
    budget_bytes: int | None = None
    boards: tuple[tuple[str, int], ...] = field(default=BOARDS)
    inplace: bool = True  # both plans run depthwise steps in place where that helps

    @property
    def fits(self) -> dict[str, bool] | None:
        if self.budget_bytes is None:
            return None
        return {plan: self.peak_bytes[plan] <= self.budget_bytes for plan in PLANS}

    def to_dict(self) -> dict[str, Any]:
        """The --json document: JSON types only, so json.loads(json.dumps(d)) == d."""
        return {
            "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "model": self.name, "source": self.source,
            "plan": self.plan, "input_shape": list(self.input_shape),
            "peak_bytes": dict(self.peak_bytes),
            "plans": {p: {"peak_bytes": self.peak_bytes[p], "live_bytes": list(self.live_bytes[p]),
                          "ops": list(self.step_ops[p])} for p in PLANS},
            "layers": [s.to_dict() for s in self.steps],
            "totals": dict(self.totals),
            "what_if": [w.to_dict() for w in self.what_ifs],
            "budget_bytes": self.budget_bytes, "fits": self.fits, "inplace": self.inplace,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The --json document; lists of plain values (shapes, live bytes) stay on one line."""
        text = json.dumps(self.to_dict(), indent=indent)
        if indent is None:
            return text
        return re.sub(r"\[\s*([^\[\]{}]*?)\s*\]", lambda m: "[" + re.sub(r",\s*\n\s*", ", ", m.group(1)) + "]", text)

    def __str__(self) -> str:
        return format_text(self)

    def plot(self, path: str | os.PathLike, *, boards: Sequence[tuple[str, int]] | None = None) -> None:
        """Live bytes per step, unfused and fused side by side, with board RAM lines (needs matplotlib)."""
        plot(self, path, boards=self.boards if boards is None else boards)


def _resolve(model: Any, fuse: bool | None, inplace: bool | None) -> tuple[str, str, Any, Any, Network]:
    """(name, source, unfused, fused, network as written) of a Model, a Sketch, a path or None."""
    if model is None:
        sk = article_sketch(inplace=inplace is not False)
        return sk.name, "article", sk.with_fuse(False), sk, sk.network
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if path.lower().endswith((".json", ".yaml", ".yml")):
            model = load_sketch(path, inplace=inplace is not False)
        else:
            model = load_tflite(path, inplace=inplace is not False)
            name = os.path.basename(path)
            other = Model(model.graph, fuse=not model.fused, inplace=model.inplace)
            return name, "tflite", other, model, Network.of_model(other)
    if inplace is not None and isinstance(model, (Model, Sketch)) and model.inplace != inplace:
        model = (Model(model.graph, fuse=model.fused, inplace=inplace) if isinstance(model, Model)
                 else Sketch(model.input_shape, model.specs, fuse=model.fused, name=model.name, inplace=inplace))
    if isinstance(model, Sketch):
        other = model.with_fuse(not model.fused)
        unfused, fused = (other, model) if model.fused else (model, other)
        return model.name, "sketch", unfused, fused, unfused.network
    if isinstance(model, Model):
        other = Model(model.graph, fuse=not model.fused, inplace=model.inplace)
        unfused, fused = (other, model) if model.fused else (model, other)
        return "model", "tflite", unfused, fused, Network.of_model(unfused)
    raise TypeError(f"report() takes a pyshrink.Model (ps.load_tflite), a pyshrink.Sketch (ps.sketch), a path, "
                    f"or nothing (the seed article's example); got {type(model).__name__}")


def report(model: Any = None, *, fuse: bool | None = None, budget: int | str | None = None,
           name: str | None = None, inplace: bool | None = None) -> Report:
    """The shrink report of a Model, a Sketch, a .tflite / sketch file path, or (None) the article's layer.

    `fuse` selects whose steps are listed (default: the model's own plan, fused for a
    path or None); both plans' peaks are always there. `budget` (bytes, or "64KB") adds
    whether each plan's arena fits. `inplace` plans both with (True) or without (False)
    in-place depthwise steps (default: as the model or sketch was loaded; True for a
    path or None).
    """
    label, source, unfused, fused, network = _resolve(model, fuse, inplace)
    listed_plan = ("fused" if fuse else "unfused") if fuse is not None else (
        "fused" if getattr(model, "fused", True) else "unfused")
    plans = {"unfused": unfused, "fused": fused}
    listed = plans[listed_plan]
    live = listed.plan.live_bytes
    steps = tuple(_step_cost(layer, live[layer.index], listed.plan.inplace_offset(layer.output))
                  for layer in listed.layers)
    totals = {
        "macs": sum(s.macs for s in steps),
        "weight_bytes": sum(s.weight_bytes for s in steps),
        "bias_bytes": sum(s.bias_bytes for s in steps),
        "activation_bytes": sum(s.activation_bytes for s in steps if not s.alias),
        "scratch_bytes": sum(s.scratch_bytes for s in steps),
        "input_bytes": costs.activation_bytes(listed.layers[0].input_shape) if steps else 0,
        "max_live_bytes": max(live, default=0),
        "steps": len(steps),
    }
    return Report(
        name=name or label, source=source, plan=listed_plan,
        input_shape=tuple(fused.input.shape) if isinstance(fused, Model) else tuple(fused.input_shape),
        steps=steps, totals=totals,
        peak_bytes={p: plans[p].plan.peak_bytes for p in PLANS},
        live_bytes={p: tuple(plans[p].plan.live_bytes) for p in PLANS},
        step_ops={p: tuple(layer.op for layer in plans[p].layers) for p in PLANS},
        what_ifs=tuple(_what_ifs(network, listed.layers)),
        budget_bytes=None if budget is None else parse_bytes(budget),
        inplace=network.inplace,
    )


# ---- sizes ---------------------------------------------------------------------------------

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2, "mib": 1024**2}


def parse_bytes(size: int | str) -> int:
    """Bytes from an int or a string such as "64KB", "256 KiB", "0.5MB", "20000" (K = 1024)."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        value = int(size)
    else:
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([A-Za-z]*)\s*", str(size))
        unit = m.group(2).lower() if m else None
        if m is None or unit not in _UNITS:
            raise ValueError(f"budget must be a size such as 65536, 64KB or 0.5MB (K = 1024), got {size!r}")
        value = int(float(m.group(1)) * _UNITS[unit])
    if value < 1:
        raise ValueError(f"budget must be at least one byte, got {size!r}")
    return value


def _kb(n: int) -> str:
    """2048 -> '2 KB', 65536 -> '64 KB', 1004 -> '0.98 KB' (K = 1024)."""
    return f"{n // 1024:,} KB" if n % 1024 == 0 else f"{n:,} B"


# ---- text ----------------------------------------------------------------------------------


def _shape(shape: Sequence[int] | None) -> str:
    return "x".join(str(d) for d in shape) if shape else ""


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}%"


def format_text(r: Report) -> str:
    lines: list[str] = []
    say = lines.append
    say(f"pyshrink report: {r.name}" + (" (a sketch: shapes only, no weights)" if r.source == "sketch" else ""))
    say(f"  input {_shape(r.input_shape)}; {r.plan} plan listed ({len(r.steps)} step{'s' * (len(r.steps) != 1)})"
        + ("" if r.plan == "fused" else "; --no-fuse"))
    say("")
    head = (f"  {'#':>3}  {'op':<25} {'detail':<20} {'input':<12} {'output':<12} {'MACs':>11} {'weight B':>9} "
            f"{'bias B':>7} {'act. B':>8} {'scratch B':>9} {'live B':>8} {'w.share':>7}")
    say(head)
    for s in r.steps:
        act = f"{s.activation_bytes:,}" + ("=" if s.alias else "")
        say(f"  {s.index:>3}  {s.op:<25} {s.detail:<20} {_shape(s.input_shape):<12} {_shape(s.output_shape):<12} "
            f"{s.macs:>11,} {s.weight_bytes:>9,} {s.bias_bytes:>7,} {act:>8} {s.scratch_bytes:>9,} "
            f"{s.live_bytes:>8,} {_pct(s.weight_share):>7}")
        if s.conv_output_shape is not None:
            values = math.prod(s.conv_output_shape)
            say(f"  {'':>3}    = {s.parts[0]} {s.detail} -> {_shape(s.conv_output_shape)} ({values:,} values, "
                f"never stored) + {s.parts[1]} {s.pool_detail}"
                + (f"   [{' + '.join(s.tflite_ops)}]" if s.tflite_ops else ""))
        if s.inplace_offset is not None:
            say(f"  {'':>3}    = in place: its output starts {s.inplace_offset:,} B below its input, over it "
                f"(live B counts the overlap once)")
    t = r.totals
    say(f"  {'':>3}  {'totals':<25} {'':<20} {'':<12} {'':<12} {t['macs']:>11,} {t['weight_bytes']:>9,} "
        f"{t['bias_bytes']:>7,} {t['activation_bytes']:>8,} {t['scratch_bytes']:>9,} {t['max_live_bytes']:>8,}")
    say("  act. B: the step's output tensor ('=': a reshape, sharing its input's bytes); live B: bytes alive at")
    say("  the step in the arena plan (activations + scratch); w.share: weights / (weights + the conv's output);")
    say("  totals: sums, except live B (the largest)")
    say("")
    say("  peak RAM (the arena each plan allocates; " + ("depthwise steps in place where that lowers it)"
                                                        if r.inplace else "no step in place: --no-inplace)"))
    for p in PLANS:
        mark = "   <- listed" if p == r.plan else ""
        say(f"    {p:<8} {r.peak_bytes[p]:>10,} B{mark}")
    if r.peak_bytes["fused"] < r.peak_bytes["unfused"]:
        saved = r.peak_bytes["unfused"] - r.peak_bytes["fused"]
        say(f"    fusion saves {saved:,} B ({_pct(saved / r.peak_bytes['unfused'])} of the unfused arena)")
    if r.budget_bytes is not None:
        verdicts = []
        for p in PLANS:
            over = r.peak_bytes[p] - r.budget_bytes
            verdicts.append(f"{p} " + ("fits" if over <= 0 else f"does NOT fit ({over:,} B over)")
                            + f" ({_pct(r.peak_bytes[p] / r.budget_bytes)})")
        size = _kb(r.budget_bytes) + (f" ({r.budget_bytes:,} B)" if r.budget_bytes % 1024 == 0 else "")
        say(f"    budget {size}: {'; '.join(verdicts)}")
    say("")
    say("  what if (ESTIMATES of changes to the model, which would need retraining; peak RAM re-planned)")
    if not r.what_ifs:
        say("    none: no conv + downsampling pool pair (a global pool does not count), and no standard conv")
        say("    with a kernel larger than 1x1 and more than one input channel")
    for w in r.what_ifs:
        say(f"    step {w.step}: {w.change}")
        if w.kind == "separable":
            macs = f"{w.macs_before:,} -> {w.macs_parts[0]:,} + {w.macs_parts[1]:,} = {w.macs_after:,}"
        else:
            macs = f"{w.macs_before:,} -> {w.macs_after:,}"
        say(f"      MACs {macs}  (x{w.savings_factor:.3f}: {w.savings_formula})")
        say(f"      weight bytes {w.weight_bytes_before:,} -> {w.weight_bytes_after:,}"
            f"  (bias {w.bias_bytes_before:,} -> {w.bias_bytes_after:,}); output {_shape(w.output_shape_after)};"
            f" weight share {_pct(w.weight_share_after)}")
        def verdict(p: str) -> str:
            if r.budget_bytes is None:
                return ""
            return " (fits the budget)" if w.peak_bytes[p] <= r.budget_bytes else " (over the budget)"

        say(f"      peak RAM unfused {r.peak_bytes['unfused']:,} -> {w.peak_bytes['unfused']:,} B{verdict('unfused')}, "
            f"fused {r.peak_bytes['fused']:,} -> {w.peak_bytes['fused']:,} B{verdict('fused')}")
    if r.source == "article":
        say("")
        say("  The article prints 7,869 MACs for the depthwise separable layer: an arithmetic slip,")
        say("  3*3*3*8*8 + 32*3*8*8 = 1,728 + 6,144 = 7,872.")
    return "\n".join(lines)


# ---- plot ----------------------------------------------------------------------------------


def _human(v: float, _pos: Any = None) -> str:
    if v >= 1024:
        return f"{v / 1024:g} KB"
    return f"{v:g} B"


def plot(r: Report, path: str | os.PathLike, *, boards: Sequence[tuple[str, int]] = BOARDS) -> None:
    """Draw live bytes per step (unfused | fused) with each plan's arena and board RAM lines; write `path`.

    Log scale, so a 1 KB layer and a 320 KB board fit one picture; every reference line
    (boards, the budget, each plan's arena) is named in the legend on the right.
    """
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    except ImportError:
        raise ImportError(PLOT_MISSING) from None

    refs = [(label, size, color, ":") for (label, size), color in
            zip(boards, ["#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"])]
    if r.budget_bytes is not None:
        refs.append((f"budget {_kb(r.budget_bytes)}", r.budget_bytes, "#000000", "-."))
    live_all = [v for p in PLANS for v in r.live_bytes[p] if v > 0]
    sizes = [*live_all, *(size for _, size, _, _ in refs), *r.peak_bytes.values()]
    top, bottom = max(sizes) * 1.6, max(min(sizes) / 4, 1)
    fig = Figure(figsize=(12, 7), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    colors = {"unfused": "#8c8c8c", "fused": "#2a7fbf"}
    handles = {}
    for ax, p in zip(axes, PLANS):
        live = r.live_bytes[p]
        xs = np.arange(len(live))
        ax.bar(xs, live, color=colors[p], width=0.7, zorder=2)
        if len(live) <= 24:  # each bar's exact bytes: inside a tall bar, above a short one
            vertical = len(live) > 6
            for x, v in zip(xs, live):
                inside = v / bottom > (14 if vertical else 2.5)
                ax.text(x, v * (0.9 if inside else 1.1), f"{v:,}", ha="center", va="top" if inside else "bottom",
                        rotation=90 if vertical else 0, fontsize=7.5, fontweight="bold", zorder=4,
                        color="white" if inside else "#333333")
        peak = r.peak_bytes[p]
        handles[f"{p} arena (peak) {peak:,} B"] = ax.axhline(peak, color=colors[p], linestyle="--", linewidth=1.6,
                                                              zorder=3)
        for label, size, color, style in refs:
            handles[label] = ax.axhline(size, color=color, linewidth=1.4, linestyle=style, zorder=3)
        ax.set_yscale("log")
        ax.set_ylim(bottom, top)
        ax.yaxis.set_major_locator(LogLocator(base=4))
        ax.yaxis.set_major_formatter(FuncFormatter(_human))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{i} {op}" for i, op in enumerate(r.step_ops[p])], rotation=35, ha="right",
                           fontsize=8)
        ax.set_xlim(-0.6, max(len(live), 2) - 0.4)
        ax.grid(axis="y", which="major", color="#e6e6e6", zorder=0)
        ax.set_title(f"{p}: {len(live)} step{'s' * (len(live) != 1)}, arena {peak:,} B", fontsize=11,
                     color="#333333" if p == "unfused" else colors[p])
    axes[0].set_ylabel("bytes alive at the step: activations + scratch (log scale; KB = 1024 B)")
    order = [f"{p} arena (peak) {r.peak_bytes[p]:,} B" for p in PLANS] + [label for label, *_ in reversed(refs)]
    fig.legend([handles[k] for k in order], order, loc="outside lower center", ncol=3, fontsize=8.5)
    fig.suptitle(f"{r.name}: live bytes per step, unfused and fused (pyshrink report)", fontsize=12)
    fig.savefig(os.fspath(path), dpi=110)
