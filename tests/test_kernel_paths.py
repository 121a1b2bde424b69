"""The C core's kernel paths (csrc/dispatch.c): which ones this machine has, and each fast
path's special cases against the NumPy reference.

The hypothesis tests of every op already run once per path (tests/kernel_paths.py). Their
random shapes reach the fast paths' special cases only by chance, so here each case that
selects different code inside a path is named and run on every path, byte for byte
against `pyshrink.reference`:

- GEMM (conv2d, pointwise, fully connected): receptive fields of <= 64 bytes (built in a
  register) and longer ones (gathered in memory); contiguous and dilated kernel rows;
  windows with padding; channel counts around the 8/16-lane vectors; output channels in
  several chunks (packed weights larger than the stack buffer) and the fall-back past it;
  pixel counts that leave partial blocks (of 8 pixels, split in 4s above 2 vectors of
  channels; of 4 past 1024 bytes of receptive field); avx512's spans (a block's kernel
  rows gathered once, where quads do not straddle two of them) and their padding; the
  requantization's modes (avx512 picks one per chunk of channels from their shifts: a
  hypothesis test at their boundaries);
- depthwise: 1, 2, 4, 8 channels with stride 1 (several pixels per vector), depth
  multipliers > 1, interior and border pixels, stride 2, dilation, big kernels; 3x3
  undilated with multiplier 1 (avx512's column quads: a hypothesis test over its geometry,
  and rows at and past its stack buffer);
- fused conv + pool: windows of 1-9 pixels (several blocks), counts that are powers of
  two (shifts) or not (exact division by multiplication), all three rounding modes,
  overlapping pools (the ring), channel chunks;
- avg/max pooling: channel tails, window counts; the separable pools' strips (several per
  row, or windows wider than the strip buffer), interiors and borders, input alignments,
  the 32-channel stride-2 max row kernel, the int16 sums of the AVX-512 average and their
  bounds.

GEMM layers with at most 8 output channels and receptive fields of <= 64 bytes put pixels
in the AVX-512 lanes (x5_few_* in csrc/x86_avx512.c); the hypothesis tests at the end draw
that space (1-15 output channels, so both sides of the switch) with every geometry, fused
and not, on every path.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import pyshrink as ps
from kernel_paths import (KERNEL_PATHS, assert_matches_reference_on_every_path, available_paths, cpu_has, on_path,
                          path_params)
from pyshrink import _ops
from pyshrink._pyshrink import ffi, lib
from strategies import act_range, conv_cases, int8_tensor, pool_geometry, put_act

INT32_MAX = 2**31 - 1


# ---- which paths this machine has --------------------------------------------------------


@pytest.mark.parametrize("path", KERNEL_PATHS)
def test_path_is_available_exactly_where_the_cpu_has_it(path: str) -> None:
    """A path the CPU reports (independently of pyshrink, /proc/cpuinfo) must be available;
    one it lacks is reported as a skip. The portable and reference paths exist everywhere."""
    if path in ("ref", "portable", "dsp"):  # dsp: the DSP instructions emulated in C99 off Arm
        assert _ops.path_supported(path)
        return
    if cpu_has(path):
        assert _ops.path_supported(path), f"this CPU has what the {path} path needs, but the build lacks it"
    elif not _ops.path_supported(path):
        pytest.skip(f"kernel path {path}: not on this CPU")


def test_auto_resolves_to_the_fastest_available_path() -> None:
    """On x86 the fastest of AVX-512, AVX2, portable; "dsp" is chosen only by a build for a
    Cortex-M with the DSP extension (its emulation off Arm is slower than portable)."""
    best = next(p for p in ("avx512", "avx2", "portable") if _ops.path_supported(p))
    assert _ops.resolve_path("auto") == best
    for p in KERNEL_PATHS:
        if _ops.path_supported(p):
            assert _ops.resolve_path(p) == p
    assert lib.ps_kernel_path_resolve(99) == lib.PS_PATH_AUTO  # unknown


def test_unknown_path_is_a_parameter_error() -> None:
    with pytest.raises(ps.ParameterError, match="kernel path"):
        with _ops.kernel_path("sse9"):
            pass
    x = np.zeros((1, 4, 4, 2), np.int8)
    w = np.zeros((3, 2), np.int8)
    mult = ffi.new("int32_t[]", [2**30] * 3)
    shift = ffi.new("int32_t[]", [0] * 3)
    for bad in (max(_ops.PATHS.values()) + 1, 99, 2**31 - 1):
        quant = ffi.new("ps_quant_params *", dict(input_zp=0, output_zp=0, multiplier=mult, shift=shift,
                                                  act_min=-128, act_max=127, path=bad))
        y = np.zeros((1, 4, 4, 3), np.int8)
        status = lib.ps_pointwise_conv2d(quant, _ops._dims(x.shape), ffi.from_buffer("int8_t[]", x),
                                         ffi.new("ps_dims *", [3, 1, 1, 2]), ffi.from_buffer("int8_t[]", w),
                                         ffi.NULL, _ops._dims(y.shape), ffi.from_buffer("int8_t[]", y), ffi.NULL, 0)
        assert status == lib.PS_ERR_PARAM
        pool = ffi.new("ps_pool_params *", dict(pool_h=2, pool_w=2, stride_h=2, stride_w=2, act_min=-128,
                                                act_max=127, path=bad))
        z = np.zeros((1, 2, 2, 2), np.int8)
        assert lib.ps_avg_pool2d(pool, _ops._dims(x.shape), ffi.from_buffer("int8_t[]", x), _ops._dims(z.shape),
                                 ffi.from_buffer("int8_t[]", z)) == lib.PS_ERR_PARAM


def test_path_support_follows_the_cpu_and_a_missing_path_is_an_error() -> None:
    """Each path is available exactly where /proc/cpuinfo says the CPU can run it, and asking
    for one that is not (on a machine that lacks it) is an error, never a silent fallback."""
    for path in KERNEL_PATHS:
        assert _ops.path_supported(path) == cpu_has(path), path
        if _ops.path_supported(path):
            continue
        with _ops.kernel_path(path):
            with pytest.raises(ps.ParameterError, match="not available"):
                ps.pointwise_conv2d(np.zeros((1, 2, 2, 3), np.int8), np.zeros((4, 3), np.int8), input_zp=0,
                                    output_zp=0, multiplier=2**30, shift=0)


# ---- each path's special cases ---------------------------------------------------------


def _quant(rng: np.random.Generator, w_per_channel: np.ndarray, input_zp: int, requant: str) -> dict[str, Any]:
    """Multipliers, shifts that keep outputs mostly unsaturated, a bias within the bound."""
    channels, taps = w_per_channel.shape
    abs_sum = np.abs(w_per_channel.astype(np.int64)).sum(axis=1)
    max_x = max(127 - input_zp, input_zp + 128)
    bound = INT32_MAX - abs_sum * max_x
    bias = (rng.random(channels) * np.minimum(bound, 30_000)).astype(np.int64) * rng.choice([-1, 1], channels)
    spread = np.maximum(np.sqrt(taps) * 80 * np.abs(w_per_channel).mean(axis=1), 1)
    shift = np.clip(np.round(np.log2(40 / spread)), -31, 30).astype(np.int32) + rng.integers(-1, 2, channels)
    return dict(bias=bias.astype(np.int32), input_zp=input_zp, output_zp=int(rng.integers(-20, 20)),
                multiplier=rng.integers(2**30, 2**31, channels).astype(np.int32), shift=np.clip(shift, -31, 30),
                requant=requant)


def _conv_case(op: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...], seed: int,
               **geometry: Any) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, x_shape, dtype=np.int8)
    w = rng.integers(-127, 128, w_shape, dtype=np.int8)
    kind = op.removesuffix("_avgpool")
    if kind == "conv2d":
        per_channel = w.reshape(w.shape[0], -1)
    elif kind == "depthwise_conv2d":
        per_channel = w.reshape(-1, w.shape[-1]).T
    else:
        per_channel = w
    requant = "single" if seed % 2 else "double"
    kw = _quant(rng, per_channel, int(rng.choice([-128, -5, 0, 17, 127])), requant)
    kw.update(geometry)
    return x, w, kw


def _check(op: str, x: np.ndarray, w: np.ndarray | None, kw: dict[str, Any], path: str) -> None:
    with on_path(path):
        if w is None:
            got = getattr(ps, op)(x, **kw)
            want = getattr(ps.reference, op)(x, **kw)
        else:
            bias = kw.pop("bias")
            got = getattr(ps, op)(x, w, bias, **kw)
            want = getattr(ps.reference, op)(x, w, bias, **kw)
    np.testing.assert_array_equal(got, want, err_msg=f"{op} on path {path}")


GEMM_CASES = [
    # id, op, x shape, w shape, geometry
    ("conv3x3_c3_article", "conv2d", (1, 10, 10, 3), (32, 3, 3, 3), {}),
    ("conv10x4_c1_s2_same", "conv2d", (1, 49, 10, 1), (64, 10, 4, 1), dict(stride=2, padding="same")),
    ("conv3x3_c1_s2_same", "conv2d", (1, 17, 15, 1), (8, 3, 3, 1), dict(stride=2, padding="same")),
    ("conv3x3_c1_s2_same_wide", "conv2d", (2, 20, 41, 1), (8, 3, 3, 1), dict(stride=2, padding="same")),
    ("conv3x3_c4_o6_same", "conv2d", (1, 11, 9, 4), (6, 3, 3, 4), dict(padding="same")),
    ("conv3x3_c3_o8_same", "conv2d", (1, 16, 16, 3), (8, 3, 3, 3), dict(padding="same")),
    ("conv3x3_c4_o3_pixels4", "conv2d", (1, 7, 19, 4), (3, 3, 3, 4), dict(padding=(1, 0, 2, 1))),
    ("conv2x2_c2_o1_pixels8", "conv2d", (2, 5, 37, 2), (1, 2, 2, 2), dict(padding="same")),
    ("conv3x3_c4_o8_dilated", "conv2d", (1, 9, 13, 4), (8, 3, 3, 4), dict(dilation=(1, 2), padding="same")),
    ("conv1x9_c4_o5_rows", "conv2d", (1, 4, 30, 4), (5, 1, 9, 4), dict(stride=(1, 3), padding="same")),
    ("conv3x3_c5_dilated_same", "conv2d", (1, 13, 11, 5), (12, 3, 3, 5), dict(dilation=2, padding="same")),
    ("conv3x3_c7_k63_pad", "conv2d", (2, 6, 7, 7), (9, 3, 3, 7), dict(padding=(2, 1, 0, 3))),
    ("conv4x4_c4_k64", "conv2d", (1, 7, 9, 4), (17, 4, 4, 4), dict(padding="same")),
    ("conv3x3_c16_memory_patch", "conv2d", (1, 9, 8, 16), (33, 3, 3, 16), dict(padding="same")),
    ("conv3x3_c16_dilated_memory", "conv2d", (1, 10, 9, 16), (8, 3, 3, 16), dict(dilation=(2, 3), padding="same")),
    ("conv5x5_c8_s3", "conv2d", (1, 11, 12, 8), (15, 5, 5, 8), dict(stride=3, padding="same")),
    ("conv1x1_c64_as_conv2d", "conv2d", (1, 3, 5, 64), (65, 1, 1, 64), {}),
    ("conv3x3_c6_o40_blocks_of_8", "conv2d", (2, 5, 21, 6), (40, 3, 3, 6), dict(padding="same")),
    ("pw_c72_o24_memory_blocks_of_8", "pointwise_conv2d", (1, 3, 19, 72), (24, 72), {}),
    ("conv3x3_c114_o48_blocks_of_4", "conv2d", (1, 3, 7, 114), (48, 3, 3, 114), dict(padding="same")),
    # avx512's spans (a block's kernel rows gathered once): dilated rows, padding past both
    # sides of the image and whole spans of it, quads reaching past a 1xN kernel row
    ("conv3x3_c20_span_dilated_rows", "conv2d", (1, 11, 14, 20), (24, 3, 3, 20),
     dict(dilation=(2, 1), stride=(1, 2), padding="same")),
    ("conv3x3_c8_span_pad_beyond", "conv2d", (2, 4, 2, 8), (20, 3, 3, 8), dict(padding=(3, 2, 4, 3))),
    ("conv1x3_c24_span_all_padding", "conv2d", (1, 2, 1, 24), (9, 1, 3, 24), dict(padding=(0, 0, 5, 5))),
    ("conv1x5_c13_span_straddle", "conv2d", (1, 3, 17, 13), (10, 1, 5, 13), dict(padding="same")),
    ("conv3x3_c120_chunks", "conv2d", (1, 4, 5, 120), (100, 3, 3, 120), dict(padding="same")),
    # avx512's padded kernel rows (KW * C not a multiple of 4, the padded field <= 64 bytes,
    # <= 12 more dot products per pixel): spans of 1-, 3-, 6- and 15-byte rows, padding on
    # every side, stride 2, batch 2, dilation_h, 3 vectors of channels (4-pixel parts of a
    # span block), a 9x1 kernel (9 quads for 3)
    ("conv3x3_c3_padded_rows_s2_same", "conv2d", (2, 13, 11, 3), (20, 3, 3, 3), dict(stride=2, padding="same")),
    ("conv3x3_c1_o16_padded_rows_pad", "conv2d", (1, 9, 21, 1), (16, 3, 3, 1), dict(padding=(0, 2, 3, 1))),
    ("conv3x2_c3_padded_rows_dil", "conv2d", (1, 12, 12, 3), (24, 3, 2, 3), dict(dilation=(2, 1), padding="same")),
    ("conv3x3_c5_o40_padded_rows", "conv2d", (1, 6, 19, 5), (40, 3, 3, 5), dict(stride=(1, 2), padding="same")),
    ("conv9x1_c1_o20_padded_rows", "conv2d", (2, 15, 7, 1), (20, 9, 1, 1), dict(padding="same")),
    ("conv3x3_c256_fallback", "conv2d", (1, 3, 4, 256), (5, 3, 3, 256), dict(padding="same")),
    ("pw_c8_c16", "pointwise_conv2d", (1, 5, 7, 8), (16, 8), {}),
    ("pw_c1_c1", "pointwise_conv2d", (3, 1, 3, 1), (1, 1), {}),
    ("pw_c63_c7", "pointwise_conv2d", (1, 3, 3, 63), (7, 63), {}),
    ("pw_c64_c64", "pointwise_conv2d", (1, 25, 5, 64), (64, 64), {}),
    ("pw_c65_c9", "pointwise_conv2d", (1, 2, 3, 65), (9, 65), {}),
    ("pw_c100_c300_cap", "pointwise_conv2d", (1, 2, 5, 100), (300, 100), {}),
    ("pw_c1024_c100_chunks", "pointwise_conv2d", (1, 2, 3, 1024), (100, 1024), {}),
    ("pw_c2048_c17_largest", "pointwise_conv2d", (1, 1, 3, 2048), (17, 2048), {}),
    ("pw_c2100_c5_fallback", "pointwise_conv2d", (1, 1, 2, 2100), (5, 2100), {}),
    ("fc_b1_64x12", "fully_connected", (1, 64), (12, 64), {}),
    ("fc_b9_256x64", "fully_connected", (9, 256), (64, 256), {}),
    ("fc_b3_3000x4_fallback", "fully_connected", (3, 3000), (4, 3000), {}),
    ("fc_b5_7x1", "fully_connected", (5, 7), (1, 7), {}),
]


@pytest.mark.parametrize("path", path_params())
@pytest.mark.parametrize("case", GEMM_CASES, ids=lambda c: c[0])
def test_gemm_special_cases(case: tuple, path: str) -> None:
    name, op, x_shape, w_shape, geometry = case
    for seed in (0, 1):  # double and single rounding
        x, w, kw = _conv_case(op, x_shape, w_shape, seed, **geometry)
        _check(op, x, w, kw, path)


DEPTHWISE_CASES = [
    # id, x shape, w shape (KH, KW, C*M), geometry
    ("c1_s1_grouped", (1, 9, 40, 1), (3, 3, 1), dict(padding="same")),
    ("c2_s1_grouped", (1, 7, 21, 2), (3, 3, 2), dict(padding="same")),
    ("c4_s1_grouped", (2, 6, 11, 4), (3, 3, 4), dict(padding="same")),
    ("c8_s1_grouped", (1, 12, 13, 8), (3, 3, 8), dict(padding="same")),
    ("c8_s1_grouped_dilated", (1, 12, 13, 8), (3, 3, 8), dict(padding="same", dilation=2)),
    ("c8_s2", (1, 12, 13, 8), (3, 3, 8), dict(padding="same", stride=2)),
    ("c3_s1", (1, 8, 9, 3), (3, 3, 3), dict(padding="valid")),
    ("c16_s1", (1, 24, 7, 16), (3, 3, 16), dict(padding="same")),
    ("c17_s2", (1, 9, 10, 17), (3, 3, 17), dict(padding="same", stride=2)),
    ("c64_s1", (1, 25, 5, 64), (3, 3, 64), dict(padding="same")),
    ("c65_s1_5x5", (1, 7, 8, 65), (5, 5, 65), dict(padding="same")),
    ("c300_chunks", (1, 4, 5, 300), (3, 3, 300), dict(padding="same")),
    ("m2_c6", (1, 10, 9, 6), (3, 3, 12), dict(padding="same", depth_multiplier=2)),
    ("m3_c7", (1, 6, 7, 7), (3, 3, 21), dict(padding="valid", depth_multiplier=3)),
    ("m4_c20_s2", (1, 9, 9, 20), (3, 3, 80), dict(padding="same", depth_multiplier=4, stride=2)),
    ("m5_c1", (1, 5, 6, 1), (3, 3, 5), dict(padding="same", depth_multiplier=5)),
    ("kernel23x23_fallback", (1, 24, 24, 3), (23, 23, 3), dict(padding="same")),
    ("kernel1x7_rect", (1, 5, 14, 9), (1, 7, 9), dict(padding=(0, 0, 3, 3))),
    # avx512's column quads (3x3, multiplier 1, undilated; C % 16 == 0, or C | 16 at stride 1)
    ("quads_c256_widest_row", (1, 3, 16, 256), (3, 3, 256), dict(padding="same")),  # Q: 18 KB
    ("quads_c256_row_too_wide", (1, 3, 17, 256), (3, 3, 256), dict(padding="same")),
    ("quads_c48_s2_explicit", (2, 9, 11, 48), (3, 3, 48), dict(padding=(0, 2, 1, 2), stride=2)),
    ("quads_c32_s3x1_valid", (1, 7, 13, 32), (3, 3, 32), dict(stride=(3, 1))),
    ("quads_c2_w1_pad_beyond", (1, 4, 1, 2), (3, 3, 2), dict(padding=(3, 1, 2, 2))),
]


@pytest.mark.parametrize("path", path_params())
@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=lambda c: c[0])
def test_depthwise_special_cases(case: tuple, path: str) -> None:
    name, x_shape, w_shape, geometry = case
    for seed in (0, 1):
        x, w, kw = _conv_case("depthwise_conv2d", x_shape, w_shape, seed, **geometry)
        _check("depthwise_conv2d", x, w, kw, path)


#: avx512's column-quad depthwise: its whole geometry, with the rest drawn as everywhere
COLUMN_QUADS = dict(kernel=(3, 3), dilation=(1, 1), depth_multiplier=1,
                    strides=st.sampled_from([(1, 1), (1, 1), (2, 2), (2, 1), (1, 2), (3, 3)]),
                    channels=st.sampled_from([1, 2, 4, 8, 16, 32, 48, 64]))


@given(case=st.booleans().flatmap(lambda extreme: conv_cases("depthwise_conv2d", extreme=extreme, **COLUMN_QUADS)),
       near_zero=st.booleans(), data=st.data())
def test_depthwise_3x3_column_quads(case: Any, near_zero: bool, data: st.DataObject) -> None:
    """3x3 depthwise with multiplier 1 and no dilation (avx512 interleaves three input rows
    per output row): any batch, size, padding, stride, zero points, multipliers, shifts,
    biases and activation ranges, ordinary and at the arithmetic extremes, on every path.
    Half the cases draw the shifts at the largest shift where avx512 picks its
    requantization (all < 0, some > 0, else): -1, 0 or 1 and up to 2 below it, with
    weights -1..1 and biases -32..31 so that the outputs do not all saturate."""
    if near_zero:
        channels = case.w.shape[-1]
        case.w = np.clip(case.w // 64, -1, 1).astype(np.int8)
        if case.bias is not None:
            case.bias = (case.bias % 64 - 32).astype(np.int32)
        top = data.draw(st.sampled_from([-1, 0, 1]))
        below = data.draw(st.lists(st.integers(0, 2), min_size=channels, max_size=channels))
        shift = np.array([top - b for b in below], np.int32)
        shift[data.draw(st.integers(0, channels - 1))] = top
        case.kwargs["shift"] = shift
    assert_matches_reference_on_every_path(case)


#: avx512's GEMM-kind requantization (x5_rqb: one 64-bit step per half, its mode chosen per
#: chunk of output channels from their shifts): the GEMM (64 channels packed to bytes at once,
#: a vector alone, two chunks), the few-channel GEMM, the GEMV (<= 4 pixels) and the fused
#: windows summing their results
REQUANT_LAYERS = [
    # id, op, x shape, w shape, geometry
    ("gemm_c70", "conv2d", (1, 4, 5, 3), (70, 3, 3, 3), {}),
    ("gemm_pw_c40", "pointwise_conv2d", (1, 3, 3, 8), (40, 8), {}),
    ("gemm_chunks_c40", "pointwise_conv2d", (1, 2, 3, 1024), (40, 1024), {}),  # chunks of 32 + 8
    ("few_c6", "conv2d", (1, 5, 6, 2), (6, 3, 3, 2), dict(padding="same")),
    ("gemv_fc_c20", "fully_connected", (3, 24), (20, 24), {}),
    ("gemv_pw_c70", "pointwise_conv2d", (1, 1, 2, 8), (70, 8), {}),
    ("gemm_fused_c20", "conv2d_avgpool", (1, 4, 6, 3), (20, 3, 3, 3), dict(pool=2)),
    ("few_fused_c5", "conv2d_avgpool", (1, 6, 6, 2), (5, 3, 3, 2), dict(pool=2)),
]


@pytest.mark.parametrize("layer", REQUANT_LAYERS, ids=lambda c: c[0])
@given(data=st.data())
def test_gemm_requantization_modes(layer: tuple, data: st.DataObject) -> None:
    """Shifts at the boundaries where avx512 picks its GEMM requantization (every shift < 0;
    one 0; one > 0; one < -24; double or single rounding): the largest shift -31, -25..-23,
    -2..2 or 30, the others up to 2 below it (or anywhere in [-31, it]); multipliers 0, 2**30,
    2**31 - 1 or any; accumulators near zero (outputs not all saturated) or anywhere in int32
    (biases at the accumulator bound, so that left shifts wrap); any output zero point and
    activation range. Every path == reference."""
    name, op, x_shape, w_shape, geometry = layer
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    channels = w_shape[0]
    input_zp = data.draw(st.sampled_from([-128, -3, 0, 5, 127]), label="input_zp")
    if data.draw(st.booleans(), label="large accumulators"):
        x = rng.choice(np.array([-128, 127], np.int8), x_shape)
        w = rng.choice(np.array([-128, 127, -1, 0, 1], np.int8), w_shape)
        abs_sum = np.abs(w.reshape(channels, -1).astype(np.int64)).sum(axis=1)
        allowed = INT32_MAX - abs_sum * max(127 - input_zp, input_zp + 128)
        bias = (allowed - rng.integers(0, 3, channels)) * rng.choice([-1, 1], channels)
    else:
        x = np.clip(input_zp + rng.integers(-3, 4, x_shape), -128, 127).astype(np.int8)
        w = rng.integers(-1, 2, w_shape).astype(np.int8)
        bias = rng.integers(-40, 41, channels)
    top = data.draw(st.sampled_from([-31, -25, -24, -23, -2, -1, 0, 1, 2, 30]), label="largest shift")
    if data.draw(st.integers(0, 3), label="shift spread") == 0:
        shift = rng.integers(-31, top + 1, channels)
    else:
        shift = np.maximum(top - rng.integers(0, 3, channels), -31)
    shift[rng.integers(0, channels)] = top
    mult = rng.integers(2**30, 2**31, channels)
    special = rng.random(channels)
    mult[special < 0.15] = 0
    mult[(special >= 0.15) & (special < 0.3)] = 2**30
    mult[(special >= 0.3) & (special < 0.45)] = INT32_MAX
    act_min, act_max = sorted(data.draw(st.tuples(st.integers(-128, 127), st.integers(-128, 127)), label="act"))
    if data.draw(st.booleans(), label="full activation range"):
        act_min, act_max = -128, 127
    kw = dict(bias=bias.astype(np.int32), input_zp=input_zp,
              output_zp=data.draw(st.sampled_from([-128, -1, 0, 3, 127]) | st.integers(-128, 127), label="output_zp"),
              multiplier=mult.astype(np.int32), shift=shift.astype(np.int32), act_min=act_min, act_max=act_max,
              requant=data.draw(st.sampled_from(["double", "single"]), label="requant"), **geometry)
    for path in available_paths():
        _check(op, x, w, dict(kw), path)


FUSED_CASES = [
    # id, op, x shape, w shape, conv geometry, pool keywords
    ("article_2x2", "conv2d_avgpool", (1, 10, 10, 3), (32, 3, 3, 3), {}, dict(pool=2)),
    ("few_o6_2x2", "conv2d_avgpool", (1, 11, 9, 4), (6, 3, 3, 4), dict(padding="same"), dict(pool=2)),
    ("few_o8_c3_2x2", "conv2d_avgpool", (2, 16, 16, 3), (8, 3, 3, 3), dict(padding="same"), dict(pool=2)),
    ("few_o3_3x5_window", "conv2d_avgpool", (1, 12, 17, 2), (3, 3, 3, 2), dict(padding="same"), dict(pool=(3, 5))),
    ("few_o4_2x4_floor", "conv2d_avgpool", (1, 12, 17, 3), (4, 3, 3, 3), dict(padding="same"),
     dict(pool=(2, 4), rounding="floor")),
    ("few_o2_5x2_rows", "conv2d_avgpool", (1, 11, 8, 4), (2, 3, 3, 4), {}, dict(pool=(5, 2))),
    ("few_o7_ring", "conv2d_avgpool", (1, 9, 10, 4), (7, 3, 3, 4), dict(padding="same"),
     dict(pool=3, pool_stride=1, pool_padding="same")),
    # avx512 with VBMI, x5_few_pooled_direct (windows <= g pixels wide and <= 64 bytes per
    # kernel row, <= 2 rows): g = 8, SAME pool clipping the last window row (1 conv row) and
    # column (2 pixels), a lone window at each row end, batch 2
    ("few_direct_o1_g8_same", "conv2d_avgpool", (2, 9, 14, 1), (1, 3, 3, 1), dict(padding="same"),
     dict(pool=(2, 3), pool_stride=(2, 3), pool_padding="same")),
    # g = 2, conv stride 2, pool stride 3 > pool 2 (gaps), quads across kernel rows (KW * C = 6),
    # a lone window, kernel rows and columns in the padding
    ("few_direct_o5_gaps_cross", "conv2d_avgpool", (1, 10, 19, 2), (5, 3, 3, 2),
     dict(padding="same", stride=2), dict(pool=2, pool_stride=3)),
    # g = 4, dilation_h 2, window rows of one conv row, 4-pixel windows
    ("few_direct_o3_dil_1x4", "conv2d_avgpool", (1, 12, 12, 3), (3, 2, 2, 3), dict(dilation=(2, 1)),
     dict(pool=(1, 4))),
    # g = 4 where a window's kernel row bytes exceed 64 (stride_w 6 * C 8 + 24): x5_few_pooled_vbmi
    ("few_o4_span_over_64", "conv2d_avgpool", (1, 6, 30, 8), (4, 1, 3, 8), dict(stride=(1, 6)), dict(pool=2)),
    ("conv_3x3_window_9px", "conv2d_avgpool", (1, 11, 11, 4), (20, 3, 3, 4), {}, dict(pool=3)),
    ("conv_o40_3x3_window_split", "conv2d_avgpool", (2, 11, 11, 4), (40, 3, 3, 4), {}, dict(pool=3)),
    ("conv_memory_patch_2x2", "conv2d_avgpool", (1, 8, 9, 16), (24, 3, 3, 16), dict(padding="same"), dict(pool=2)),
    ("conv_chunks_2x2", "conv2d_avgpool", (1, 4, 6, 120), (100, 3, 3, 120), dict(padding="same"), dict(pool=2)),
    ("conv_ring_3x3_s1", "conv2d_avgpool", (1, 9, 8, 3), (10, 3, 3, 3), dict(padding="same"),
     dict(pool=3, pool_stride=1, pool_padding="same")),
    ("pw_global_125", "pointwise_conv2d_avgpool", (1, 25, 5, 64), (64, 64), {}, dict(pool=(25, 5))),
    ("pw_2x2_c16", "pointwise_conv2d_avgpool", (1, 12, 12, 8), (16, 8), {}, dict(pool=2)),
    ("pw_2x2_floor", "pointwise_conv2d_avgpool", (2, 6, 8, 5), (3, 5), {}, dict(pool=2, rounding="floor")),
    ("pw_4x2_half_up", "pointwise_conv2d_avgpool", (1, 8, 6, 9), (17, 9), {}, dict(pool=(4, 2), rounding="half_up")),
    ("pw_3x5_gaps_same", "pointwise_conv2d_avgpool", (1, 10, 13, 4), (70, 4), {},
     dict(pool=(3, 5), pool_stride=(4, 6), pool_padding="same")),
    # avx512's window pairs (two adjacent windows of <= 4 pixels as one block, <= 32 channels):
    # a lone window at the row end, partial windows at the border (a pair of unequal counts runs
    # apart), gapped windows, 1x1 .. 4x1 windows, channels not a multiple of 16, batch > 1
    ("pw_pairs_c20_same_odd", "pointwise_conv2d_avgpool", (2, 7, 11, 5), (20, 5), {},
     dict(pool=2, pool_padding="same")),
    ("pw_pairs_c9_w7_same", "pointwise_conv2d_avgpool", (1, 6, 7, 8), (9, 8), {},
     dict(pool=2, pool_padding="same")),
    ("pw_pairs_c32_gaps", "pointwise_conv2d_avgpool", (1, 11, 14, 12), (32, 12), {},
     dict(pool=2, pool_stride=3, pool_padding="same")),
    ("pw_pairs_1x1", "pointwise_conv2d_avgpool", (1, 3, 9, 4), (17, 4), {}, dict(pool=1)),
    ("pw_pairs_1x3", "pointwise_conv2d_avgpool", (1, 4, 13, 3), (24, 3), {}, dict(pool=(1, 3))),
    ("pw_pairs_3x1_same", "pointwise_conv2d_avgpool", (2, 7, 5, 6), (16, 6), {},
     dict(pool=(3, 1), pool_padding="same")),
    ("pw_pairs_1x4_floor", "pointwise_conv2d_avgpool", (1, 3, 17, 4), (18, 4), {},
     dict(pool=(1, 4), rounding="floor")),
    ("pw_pairs_2x2_half_up_same", "pointwise_conv2d_avgpool", (1, 5, 9, 10), (25, 10), {},
     dict(pool=2, pool_padding="same", rounding="half_up")),
    ("pw_pairs_2x1_4x1", "pointwise_conv2d_avgpool", (1, 8, 6, 7), (30, 7), {}, dict(pool=(4, 1))),
    ("conv_pairs_c24_same", "conv2d_avgpool", (2, 9, 11, 3), (24, 3, 3, 3), dict(padding="same"),
     dict(pool=2, pool_padding="same")),
    # avx512's padded kernel rows in fused windows: 2x2 pairs on spans beside clipped windows
    # (SAME pool), 3x3 windows (fields in registers, padded layout), 3 vectors (no pairs)
    ("conv_padded_rows_c1_o16_3x3", "conv2d_avgpool", (1, 11, 10, 1), (16, 3, 3, 1), dict(padding="same"),
     dict(pool=3, pool_padding="same")),
    ("conv_padded_rows_c2_o20_pairs", "conv2d_avgpool", (2, 9, 13, 2), (20, 3, 3, 2), dict(padding=(1, 0, 2, 1)),
     dict(pool=2, pool_padding="same")),
    ("conv_padded_rows_c3_o40_2x2", "conv2d_avgpool", (1, 8, 10, 3), (40, 3, 3, 3), {}, dict(pool=2)),
    ("conv_padded_rows_5x5_c1_o16", "conv2d_avgpool", (1, 13, 14, 1), (16, 5, 5, 1), dict(padding="same"),
     dict(pool=2)),
    ("conv_pairs_c12_1x2_s3", "conv2d_avgpool", (1, 9, 14, 2), (12, 3, 3, 2), dict(padding="same"),
     dict(pool=(1, 2), pool_stride=(2, 3))),
    # avx512's 2x2 window pairs on spans (x5_span_at: both conv rows' spans once per pooled row,
    # x5_tile layout 1): SAME padding columns on both sides and a lone window (pooled width 5),
    # pairs up to the last column (right padding), conv stride 2 with batch 2, 1 and 2 kernel
    # rows, C not a multiple of 4, gapped windows, clipped windows beside span pairs in one row,
    # dilation_h, 16 .. 32 channels
    ("conv_span_pairs_c16_same_lone", "conv2d_avgpool", (1, 9, 11, 4), (16, 3, 3, 4), dict(padding="same"),
     dict(pool=2)),
    ("conv_span_pairs_c32_s2_batch2", "conv2d_avgpool", (2, 13, 17, 4), (32, 3, 3, 4),
     dict(padding="same", stride=2), dict(pool=2)),
    ("conv_span_pairs_1row_c5", "conv2d_avgpool", (1, 6, 11, 5), (16, 1, 3, 5), dict(padding="same"), dict(pool=2)),
    ("conv_span_pairs_2rows_c6", "conv2d_avgpool", (1, 9, 13, 6), (24, 2, 2, 6), {}, dict(pool=2)),
    ("conv_span_pairs_c16_same_even", "conv2d_avgpool", (1, 8, 12, 4), (16, 3, 3, 4), dict(padding="same"),
     dict(pool=2)),
    ("conv_span_pairs_c3_kw4_same_pool", "conv2d_avgpool", (2, 8, 13, 3), (20, 3, 4, 3), dict(padding="same"),
     dict(pool=2, pool_padding="same")),
    ("conv_span_pairs_gaps_dil", "conv2d_avgpool", (1, 12, 16, 4), (17, 3, 3, 4), dict(dilation=(2, 1)),
     dict(pool=2, pool_stride=3, rounding="floor")),
    ("pw_span_pairs_c16_w9", "pointwise_conv2d_avgpool", (1, 6, 9, 16), (32, 16), {}, dict(pool=2)),
    ("pw_chunks_2x2", "pointwise_conv2d_avgpool", (1, 4, 4, 1024), (40, 1024), {}, dict(pool=2)),
    ("pw_ring_2x2_s1", "pointwise_conv2d_avgpool", (1, 5, 7, 6), (33, 6), {}, dict(pool=2, pool_stride=1)),
    ("dw_c8_grouped_2x2", "depthwise_conv2d_avgpool", (1, 12, 12, 8), (3, 3, 8), dict(padding="same"), dict(pool=2)),
    ("dw_c64_3x3_s3", "depthwise_conv2d_avgpool", (1, 9, 9, 64), (3, 3, 64), dict(padding="same"), dict(pool=3)),
    ("dw_m2_ring_3x3_s1", "depthwise_conv2d_avgpool", (1, 12, 10, 12), (3, 3, 24),
     dict(depth_multiplier=2), dict(pool=3, pool_stride=1, pool_padding="same")),
    ("dw_c4_grouped_ring", "depthwise_conv2d_avgpool", (1, 8, 9, 4), (3, 3, 4), dict(padding="same"),
     dict(pool=2, pool_stride=1)),
    # avx512's ring rows (x5_ring_row: column sums once per strip of <= 64 conv columns):
    # several strips in a row, windows wider than 64 columns (per-window sums), channel chunks,
    # counts 4 apart in one row (SAME 3x5: 8 and 12, 6 and 10), floor and half-up rounding
    ("pw_ring_strips_150_wide", "pointwise_conv2d_avgpool", (1, 4, 150, 4), (20, 4), {},
     dict(pool=(2, 3), pool_stride=(1, 2), pool_padding="same")),
    ("pw_ring_strips_half_up", "pointwise_conv2d_avgpool", (1, 3, 140, 3), (18, 3), {},
     dict(pool=(2, 4), pool_stride=(1, 2), rounding="half_up")),
    ("pw_ring_window_128_wide", "pointwise_conv2d_avgpool", (1, 3, 130, 2), (17, 2), {},
     dict(pool=(2, 128), pool_stride=1, rounding="floor")),
    ("conv_ring_chunks_c120", "conv2d_avgpool", (1, 5, 6, 120), (40, 3, 3, 120), dict(padding="same"),
     dict(pool=3, pool_stride=1, pool_padding="same")),
    ("dw_ring_3x5_same_half_up", "depthwise_conv2d_avgpool", (2, 9, 12, 16), (3, 3, 16), dict(padding="same"),
     dict(pool=(3, 5), pool_stride=(2, 1), pool_padding="same")),
]


@pytest.mark.parametrize("path", path_params())
@pytest.mark.parametrize("case", FUSED_CASES, ids=lambda c: c[0])
def test_fused_special_cases(case: tuple, path: str) -> None:
    """fused == reference fused, and == the path's own unfused pair."""
    name, op, x_shape, w_shape, geometry, pool_kw = case
    for seed in (0, 1):
        x, w, kw = _conv_case(op, x_shape, w_shape, seed, **geometry, **pool_kw)
        _check(op, x, w, dict(kw), path)
        conv = {k: v for k, v in kw.items() if k not in pool_kw and k != "rounding"}
        renamed = {"pool": "pool", "pool_stride": "stride", "pool_padding": "padding", "rounding": "rounding"}
        with on_path(path):
            bias = conv.pop("bias")
            mid = getattr(ps, op.removesuffix("_avgpool"))(x, w, bias, **conv)
            pair = ps.avg_pool2d(mid, **{renamed[k]: v for k, v in pool_kw.items()})
            fused = getattr(ps, op)(x, w, bias, **{**conv, **pool_kw})
        np.testing.assert_array_equal(fused, pair, err_msg=f"{op} fused != unfused on path {path}")


POOL_CASES = [
    # id, op, x shape, keywords
    ("avg_2x2_c1", "avg_pool2d", (1, 6, 6, 1), dict(pool=2)),
    ("avg_2x2_c33", "avg_pool2d", (2, 8, 6, 33), dict(pool=2)),
    ("avg_2x2_c100", "avg_pool2d", (1, 4, 4, 100), dict(pool=2)),
    ("avg_3x3_s2_same_c19", "avg_pool2d", (1, 9, 10, 19), dict(pool=3, stride=2, padding="same")),
    ("avg_25x5_c64", "avg_pool2d", (1, 25, 5, 64), dict(pool=(25, 5))),
    ("avg_4x4_floor_c7", "avg_pool2d", (1, 8, 8, 7), dict(pool=4, rounding="floor")),
    ("avg_2x4_half_up_c70", "avg_pool2d", (1, 4, 8, 70), dict(pool=(2, 4), rounding="half_up")),
    ("avg_7x7_c9_clipped", "avg_pool2d", (1, 9, 9, 9), dict(pool=7, stride=3, padding="same")),
    ("max_3x3_s2_c32", "max_pool2d", (1, 48, 48, 32), dict(pool=3, stride=2)),
    ("max_2x2_c1", "max_pool2d", (2, 5, 5, 1), dict(pool=2, padding="same")),
    ("max_3x3_c65_same", "max_pool2d", (1, 7, 6, 65), dict(pool=3, stride=1, padding="same")),
]


@pytest.mark.parametrize("path", path_params())
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: c[0])
def test_pool_special_cases(case: tuple, path: str) -> None:
    name, op, x_shape, kw = case
    rng = np.random.default_rng(3)
    for lo, hi in ((-128, 127), (-20, 35)):
        x = rng.integers(-128, 128, x_shape, dtype=np.int8)
        _check(op, x, None, dict(kw, act_min=lo, act_max=hi), path)


@pytest.mark.parametrize("path", path_params())
def test_every_path_agrees_with_every_other_on_one_layer_of_each_op(path: str) -> None:
    """A quick cross-check between paths themselves (not only against the reference)."""
    for op, x_shape, w_shape, geometry in itertools.chain(
            [("conv2d", (1, 12, 12, 4), (8, 3, 3, 4), dict(padding="same"))],
            [("depthwise_conv2d", (1, 12, 12, 8), (3, 3, 8), dict(padding="same"))],
            [("pointwise_conv2d", (1, 6, 6, 16), (24, 16), {})]):
        x, w, kw = _conv_case(op, x_shape, w_shape, 5, **geometry)
        bias = kw.pop("bias")
        with on_path(path):
            got = getattr(ps, op)(x, w, bias, **kw)
        with _ops.kernel_path("ref"):
            want = getattr(ps, op)(x, w, bias, **kw)
        np.testing.assert_array_equal(got, want)


def _check_pool_at_offset(data: st.DataObject, op: str, shape: tuple[int, int, int, int], offset: int,
                          kwargs: dict[str, Any], out_hw: tuple[int, int]) -> None:
    """Pool an input placed `offset` bytes past a 64-byte boundary (contiguous), drawn by
    int8_tensor (uniform, extremes, constant, small, sparse): every path == reference."""
    size = int(np.prod(shape))
    base = np.empty(size + 128, np.int8)
    start = (-base.ctypes.data) % 64 + offset
    x = base[start:start + size].reshape(shape)
    x[...] = int8_tensor(data.draw, shape)
    want = getattr(ps.reference, op)(x, **kwargs)
    assert want.shape == (shape[0], *out_hw, shape[3])
    for path in available_paths():
        with on_path(path):
            np.testing.assert_array_equal(getattr(ps, op)(x, **kwargs), want, err_msg=f"path {path}, {kwargs}")


@given(data=st.data())
def test_max_pool_strips_and_interiors(data: st.DataObject) -> None:
    """The x86 max pools take, per output row, the vertical max of its window rows over a
    strip of input columns (a 16 KB stack buffer: several strips when W * C is larger, each
    window directly when pool_w * C is), then each pixel's horizontal max. AVX-512: loops
    of 16/32/64-byte vectors for unclipped windows, clipped ones at the borders, vertical
    loads aligned to the input's cache lines, and a row kernel of its own for 32 channels,
    stride 2, windows 2 or 3 wide (pixel pairs from registers; a third of the examples,
    any window height, stride and padding). AVX2: 32-byte vectors, partial ones stored past
    the pixel or, at the output's end, byte by byte. Channel counts around those widths
    and past the buffer, inputs at every 16-byte offset, windows 1-6 that overlap, tile or
    skip, padding, batch 1-3, activation ranges; on every path."""
    mode = data.draw(st.sampled_from(["strips", "c32_s2", "any"]), label="mode")
    if mode == "strips":  # rows of W * C > 16 KB; windows past the buffer from C > 2730
        c = data.draw(st.integers(300, 4200), label="c")
        n, h = data.draw(st.integers(1, 2), label="n"), data.draw(st.integers(1, 4), label="h")
        w = data.draw(st.integers(1, max(1, min(60, 200_000 // (n * h * c)))), label="w")
    else:
        c = 32 if mode == "c32_s2" else data.draw(
            st.sampled_from([1, 3, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 128]) | st.integers(1, 80), label="c")
        n, h = data.draw(st.integers(1, 3), label="n"), data.draw(st.integers(1, 12), label="h")
        w = data.draw(st.integers(1, 40), label="w")
    if mode == "c32_s2":  # the 32-channel row kernel: stride 2, windows 2 or 3 wide, any height
        kh, sh = data.draw(st.integers(1, 6), label="kh"), data.draw(st.integers(1, 6), label="sh")
        kw = data.draw(st.sampled_from([2, 3]), label="kw")
        pads = [data.draw(st.integers(0, k - 1), label="pad") for k in (kh, kh, kw, kw)]
        assume(h + pads[0] + pads[1] >= kh and w + pads[2] + pads[3] >= kw)
        kwargs: dict[str, Any] = dict(pool=(kh, kw), stride=(sh, 2), padding=tuple(pads))
        oh, ow = (h + pads[0] + pads[1] - kh) // sh + 1, (w + pads[2] + pads[3] - kw) // 2 + 1
    else:
        kwargs, (oh, ow) = data.draw(pool_geometry(h, w, "tflite"), label="geometry")
    put_act(kwargs, data.draw(act_range(), label="act"), ("act_min", "act_max"))
    offset = data.draw(st.sampled_from([0, 1, 16, 32, 48]), label="offset")
    _check_pool_at_offset(data, "max_pool2d", (n, h, w, c), offset, kwargs, (oh, ow))


@pytest.mark.parametrize("path", path_params())
def test_max_pool_c32_s2_every_width(path: str) -> None:
    """The 32-channel stride-2 row kernel on every width 1-20 and left/right padding, windows
    2 and 3 wide and 1-3 high: every count and parity of pixel pairs, with the borders and the
    odd last pixel. Inputs all negative as well as mixed, so that a lane loaded as 0 (masked)
    where the window has data shows."""
    rng = np.random.default_rng(7)
    for w, kw, kh in itertools.product(range(1, 21), (2, 3), (1, 2, 3)):
        for left, right in itertools.product(range(kw), range(kw)):
            if w + left + right < kw:
                continue
            for negative in (True, False):
                x = rng.integers(-128, -60 if negative else 128, (2, kh + 2, w, 32), dtype=np.int8)
                kw_args = dict(pool=(kh, kw), stride=(2, 2), padding=(0, kh - 1, left, right))
                _check("max_pool2d", x, None, kw_args, path)


@given(data=st.data())
def test_avg_pool_strips_and_counts(data: st.DataObject) -> None:
    """The AVX-512 average pool sums each output row's window rows in int16 over a strip of
    input columns (an 8 KB buffer of sums: several strips when W * C is larger; windows of
    more than 256 rows or wider than the buffer are summed directly), then each pixel's
    columns: in int16 lanes with shifts where the count is a power of two <= 256, else in
    int32 (magic division). Wide rows, tall windows (up to 300 rows, counts past 256),
    channel counts around 16/32/64, all roundings, input alignments, batch, padding,
    activation ranges; on every path."""
    mode = data.draw(st.sampled_from(["strips", "tall", "any"]), label="mode")
    if mode == "strips":
        c = data.draw(st.integers(150, 4200), label="c")
        n, h = data.draw(st.integers(1, 2), label="n"), data.draw(st.integers(1, 4), label="h")
        w = data.draw(st.integers(1, max(1, min(60, 200_000 // (n * h * c)))), label="w")
    elif mode == "tall":
        c = data.draw(st.integers(1, 40), label="c")
        n, h, w = 1, data.draw(st.integers(200, 300), label="h"), data.draw(st.integers(1, 4), label="w")
    else:
        c = data.draw(st.sampled_from([1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100]) | st.integers(1, 80), label="c")
        n, h = data.draw(st.integers(1, 3), label="n"), data.draw(st.integers(1, 12), label="h")
        w = data.draw(st.integers(1, 40), label="w")
    rounding = data.draw(st.sampled_from(["tflite", "tflite", "floor", "half_up"]), label="rounding")
    if mode == "tall":  # valid windows, all full: power-of-two counts up to 1024 for the shifts
        kh = data.draw(st.sampled_from([k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256) if k <= h])
                       | (st.integers(1, h) if rounding == "tflite" else st.nothing()), label="kh")
        kw = data.draw(st.sampled_from([k for k in (1, 2, 4) if k <= w])
                       | (st.integers(1, w) if rounding == "tflite" else st.nothing()), label="kw")
        sh, sw = data.draw(st.integers(1, 50), label="sh"), data.draw(st.integers(1, 3), label="sw")
        kwargs: dict[str, Any] = dict(pool=(kh, kw), stride=(sh, sw))
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    else:
        kwargs, (oh, ow) = data.draw(pool_geometry(h, w, rounding), label="geometry")
    kwargs["rounding"] = rounding
    put_act(kwargs, data.draw(act_range(), label="act"), ("act_min", "act_max"))
    offset = data.draw(st.sampled_from([0, 1, 16, 32, 48]), label="offset")
    _check_pool_at_offset(data, "avg_pool2d", (n, h, w, c), offset, kwargs, (oh, ow))


@pytest.mark.parametrize("path", path_params())
@pytest.mark.parametrize("rounding", ["tflite", "floor", "half_up"])
def test_avg_pool_int16_bounds(rounding: str, path: str) -> None:
    """Window counts of 256 (summed in int16 lanes on the AVX-512 path: sums down to -2^15)
    and 512 (int32), all -128, all 127 and mixed, 33 channels (a 32-lane vector and a tail)."""
    rng = np.random.default_rng(11)
    for pool in ((256, 1), (128, 2), (64, 4), (256, 2), (128, 4)):
        for x in (np.full((1, 256, 4, 33), -128, np.int8), np.full((1, 256, 4, 33), 127, np.int8),
                  rng.integers(-128, 128, (1, 256, 4, 33), dtype=np.int8)):
            _check("avg_pool2d", x, None, dict(pool=pool, stride=(1, 2), rounding=rounding), path)


# ---- few output channels: pixels in the lanes (hypothesis) -----------------------------


@pytest.mark.parametrize("kind", ["conv2d", "pointwise_conv2d", "fully_connected"])
@given(data=st.data())
def test_few_output_channels_match_reference(kind: str, data: st.DataObject) -> None:
    """1-15 output channels from 1-8 input channels, every geometry (odd widths, batch > 1,
    padding, strides, dilation), zero points, multipliers, shifts and activations at their
    extremes too: every path == reference."""
    from strategies import conv_cases

    extreme = data.draw(st.booleans(), label="extreme")
    assert_matches_reference_on_every_path(data.draw(conv_cases(kind, extreme=extreme, few_channels=True),
                                                     label="case"))


@pytest.mark.parametrize("op", ["conv2d_avgpool", "pointwise_conv2d_avgpool"])
@given(data=st.data())
def test_few_output_channels_fused_match_reference(op: str, data: st.DataObject) -> None:
    """The fused window and ring modes with 1-15 output channels: fused == reference fused ==
    the path's own avg_pool2d(conv(x)), on every path."""
    from strategies import FUSED_OPS, conv_cases

    extreme = data.draw(st.booleans(), label="extreme")
    case = data.draw(conv_cases(FUSED_OPS[op], fused=op, extreme=extreme, few_channels=True), label="case")
    fused = assert_matches_reference_on_every_path(case)
    conv_fn = getattr(ps, FUSED_OPS[op])
    for path in available_paths():
        with _ops.kernel_path(path):
            if case.bias_style == "omitted":
                conv_out = conv_fn(case.x, case.w, **case.conv_kwargs())
            else:
                conv_out = conv_fn(case.x, case.w, case.bias, **case.conv_kwargs())
            unfused = ps.avg_pool2d(conv_out, **case.pool_kwargs())
        np.testing.assert_array_equal(fused, unfused, err_msg=f"{op} fused != unfused on path {path}")
