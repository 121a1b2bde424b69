"""Thin wrappers over the C core: validate (pyshrink._args), allocate, call C once.

Every function returns a new C-contiguous int8 array, or writes into `out=`.
Inputs that are not C-contiguous are accepted and copied. The GIL is released
while the C kernel runs (cffi does this for every call), so several threads can
run kernels at once; the C core has no shared state.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import _args
from ._errors import (
    DTypeError,
    AccumulatorOverflowError,
    OutputSizeError,
    ParameterError,
    PoolCountError,
    PyshrinkError,
    ScratchError,
    ShapeError,
)
from ._pyshrink import ffi, lib

_STATUS_ERRORS: dict[int, type[PyshrinkError]] = {
    lib.PS_ERR_NULL: ParameterError,
    lib.PS_ERR_SHAPE: ShapeError,
    lib.PS_ERR_PARAM: ParameterError,
    lib.PS_ERR_OUTPUT_SIZE: OutputSizeError,
    lib.PS_ERR_POOL_COUNT: PoolCountError,
    lib.PS_ERR_OVERFLOW: AccumulatorOverflowError,
    lib.PS_ERR_SCRATCH: ScratchError,
}
_REQUANT = {"double": lib.PS_REQUANT_DOUBLE, "single": lib.PS_REQUANT_SINGLE}
_ROUNDING = {"tflite": lib.PS_ROUND_TFLITE, "floor": lib.PS_ROUND_FLOOR, "half_up": lib.PS_ROUND_HALF_UP}

# ---- kernel paths (private: for tests and benchmarks) -------------------------------------

#: The C core's implementations of every kernel (csrc/dispatch.c). All give the same bytes.
PATHS = {"auto": lib.PS_PATH_AUTO, "ref": lib.PS_PATH_REF, "portable": lib.PS_PATH_PORTABLE,
         "avx2": lib.PS_PATH_AVX2, "avx512": lib.PS_PATH_AVX512, "dsp": lib.PS_PATH_DSP}
_PATH_NAMES = {v: k for k, v in PATHS.items()}
_PATH: contextvars.ContextVar[str] = contextvars.ContextVar("pyshrink_kernel_path", default="auto")


def path_supported(name: str) -> bool:
    """Whether this build and CPU can run kernel path `name` ("auto" always can)."""
    return bool(lib.ps_kernel_path_supported(PATHS[name]))


def resolve_path(name: str = "auto") -> str:
    """The path a kernel call asking for `name` runs ("auto": the fastest supported one)."""
    if not path_supported(name):
        raise ParameterError(f"kernel path {name!r} is not available in this build on this CPU")
    return _PATH_NAMES[lib.ps_kernel_path_resolve(PATHS[name])]


@contextlib.contextmanager
def kernel_path(name: str) -> Iterator[None]:
    """Run the kernels built inside this block (public functions, load_tflite) on path
    `name`: "auto", "ref" (the plain C reference loops), "portable", "avx2", "avx512",
    "dsp" (the Cortex-M DSP-extension kernels; C99 emulation of the instructions off Arm).
    Per thread / async context (a ContextVar). A path this machine lacks is a
    ParameterError when a kernel is built, never a silent fallback."""
    if name not in PATHS:
        raise ParameterError(f"kernel path must be one of {', '.join(PATHS)}, got {name!r}")
    token = _PATH.set(name)
    try:
        yield
    finally:
        _PATH.reset(token)


def _current_path() -> int:
    name = _PATH.get()
    if not path_supported(name):
        raise ParameterError(f"kernel path {name!r} is not available in this build on this CPU")
    return PATHS[name]



def _check(status: int) -> None:
    """Raise the exception class of a C status code (PS_OK returns)."""
    if status == lib.PS_OK:
        return
    message = ffi.string(lib.ps_status_message(status)).decode()
    raise _STATUS_ERRORS.get(status, PyshrinkError)(f"C core: {message} (status {status})")


# ---- marshalling -----------------------------------------------------------------------


def _dims(shape: tuple[int, ...]) -> Any:
    """ps_dims of an NHWC shape; (N, features) and (units, features) become {N, 1, 1, F}."""
    if len(shape) == 2:
        shape = (shape[0], 1, 1, shape[1])
    return ffi.new("ps_dims *", list(shape))


def _filter_dims(kind: str, w_shape: tuple[int, ...]) -> Any:
    if kind == "depthwise_conv2d":
        return ffi.new("ps_dims *", [1, *w_shape])
    if kind == "conv2d":
        return ffi.new("ps_dims *", list(w_shape))
    return ffi.new("ps_dims *", [w_shape[0], 1, 1, w_shape[1]])


def _conv_params(geo: _args.ConvGeometry) -> Any:
    return ffi.new("ps_conv_params *", {
        "stride_h": geo.stride[0], "stride_w": geo.stride[1],
        "dilation_h": geo.dilation[0], "dilation_w": geo.dilation[1],
        "pad_top": geo.padding[0], "pad_bottom": geo.padding[1],
        "pad_left": geo.padding[2], "pad_right": geo.padding[3],
        "depth_multiplier": geo.depth_multiplier,
    })


def _pool_params(geo: _args.PoolGeometry) -> Any:
    return ffi.new("ps_pool_params *", {
        "pool_h": geo.pool[0], "pool_w": geo.pool[1],
        "stride_h": geo.stride[0], "stride_w": geo.stride[1],
        "pad_top": geo.padding[0], "pad_bottom": geo.padding[1],
        "pad_left": geo.padding[2], "pad_right": geo.padding[3],
        "rounding": _ROUNDING[geo.rounding], "act_min": geo.act_min, "act_max": geo.act_max,
        "path": _current_path(),
    })


def float32_bits(value: float) -> int:
    """The IEEE-754 binary32 bit pattern of `value` rounded to float32: how the C API takes a
    float (ps_softmax_prepare), so that no float argument crosses it."""
    with np.errstate(over="ignore"):  # beyond float32: inf, as a C conversion gives
        return int(np.float32(value).view(np.uint32))


def _ptr(ctype: str, array: np.ndarray | None) -> Any:
    return ffi.NULL if array is None else ffi.from_buffer(ctype, array)


class Kernel:
    """One validated op with its C arguments marshalled once: call it many times.

    Holds every buffer the C side points to (weights, bias, multipliers, params),
    so a caller only supplies the input, output and scratch pointers. The public
    functions build one per call; a model builds one per step, at load time.
    """

    def __init__(self, op: str, call: _args.ConvCall | None = None, pool: _args.PoolGeometry | None = None,
                 x_shape: tuple[int, ...] | None = None, softmax: _args.SoftmaxCall | None = None):
        self.op = op
        self._keep: list[Any] = []
        self.pool = None if pool is None else _pool_params(pool)
        #: the kernel path the C call runs (resolved: never "auto"); softmax has one
        self.path = "portable" if self.pool is None else _PATH_NAMES[lib.ps_kernel_path_resolve(self.pool.path)]
        if softmax is not None:
            self.fn, self.scratch_bytes = lib.ps_softmax, 0
            self.softmax = ffi.new("ps_softmax_params *")
            _check(lib.ps_softmax_prepare(float32_bits(softmax.input_scale), float32_bits(softmax.beta),
                                          self.softmax))
            self.out_shape = softmax.x.shape
            self.depth = self.out_shape[-1]
            self.rows = int(np.prod(self.out_shape)) // self.depth
            return
        if call is None:  # avg_pool2d / max_pool2d
            assert pool is not None and x_shape is not None
            self.fn = lib.ps_avg_pool2d if op == "avg_pool2d" else lib.ps_max_pool2d
            self.x_dims, self.out_shape = _dims(x_shape), pool.out_shape
            self.y_dims = _dims(self.out_shape)
            self.scratch_bytes = 0
            return
        q = call.quant
        self.multiplier = _ptr("int32_t[]", q.multiplier)
        self.shift = _ptr("int32_t[]", q.shift)
        self.quant = ffi.new("ps_quant_params *", {
            "input_zp": q.input_zp, "output_zp": q.output_zp,
            "multiplier": self.multiplier, "shift": self.shift,
            "act_min": q.act_min, "act_max": q.act_max, "requant": _REQUANT[q.requant],
            "path": _current_path(),
        })
        self.path = _PATH_NAMES[lib.ps_kernel_path_resolve(self.quant.path)]
        self._keep += [call.w, call.bias, q.multiplier, q.shift]
        self.conv = _conv_params(call.geometry)
        self.x_dims = _dims(call.x.shape)
        self.w_dims = _filter_dims(call.kind, call.w.shape)
        self.w = _ptr("int8_t[]", call.w)
        self.bias = _ptr("int32_t[]", call.bias)
        self.out_shape = call.geometry.out_shape if pool is None else pool.out_shape
        self.y_dims = _dims(self.out_shape)
        kind = call.kind
        if pool is None:
            self.fn = getattr(lib, f"ps_{kind}")
            if kind in ("conv2d", "depthwise_conv2d"):
                self.scratch_bytes = getattr(lib, f"ps_{kind}_scratch_size")(self.conv, self.x_dims, self.w_dims)
            else:
                self.scratch_bytes = getattr(lib, f"ps_{kind}_scratch_size")(self.x_dims, self.w_dims)
        else:
            self.fn = getattr(lib, f"ps_{kind}_avgpool")
            self.scratch_bytes = _fused_scratch_size(kind, self.conv, self.pool, self.x_dims, self.w_dims)
        self._head = (self.conv,) if kind in ("conv2d", "depthwise_conv2d") else ()

    def args(self, x: Any, y: Any, scratch: Any, scratch_bytes: int | None = None) -> tuple[Any, ...]:
        """The C call's arguments for these input, output and scratch pointers (and size)."""
        if self.op in ("avg_pool2d", "max_pool2d"):
            return (self.pool, self.x_dims, x, self.y_dims, y)
        if self.op == "softmax":
            return (self.softmax, self.rows, self.depth, x, y)
        pool = (self.pool,) if self.pool is not None else ()
        size = self.scratch_bytes if scratch_bytes is None else scratch_bytes
        return (*self._head, self.quant, *pool, self.x_dims, x, self.w_dims, self.w, self.bias, self.y_dims, y,
                scratch, size)

    def step(self, step: Any, x: Any, y: Any, scratch: Any) -> None:
        """Fill a `ps_step` (for ps_run_steps) with the same arguments as args(x, y, scratch)."""
        step.op = getattr(lib, f"PS_STEP_{self.op.upper()}")
        if self.op == "softmax":
            step.softmax, step.rows, step.depth = self.softmax, self.rows, self.depth
        elif self.op in ("avg_pool2d", "max_pool2d"):
            step.pool, step.input_dims, step.output_dims = self.pool, self.x_dims, self.y_dims
        else:
            step.conv = self._head[0] if self._head else ffi.NULL
            step.quant = self.quant
            step.pool = self.pool if self.pool is not None else ffi.NULL
            step.input_dims, step.filter_dims, step.output_dims = self.x_dims, self.w_dims, self.y_dims
            step.filter, step.bias = self.w, self.bias
            step.scratch, step.scratch_bytes = scratch, self.scratch_bytes
        step.input, step.output = x, y

    def __call__(self, x: np.ndarray, out: Any) -> np.ndarray:
        """Run on a validated C-contiguous x, into out= or a new array; scratch sized as C asks."""
        y = _output(out, self.out_shape, x)
        scratch = _scratch(self.scratch_bytes)
        _check(self.fn(*self.args(_ptr("int8_t[]", x), _ptr("int8_t[]", y), scratch)))
        return y


def _scratch(nbytes: int) -> Any:
    """Exactly the bytes the C side asked for, 4-byte aligned (int32 sums come first)."""
    if nbytes == 0:
        return ffi.NULL
    return ffi.from_buffer("char[]", np.empty((nbytes + 3) // 4, dtype=np.int32))


def _output(out: Any, shape: tuple[int, ...], x: np.ndarray) -> np.ndarray:
    y = _args.out_array(out, shape)
    if np.may_share_memory(y, x):
        raise ParameterError("out must not overlap the input x (the kernel reads x while writing out)")
    return y


def _conv_like(kind: str, x: Any, w: Any, bias: Any, out: Any, **kw: Any) -> np.ndarray:
    call = _args.conv_call(kind, x, w, bias, **kw)
    return Kernel(kind, call)(call.x, out)


def _fused_scratch_size(kind: str, conv: Any, pool: Any, x_dims: Any, w_dims: Any) -> int:
    if kind == "conv2d":
        return lib.ps_conv2d_avgpool_scratch_size(conv, pool, x_dims, w_dims)
    if kind == "depthwise_conv2d":
        return lib.ps_depthwise_conv2d_avgpool_scratch_size(conv, pool, x_dims, w_dims)
    return lib.ps_pointwise_conv2d_avgpool_scratch_size(pool, x_dims, w_dims)


def _fused(kind: str, x: Any, w: Any, bias: Any, out: Any, pool_kw: dict[str, Any], **kw: Any) -> np.ndarray:
    call = _args.conv_call(kind, x, w, bias, **kw)
    pool_geo = _args.fused_pool_geometry(call.geometry.out_shape, **pool_kw)
    return Kernel(f"{kind}_avgpool", call, pool_geo)(call.x, out)


# ---- the public surface (SPEC.md) --------------------------------------------------------


def quantize_multiplier(real: Any) -> tuple[Any, Any]:
    """TFLite's QuantizeMultiplier: real = mult * 2**(shift - 31), mult in [2**30, 2**31).

    `q, e = frexp(real)`; `mult = round_half_away(q * 2**31)` (2**31 becomes 2**30 with
    e + 1); `shift = e`; e < -31 gives (0, 0), e > 30 saturates to (2**31 - 1, 30).
    A float gives a pair of ints, an array gives two int32 arrays of its shape.
    """
    values = np.asarray(real)
    if values.dtype.kind not in "iuf":
        raise ParameterError(f"real must be a float or an array of floats, got dtype {values.dtype}")
    if values.size > _args.MAX_ELEMENTS:
        raise ShapeError(f"real has {values.size} elements, more than {_args.MAX_ELEMENTS}")
    flat = np.ascontiguousarray(values, dtype=np.float64).ravel()
    bad = ~np.isfinite(flat) | (flat < 0)
    if bad.any():
        raise ParameterError(f"real must be finite and >= 0, got {flat[np.argmax(bad)]!r}")
    mult = np.empty(flat.shape, dtype=np.int32)
    shift = np.empty(flat.shape, dtype=np.int32)
    _check(lib.ps_quantize_multiplier(ffi.from_buffer("double[]", flat), flat.size,
                                      ffi.from_buffer("int32_t[]", mult), ffi.from_buffer("int32_t[]", shift)))
    if values.ndim == 0:
        return int(mult[0]), int(shift[0])
    return mult.reshape(values.shape), shift.reshape(values.shape)


def conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None, *, input_zp: int, output_zp: int,
           multiplier: Any, shift: Any, stride: _args.IntOrPair = 1, padding: _args.Padding = "valid",
           dilation: _args.IntOrPair = 1, act_min: int = -128, act_max: int = 127, requant: str = "double",
           out: np.ndarray | None = None) -> np.ndarray:
    """int8 2-D convolution, NHWC x (N, H, W, C_in), OHWI w (C_out, KH, KW, C_in).

    acc[n, oy, ox, oc] = bias[oc] + sum_{ky, kx, ic inside the input}
        (x[n, oy*sh - top + ky*dh, ox*sw - left + kx*dw, ic] - input_zp) * w[oc, ky, kx, ic]
    y = clamp(MBQM(acc, multiplier[oc], shift[oc]) + output_zp, act_min, act_max)
    """
    return _conv_like("conv2d", x, w, bias, out, input_zp=input_zp, output_zp=output_zp, multiplier=multiplier,
                      shift=shift, act_min=act_min, act_max=act_max, requant=requant, stride=stride,
                      padding=padding, dilation=dilation)


def depthwise_conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None, *, depth_multiplier: int = 1,
                     input_zp: int, output_zp: int, multiplier: Any, shift: Any, stride: _args.IntOrPair = 1,
                     padding: _args.Padding = "valid", dilation: _args.IntOrPair = 1, act_min: int = -128,
                     act_max: int = 127, requant: str = "double", out: np.ndarray | None = None) -> np.ndarray:
    """int8 depthwise convolution, w (KH, KW, C_in * M); output channel oc = ic * M + m reads ic.

    acc[n, oy, ox, oc] = bias[oc] + sum_{ky, kx inside the input}
        (x[n, oy*sh - top + ky*dh, ox*sw - left + kx*dw, oc // M] - input_zp) * w[ky, kx, oc]
    then requantized per channel as conv2d.
    """
    return _conv_like("depthwise_conv2d", x, w, bias, out, input_zp=input_zp, output_zp=output_zp,
                      multiplier=multiplier, shift=shift, act_min=act_min, act_max=act_max, requant=requant,
                      stride=stride, padding=padding, dilation=dilation, depth_multiplier=depth_multiplier)


def pointwise_conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None, *, input_zp: int,
                     output_zp: int, multiplier: Any, shift: Any, act_min: int = -128, act_max: int = 127,
                     requant: str = "double", out: np.ndarray | None = None) -> np.ndarray:
    """int8 1x1 convolution, w (C_out, C_in): acc[n, y, x, oc] = bias[oc] + sum_ic (x[n, y, x, ic] - input_zp) * w[oc, ic]."""
    return _conv_like("pointwise_conv2d", x, w, bias, out, input_zp=input_zp, output_zp=output_zp,
                      multiplier=multiplier, shift=shift, act_min=act_min, act_max=act_max, requant=requant)


def fully_connected(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None, *, input_zp: int,
                    output_zp: int, multiplier: Any, shift: Any, act_min: int = -128, act_max: int = 127,
                    requant: str = "double", out: np.ndarray | None = None) -> np.ndarray:
    """int8 fully connected, x (N, features), w (units, features).

    acc[n, u] = bias[u] + sum_f (x[n, f] - input_zp) * w[u, f], requantized per unit
    (LiteRT's FULLY_CONNECTED uses requant="single").
    """
    return _conv_like("fully_connected", x, w, bias, out, input_zp=input_zp, output_zp=output_zp,
                      multiplier=multiplier, shift=shift, act_min=act_min, act_max=act_max, requant=requant)


def _pool(op: str, x: Any, out: Any, **kw: Any) -> np.ndarray:
    x = _args.int8_array(x, "x", 4, "NHWC")
    geo = _args.pool_geometry(x.shape, **kw)
    return Kernel(op, pool=geo, x_shape=x.shape)(x, out)


def avg_pool2d(x: np.ndarray, *, pool: _args.IntOrPair = 2, stride: _args.IntOrPair | None = None,
               padding: _args.Padding = "valid", rounding: str = "tflite", act_min: int = -128,
               act_max: int = 127, out: np.ndarray | None = None) -> np.ndarray:
    """int8 average pooling over windows clipped to the input (padding is not counted).

    sum = sum of the raw int8 values in the window, count = positions inside the input;
    "tflite": round half away from zero of sum / count; "floor": sum >> log2(count);
    "half_up": (sum + count // 2) >> log2(count); then clamp(act_min, act_max).
    Power-of-two counts are shifts, never divisions. stride None = pool.
    """
    return _pool("avg_pool2d", x, out, pool=pool, stride=stride, padding=padding, rounding=rounding,
                 act_min=act_min, act_max=act_max)


def max_pool2d(x: np.ndarray, *, pool: _args.IntOrPair = 2, stride: _args.IntOrPair | None = None,
               padding: _args.Padding = "valid", act_min: int = -128, act_max: int = 127,
               out: np.ndarray | None = None) -> np.ndarray:
    """int8 max pooling: clamp(max over the window clipped to the input, act_min, act_max)."""
    return _pool("max_pool2d", x, out, pool=pool, stride=stride, padding=padding, rounding="tflite",
                 act_min=act_min, act_max=act_max)


def conv2d_avgpool(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None, *, input_zp: int,
                   output_zp: int, multiplier: Any, shift: Any, stride: _args.IntOrPair = 1,
                   padding: _args.Padding = "valid", dilation: _args.IntOrPair = 1, act_min: int = -128,
                   act_max: int = 127, requant: str = "double", pool: _args.IntOrPair = 2,
                   pool_stride: _args.IntOrPair | None = None, pool_padding: _args.Padding = "valid",
                   rounding: str = "tflite", pool_act_min: int = -128, pool_act_max: int = 127,
                   out: np.ndarray | None = None) -> np.ndarray:
    """avg_pool2d(conv2d(x, ...), ...), computed tile by tile without the conv's whole output.

    Bytes identical to the two separate calls; scratch (see scratch_bytes) does not grow
    with the image height, nor with its width when pool_stride >= pool.
    """
    return _fused("conv2d", x, w, bias, out,
                  dict(pool=pool, pool_stride=pool_stride, pool_padding=pool_padding, rounding=rounding,
                       pool_act_min=pool_act_min, pool_act_max=pool_act_max),
                  input_zp=input_zp, output_zp=output_zp, multiplier=multiplier, shift=shift, act_min=act_min,
                  act_max=act_max, requant=requant, stride=stride, padding=padding, dilation=dilation)


def depthwise_conv2d_avgpool(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None, *,
                             depth_multiplier: int = 1, input_zp: int, output_zp: int, multiplier: Any,
                             shift: Any, stride: _args.IntOrPair = 1, padding: _args.Padding = "valid",
                             dilation: _args.IntOrPair = 1, act_min: int = -128, act_max: int = 127,
                             requant: str = "double", pool: _args.IntOrPair = 2,
                             pool_stride: _args.IntOrPair | None = None, pool_padding: _args.Padding = "valid",
                             rounding: str = "tflite", pool_act_min: int = -128, pool_act_max: int = 127,
                             out: np.ndarray | None = None) -> np.ndarray:
    """avg_pool2d(depthwise_conv2d(x, ...), ...), fused and tiled like conv2d_avgpool."""
    return _fused("depthwise_conv2d", x, w, bias, out,
                  dict(pool=pool, pool_stride=pool_stride, pool_padding=pool_padding, rounding=rounding,
                       pool_act_min=pool_act_min, pool_act_max=pool_act_max),
                  input_zp=input_zp, output_zp=output_zp, multiplier=multiplier, shift=shift, act_min=act_min,
                  act_max=act_max, requant=requant, stride=stride, padding=padding, dilation=dilation,
                  depth_multiplier=depth_multiplier)


def pointwise_conv2d_avgpool(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None, *, input_zp: int,
                             output_zp: int, multiplier: Any, shift: Any, act_min: int = -128, act_max: int = 127,
                             requant: str = "double", pool: _args.IntOrPair = 2,
                             pool_stride: _args.IntOrPair | None = None, pool_padding: _args.Padding = "valid",
                             rounding: str = "tflite", pool_act_min: int = -128, pool_act_max: int = 127,
                             out: np.ndarray | None = None) -> np.ndarray:
    """avg_pool2d(pointwise_conv2d(x, ...), ...), fused and tiled like conv2d_avgpool."""
    return _fused("pointwise_conv2d", x, w, bias, out,
                  dict(pool=pool, pool_stride=pool_stride, pool_padding=pool_padding, rounding=rounding,
                       pool_act_min=pool_act_min, pool_act_max=pool_act_max),
                  input_zp=input_zp, output_zp=output_zp, multiplier=multiplier, shift=shift, act_min=act_min,
                  act_max=act_max, requant=requant)


def softmax(x: np.ndarray, *, input_scale: float, beta: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
    """int8 softmax over the last axis of x (any ndim >= 1), as TFLite's reference kernel.

    The output is int8 with scale 1/256 and zero point -128 (what the converter sets):
    about ``-128 + round(256 * exp(beta * input_scale * (x - m)) / sum(...))`` per row,
    m the row's maximum; the input zero point cancels out. Exactly, in fixed point:

        real = min(beta * input_scale * 2**26, 2**31 - 1)     # must be > 1
        (mult, s) = QuantizeMultiplier(real)                   # s in [1, 31], no saturation
        diff_min = -((31 * 2**26) >> s)
        d = x - m; where d < diff_min the output is -128, else
        e = exp_on_negative_values(SRDHM(d * 2**s, mult))     # gemmlowp, Q5.26 -> Q0.31
        sum = sum of RoundingDivideByPOT(e, 12)                # Q12.19
        (scale, k) = GetReciprocal(sum, 12)                    # gemmlowp 1/(1+x)
        out = clamp(RoundingDivideByPOT(SRDHM(scale, e), k + 23) - 128, -128, 127)

    input_scale and beta are rounded to float32 first (a .tflite model stores them
    so). A row whose sum of exps reaches 512 (LiteRT aborts there) is all -128.
    """
    call = _args.softmax_call(x, input_scale, beta)
    return Kernel("softmax", softmax=call)(call.x, out)


# ---- in place ----------------------------------------------------------------------------


def depthwise_inplace_offset(x_shape: tuple[int, ...], w_shape: tuple[int, ...], *, stride: Any = 1,
                             padding: Any = "valid", dilation: Any = 1, depth_multiplier: Any = 1) -> int | None:
    """The smallest D (bytes) such that depthwise_conv2d's output may start D bytes before its
    own input and overwrite it (csrc/pyshrink.h, ps_depthwise_conv2d_inplace_offset; D plus
    any multiple of C is safe too), or None when the op cannot run in place (depth multiplier > 1)."""
    geo = _args.conv_geometry("depthwise_conv2d", tuple(x_shape), tuple(w_shape), stride=stride, padding=padding,
                              dilation=dilation, depth_multiplier=depth_multiplier)
    if geo.depth_multiplier != 1:
        return None
    offset = ffi.new("size_t *")
    _check(lib.ps_depthwise_conv2d_inplace_offset(_conv_params(geo), _dims(geo.in_shape),
                                                  _filter_dims("depthwise_conv2d", tuple(w_shape)), offset))
    return int(offset[0])


# ---- scratch -----------------------------------------------------------------------------

_CONV_OPS = ("conv2d", "depthwise_conv2d", "pointwise_conv2d", "fully_connected")
_FUSED_OPS = ("conv2d_avgpool", "depthwise_conv2d_avgpool", "pointwise_conv2d_avgpool")
_POOL_OPS = ("avg_pool2d", "max_pool2d")
OP_NAMES = _CONV_OPS + _POOL_OPS + _FUSED_OPS + ("softmax",)
_GEOMETRY_KW = {
    "conv2d": ("stride", "padding", "dilation"),
    "depthwise_conv2d": ("stride", "padding", "dilation", "depth_multiplier"),
    "pointwise_conv2d": (),
    "fully_connected": (),
}
_QUANT_KW = ("input_zp", "output_zp", "multiplier", "shift", "act_min", "act_max", "requant", "out")


def _shape(shape: Any, name: str) -> tuple[int, ...]:
    """A shape given as a sequence of ints (not floats, bools or strings)."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise DTypeError(f"{name} must be a sequence of ints, got {type(shape).__name__}")
    return tuple(_args.as_int(d, name) for d in shape)


def scratch_bytes(op: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...] | None = None,
                  **keywords: Any) -> int:
    """Bytes of scratch the C kernel of `op` asks for, for these shapes and keywords.

    Takes the op's own keywords (quantization keywords are accepted and do not matter);
    the geometry is validated as the op would. Pools need none.
    """
    if op not in OP_NAMES:
        raise ParameterError(f"op must be one of {', '.join(OP_NAMES)}, got {op!r}")
    x_shape = _shape(x_shape, "x_shape")
    if op == "softmax":
        unknown = set(keywords) - {"input_scale", "beta", "out"}
        if unknown:
            raise TypeError(f"softmax() got unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        if not x_shape or min(x_shape) < 1:
            raise ShapeError(f"x_shape must have at least one positive dimension, got {x_shape}")
        return 0  # softmax works row by row in place of nothing: no scratch
    if op in _POOL_OPS:
        if len(x_shape) != 4:
            raise ShapeError(f"x_shape must be NHWC (4 values), got {x_shape}")
        kw = {k: v for k, v in keywords.items() if k not in ("out",)}
        if op == "max_pool2d" and "rounding" in kw:
            raise TypeError("max_pool2d has no rounding keyword")
        _args.pool_geometry(x_shape, **kw)
        return 0
    if w_shape is None:
        raise ShapeError(f"{op} needs w_shape")
    w_shape = _shape(w_shape, "w_shape")
    kind = op.removesuffix("_avgpool")
    fused = op in _FUSED_OPS
    geo_kw = {k: keywords[k] for k in _GEOMETRY_KW[kind] if k in keywords}
    pool_kw = {k: keywords[k] for k in _args.POOL_KEYWORDS if k in keywords} if fused else {}
    unknown = set(keywords) - set(geo_kw) - set(pool_kw) - set(_QUANT_KW)
    if unknown:
        raise TypeError(f"{op}() got unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    x_ndim = 2 if kind == "fully_connected" else 4
    w_ndim = {"conv2d": 4, "depthwise_conv2d": 3}.get(kind, 2)
    if len(x_shape) != x_ndim or len(w_shape) != w_ndim or min(x_shape + w_shape) < 1:
        raise ShapeError(f"{op}: x_shape must have {x_ndim} and w_shape {w_ndim} positive values, "
                         f"got {x_shape}, {w_shape}")
    geo = _args.conv_geometry(kind, x_shape, w_shape, **geo_kw)
    conv, x_dims, w_dims = _conv_params(geo), _dims(x_shape), _filter_dims(kind, w_shape)
    if not fused:
        if kind == "conv2d":
            return lib.ps_conv2d_scratch_size(conv, x_dims, w_dims)
        if kind == "depthwise_conv2d":
            return lib.ps_depthwise_conv2d_scratch_size(conv, x_dims, w_dims)
        if kind == "pointwise_conv2d":
            return lib.ps_pointwise_conv2d_scratch_size(x_dims, w_dims)
        return lib.ps_fully_connected_scratch_size(x_dims, w_dims)
    pool_geo = _args.fused_pool_geometry(geo.out_shape, **pool_kw)
    return _fused_scratch_size(kind, conv, _pool_params(pool_geo), x_dims, w_dims)
