"""The C core on its own: it validates its arguments and returns status codes (a C
caller gets a status, never undefined behaviour), and the fused kernels use exactly
the scratch they declare (some path touches every declared byte; which bytes change is
watched), and no path touches a byte past it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pyshrink as ps
from pyshrink import _args
from pyshrink._ops import Kernel, _check, _dims
from pyshrink._pyshrink import ffi, lib
from kernel_paths import available_paths, on_path

RNG = np.random.default_rng(7)
GUARD = 64


def _conv_call(kind: str, x_shape, w_shape, **geometry) -> _args.ConvCall:
    x = RNG.integers(-128, 128, x_shape, dtype=np.int8)
    w = RNG.integers(-128, 128, w_shape, dtype=np.int8)
    channels = _args.out_channels(kind, w_shape)
    bias = RNG.integers(-5000, 5000, channels).astype(np.int32)
    mult, shift = ps.quantize_multiplier(RNG.uniform(1e-4, 1e-2, channels))
    return _args.conv_call(kind, x, w, bias, input_zp=3, output_zp=-7, multiplier=mult, shift=shift, **geometry)


def _run_fused(kind: str, call: _args.ConvCall, pool_geo: _args.PoolGeometry, scratch: np.ndarray,
               nbytes: int, out: np.ndarray) -> int:
    kernel = Kernel(f"{kind}_avgpool", call, pool_geo)
    x = ffi.from_buffer("int8_t[]", call.x)
    return kernel.fn(*kernel.args(x, ffi.from_buffer("int8_t[]", out), ffi.from_buffer("char[]", scratch), nbytes))


FUSED_CASES = [
    # kind, x_shape, w_shape, conv geometry, pool keywords
    ("conv2d", (2, 10, 9, 3), (8, 3, 3, 3), {}, dict(pool=2)),
    ("conv2d", (1, 13, 11, 4), (5, 3, 2, 4), dict(padding="same", dilation=2), dict(pool=3, pool_stride=1)),
    ("depthwise_conv2d", (2, 12, 12, 3), (3, 3, 6), dict(depth_multiplier=2, stride=2), dict(pool=(2, 3))),
    ("depthwise_conv2d", (1, 9, 14, 2), (5, 5, 2), dict(padding="same"), dict(pool=3, pool_stride=2, pool_padding="same")),
    ("pointwise_conv2d", (3, 7, 5, 6), (4, 6), {}, dict(pool=2, pool_stride=3)),
    ("pointwise_conv2d", (1, 8, 8, 5), (7, 5), {}, dict(pool=4, pool_stride=2, rounding="floor")),
]


@pytest.mark.parametrize("kind,x_shape,w_shape,geometry,pool_kw", FUSED_CASES)
def test_fused_scratch_is_tight_and_never_overrun(kind, x_shape, w_shape, geometry, pool_kw) -> None:
    """On every path: the guard after the declared bytes stays intact. Over the paths: the
    bytes some path touches == the declared bytes (a path may need less: avx512 sums a
    fused window in registers and never writes the int8 tile)."""
    call = _conv_call(kind, x_shape, w_shape, **geometry)
    pool_geo = _args.fused_pool_geometry(call.geometry.out_shape, **pool_kw)
    declared = Kernel(f"{kind}_avgpool", call, pool_geo).scratch_bytes
    assert declared == ps.scratch_bytes(f"{kind}_avgpool", x_shape, w_shape, **geometry, **pool_kw)
    expected = ps.reference.avg_pool2d(
        getattr(ps.reference, kind)(call.x, call.w, call.bias, input_zp=3, output_zp=-7,
                                    multiplier=call.quant.multiplier, shift=call.quant.shift, **geometry),
        **{_args.POOL_KEYWORDS.get(k, k): v for k, v in pool_kw.items()})
    touched_by_any = np.zeros(declared, dtype=bool)
    for path in available_paths():
        touched = np.zeros(declared + GUARD, dtype=bool)
        for fill in (0x00, 0x5A, 0xFF):  # a byte that kept all three fills was never written
            words = np.empty((declared + GUARD + 3) // 4, dtype=np.int32)
            raw = words.view(np.uint8)
            raw[:] = fill
            out = np.empty(pool_geo.out_shape, dtype=np.int8)
            with on_path(path):
                _check(_run_fused(kind, call, pool_geo, words, declared, out))
            np.testing.assert_array_equal(out, expected, err_msg=path)
            touched |= raw[: declared + GUARD] != fill
        assert not touched[declared:].any(), f"the {path} path wrote past its declared scratch"
        touched_by_any |= touched[:declared]
    assert touched_by_any.all(), "declared scratch is larger than what any path uses"


def test_fused_rejects_small_or_misaligned_scratch() -> None:
    kind, x_shape, w_shape, geometry, pool_kw = FUSED_CASES[0]
    call = _conv_call(kind, x_shape, w_shape, **geometry)
    pool_geo = _args.fused_pool_geometry(call.geometry.out_shape, **pool_kw)
    declared = ps.scratch_bytes("conv2d_avgpool", x_shape, w_shape, **pool_kw)
    words = np.zeros(declared // 4 + 2, dtype=np.int32)
    out = np.zeros(pool_geo.out_shape, dtype=np.int8)
    assert _run_fused(kind, call, pool_geo, words, declared - 1, out) == lib.PS_ERR_SCRATCH
    misaligned = words.view(np.uint8)[1:declared + 1]
    assert _run_fused(kind, call, pool_geo, misaligned, declared, out) == lib.PS_ERR_SCRATCH
    assert not out.any(), "a rejected call wrote its output"
    with pytest.raises(ps.ScratchError):
        _check(lib.PS_ERR_SCRATCH)


def _conv2d_status(**change: Any) -> int:
    """ps_conv2d on a valid 1x6x5x2 -> 3x3x3x2 layer, with one argument changed."""
    args: dict[str, Any] = dict(
        conv=dict(stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, pad_top=0, pad_bottom=0, pad_left=0,
                  pad_right=0, depth_multiplier=1),
        quant=dict(input_zp=0, output_zp=0, act_min=-128, act_max=127, requant=lib.PS_REQUANT_DOUBLE),
        mult=[2**30] * 3, shift=[0] * 3, x_dims=[1, 6, 5, 2], w_dims=[3, 3, 3, 2], y_dims=[1, 4, 3, 3],
        x=np.ones(60, np.int8), w=np.ones(54, np.int8), bias=np.zeros(3, np.int32), y=np.zeros(36, np.int8),
    )
    for key, value in change.items():
        if key in args["conv"]:
            args["conv"][key] = value
        elif key in args["quant"]:
            args["quant"][key] = value
        else:
            args[key] = value
    mult = ffi.new("int32_t[]", args["mult"])
    shift = ffi.new("int32_t[]", args["shift"])
    quant = ffi.new("ps_quant_params *", dict(args["quant"], multiplier=mult, shift=shift))
    conv = ffi.new("ps_conv_params *", args["conv"])

    def buf(ctype: str, a: Any) -> Any:
        return ffi.NULL if a is None else ffi.from_buffer(ctype, a)

    return lib.ps_conv2d(conv, quant, ffi.new("ps_dims *", args["x_dims"]), buf("int8_t[]", args["x"]),
                         ffi.new("ps_dims *", args["w_dims"]), buf("int8_t[]", args["w"]),
                         buf("int32_t[]", args["bias"]), ffi.new("ps_dims *", args["y_dims"]),
                         buf("int8_t[]", args["y"]), ffi.NULL, 0)


@pytest.mark.parametrize("change,status", [
    ({}, "PS_OK"),
    ({"x": None}, "PS_ERR_NULL"),
    ({"y": None}, "PS_ERR_NULL"),
    ({"x_dims": [1, 6, 0, 2]}, "PS_ERR_SHAPE"),
    ({"w_dims": [3, 3, 3, 4]}, "PS_ERR_SHAPE"),
    ({"x_dims": [65536, 65536, 1, 1]}, "PS_ERR_SHAPE"),
    ({"stride_h": 0}, "PS_ERR_PARAM"),
    ({"dilation_w": -1}, "PS_ERR_PARAM"),
    ({"pad_left": -1}, "PS_ERR_PARAM"),
    ({"input_zp": 128}, "PS_ERR_PARAM"),
    ({"output_zp": -129}, "PS_ERR_PARAM"),
    ({"act_min": 5, "act_max": 4}, "PS_ERR_PARAM"),
    ({"requant": 7}, "PS_ERR_PARAM"),
    ({"mult": [2**30, 2**30 - 1, 2**30]}, "PS_ERR_PARAM"),
    ({"mult": [2**30, -1, 2**30]}, "PS_ERR_PARAM"),
    ({"shift": [0, 31, 0]}, "PS_ERR_PARAM"),
    ({"shift": [-32, 0, 0]}, "PS_ERR_PARAM"),
    ({"y_dims": [1, 4, 4, 3]}, "PS_ERR_OUTPUT_SIZE"),
    ({"w_dims": [3, 7, 3, 2]}, "PS_ERR_OUTPUT_SIZE"),
    ({"dilation_h": 3}, "PS_ERR_OUTPUT_SIZE"),
    ({"bias": np.array([0, 2**31 - 1, 0], np.int32)}, "PS_ERR_OVERFLOW"),
])
def test_conv2d_status_codes(change: dict, status: str) -> None:
    assert _conv2d_status(**change) == getattr(lib, status)



ACC_CASES = [
    # kind, x_shape, w_shape, geometry (taps: 27, 9 per channel with multiplier 2, 40, 40)
    ("conv2d", (1, 4, 4, 3), (5, 3, 3, 3), {}),
    ("depthwise_conv2d", (1, 4, 4, 3), (3, 3, 6), dict(depth_multiplier=2)),
    ("depthwise_conv2d", (1, 5, 5, 70), (2, 2, 70), {}),  # more channels than one chunk of 64
    ("pointwise_conv2d", (2, 2, 3, 40), (6, 40), {}),
    ("fully_connected", (3, 40), (17, 40), {}),
]


@pytest.mark.parametrize("path", available_paths())
@pytest.mark.parametrize("kind,x_shape,w_shape,geometry", ACC_CASES)
@given(data=st.data())
def test_c_accumulator_check_is_exact_at_the_bound(kind, x_shape, w_shape, geometry, path, data) -> None:
    """C's own accumulator check (it skips the pass over the weights where no weights could
    overflow) accepts a bias exactly at the bound |bias| + max|x - zp| * sum|w| = 2**31 - 1
    of one channel, and rejects one more, whatever the weights (all -128 included)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    values = data.draw(st.sampled_from([(-128,), (127,), (-128, 127), (-1, 0, 1), tuple(range(-128, 128))]),
                       label="weight values")
    w = rng.choice(np.array(values, np.int8), size=w_shape)
    input_zp = data.draw(st.sampled_from([-128, 127, 0]) | st.integers(-128, 127), label="input_zp")
    channels = _args.out_channels(kind, w_shape)
    max_x = max(127 - input_zp, input_zp + 128)
    room = 2**31 - 1 - np.abs(w.astype(np.int64)).sum(axis=_args._W_ABS_AXES[kind]) * max_x
    bias = (rng.integers(-room, room, endpoint=True) * rng.choice([0, 1], size=channels)).astype(np.int32)
    oc = data.draw(st.integers(0, channels - 1), label="channel at the bound")
    sign = data.draw(st.sampled_from([1, -1]), label="sign")
    bias[oc] = sign * room[oc]
    x = np.zeros(x_shape, np.int8)
    with on_path(path):
        call = _args.conv_call(kind, x, w, bias, input_zp=input_zp, output_zp=0, multiplier=[2**30] * channels,
                               shift=[-1] * channels, **geometry)
        kernel = Kernel(kind, call)
    y = np.zeros(kernel.out_shape, np.int8)
    scratch = np.zeros(max(1, kernel.scratch_bytes), np.uint8)

    def status() -> int:
        return kernel.fn(*kernel.args(ffi.from_buffer("int8_t[]", call.x), ffi.from_buffer("int8_t[]", y),
                                      ffi.from_buffer("char[]", scratch)))

    assert status() == lib.PS_OK
    if room[oc] < 2**31 - 1:  # one more is still an int32
        call.bias[oc] += sign  # the kernel points at call.bias: C sees the change
        assert status() == lib.PS_ERR_OVERFLOW

def test_avg_pool_status_codes() -> None:
    x = np.zeros((1, 6, 6, 1), np.int8)

    def status(out_hw=(2, 2), **pool: int) -> int:
        params = dict(pool_h=3, pool_w=3, stride_h=3, stride_w=3, pad_top=0, pad_bottom=0, pad_left=0,
                      pad_right=0, rounding=lib.PS_ROUND_TFLITE, act_min=-128, act_max=127) | pool
        y = np.zeros((1, *out_hw, 1), np.int8)
        return lib.ps_avg_pool2d(ffi.new("ps_pool_params *", params), _dims(x.shape), ffi.from_buffer("int8_t[]", x),
                                 _dims(y.shape), ffi.from_buffer("int8_t[]", y))

    assert status() == lib.PS_OK
    assert status(rounding=lib.PS_ROUND_FLOOR) == lib.PS_ERR_POOL_COUNT  # 3x3 = 9 positions
    assert status(pool_h=2, pool_w=2, stride_h=2, stride_w=2, out_hw=(3, 3), rounding=lib.PS_ROUND_HALF_UP) == lib.PS_OK
    assert status(pad_top=3) == lib.PS_ERR_PARAM  # a window could hold no input position
    assert status(stride_w=0) == lib.PS_ERR_PARAM
    assert status(rounding=9) == lib.PS_ERR_PARAM
    assert status(act_min=1, act_max=0) == lib.PS_ERR_PARAM
    assert status(out_hw=(2, 3)) == lib.PS_ERR_OUTPUT_SIZE
    assert status(pool_h=7, out_hw=(0, 2)) == lib.PS_ERR_OUTPUT_SIZE


def test_every_status_has_a_message_and_an_exception() -> None:
    codes = [getattr(lib, name) for name in dir(lib) if name.startswith("PS_ERR_")]
    assert len(codes) == 7
    for code in codes:
        message = ffi.string(lib.ps_status_message(code)).decode()
        assert message and message != "unknown status"
        with pytest.raises(ps.PyshrinkError, match=message.split()[0]) as info:
            _check(code)
        assert isinstance(info.value, ValueError)
    _check(lib.PS_OK)


def test_quantize_multiplier_c_rejects_bad_reals() -> None:
    mult, shift = ffi.new("int32_t[1]"), ffi.new("int32_t[1]")
    for bad in (-1.0, float("nan"), float("inf"), -0.0 - 1e-300):
        assert lib.ps_quantize_multiplier(ffi.new("double[1]", [bad]), 1, mult, shift) == lib.PS_ERR_PARAM
    assert lib.ps_quantize_multiplier(ffi.new("double[1]", [-0.0]), 1, mult, shift) == lib.PS_OK
    assert (mult[0], shift[0]) == (0, 0)


# ---- ps_run_steps: a model's steps in one C call ------------------------------------------


def _model_steps(name: str) -> ps.Model:
    """A model, whose `_steps` are the ps_step array model(x) runs (tests/test_model.py
    checks model(x) against LiteRT for every fixture)."""
    m = ps.load_tflite(Path(__file__).parent / "data" / "models" / f"{name}.tflite")
    assert m._step_count == sum(layer.op != "reshape" for layer in m.layers)
    return m


def test_run_steps_status_codes() -> None:
    m = _model_steps("per_tensor")
    failed = ffi.new("int32_t *", 99)
    assert lib.ps_run_steps(m._steps, 0, failed) == lib.PS_OK and failed[0] == -1
    assert lib.ps_run_steps(m._steps, -1, failed) == lib.PS_ERR_PARAM and failed[0] == -1
    assert lib.ps_run_steps(ffi.NULL, 1, failed) == lib.PS_ERR_NULL
    assert lib.ps_run_steps(ffi.NULL, 0, ffi.NULL) == lib.PS_OK
    assert lib.ps_run_steps(m._steps, m._step_count, ffi.NULL) == lib.PS_OK

    steps = ffi.new("ps_step[]", 3)
    for i in range(3):
        ffi.buffer(steps + i)[:] = ffi.buffer(m._steps + i)[:]
    last_out = ffi.buffer(steps[2].output, 5)
    last_out[:] = b"\x11" * 5
    for bad in (77, -1, lib.PS_STEP_SOFTMAX + 1):  # ops outside the enum
        ffi.cast("int32_t *", ffi.addressof(steps[1], "op"))[0] = bad
        assert lib.ps_run_steps(steps, 3, failed) == lib.PS_ERR_PARAM and failed[0] == 1
    assert last_out[:] == b"\x11" * 5, "a step after the failing one ran"
    ffi.buffer(steps + 1)[:] = ffi.buffer(m._steps + 1)[:]
    steps[1].output = ffi.NULL  # the depthwise step's own check
    assert lib.ps_run_steps(steps, 3, failed) == lib.PS_ERR_NULL and failed[0] == 1
    assert last_out[:] == b"\x11" * 5


def test_model_names_the_step_that_failed() -> None:
    m = _model_steps("per_tensor")
    x = np.zeros(m.input.shape, np.int8)
    m._steps[1].filter_dims = m._steps[2].filter_dims  # the dense layer's filter: a shape error
    with pytest.raises(ValueError, match=r"C core: .*, in layer \d+ \(depthwise_conv2d\)"):
        m(x)
