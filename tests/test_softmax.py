"""int8 softmax: C against the NumPy reference, hand-derived answers, errors, and LiteRT.

* Property tests: `ps.softmax` (C) and `ps.reference.softmax` (NumPy) give the same
  bytes for 1-4-D inputs, depth 1-300, input scales 1e-3 .. 1 (and a wide range
  down to TFLite's lower bound), several betas, uniform rows, constant rows, rows
  with one maximum, rows with a few distinct values, out= given or not. The C
  preprocessing (integer arithmetic on the float32 bits) agrees with the reference's
  double arithmetic for arbitrary float32 scales and betas.
* Known answers derived by hand (see each test).
* Errors: argument validation (both implementations) and the C core's status codes.
* LiteRT: the single-op SOFTMAX models in tests/data/softmax/ (tools/make_softmax_model.py)
  run in LiteRT's BUILTIN_REF interpreter give exactly pyshrink's bytes. LiteRT
  (``ai-edge-litert``) is required: without it those tests fail, they do not skip.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import pyshrink as ps
from pyshrink.reference import _softmax_params
from pyshrink._ops import float32_bits
from pyshrink._pyshrink import ffi, lib

_IMPORT_ERROR: ImportError | None
try:
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
except ImportError as exc:  # reported by require_litert(), as a failure
    _IMPORT_ERROR = exc
else:
    _IMPORT_ERROR = None

DATA_DIR = Path(__file__).resolve().parent / "data" / "softmax"
NAMES = sorted(p.stem for p in DATA_DIR.glob("*.json"))
EXPECTED_FIXTURES = {
    "softmax_1x10", "softmax_2x7x31", "softmax_1x3x4x300", "softmax_beta2", "softmax_beta_half",
    "softmax_small_scale", "softmax_large_scale", "softmax_shift30",
}
IMPLS: dict[str, ModuleType] = {"c": ps, "reference": ps.reference}
#: random inputs per fixture in the fixed-batch LiteRT comparison
LITERT_BATCH = int(os.environ.get("PYSHRINK_SOFTMAX_LITERT_BATCH", "300"))
LITERT_EXAMPLES = int(os.environ.get("PYSHRINK_LITERT_EXAMPLES", "25"))
MAX_ELEMENTS = 12_000  # per property-test example


def round_half_away(v: float) -> int:
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


# ---- strategies ----------------------------------------------------------------------------


def _rows(rng: np.random.Generator, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """int8 inputs of one kind, seeded: every kind hits rows the others rarely make."""
    depth = shape[-1]
    if kind == "uniform":
        return rng.integers(-128, 128, shape, dtype=np.int8)
    if kind == "constant":  # every row one value (not the same for all rows)
        rows = rng.integers(-128, 128, shape[:-1] + (1,), dtype=np.int8)
        return np.ascontiguousarray(np.broadcast_to(rows, shape))
    if kind == "one_max":  # a background, and one larger value per row
        low = rng.integers(-128, 125, shape[:-1] + (1,))
        x = low + rng.integers(0, 3, shape) * (rng.random(shape) < 0.3)
        idx = rng.integers(0, depth, shape[:-1] + (1,))
        np.put_along_axis(x, idx, rng.integers(low + 3, 128), axis=-1)
        return x.astype(np.int8)
    if kind == "few":  # a handful of values: ties at the maximum
        values = rng.integers(-128, 128, 3)
        return values[rng.integers(0, 3, shape)].astype(np.int8)
    if kind == "extremes":
        return rng.choice(np.array([-128, -127, 126, 127], np.int8), shape)
    raise ValueError(kind)


KINDS = ("uniform", "constant", "one_max", "few", "extremes")


@st.composite
def shapes(draw: st.DrawFn) -> tuple[int, ...]:
    depth = draw(st.integers(1, 300))
    ndim = draw(st.integers(1, 4))
    outer: list[int] = []
    for _ in range(ndim - 1):
        outer.append(draw(st.integers(1, max(1, min(5, MAX_ELEMENTS // (depth * math.prod(outer) or 1))))))
    return (*outer, depth)


@st.composite
def inputs(draw: st.DrawFn) -> np.ndarray:
    shape = draw(shapes())
    kind = draw(st.sampled_from(KINDS + ("hypothesis",)))
    if kind == "hypothesis":  # reaches and shrinks to small corner cases
        return draw(hnp.arrays(np.int8, shape))
    return _rows(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), shape, kind)


def float32s(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Log-uniform float32 values in [lo, hi], as Python floats."""
    return st.floats(math.log(lo), math.log(hi)).map(lambda v: float(np.float32(math.exp(v))))


BETAS = st.one_of(st.sampled_from([0.5, 1.0, 2.0]), float32s(0.05, 20.0))


def _c_params(input_scale: float, beta: float) -> tuple[int, tuple[int, int, int]]:
    p = ffi.new("ps_softmax_params *")
    status = lib.ps_softmax_prepare(float32_bits(input_scale), float32_bits(beta), p)
    return status, (p.input_multiplier, p.input_left_shift, p.diff_min)


# ---- C == reference ------------------------------------------------------------------------


@given(x=inputs(), input_scale=float32s(1e-3, 1.0), beta=BETAS, use_out=st.booleans())
def test_softmax_matches_reference(x: np.ndarray, input_scale: float, beta: float, use_out: bool) -> None:
    """Same bytes from C and NumPy over shapes, scales, betas and input kinds."""
    out = np.full(x.shape, 99, np.int8) if use_out else None
    got = ps.softmax(x, input_scale=input_scale, beta=beta, out=out)
    expected = ps.reference.softmax(x, input_scale=input_scale, beta=beta)
    assert got.dtype == np.int8 and got.shape == x.shape and got.flags.c_contiguous
    if use_out:
        assert got is out
    np.testing.assert_array_equal(got, expected)


@given(x=inputs(), input_scale=float32s(2.0**-26 * 1.001, 100.0))
def test_softmax_matches_reference_wide_scale(x: np.ndarray, input_scale: float) -> None:
    """Down to the smallest scale TFLite accepts (beta * scale * 2**26 > 1) and past the cap."""
    np.testing.assert_array_equal(ps.softmax(x, input_scale=input_scale),
                                  ps.reference.softmax(x, input_scale=input_scale))


@st.composite
def positive_float32_bits(draw: st.DrawFn) -> float:
    """Any positive finite float32 (subnormals included), from its bit pattern."""
    bits = draw(st.integers(1, 0x7F7FFFFF))
    return float(np.array([bits], np.uint32).view(np.float32)[0])


@settings(max_examples=2000)
@given(input_scale=positive_float32_bits(), beta=st.one_of(positive_float32_bits(), BETAS))
def test_prepare_matches_reference_double_arithmetic(input_scale: float, beta: float) -> None:
    """ps_softmax_prepare (integer ops on IEEE bits) == TFLite's double arithmetic."""
    status, c = _c_params(input_scale, beta)
    if not beta * input_scale * 2.0**26 > 1.0:
        assert status == lib.PS_ERR_PARAM
        return
    assert status == lib.PS_OK
    assert c == _softmax_params(input_scale, beta)
    mult, shift, diff_min = c
    assert 2**30 <= mult < 2**31 and 1 <= shift <= 31 and -((31 << 26) >> shift) == diff_min


SPECIAL_BITS = [0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x7F7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000,
                0x7F800001, 0xFFFFFFFF, 0x3F800000, 0xBF800000, 0x33800000, 0x4B000000]
ANY_BITS = st.one_of(st.integers(0, 2**32 - 1), st.sampled_from(SPECIAL_BITS))


@settings(max_examples=1000)
@given(scale_bits=ANY_BITS, beta_bits=st.one_of(ANY_BITS, st.just(0x3F800000)))
def test_prepare_takes_any_bit_pattern(scale_bits: int, beta_bits: int) -> None:
    """The C API takes each float32 as its bits: NaNs (any payload), infinities, zero, and any
    pattern with the sign bit set (-0 too) are PS_ERR_PARAM; every other pattern gives the
    reference's parameters for that float32 (or PS_ERR_PARAM where real <= 1)."""
    p = ffi.new("ps_softmax_params *")
    status = lib.ps_softmax_prepare(scale_bits, beta_bits, p)
    scale, beta = (float(np.array([b], np.uint32).view(np.float32)[0]) for b in (scale_bits, beta_bits))
    # positive, finite, non-zero: bits in (0, 0x7F800000); the double product of two float32 is exact
    if not (0 < scale_bits < 0x7F800000 and 0 < beta_bits < 0x7F800000 and scale * beta * 2.0**26 > 1.0):
        assert status == lib.PS_ERR_PARAM, (hex(scale_bits), hex(beta_bits))
        return
    assert status == lib.PS_OK
    assert (p.input_multiplier, p.input_left_shift, p.diff_min) == _softmax_params(scale, beta)


@pytest.mark.parametrize("input_scale, beta, expected", [
    # real = 2**26 * scale * beta; frexp; round(q * 2**31); diff_min = -((31 << 26) >> shift)
    (1.0, 1.0, (2**30, 27, -15)),                    # real 2**26 = 0.5 * 2**27
    (0.5, 2.0, (2**30, 27, -15)),
    (2.0**-25, 1.0, (2**30, 2, -(31 << 24))),       # real 2
    (2.0**-26 * 1.5, 1.0, (3 * 2**29, 1, -(31 << 25))),  # real 1.5: the smallest shift
    (16.0, 1.0, (2**30, 31, 0)),                     # real 2**30 = 0.5 * 2**31: shift 31, not 30
    (32.0, 1.0, (2**31 - 1, 31, 0)),                 # real 2**31 > 2**31 - 1: capped
    (3.0e38, 3.0e38, (2**31 - 1, 31, 0)),            # far past the cap
    (8.0, 1.0, (2**30, 30, -1)),                     # real 2**29
])
def test_prepare_known_values(input_scale: float, beta: float, expected: tuple[int, int, int]) -> None:
    assert _c_params(input_scale, beta) == (lib.PS_OK, expected)
    assert _softmax_params(input_scale, beta) == expected


def test_prepare_rounds_like_tflite() -> None:
    """q * 2**31 rounded half away from zero, and a round-up to 2**31 renormalised.

    With input_scale = a * 2**-32 and beta = b * 2**-16 (a, b odd 17-bit integers, exact
    in float32), real = a * b * 2**-22 and a * b has 32 bits: q * 2**31 = a * b / 2 ends
    in exactly .5, a tie.
    """
    a, b = 65537, 49153
    assert 2**31 <= a * b < 2**32
    expected = ((a * b + 1) // 2, 32 - 22, -((31 << 26) >> 10))  # tie rounds up; real = q * 2**10
    assert _c_params(a * 2.0**-32, b * 2.0**-16) == (lib.PS_OK, expected)
    assert _softmax_params(a * 2.0**-32, b * 2.0**-16) == expected
    # a * b = 2**32 - 1: q * 2**31 = 2**31 - 0.5 rounds to 2**31 -> (2**30, shift + 1)
    b = 65535
    expected = (2**30, 11, -((31 << 26) >> 11))
    assert _c_params(a * 2.0**-32, b * 2.0**-16) == (lib.PS_OK, expected)
    assert _softmax_params(a * 2.0**-32, b * 2.0**-16) == expected


# ---- known answers -------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 7, 10, 256, 300, 511])
@pytest.mark.parametrize("input_scale", [1e-3, 0.05, 1.0, 20.0])
def test_equal_values(impl: ModuleType, depth: int, input_scale: float) -> None:
    """A row of equal values: each output is -128 + round(256 / depth), clamped to 127.

    Every difference is 0, so every exp is exp(0) = 2**31 - 1 (Q0.31) whatever the scale;
    Rescale<12> rounds it to 2**19, the sum is depth * 2**19, and 1/sum is exact to a few
    units in 2**31. 256 / depth is at least 0.001 away from a rounding tie for these
    depths (depth 1 gives 256, clamped to 127), far more than the fixed-point error.
    """
    x = np.full((2, depth), -37, np.int8)
    expected = min(127, -128 + round_half_away(256 / depth))
    np.testing.assert_array_equal(impl.softmax(x, input_scale=input_scale), np.full(x.shape, expected, np.int8))


def test_row_sum_at_the_limit(impl: ModuleType) -> None:
    """512 equal values sum to 512.0 (2**28 in Q12.19): LiteRT aborts, pyshrink gives -128.

    Each output would be 256 / 512 = 0.5 steps in exact arithmetic, but exp(0) is
    (2**31 - 1) / 2**31 < 1, so every probability is below 1/512: 0 steps, -128.
    """
    x = np.zeros((3, 700), np.int8)
    x[0, :512] = 5  # 512 maxima
    x[1, :] = -3  # 700 maxima
    x[2, :511] = 9  # 511 maxima, the rest far below (scale 1: their exps are 0): still fine
    x[2, 511:] = -128
    y = impl.softmax(x, input_scale=1.0)
    assert (y[:2] == -128).all()
    assert (y[2, :511] == -127).all() and (y[2, 511:] == -128).all()


def test_one_dominant_value(impl: ModuleType) -> None:
    """[127, -128, ...] with input_scale 1: the rest are cut by diff_min and the max gets 127.

    real = 2**26 -> (2**30, shift 27), diff_min = -((31 << 26) >> 27) = -15 > -255, so the
    -128s contribute nothing (-128 out); the max alone sums to 2**19 = 1.0 -> 256 steps -> 127.
    """
    x = np.full((1, 9), -128, np.int8)
    x[0, 4] = 127
    expected = np.full((1, 9), -128, np.int8)
    expected[0, 4] = 127
    np.testing.assert_array_equal(impl.softmax(x, input_scale=1.0), expected)


def test_ln3_pairs(impl: ModuleType) -> None:
    """input_scale = ln 3 makes a difference of 1 a factor of 3 in probability.

    [0, -1] -> p = 3/4, 1/4 -> 192 and 64 steps -> [64, -64];
    [5, 4, 4, 4] -> p = 1/2, 1/6, 1/6, 1/6 -> 128 and 42.67 -> [0, -85, -85, -85];
    with beta 2 a difference of 1 is a factor 9: [1, 0] -> p = 9/10, 1/10 -> 230.4, 25.6
    -> [102, -102]. (float32(ln 3) is off by 1e-8: far from any rounding tie.)
    """
    ln3 = float(np.float32(math.log(3.0)))
    np.testing.assert_array_equal(impl.softmax(np.array([0, -1], np.int8), input_scale=ln3),
                                  np.array([64, -64], np.int8))
    np.testing.assert_array_equal(impl.softmax(np.array([[5, 4, 4, 4]], np.int8), input_scale=ln3),
                                  np.array([[0, -85, -85, -85]], np.int8))
    np.testing.assert_array_equal(impl.softmax(np.array([1, 0], np.int8), input_scale=ln3, beta=2.0),
                                  np.array([102, -102], np.int8))


def test_capped_multiplier_counts_only_the_maxima(impl: ModuleType) -> None:
    """input_scale 20: real is capped, shift 31, diff_min 0: only the maxima get exp(0).

    Three maxima of four -> 256 / 3 = 85.33 steps -> -43; the other value -> -128.
    """
    y = impl.softmax(np.array([[3, 3, 2, 3]], np.int8), input_scale=20.0)
    np.testing.assert_array_equal(y, np.array([[-43, -43, -128, -43]], np.int8))


def test_rows_are_independent(impl: ModuleType) -> None:
    """Softmax runs over the last axis only: a 3-D call equals one call per row."""
    x = np.random.default_rng(3).integers(-128, 128, (2, 3, 17), dtype=np.int8)
    y = impl.softmax(x, input_scale=0.07, beta=1.5)
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(y[i, j], impl.softmax(x[i, j], input_scale=0.07, beta=1.5))


def test_input_scale_and_beta_are_float32(impl: ModuleType) -> None:
    """0.1 and float32(0.1) are the same model parameter (and beta likewise)."""
    x = np.random.default_rng(4).integers(-128, 128, (4, 50), dtype=np.int8)
    np.testing.assert_array_equal(impl.softmax(x, input_scale=0.1, beta=0.3),
                                  impl.softmax(x, input_scale=float(np.float32(0.1)),
                                               beta=np.float32(0.3)))


def test_non_contiguous_input(impl: ModuleType) -> None:
    x = np.random.default_rng(5).integers(-128, 128, (6, 40), dtype=np.int8)
    np.testing.assert_array_equal(impl.softmax(x[::2, ::3], input_scale=0.05),
                                  impl.softmax(np.ascontiguousarray(x[::2, ::3]), input_scale=0.05))


# ---- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("x", [np.zeros(4, np.float32), np.zeros(4, np.int16), np.zeros(4, np.uint8),
                               [1, 2, 3]])
def test_bad_x_dtype(impl: ModuleType, x: Any) -> None:
    with pytest.raises(TypeError, match=r"\bx\b"):
        impl.softmax(x, input_scale=0.1)


@pytest.mark.parametrize("x", [np.zeros((), np.int8), np.zeros((3, 0), np.int8), np.zeros((0,), np.int8)])
def test_bad_x_shape(impl: ModuleType, x: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"\bx\b"):
        impl.softmax(x, input_scale=0.1)


@pytest.mark.parametrize("value", [0.0, -0.1, float("nan"), float("inf"), -float("inf"), 1e-50, 1e39, 10**400])
def test_bad_input_scale(impl: ModuleType, value: Any) -> None:
    with pytest.raises(ValueError, match="input_scale"):
        impl.softmax(np.zeros(3, np.int8), input_scale=value)


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_beta(impl: ModuleType, value: float) -> None:
    with pytest.raises(ValueError, match="beta"):
        impl.softmax(np.zeros(3, np.int8), input_scale=0.1, beta=value)


@pytest.mark.parametrize("name", ["input_scale", "beta"])
@pytest.mark.parametrize("value", ["0.1", None, True, np.array([0.1, 0.2])])
def test_bad_scalar_type(impl: ModuleType, name: str, value: Any) -> None:
    kw = {"input_scale": 0.1, "beta": 1.0, name: value}
    with pytest.raises(TypeError, match=name):
        impl.softmax(np.zeros(3, np.int8), **kw)


def test_product_too_small(impl: ModuleType) -> None:
    """beta * input_scale * 2**26 must exceed 1 (TFLite's QuantizeMultiplierGreaterThanOne)."""
    with pytest.raises(ValueError, match="input_scale"):
        impl.softmax(np.zeros(3, np.int8), input_scale=2.0**-26)  # exactly 1
    with pytest.raises(ValueError, match="beta"):
        impl.softmax(np.zeros(3, np.int8), input_scale=1e-4, beta=1e-4)
    impl.softmax(np.zeros(3, np.int8), input_scale=float(np.nextafter(np.float32(2.0**-26), np.float32(1))))


def test_required_keyword(impl: ModuleType) -> None:
    with pytest.raises(TypeError):
        impl.softmax(np.zeros(3, np.int8))  # input_scale is keyword-only and required
    with pytest.raises(TypeError):
        impl.softmax(np.zeros(3, np.int8), 0.1)


def test_bad_out(impl: ModuleType) -> None:
    x = np.zeros((2, 5), np.int8)
    with pytest.raises(TypeError, match="out"):
        impl.softmax(x, input_scale=0.1, out=np.zeros((2, 5), np.int16))
    with pytest.raises(ValueError, match="out"):
        impl.softmax(x, input_scale=0.1, out=np.zeros((5, 2), np.int8))


def test_out_overlapping_x_is_rejected() -> None:
    x = np.zeros((2, 5), np.int8)
    with pytest.raises(ValueError, match="overlap"):
        ps.softmax(x, input_scale=0.1, out=x)


# ---- the C core on its own -----------------------------------------------------------------


def _c_softmax(params: Any, rows: int, depth: int, x: Any, y: Any) -> int:
    return lib.ps_softmax(params, rows, depth, x, y)


def test_c_status_codes() -> None:
    x = np.random.default_rng(6).integers(-128, 128, (3, 8), dtype=np.int8)
    y = np.zeros_like(x)
    px, py = ffi.from_buffer("int8_t[]", x), ffi.from_buffer("int8_t[]", y)
    good = {"input_multiplier": 2**30, "input_left_shift": 27, "diff_min": -15}

    def params(**kw: int) -> Any:
        return ffi.new("ps_softmax_params *", {**good, **kw})

    assert _c_softmax(params(), 3, 8, px, py) == lib.PS_OK
    assert _c_softmax(ffi.NULL, 3, 8, px, py) == lib.PS_ERR_NULL
    assert _c_softmax(params(), 3, 8, ffi.NULL, py) == lib.PS_ERR_NULL
    assert _c_softmax(params(), 3, 8, px, ffi.NULL) == lib.PS_ERR_NULL
    for rows, depth in [(0, 8), (3, 0), (-1, 8), (2**16, 2**16)]:
        assert _c_softmax(params(), rows, depth, px, py) == lib.PS_ERR_SHAPE
    for bad in [dict(input_multiplier=2**30 - 1), dict(input_multiplier=-5), dict(input_left_shift=-1),
                dict(input_left_shift=32), dict(diff_min=1), dict(diff_min=-16),
                dict(input_left_shift=31, diff_min=-1), dict(input_left_shift=0, diff_min=-(31 << 26) - 1)]:
        assert _c_softmax(params(**bad), 3, 8, px, py) == lib.PS_ERR_PARAM, bad
    assert _c_softmax(params(input_left_shift=0, diff_min=-(31 << 26)), 3, 8, px, py) == lib.PS_OK
    assert _c_softmax(params(input_left_shift=31, diff_min=0, input_multiplier=2**31 - 1), 3, 8, px, py) == lib.PS_OK

    p = ffi.new("ps_softmax_params *")
    assert lib.ps_softmax_prepare(float32_bits(0.1), float32_bits(1.0), ffi.NULL) == lib.PS_ERR_NULL
    for scale, beta in [(float("nan"), 1.0), (1.0, float("inf")), (0.0, 1.0), (-0.0, 1.0), (-0.5, 1.0),
                        (1.0, -2.0), (2.0**-26, 1.0), (1e-45, 1.0), (1e-45, 3e38)]:
        if scale * beta * 2.0**26 > 1 and scale > 0 and beta > 0 and math.isfinite(scale * beta):
            assert _c_params(scale, beta)[0] == lib.PS_OK, (scale, beta)
        else:
            assert _c_params(scale, beta)[0] == lib.PS_ERR_PARAM, (scale, beta)


def test_c_in_place() -> None:
    """The header allows output == input: the kernel reads x[c] before writing out[c]."""
    x = np.random.default_rng(8).integers(-128, 128, (5, 33), dtype=np.int8)
    expected = ps.softmax(x, input_scale=0.04)
    p = ffi.new("ps_softmax_params *")
    assert lib.ps_softmax_prepare(float32_bits(0.04), float32_bits(1.0), p) == lib.PS_OK
    buf = x.copy()
    ptr = ffi.from_buffer("int8_t[]", buf)
    assert lib.ps_softmax(p, 5, 33, ptr, ptr) == lib.PS_OK
    np.testing.assert_array_equal(buf, expected)


# ---- LiteRT --------------------------------------------------------------------------------


def require_litert() -> None:
    """Fails the test (never skips) when LiteRT is missing."""
    if _IMPORT_ERROR is not None:
        pytest.fail("ai-edge-litert is required for the LiteRT softmax tests (pip install '.[test]'); "
                    f"importing it failed: {_IMPORT_ERROR!r}", pytrace=False)


class SoftmaxModel:
    """One tests/data/softmax fixture, checked against its sidecar, runnable in LiteRT."""

    def __init__(self, name: str):
        content = (DATA_DIR / f"{name}.tflite").read_bytes()
        side = json.loads((DATA_DIR / f"{name}.json").read_text())
        self.interp = Interpreter(model_content=content,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        self.interp.allocate_tensors()
        ops = self.interp._get_ops_details()
        assert [o["op_name"] for o in ops] == ["SOFTMAX"] == [side["op"]], ops
        (i,), (o,) = self.interp.get_input_details(), self.interp.get_output_details()
        assert (i["index"], o["index"]) == (int(ops[0]["inputs"][0]), int(ops[0]["outputs"][0]))
        assert i["dtype"] == o["dtype"] == np.int8
        self.shape = tuple(int(v) for v in i["shape"])
        assert list(self.shape) == side["input_shape"] and tuple(o["shape"]) == self.shape
        # The converter's output quantization for int8 softmax, which pyshrink assumes.
        q_out = o["quantization_parameters"]
        assert list(q_out["scales"]) == [np.float32(1 / 256)] and list(q_out["zero_points"]) == [-128]
        q_in = i["quantization_parameters"]
        assert len(q_in["scales"]) == 1
        self.input_scale = float(np.float32(q_in["scales"][0]))
        self.input_zp = int(q_in["zero_points"][0])
        model = schema.ModelT.InitFromPackedBuf(content, 0)
        self.beta = float(np.float32(model.subgraphs[0].operators[0].builtinOptions.beta))
        assert (self.input_scale, self.input_zp, self.beta) == (side["input_scale"], side["input_zp"], side["beta"])
        self.in_index, self.out_index = i["index"], o["index"]

    def run(self, x: np.ndarray) -> np.ndarray:
        assert x.dtype == np.int8 and x.shape == self.shape
        self.interp.set_tensor(self.in_index, x)
        self.interp.invoke()
        return np.array(self.interp.get_tensor(self.out_index), copy=True)


@cache
def load(name: str) -> SoftmaxModel:
    return SoftmaxModel(name)


def test_fixture_set() -> None:
    """All fixtures are there (a typo in a file name must not skip a model)."""
    assert set(NAMES) == EXPECTED_FIXTURES
    for name in NAMES:
        assert (DATA_DIR / f"{name}.tflite").stat().st_size < 20_000


@pytest.mark.parametrize("name", NAMES)
def test_fixture_parameters(name: str) -> None:
    """The derived fixtures really reach the multiplier regimes they are named after."""
    require_litert()
    m = load(name)
    mult, shift, diff_min = _softmax_params(m.input_scale, m.beta)
    side = json.loads((DATA_DIR / f"{name}.json").read_text())
    if name == "softmax_large_scale":
        assert (mult, shift, diff_min) == (2**31 - 1, 31, 0)
    if name == "softmax_shift30":
        assert (shift, diff_min) == (30, -1)
    if name == "softmax_small_scale":
        assert shift == 17
    if "derived_from" not in side:
        assert m.beta == 1.0  # what the converter writes for Keras' Softmax


@pytest.mark.parametrize("name", NAMES)
def test_matches_litert_batch(name: str) -> None:
    """LITERT_BATCH inputs per fixture, of every kind: C, reference and LiteRT agree byte for byte."""
    require_litert()
    m = load(name)
    rng = np.random.default_rng(sum(map(ord, name)))
    mismatches = {"c": 0, "reference": 0}
    compared = 0
    for k in range(LITERT_BATCH):
        x = _rows(rng, m.shape, KINDS[k % len(KINDS)])
        expected = m.run(x)
        for backend, impl in IMPLS.items():
            got = impl.softmax(x, input_scale=m.input_scale, beta=m.beta)
            mismatches[backend] += int(np.count_nonzero(got != expected))
        compared += expected.size
    assert mismatches == {"c": 0, "reference": 0}, (mismatches, compared)


@pytest.mark.parametrize("backend", sorted(IMPLS))
@pytest.mark.parametrize("name", NAMES)
@settings(deadline=None, max_examples=LITERT_EXAMPLES)
@given(data=st.data())
def test_matches_litert(name: str, backend: str, data: st.DataObject) -> None:
    """Hypothesis-drawn inputs (shrinking to a small case on failure)."""
    require_litert()
    m = load(name)
    kind = data.draw(st.sampled_from(KINDS + ("hypothesis",)), label="kind")
    if kind == "hypothesis":
        x = data.draw(hnp.arrays(np.int8, m.shape), label="x")
    else:
        x = _rows(np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed")), m.shape, kind)
    expected = m.run(x)
    got = IMPLS[backend].softmax(x, input_scale=m.input_scale, beta=m.beta)
    np.testing.assert_array_equal(got, expected, err_msg=f"{backend} softmax on {name}")


_ABORT_PROBE = textwrap.dedent("""
    import sys
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    path, depth = sys.argv[1], int(sys.argv[2])
    it = Interpreter(model_path=path, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    i = it.get_input_details()[0]["index"]
    it.resize_tensor_input(i, [1, depth])
    it.allocate_tensors()
    it.set_tensor(i, np.zeros((1, depth), np.int8))
    it.invoke()
    print(" ".join(map(str, np.unique(it.get_tensor(it.get_output_details()[0]["index"])))))
""")


def test_litert_aborts_at_a_sum_of_512() -> None:
    """Why pyshrink defines rows whose sum of exps reaches 512: LiteRT aborts on them.

    511 equal values: LiteRT (and pyshrink) give -127 everywhere; 512: the process dies
    on TFLITE_CHECK(exponent <= 31) in the reference kernel.
    """
    require_litert()
    path = str(DATA_DIR / "softmax_1x10.tflite")

    def probe(depth: int) -> subprocess.CompletedProcess[str]:
        def no_core_dump() -> None:
            import resource
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        return subprocess.run([sys.executable, "-c", _ABORT_PROBE, path, str(depth)], capture_output=True,
                              text=True, timeout=120, preexec_fn=no_core_dump if os.name == "posix" else None)

    ok = probe(511)
    assert ok.returncode == 0 and ok.stdout.split() == ["-127"], ok
    assert (ps.softmax(np.zeros((1, 511), np.int8), input_scale=0.02) == -127).all()
    dead = probe(512)
    assert dead.returncode != 0, dead
    assert (ps.softmax(np.zeros((1, 512), np.int8), input_scale=0.02) == -128).all()
