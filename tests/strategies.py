"""Hypothesis strategies for pyshrink's property tests.

Every strategy here builds a *valid* call by construction (SPEC.md, Geometry):
input sizes are drawn after the kernel, stride, dilation and padding so that
every output size is >= 1, pool paddings are smaller than the window, shift
rounding modes only get windows whose every count is a power of two, and the
bias is drawn from what the accumulator bound of `pyshrink._args` still allows
(often right at that bound, on purpose). No example is rejected.

Tensors are kept small enough that one example runs in milliseconds: a case
has big spatial dims *or* many channels, and the multiply-accumulate count is
capped (`MAX_MACS`).

The geometry arithmetic below (output sizes, "same" padding, window counts) is
re-derived from SPEC.md independently of both implementations; the tests use
it only to build valid inputs and to check output shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

INT32_MAX = 2**31 - 1
#: Upper bound on the multiply-accumulates of one conv-like case.
MAX_MACS = 400_000
#: Upper bound on the elements of one pooling input.
MAX_POOL_ELEMENTS = 40_000

CONV_KINDS = ("conv2d", "depthwise_conv2d", "pointwise_conv2d", "fully_connected")
FUSED_OPS = {
    "conv2d_avgpool": "conv2d",
    "depthwise_conv2d_avgpool": "depthwise_conv2d",
    "pointwise_conv2d_avgpool": "pointwise_conv2d",
}
#: The fused ops' pool keywords -> the keyword of avg_pool2d they stand for.
FUSED_POOL_KEYWORDS = {
    "pool": "pool",
    "pool_stride": "stride",
    "pool_padding": "padding",
    "rounding": "rounding",
    "pool_act_min": "act_min",
    "pool_act_max": "act_max",
}


# ---- geometry, from SPEC.md ----------------------------------------------------------


def dilated(kernel: int, dilation: int) -> int:
    return (kernel - 1) * dilation + 1


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """SPEC.md "same": out = ceil(in / s), total split with the smaller half first."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilated(kernel, dilation) - size, 0)
    return total // 2, total - total // 2


def out_size(size: int, kernel: int, stride: int, dilation: int, lo: int, hi: int) -> int:
    return (size + lo + hi - dilated(kernel, dilation)) // stride + 1


def window_counts(size: int, kernel: int, stride: int, lo: int, out: int) -> list[int]:
    """Input positions covered by each pooling window along one axis (padding not counted)."""
    return [min(o * stride - lo + kernel, size) - max(o * stride - lo, 0) for o in range(out)]


def is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


# ---- a case: one valid call ----------------------------------------------------------


def _show(a: Any) -> str:
    if isinstance(a, np.ndarray):
        body = np.array2string(a, threshold=300, separator=",").replace("\n", "")
        return f"np.array({body}, dtype=np.{a.dtype})"
    return repr(a)


@dataclass
class Case:
    """One valid call of `op`: positional x (and w), a bias passed in `bias_style`, keywords.

    `out_shape` is the output shape SPEC.md's geometry gives; `conv_out_shape` is the
    pre-pool shape of a fused op. `use_out` says whether the C call and the reference
    call are given an `out=` array.
    """

    op: str
    x: np.ndarray
    w: np.ndarray | None
    bias: np.ndarray | None
    kwargs: dict[str, Any]
    out_shape: tuple[int, ...]
    conv_out_shape: tuple[int, ...] | None = None
    bias_style: str = "keyword"  # "keyword" | "positional" | "omitted"
    use_out: tuple[bool, bool] = (False, False)
    notes: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        kw = ", ".join(f"{k}={_show(v)}" for k, v in self.kwargs.items())
        parts = [f"x={_show(self.x)}"]
        if self.w is not None:
            parts.append(f"w={_show(self.w)}")
            parts.append(f"bias={_show(self.bias)} [{self.bias_style}]")
        return (f"Case({self.op}: {', '.join(parts)}, {kw}; out_shape={self.out_shape}, "
                f"use_out={self.use_out}, notes={self.notes})")

    def call(self, fn: Callable[..., np.ndarray], out: np.ndarray | None = None,
             **overrides: Any) -> np.ndarray:
        """Call `fn` (ps.<op> or ps.reference.<op>) with this case's arguments."""
        kw = {**self.kwargs, **overrides}
        if out is not None:
            kw["out"] = out
        if self.w is None:
            return fn(self.x, **kw)
        if self.bias_style == "positional":
            return fn(self.x, self.w, self.bias, **kw)
        if self.bias_style == "omitted":
            assert self.bias is None
            return fn(self.x, self.w, **kw)
        return fn(self.x, self.w, bias=self.bias, **kw)

    def conv_kwargs(self) -> dict[str, Any]:
        """A fused op's keywords without the pool ones: those of its conv."""
        return {k: v for k, v in self.kwargs.items() if k not in FUSED_POOL_KEYWORDS}

    def pool_kwargs(self) -> dict[str, Any]:
        """A fused op's pool keywords, renamed to avg_pool2d's."""
        return {FUSED_POOL_KEYWORDS[k]: v for k, v in self.kwargs.items() if k in FUSED_POOL_KEYWORDS}


# ---- small pieces --------------------------------------------------------------------


def int8_tensor(draw: st.DrawFn, shape: tuple[int, ...], extreme: bool = False) -> np.ndarray:
    """An int8 tensor: uniform, only the extremes, constant, small, or sparse values
    (with `extreme`, only -128/127: random or constant)."""
    modes = ["extremes", "constant"] if extreme else ["uniform", "uniform", "extremes", "constant", "small", "sparse"]
    mode = draw(st.sampled_from(modes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if mode == "uniform":
        a = rng.integers(-128, 128, size=shape)
    elif mode == "extremes":
        a = rng.choice(np.array([-128, 127]), size=shape)
    elif mode == "constant":
        values = st.sampled_from([-128, 127]) if extreme else st.sampled_from([-128, 127, 0, -1]) | st.integers(-128, 127)
        a = np.full(shape, draw(values))
    elif mode == "small":
        a = rng.integers(-3, 4, size=shape)
    else:
        a = rng.integers(-128, 128, size=shape) * (rng.random(shape) < 0.15)
    return np.ascontiguousarray(a, dtype=np.int8)


def zero_point(extreme: bool = False) -> st.SearchStrategy[int]:
    if extreme:
        return st.sampled_from([-128, 127])
    return st.sampled_from([-128, 127, 0]) | st.integers(-128, 127)


@st.composite
def act_range(draw: st.DrawFn, output_zp: int = 0) -> tuple[int, int] | None:
    """None (the defaults), or an (act_min, act_max): random, narrow, single-valued or ReLU-like."""
    mode = draw(st.sampled_from(["default", "full", "random", "narrow", "single", "relu"]))
    if mode == "default":
        return None
    if mode == "full":
        return -128, 127
    if mode == "random":
        a, b = draw(st.integers(-128, 127)), draw(st.integers(-128, 127))
        return min(a, b), max(a, b)
    if mode == "narrow":
        lo = draw(st.integers(-128, 124))
        return lo, lo + draw(st.integers(1, 3))
    if mode == "single":
        v = draw(st.sampled_from([-128, 127]) | st.integers(-128, 127))
        return v, v
    return max(-128, output_zp), draw(st.sampled_from([127]) | st.integers(max(-128, output_zp), 127))


def put_act(kwargs: dict[str, Any], rng_: tuple[int, int] | None, names: tuple[str, str]) -> None:
    if rng_ is not None:
        kwargs[names[0]], kwargs[names[1]] = rng_


def int_pair(draw: st.DrawFn, h: int, w: int) -> int | tuple[int, int] | list[int]:
    """How a stride/dilation/pool is spelled: an int when square (sometimes), else a pair."""
    if h == w and draw(st.booleans()):
        return h
    return [h, w] if draw(st.integers(0, 3)) == 0 else (h, w)


def padding_value(draw: st.DrawFn, form: str, pads: tuple[int, int, int, int]) -> Any:
    if form != "explicit":
        return form
    return list(pads) if draw(st.integers(0, 3)) == 0 else tuple(pads)


@st.composite
def multipliers(draw: st.DrawFn, channels: int) -> Any:
    """A scalar (Python or NumPy int) or a per-channel array; values 0, 2**30, 2**31-1 or in between."""
    value = st.sampled_from([0, 2**30, INT32_MAX, 2**30 + 1, INT32_MAX - 1]) | st.integers(2**30, INT32_MAX)
    if draw(st.integers(0, 3)) == 0:
        v = draw(value)
        return draw(st.sampled_from([int, np.int32, np.int64]))(v)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    arr = rng.integers(2**30, INT32_MAX, size=channels, endpoint=True)
    special = rng.random(channels)
    arr[special < 0.1] = 0
    arr[(special >= 0.1) & (special < 0.2)] = 2**30
    arr[(special >= 0.2) & (special < 0.3)] = INT32_MAX
    return arr.astype(draw(st.sampled_from([np.int32, np.int64])))


@st.composite
def shifts(draw: st.DrawFn, sensible: np.ndarray) -> Any:
    """Shifts over [-31, 30]: mostly near `sensible` (per channel, where outputs do not all
    saturate), but also uniform over the whole range, the range's ends, and scalars."""
    channels = len(sensible)
    mode = draw(st.sampled_from(["near", "near", "near", "uniform", "ends", "scalar"]))
    if mode == "scalar":
        v = draw(st.integers(-31, 30) | st.sampled_from([-31, 30, int(np.median(sensible))]))
        return draw(st.sampled_from([int, np.int32, np.int64]))(v)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if mode == "near":
        arr = sensible + rng.integers(-3, 4, size=channels)
    elif mode == "uniform":
        arr = rng.integers(-31, 31, size=channels)
    else:
        arr = rng.choice(np.array([-31, -30, 0, 29, 30]), size=channels)
    return np.clip(arr, -31, 30).astype(draw(st.sampled_from([np.int32, np.int64])))


@st.composite
def biases(draw: st.DrawFn, w_abs_sum: np.ndarray, input_zp: int, extreme: bool = False) -> np.ndarray | None:
    """None, zeros, small, large, or right at the accumulator bound of pyshrink._args:
    |bias| + max|x - input_zp| * sum|w| <= 2**31 - 1 for every channel."""
    channels = len(w_abs_sum)
    max_x = max(127 - input_zp, input_zp + 128)
    allowed = INT32_MAX - w_abs_sum.astype(np.int64) * max_x
    assert (allowed >= 0).all(), "MAX_MACS-sized weights always fit the accumulator"
    modes = ["limit"] if extreme else ["none", "zeros", "small", "large", "limit", "limit", "mixed"]
    mode = draw(st.sampled_from(modes))
    if mode == "none":
        return None
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sign = rng.choice(np.array([-1, 1]), size=channels)
    if mode == "zeros":
        b = np.zeros(channels, dtype=np.int64)
    elif mode == "small":
        b = rng.integers(-5000, 5001, size=channels)
    elif mode == "large":
        b = (rng.random(channels) * allowed).astype(np.int64) * sign
    elif mode == "limit":
        b = np.maximum(allowed - rng.integers(0, 4, size=channels), 0) * sign
    else:
        b = np.where(rng.random(channels) < 0.5, allowed * sign, rng.integers(-5000, 5001, size=channels))
    b = np.clip(b, -allowed, allowed)
    return b.astype(draw(st.sampled_from([np.int32, np.int32, np.int64])))


def sensible_shift(x: np.ndarray, input_zp: int, w_per_channel: np.ndarray,
                   bias: np.ndarray | None) -> np.ndarray:
    """Per channel, the shift that maps a typical accumulator to a few dozen (unsaturated)."""
    xc = x.astype(np.float64) - input_zp
    x_rms, x_mean = math.sqrt(float(np.mean(xc * xc))), float(np.mean(xc))
    wf = w_per_channel.astype(np.float64)  # (channels, taps)
    taps = wf.shape[1]
    w_rms = np.sqrt(np.mean(wf * wf, axis=1))
    w_mean = np.mean(wf, axis=1)
    est = np.maximum(math.sqrt(taps) * x_rms * w_rms, taps * abs(x_mean) * np.abs(w_mean))
    if bias is not None:
        est = est + np.abs(bias.astype(np.float64))
    return np.clip(np.round(np.log2(48.0 / (0.75 * np.maximum(est, 1.0)))), -31, 30).astype(np.int64)


# ---- pooling geometry -----------------------------------------------------------------


@st.composite
def pool_geometry(draw: st.DrawFn, h: int, w: int, rounding: str,
                  max_window: int = 6) -> tuple[dict[str, Any], tuple[int, int]]:
    """avg/max_pool2d keywords (pool, stride, padding) valid over an h x w input, and the
    pooled (H, W). Windows overlap (stride < window), tile (==) or skip (>). For the shift
    roundings every window count is a power of two: windows come from {1, 2, 4}, and a
    padding under which some clipped window is not a power of two falls back to "valid"."""
    shift_mode = rounding != "tflite"
    windows = []
    for size in (h, w):
        if shift_mode:
            windows.append(draw(st.sampled_from([k for k in (2, 4, 1) if k <= size])))
        else:
            windows.append(draw(st.integers(1, max_window)))
    form = draw(st.sampled_from(["valid", "same", "explicit"]))
    if form == "valid" and any(k > size for k, size in zip(windows, (h, w))):
        form = draw(st.sampled_from(["same", "explicit"]))
    stride_mode = draw(st.sampled_from(["default", "equal", "overlap", "gap", "random"]))
    strides = []
    for k in windows:
        if stride_mode in ("default", "equal"):
            strides.append(k)
        elif stride_mode == "overlap":
            strides.append(draw(st.integers(1, k - 1)) if k > 1 else 1)
        elif stride_mode == "gap":
            strides.append(draw(st.integers(k + 1, k + 3)))
        else:
            strides.append(draw(st.integers(1, 6)))
    pads: list[int] = []
    for size, k, s in zip((h, w), windows, strides):
        if form == "valid":
            pads += [0, 0]
        elif form == "same":
            pads += list(same_padding(size, k, s))
        else:
            lo = draw(st.integers(0, k - 1))
            hi = draw(st.integers(max(0, k - size - lo), k - 1))
            pads += [lo, hi]
    outs = (out_size(h, windows[0], strides[0], 1, pads[0], pads[1]),
            out_size(w, windows[1], strides[1], 1, pads[2], pads[3]))
    assert min(outs) >= 1, (h, w, windows, strides, pads)
    if shift_mode:
        counts = (window_counts(h, windows[0], strides[0], pads[0], outs[0])
                  + window_counts(w, windows[1], strides[1], pads[2], outs[1]))
        if not all(is_pow2(c) for c in counts):
            form, pads = "valid", [0, 0, 0, 0]
            outs = (out_size(h, windows[0], strides[0], 1, 0, 0), out_size(w, windows[1], strides[1], 1, 0, 0))
    kwargs: dict[str, Any] = {"pool": int_pair(draw, *windows)}
    if stride_mode == "default":
        if draw(st.booleans()):
            kwargs["stride"] = None
    else:
        kwargs["stride"] = int_pair(draw, *strides)
    if form != "valid" or draw(st.booleans()):
        kwargs["padding"] = padding_value(draw, form, tuple(pads))  # type: ignore[arg-type]
    return kwargs, outs


def rounding_mode(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["tflite", "tflite", "floor", "half_up"]))


@st.composite
def pool_cases(draw: st.DrawFn, op: str) -> Case:
    """A valid avg_pool2d or max_pool2d call."""
    n = draw(st.integers(1, 3))
    if draw(st.booleans()):  # big image, few channels
        h, w, c = draw(st.integers(1, 40)), draw(st.integers(1, 40)), draw(st.integers(1, 8))
    else:  # small image, many channels
        h, w, c = draw(st.integers(1, 8)), draw(st.integers(1, 8)), draw(st.integers(1, 70))
    n = max(1, min(n, MAX_POOL_ELEMENTS // (h * w * c)))
    x = int8_tensor(draw, (n, h, w, c))
    rounding = rounding_mode(draw) if op == "avg_pool2d" else "tflite"
    kwargs, (oh, ow) = draw(pool_geometry(h, w, rounding))
    if op == "avg_pool2d" and (rounding != "tflite" or draw(st.booleans())):
        kwargs["rounding"] = rounding
    put_act(kwargs, draw(act_range()), ("act_min", "act_max"))
    use_out = (draw(st.booleans()), draw(st.booleans()))
    return Case(op, x, None, None, kwargs, (n, oh, ow, c), use_out=use_out)


# ---- conv-like cases ------------------------------------------------------------------


@st.composite
def conv_cases(draw: st.DrawFn, kind: str, fused: str | None = None, extreme: bool = False,
               depth_multiplier: int | None = None, kernel: tuple[int, int] | None = None,
               dilation: tuple[int, int] | None = None,
               strides: st.SearchStrategy[tuple[int, int]] | None = None,
               channels: st.SearchStrategy[int] | None = None, few_channels: bool = False) -> Case:
    """A valid call of conv-like op `kind`, or of the fused op `fused` around it.

    Covers batch 1-3, H/W 1-40, channels 1-70, rectangular kernels 1-7, strides 1-4,
    dilations 1-3, "valid"/"same"/explicit padding (up to beyond the kernel), zero
    points over int8, multipliers 0/2**30/2**31-1/random, shifts over [-31, 30],
    biases up to the accumulator bound, narrow and single-valued activation ranges,
    both requant modes; for `fused`, also every pool geometry and rounding mode.

    `depth_multiplier` fixes a depthwise case's multiplier (default: drawn from 1-4);
    `kernel`, `dilation`, `strides` (a strategy of pairs) and `channels` (of input channel
    counts) narrow the geometry to one path's specialisation (the rest is drawn as usual).

    `few_channels` (GEMM kinds): 1-15 output channels from 1-8 input channels, kernels up
    to 4x4 and rows up to 24 pixels wide, where the AVX-512 path puts pixels in the lanes
    (out_c <= 8, receptive field <= 64 bytes) and its neighbours where it does not.

    `extreme` drives the arithmetic to its corners: inputs and weights only -128/127
    (often constant, so every tap adds the same sign), zero points -128/127 and the bias
    at the accumulator bound, so accumulators reach +-(2**31 - 1) and the requantization
    meets its int32 wrap-around cases.
    """
    size_mode = "few" if few_channels else draw(st.sampled_from(["spatial", "channels", "balanced"]))
    max_hw = {"spatial": 40, "channels": 6, "balanced": 14, "few": 24}[size_mode]
    max_c = {"spatial": 4, "channels": 70, "balanced": 16, "few": 8}[size_mode]
    n = draw(st.integers(1, 3))
    kwargs: dict[str, Any] = {}
    fixed_kernel, kernel = kernel, (1, 1)
    notes: dict[str, Any] = {"size_mode": size_mode}

    if kind in ("conv2d", "depthwise_conv2d"):
        max_k = 4 if few_channels else 7
        kernel = fixed_kernel or (draw(st.integers(1, max_k)), draw(st.integers(1, max_k)))
        if strides is None:
            strides = st.tuples(st.integers(1, 4), st.integers(1, 4))
        stride = draw(strides)
        if dilation is None:
            # few_channels: mostly undilated, where the AVX-512 gather loads whole kernel rows
            dilation = ((draw(st.sampled_from([1, 1, 1, 2])), draw(st.sampled_from([1, 1, 1, 2]))) if few_channels
                        else (draw(st.integers(1, 3)), draw(st.integers(1, 3))))
        form = draw(st.sampled_from(["valid", "same", "explicit"]))
        spans = [dilated(k, d) for k, d in zip(kernel, dilation)]
        pads: list[int] = []
        if form == "explicit":  # up to a few rows beyond the dilated kernel
            pads = [draw(st.integers(0, spans[i // 2] + 2)) for i in range(4)]
        hw = []
        for axis in range(2):
            if form == "valid":
                lo_size = spans[axis]
            elif form == "same":
                lo_size = 1
            else:
                lo_size = max(1, spans[axis] - pads[2 * axis] - pads[2 * axis + 1])
            hw.append(draw(st.integers(lo_size, max(lo_size, max_hw))))
        h, w = hw
        if form == "valid":
            pads = [0, 0, 0, 0]
        elif form == "same":
            pads = [*same_padding(h, kernel[0], stride[0], dilation[0]),
                    *same_padding(w, kernel[1], stride[1], dilation[1])]
        oh = out_size(h, kernel[0], stride[0], dilation[0], pads[0], pads[1])
        ow = out_size(w, kernel[1], stride[1], dilation[1], pads[2], pads[3])
        assert oh >= 1 and ow >= 1
        if stride != (1, 1) or draw(st.booleans()):
            kwargs["stride"] = int_pair(draw, *stride)
        if form != "valid" or draw(st.booleans()):
            kwargs["padding"] = padding_value(draw, form, tuple(pads))  # type: ignore[arg-type]
        if dilation != (1, 1) or draw(st.booleans()):
            kwargs["dilation"] = int_pair(draw, *dilation)
        notes["resolved_padding"] = tuple(pads)
    elif kind == "pointwise_conv2d":
        h, w = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
        oh, ow = h, w
    else:  # fully connected: features may exceed the conv channel range
        h = w = oh = ow = 1
        max_c = {"spatial": 8, "channels": 70, "balanced": 16, "few": 8}[size_mode]

    taps = kernel[0] * kernel[1]
    if kind == "depthwise_conv2d":
        mult = draw(st.integers(1, 4)) if depth_multiplier is None else depth_multiplier
        c_in = draw(st.integers(1, max(1, max_c // mult)) if channels is None else channels)
        c_out = c_in * mult
        while n * oh * ow * c_out * taps > MAX_MACS and c_in > 1:
            c_in = max(1, c_in // 2)
            c_out = c_in * mult
        if mult != 1 or draw(st.booleans()):
            kwargs["depth_multiplier"] = mult
    else:
        c_in = draw(st.integers(1, 512 if kind == "fully_connected" and size_mode == "channels" else max_c))
        c_out = draw(st.integers(1, 15 if few_channels else max_c))
        while n * oh * ow * c_out * c_in * taps > MAX_MACS and max(c_in, c_out) > 1:
            if c_in >= c_out:
                c_in = max(1, c_in // 2)
            else:
                c_out = max(1, c_out // 2)
    while n > 1 and n * oh * ow * c_out * (1 if kind == "depthwise_conv2d" else c_in) * taps > MAX_MACS:
        n -= 1

    if kind == "fully_connected":
        x = int8_tensor(draw, (n, c_in), extreme)
        w_arr = int8_tensor(draw, (c_out, c_in), extreme)
        per_channel = w_arr
        out_shape: tuple[int, ...] = (n, c_out)
    else:
        x = int8_tensor(draw, (n, h, w, c_in), extreme)
        if kind == "conv2d":
            w_arr = int8_tensor(draw, (c_out, kernel[0], kernel[1], c_in), extreme)
            per_channel = w_arr.reshape(c_out, -1)
        elif kind == "depthwise_conv2d":
            w_arr = int8_tensor(draw, (kernel[0], kernel[1], c_out), extreme)
            per_channel = w_arr.reshape(-1, c_out).T
        else:
            w_arr = int8_tensor(draw, (c_out, c_in), extreme)
            per_channel = w_arr
        out_shape = (n, oh, ow, c_out)

    input_zp, output_zp = draw(zero_point(extreme)), draw(zero_point(extreme))
    abs_sum = np.abs(per_channel.astype(np.int64)).sum(axis=1)
    bias = draw(biases(abs_sum, input_zp, extreme))
    kwargs["input_zp"] = input_zp
    kwargs["output_zp"] = output_zp
    kwargs["multiplier"] = draw(multipliers(c_out))
    kwargs["shift"] = draw(shifts(sensible_shift(x, input_zp, per_channel, bias)))
    put_act(kwargs, draw(act_range(output_zp)), ("act_min", "act_max"))
    requant = draw(st.sampled_from(["default", "double", "single"]))
    if requant != "default":
        kwargs["requant"] = requant
    bias_style = draw(st.sampled_from(["keyword", "positional"] + (["omitted"] if bias is None else [])))

    op, conv_out_shape = kind, None
    if fused is not None:
        op, conv_out_shape = fused, out_shape
        rounding = rounding_mode(draw)
        pool_kw, (ph, pw) = draw(pool_geometry(oh, ow, rounding, max_window=3 if few_channels else 5))
        renames = {"pool": "pool", "stride": "pool_stride", "padding": "pool_padding"}
        kwargs.update({renames[k]: v for k, v in pool_kw.items()})
        if rounding != "tflite" or draw(st.booleans()):
            kwargs["rounding"] = rounding
        put_act(kwargs, draw(act_range(output_zp)), ("pool_act_min", "pool_act_max"))
        out_shape = (n, ph, pw, c_out)

    use_out = (draw(st.booleans()), draw(st.booleans()))
    return Case(op, x, w_arr, bias, kwargs, out_shape, conv_out_shape, bias_style, use_out, notes)


def fused_cases(op: str, extreme: bool = False) -> st.SearchStrategy[Case]:
    return conv_cases(FUSED_OPS[op], fused=op, extreme=extreme)


# ---- checking -------------------------------------------------------------------------


def run_case(case: Case, fn: Callable[..., np.ndarray], use_out: bool) -> np.ndarray:
    """Call fn on the case (with a garbage-filled out= when use_out), check the result is a
    C-contiguous int8 array of SPEC.md's shape, that out= is the array returned, and that
    the inputs were not modified."""
    before = [a.copy() for a in (case.x, case.w, case.bias) if a is not None]
    out = None
    if use_out:
        out = np.full(case.out_shape, 0x5A, dtype=np.int8)
    result = case.call(fn, out=out)
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.int8
    assert result.flags.c_contiguous
    assert result.shape == case.out_shape
    if out is not None:
        assert result is out
    after = [a for a in (case.x, case.w, case.bias) if a is not None]
    for b, a in zip(before, after):
        np.testing.assert_array_equal(a, b, err_msg="an input array was modified")
    return result


def assert_matches_reference(case: Case) -> np.ndarray:
    """ps.<op> and ps.reference.<op> give identical bytes on `case` (each checked by run_case)."""
    import pyshrink as ps

    got = run_case(case, getattr(ps, case.op), case.use_out[0])
    want = run_case(case, getattr(ps.reference, case.op), case.use_out[1])
    np.testing.assert_array_equal(got, want, err_msg=f"{case.op}: C and reference differ")
    return got
