"""Argument parsing and validation, shared by the C wrappers and `pyshrink.reference`.

This is the only code the two implementations share: it turns the keyword
arguments of SPEC.md's Python surface into resolved geometry (explicit padding,
output sizes) and validated quantization parameters, and raises a clear
exception naming the argument for anything out of contract. It does no
arithmetic on tensor values except the accumulator-overflow bound.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ._errors import (
    AccumulatorOverflowError,
    DTypeError,
    OutputSizeError,
    ParameterError,
    PoolCountError,
    ShapeError,
)

INT32_MAX = 2**31 - 1
#: Largest element count of one tensor (the C core indexes within int32).
MAX_ELEMENTS = INT32_MAX
REQUANT_MODES = ("double", "single")
ROUNDING_MODES = ("tflite", "floor", "half_up")

Padding = str | Sequence[int]
IntOrPair = int | Sequence[int]


@dataclass(frozen=True)
class Quant:
    """Validated requantization of a conv-like op (per output channel)."""

    input_zp: int
    output_zp: int
    multiplier: np.ndarray  # int32, (C_out,)
    shift: np.ndarray  # int32, (C_out,)
    act_min: int
    act_max: int
    requant: str  # "double" | "single"


@dataclass(frozen=True)
class ConvGeometry:
    """Resolved geometry of a conv-like op; pointwise and FC are 1x1, stride 1."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int, int, int]  # top, bottom, left, right
    depth_multiplier: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]  # NHWC, or (N, units) for fully connected


@dataclass(frozen=True)
class PoolGeometry:
    """Resolved geometry and rounding of a pooling op (or the pool half of a fused op)."""

    pool: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    rounding: str
    act_min: int
    act_max: int
    in_shape: tuple[int, int, int, int]
    out_shape: tuple[int, int, int, int]


@dataclass(frozen=True)
class ConvCall:
    """Everything a conv-like kernel needs, validated; arrays are C-contiguous."""

    kind: str  # "conv2d" | "depthwise_conv2d" | "pointwise_conv2d" | "fully_connected"
    x: np.ndarray
    w: np.ndarray
    bias: np.ndarray | None
    geometry: ConvGeometry
    quant: Quant


# ---- scalars ---------------------------------------------------------------------------


def as_int(value: Any, name: str) -> int:
    """A Python int from an int-like (not bool, not float)."""
    if isinstance(value, (bool, np.bool_)):
        raise DTypeError(f"{name} must be an int, got bool")
    try:
        return operator.index(value)
    except TypeError:
        raise DTypeError(f"{name} must be an int, got {type(value).__name__}") from None


def int_in_range(value: Any, name: str, lo: int, hi: int) -> int:
    v = as_int(value, name)
    if not lo <= v <= hi:
        raise ParameterError(f"{name} must be in [{lo}, {hi}], got {v}")
    return v


def pair(value: Any, name: str, minimum: int = 1) -> tuple[int, int]:
    """An int or an (h, w) pair, each >= minimum."""
    if isinstance(value, (str, bytes)):
        raise DTypeError(f"{name} must be an int or an (h, w) pair, got {value!r}")
    if isinstance(value, (Sequence, np.ndarray)):
        if len(value) != 2:
            raise ParameterError(f"{name} must be an int or an (h, w) pair, got {len(value)} values")
        h, w = as_int(value[0], name), as_int(value[1], name)
    else:
        h = w = as_int(value, name)
    if h < minimum or w < minimum:
        raise ParameterError(f"{name} must be >= {minimum}, got {(h, w)}")
    if max(h, w) > INT32_MAX:  # the C core's params are int32
        raise ParameterError(f"{name} must be <= 2**31 - 1, got {(h, w)}")
    return h, w


def act_range(act_min: Any, act_max: Any, names: tuple[str, str] = ("act_min", "act_max")) -> tuple[int, int]:
    lo = int_in_range(act_min, names[0], -128, 127)
    hi = int_in_range(act_max, names[1], -128, 127)
    if lo > hi:
        raise ParameterError(f"{names[0]} ({lo}) must be <= {names[1]} ({hi})")
    return lo, hi


def choice(value: Any, name: str, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ParameterError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")
    return value


# ---- arrays ----------------------------------------------------------------------------


def int8_array(a: Any, name: str, ndim: int, what: str) -> np.ndarray:
    """A C-contiguous int8 array of ndim dims, none empty. Non-contiguous input is copied."""
    if not isinstance(a, np.ndarray):
        raise DTypeError(f"{name} must be a numpy.ndarray of int8, got {type(a).__name__}")
    if a.dtype != np.int8:
        raise DTypeError(f"{name} must have dtype int8, got {a.dtype}")
    if a.ndim != ndim:
        raise ShapeError(f"{name} must be {ndim}-D {what}, got shape {a.shape}")
    if 0 in a.shape:
        raise ShapeError(f"{name} must not have an empty dimension, got shape {a.shape}")
    if a.size > MAX_ELEMENTS:
        raise ShapeError(f"{name} has {a.size} elements, more than {MAX_ELEMENTS}")
    return np.ascontiguousarray(a)


def bias_array(bias: Any, channels: int) -> np.ndarray | None:
    """None, or an int32 (C_out,) array from any integer array whose values fit int32."""
    if bias is None:
        return None
    if not isinstance(bias, np.ndarray):
        raise DTypeError(f"bias must be None or a numpy.ndarray of int32, got {type(bias).__name__}")
    if bias.dtype.kind not in "iu":
        raise DTypeError(f"bias must have an integer dtype (int32), got {bias.dtype}")
    if bias.shape != (channels,):
        raise ShapeError(f"bias must have shape ({channels},) (one per output channel), got {bias.shape}")
    if bias.size and (bias.min() < -(2**31) or bias.max() > INT32_MAX):
        raise ParameterError("bias values must fit in int32")
    return np.ascontiguousarray(bias, dtype=np.int32)


def per_channel(value: Any, name: str, channels: int, lo: int, hi: int) -> np.ndarray:
    """A scalar (broadcast) or a (C_out,) array of ints in [lo, hi], as int32."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise DTypeError(f"{name} must be an int or an integer array, got dtype {arr.dtype}")
    if arr.ndim == 0:
        arr = np.full(channels, arr, dtype=np.int64)
    elif arr.shape != (channels,):
        raise ShapeError(f"{name} must be a scalar or have shape ({channels},) (one per output channel), got {arr.shape}")
    bad = (arr < lo) | (arr > hi)
    if bad.any():
        i = int(np.argmax(bad))
        raise ParameterError(f"{name}[{i}] = {int(arr[i])} is outside [{lo}, {hi}]")
    return np.ascontiguousarray(arr, dtype=np.int32)


def quant_args(channels: int, *, input_zp: Any, output_zp: Any, multiplier: Any, shift: Any,
               act_min: Any, act_max: Any, requant: Any) -> Quant:
    multiplier = per_channel(multiplier, "multiplier", channels, 0, INT32_MAX)
    small = (multiplier != 0) & (multiplier < 2**30)
    if small.any():
        i = int(np.argmax(small))
        raise ParameterError(f"multiplier[{i}] = {int(multiplier[i])} must be 0 or in [2**30, 2**31 - 1]")
    lo, hi = act_range(act_min, act_max)
    return Quant(
        input_zp=int_in_range(input_zp, "input_zp", -128, 127),
        output_zp=int_in_range(output_zp, "output_zp", -128, 127),
        multiplier=multiplier,
        shift=per_channel(shift, "shift", channels, -31, 30),
        act_min=lo,
        act_max=hi,
        requant=choice(requant, "requant", REQUANT_MODES),
    )


def check_accumulator(w_abs_sum: np.ndarray, bias: np.ndarray | None, input_zp: int) -> None:
    """Reject weights for which |bias| + max|x - input_zp| * sum|w| could exceed int32."""
    max_x = max(127 - input_zp, input_zp + 128)
    bound = w_abs_sum.astype(np.int64) * max_x
    if bias is not None:
        bound = bound + np.abs(bias.astype(np.int64))
    if (bound > INT32_MAX).any():
        oc = int(np.argmax(bound))
        raise AccumulatorOverflowError(
            f"output channel {oc}: |bias| + max|x - input_zp| * sum|w| = {int(bound[oc])} "
            f"exceeds the int32 accumulator (w, bias)"
        )


# ---- geometry --------------------------------------------------------------------------


def output_size(size: int, kernel: int, stride: int, dilation: int, lo: int, hi: int) -> int:
    """(size + lo + hi - dilated kernel) // stride + 1, or < 1 when it does not fit."""
    span = (kernel - 1) * dilation + 1
    room = size + lo + hi - span
    return room // stride + 1 if room >= 0 else 0


def resolve_padding(padding: Any, name: str, in_hw: tuple[int, int], kernel: tuple[int, int],
                    stride: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    """"valid", "same" (SPEC.md: total split top/left = total // 2) or (top, bottom, left, right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            pads = []
            for size, k, s, d in zip(in_hw, kernel, stride, dilation):
                out = -(-size // s)
                total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
                pads += [total // 2, total - total // 2]
            return (pads[0], pads[1], pads[2], pads[3])
        raise ParameterError(f"{name} must be 'valid', 'same' or (top, bottom, left, right), got {padding!r}")
    if not isinstance(padding, (Sequence, np.ndarray)) or len(padding) != 4:
        raise ParameterError(f"{name} must be 'valid', 'same' or (top, bottom, left, right), got {padding!r}")
    pads = tuple(as_int(p, name) for p in padding)
    if min(pads) < 0:
        raise ParameterError(f"{name} must be non-negative, got {pads}")
    if max(pads) > INT32_MAX:  # the C core's params are int32
        raise ParameterError(f"{name} must be <= 2**31 - 1 on each side, got {pads}")
    return pads  # type: ignore[return-value]


def spatial_out(name: str, in_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
                dilation: tuple[int, int], pads: tuple[int, int, int, int],
                pad_name: str = "padding") -> tuple[int, int]:
    for axis, (size, lo, hi) in enumerate([(in_hw[0], pads[0], pads[1]), (in_hw[1], pads[2], pads[3])]):
        if size + lo + hi > INT32_MAX:  # the C core keeps all window arithmetic within int32
            raise ParameterError(f"{pad_name} {pads}: the padded {'HW'[axis]} extent {size + lo + hi} "
                                 f"exceeds 2**31 - 1")
    out_h = output_size(in_hw[0], kernel[0], stride[0], dilation[0], pads[0], pads[1])
    out_w = output_size(in_hw[1], kernel[1], stride[1], dilation[1], pads[2], pads[3])
    if out_h < 1 or out_w < 1:
        span = ((kernel[0] - 1) * dilation[0] + 1, (kernel[1] - 1) * dilation[1] + 1)
        padded = (in_hw[0] + pads[0] + pads[1], in_hw[1] + pads[2] + pads[3])
        raise OutputSizeError(
            f"{name}: the (dilated) window {span} is larger than the padded input {padded}; "
            "the output would be empty"
        )
    return out_h, out_w


def conv_geometry(kind: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...], *, stride: Any = 1,
                  padding: Any = "valid", dilation: Any = 1, depth_multiplier: Any = 1) -> ConvGeometry:
    """Geometry of a conv-like op from shapes alone (also what scratch_bytes needs)."""
    if kind == "fully_connected":
        if len(x_shape) != 2 or len(w_shape) != 2:
            raise ShapeError(f"fully_connected takes x (N, features) and w (units, features), got {x_shape}, {w_shape}")
        if x_shape[1] != w_shape[1]:
            raise ShapeError(f"w has {w_shape[1]} features but x has {x_shape[1]} (w shape (units, features))")
        return ConvGeometry((1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 1, tuple(x_shape), (x_shape[0], w_shape[0]))
    n, h, w, c = x_shape
    if kind == "pointwise_conv2d":
        if w_shape[1] != c:
            raise ShapeError(f"w has {w_shape[1]} input channels but x has {c} (w shape (C_out, C_in))")
        return ConvGeometry((1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 1, tuple(x_shape), (n, h, w, w_shape[0]))
    if kind == "conv2d":
        c_out, kh, kw, c_in = w_shape
        if c_in != c:
            raise ShapeError(f"w has {c_in} input channels but x has {c} (w shape (C_out, KH, KW, C_in))")
        mult = 1
    elif kind == "depthwise_conv2d":
        kh, kw, c_out = w_shape
        mult = as_int(depth_multiplier, "depth_multiplier")
        if mult < 1:
            raise ParameterError(f"depth_multiplier must be >= 1, got {mult}")
        if c_out != c * mult:
            raise ShapeError(
                f"w has {c_out} channels but x has {c} channels x depth_multiplier {mult} = {c * mult} "
                "(w shape (KH, KW, C_in * M))"
            )
    else:
        raise ParameterError(f"unknown conv kind {kind!r}")
    strides = pair(stride, "stride")
    dilations = pair(dilation, "dilation")
    pads = resolve_padding(padding, "padding", (h, w), (kh, kw), strides, dilations)
    out_h, out_w = spatial_out(kind, (h, w), (kh, kw), strides, dilations, pads)
    return ConvGeometry((kh, kw), strides, dilations, pads, mult, tuple(x_shape), (n, out_h, out_w, c_out))


def clipped_window_indices(out: int, stride: int, pad: int, size: int, extent: int) -> list[int]:
    """The windows along one axis whose input count may differ from the others: the ones
    clipped by the start or the end of the input, plus one unclipped window if any.

    Window o covers [o*stride - pad, o*stride - pad + size) clipped to [0, extent); only the
    first ceil(pad / stride) windows start before 0 and only those with
    o*stride - pad + size > extent end after it, so every other window counts `size`
    positions. (pad < size, so this is a handful of windows, however large the axis.)
    """
    head = min(out, -(-pad // stride))                        # o*stride < pad
    tail = max(head, min(out, (extent + pad - size) // stride + 1))  # first o that ends past extent
    picked = list(range(head)) + list(range(tail, out))
    if head < tail:
        picked.append(head)  # an unclipped window: count == size
    return picked


def pool_geometry(in_shape: tuple[int, int, int, int], *, pool: Any = 2, stride: Any = None,
                  padding: Any = "valid", rounding: Any = "tflite", act_min: Any = -128, act_max: Any = 127,
                  names: dict[str, str] | None = None) -> PoolGeometry:
    """Pool geometry; `names` renames the arguments in messages (the fused ops' pool_*)."""
    nm = {"pool": "pool", "stride": "stride", "padding": "padding", "rounding": "rounding",
          "act_min": "act_min", "act_max": "act_max"} | (names or {})
    window = pair(pool, nm["pool"])
    strides = window if stride is None else pair(stride, nm["stride"])
    rounding = choice(rounding, nm["rounding"], ROUNDING_MODES)
    lo, hi = act_range(act_min, act_max, (nm["act_min"], nm["act_max"]))
    n, h, w, c = in_shape
    pads = resolve_padding(padding, nm["padding"], (h, w), window, strides, (1, 1))
    if pads[0] >= window[0] or pads[1] >= window[0] or pads[2] >= window[1] or pads[3] >= window[1]:
        raise ParameterError(f"{nm['padding']} {pads} must be smaller than the pool window {window} on each side")
    if window[0] * window[1] > INT32_MAX // 128:
        raise ParameterError(f"{nm['pool']} window {window} is too large for an int32 window sum")
    out_h, out_w = spatial_out(nm["pool"], (h, w), window, strides, (1, 1), pads, nm["padding"])
    if rounding != "tflite":
        for axis, (size, k, s, lo_pad, out) in enumerate(
            [(h, window[0], strides[0], pads[0], out_h), (w, window[1], strides[1], pads[2], out_w)]
        ):
            for o in clipped_window_indices(out, s, lo_pad, k, size):
                start = o * s - lo_pad
                count = min(start + k, size) - max(start, 0)
                if count & (count - 1):
                    raise PoolCountError(
                        f"{nm['rounding']}={rounding!r} needs every window count to be a power of two, "
                        f"but window {o} along {'HW'[axis]} covers {count} input positions; use rounding='tflite'"
                    )
    return PoolGeometry(window, strides, pads, rounding, lo, hi, tuple(in_shape), (n, out_h, out_w, c))


# ---- whole calls -----------------------------------------------------------------------

_X_NDIM = {"conv2d": 4, "depthwise_conv2d": 4, "pointwise_conv2d": 4, "fully_connected": 2}
_W_NDIM = {"conv2d": 4, "depthwise_conv2d": 3, "pointwise_conv2d": 2, "fully_connected": 2}
_W_WHAT = {
    "conv2d": "(C_out, KH, KW, C_in)",
    "depthwise_conv2d": "(KH, KW, C_in * depth_multiplier)",
    "pointwise_conv2d": "(C_out, C_in)",
    "fully_connected": "(units, features)",
}
# axes of w summed per output channel, and where the output channel axis is
_W_ABS_AXES = {"conv2d": (1, 2, 3), "depthwise_conv2d": (0, 1), "pointwise_conv2d": (1,), "fully_connected": (1,)}


def out_channels(kind: str, w_shape: tuple[int, ...]) -> int:
    return w_shape[-1] if kind == "depthwise_conv2d" else w_shape[0]


def conv_call(kind: str, x: Any, w: Any, bias: Any, *, input_zp: Any, output_zp: Any, multiplier: Any,
              shift: Any, act_min: Any = -128, act_max: Any = 127, requant: Any = "double",
              **geometry: Any) -> ConvCall:
    """Validate every argument of a conv-like op; `geometry` is stride/padding/dilation/depth_multiplier."""
    x = int8_array(x, "x", _X_NDIM[kind], "NHWC" if _X_NDIM[kind] == 4 else "(N, features)")
    w = int8_array(w, "w", _W_NDIM[kind], _W_WHAT[kind])
    geo = conv_geometry(kind, x.shape, w.shape, **geometry)
    channels = out_channels(kind, w.shape)
    bias = bias_array(bias, channels)
    quant = quant_args(channels, input_zp=input_zp, output_zp=output_zp, multiplier=multiplier, shift=shift,
                       act_min=act_min, act_max=act_max, requant=requant)
    abs_sum = np.abs(w.astype(np.int64)).sum(axis=_W_ABS_AXES[kind])
    check_accumulator(abs_sum, bias, quant.input_zp)
    if int(np.prod(geo.out_shape)) > MAX_ELEMENTS:
        raise OutputSizeError(f"the output {geo.out_shape} has more than {MAX_ELEMENTS} elements")
    return ConvCall(kind, x, w, bias, geo, quant)


POOL_KEYWORDS = {"pool": "pool", "pool_stride": "stride", "pool_padding": "padding", "rounding": "rounding",
                 "pool_act_min": "act_min", "pool_act_max": "act_max"}
POOL_NAMES = {v: k for k, v in POOL_KEYWORDS.items()}


def fused_pool_geometry(conv_out_shape: tuple[int, int, int, int], **pool_kw: Any) -> PoolGeometry:
    """The pool half of a fused op, from its pool_* keywords, over the conv output."""
    unknown = set(pool_kw) - set(POOL_KEYWORDS)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    return pool_geometry(conv_out_shape, names=POOL_NAMES,
                         **{POOL_KEYWORDS[k]: v for k, v in pool_kw.items()})


def out_array(out: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The caller's out= (checked: int8, C-contiguous, writeable, exact shape) or a new array."""
    if out is None:
        return np.empty(shape, dtype=np.int8)
    if not isinstance(out, np.ndarray):
        raise DTypeError(f"out must be a numpy.ndarray of int8, got {type(out).__name__}")
    if out.dtype != np.int8:
        raise DTypeError(f"out must have dtype int8, got {out.dtype}")
    if out.shape != tuple(shape):
        raise OutputSizeError(f"out must have shape {tuple(shape)}, got {out.shape}")
    if not out.flags.c_contiguous:
        raise ShapeError("out must be C-contiguous")
    if not out.flags.writeable:
        raise ParameterError("out must be writeable")
    return out


# ---- softmax -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SoftmaxCall:
    """A validated softmax call: x C-contiguous int8 (ndim >= 1), scale and beta as float32 values."""

    x: np.ndarray
    input_scale: float  # a float32 value, held exactly as a Python float
    beta: float  # likewise


def positive_float32(value: Any, name: str) -> float:
    """A real number > 0 rounded to float32 (as a .tflite model stores it), as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DTypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        with np.errstate(over="ignore"):
            f32 = np.float32(value)
    except OverflowError:  # a Python int beyond any float
        f32 = np.float32(np.inf)
    if not np.isfinite(f32) or not f32 > 0:
        raise ParameterError(f"{name} must be a finite number > 0 (as a float32), got {value!r}")
    return float(f32)


def softmax_call(x: Any, input_scale: Any, beta: Any) -> SoftmaxCall:
    """Validate softmax's arguments (x int8, ndim >= 1; input_scale, beta > 0 as float32).

    TFLite's kernel needs beta * input_scale * 2**26 > 1 (it aborts otherwise).
    """
    if not isinstance(x, np.ndarray):
        raise DTypeError(f"x must be a numpy.ndarray of int8, got {type(x).__name__}")
    if x.dtype != np.int8:
        raise DTypeError(f"x must have dtype int8, got {x.dtype}")
    if x.ndim < 1:
        raise ShapeError(f"x must have at least one dimension (softmax runs over the last), got shape {x.shape}")
    if 0 in x.shape:
        raise ShapeError(f"x must not have an empty dimension, got shape {x.shape}")
    if x.size > MAX_ELEMENTS:
        raise ShapeError(f"x has {x.size} elements, more than {MAX_ELEMENTS}")
    scale = positive_float32(input_scale, "input_scale")
    b = positive_float32(beta, "beta")
    if not b * scale * 2.0**26 > 1.0:  # exact: a product of two float32s fits a double
        raise ParameterError(
            f"input_scale * beta must be > 2**-26 (TFLite's softmax rejects it), got {scale!r} * {b!r}")
    return SoftmaxCall(np.ascontiguousarray(x), scale, b)
