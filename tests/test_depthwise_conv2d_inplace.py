"""In-place depthwise convolution: the output written over its own input, at the offset C gives.

`ps_depthwise_conv2d_inplace_offset` (csrc/pyshrink.h) promises that with depth multiplier 1
the output may start D bytes before the input for D = offset + t * C (t >= 0) and still give
the bytes of separate buffers, on every kernel path. These tests check, over the whole
depthwise parameter space (tests/strategies.py: batch 1-3, odd shapes, rectangular kernels,
strides 1-4, dilations 1-3, valid/same/explicit padding beyond the kernel, channels 1-70):

- the offset equals a brute-force evaluation of its definition (every output pixel's taps
  enumerated: C * max(0, q - first input pixel q reads)), computed here independently;
- the C kernel run in place at that offset, at offset + t * C and at the offset rounded up
  for the arena's alignment gives the NumPy reference's bytes on every path this machine
  has, and writes nothing but its output;
- the offset is minimal: at offset - C and offset - 1 the reference path reads an input
  byte after an earlier output overwrote it, so its bytes differ (inputs and outputs are
  made to take disjoint values, so such a read always shows).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import pyshrink as ps
from kernel_paths import available_paths
from pyshrink import _args, _ops, planner
from pyshrink._pyshrink import ffi, lib
from pyshrink._tflite import Graph, Operator, Tensor
from pyshrink.model import Model, inplace_offset
from strategies import Case, conv_cases, out_size


def brute_force_offset(x_shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
                       dilation: tuple[int, int], pads: tuple[int, int, int, int]) -> int:
    """C * max(0, max over output pixels q of q - (the lowest input pixel index q reads))."""
    n, h, w, c = x_shape
    oh = out_size(h, kernel[0], stride[0], dilation[0], pads[0], pads[1])
    ow = out_size(w, kernel[1], stride[1], dilation[1], pads[2], pads[3])
    best = 0
    for b in range(n):
        for y in range(oh):
            for x in range(ow):
                reads = [(b * h + iy) * w + ix
                         for iy in (y * stride[0] - pads[0] + i * dilation[0] for i in range(kernel[0]))
                         for ix in (x * stride[1] - pads[2] + j * dilation[1] for j in range(kernel[1]))
                         if 0 <= iy < h and 0 <= ix < w]
                if reads:
                    best = max(best, (b * oh + y) * ow + x - min(reads))
    return best * c


def geometry(case: Case) -> _args.ConvGeometry:
    kw = {k: case.kwargs[k] for k in ("stride", "padding", "dilation", "depth_multiplier") if k in case.kwargs}
    return _args.conv_geometry("depthwise_conv2d", case.x.shape, case.w.shape, **kw)


def offset_of(case: Case) -> int | None:
    g = geometry(case)
    return _ops.depthwise_inplace_offset(case.x.shape, case.w.shape, stride=g.stride, padding=g.padding,
                                         dilation=g.dilation, depth_multiplier=g.depth_multiplier)


def run_in_place(case: Case, path: str, d: int) -> np.ndarray:
    """The C depthwise on `path` with its output starting d bytes before its input, in one buffer
    with guard bytes around it; asserts that no byte outside the output changed."""
    with _ops.kernel_path(path):
        call = _args.conv_call("depthwise_conv2d", case.x, case.w, case.bias, **case.kwargs)
        kernel = _ops.Kernel("depthwise_conv2d", call)
    assert kernel.path == path
    out_bytes = math.prod(call.geometry.out_shape)
    guard = 64
    size = max(d + case.x.nbytes, out_bytes)
    buf = np.random.default_rng(d).integers(-128, 128, guard + size + guard, dtype=np.int8)
    buf[guard + d:guard + d + case.x.nbytes] = call.x.ravel()
    before = buf.copy()
    base = ffi.from_buffer("int8_t[]", buf)
    _ops._check(kernel.fn(*kernel.args(base + guard + d, base + guard, ffi.NULL)))
    outside = np.ones(buf.size, bool)
    outside[guard:guard + out_bytes] = False
    changed = np.flatnonzero((buf != before) & outside)
    assert changed.size == 0, f"path {path}: wrote byte {changed[0] - guard} of the buffer, outside the output"
    return buf[guard:guard + out_bytes].reshape(call.geometry.out_shape).copy()


@given(case=conv_cases("depthwise_conv2d", depth_multiplier=1))
def test_offset_is_its_definition(case: Case) -> None:
    g = geometry(case)
    d = offset_of(case)
    assert d == brute_force_offset(case.x.shape, g.kernel, g.stride, g.dilation, g.padding)
    assert d % case.x.shape[3] == 0


@given(data=st.data())
def test_offset_at_the_int32_extremes(data: st.DataObject) -> None:
    """Paddings, strides and dilations up to 2**31 - 1 (padded extents within int32, as the kernel
    requires), few output pixels: the offset is still its definition (no overflow in the C)."""
    big = st.sampled_from([1, 2, 3, 2**30 - 1, 2**30, 2**30 + 1, 2**31 - 2, 2**31 - 1]) | st.integers(1, 2**31 - 1)
    x_shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5)),
               data.draw(st.integers(1, 3)))
    kernel, stride, dilation, pads = [], [], [], []
    for size in x_shape[1:3]:
        k, s, d = data.draw(st.integers(1, 3)), data.draw(big), data.draw(big)
        out = data.draw(st.integers(1, 6))
        extent = (k - 1) * d + 1 + (out - 1) * s + data.draw(st.integers(0, s - 1))
        if extent > 2**31 - 1:  # keep the padded extent within int32: smaller stride, then dilation
            s, extent = 1, (k - 1) * d + out
        if extent > 2**31 - 1:
            d, extent = 1, k + out - 1
        total = max(0, extent - size)
        lo = data.draw(st.sampled_from([0, total]) | st.integers(0, total))
        kernel.append(k), stride.append(s), dilation.append(d), pads.extend([lo, total - lo])
        assert out_size(size, k, s, d, lo, total - lo) >= 1
    d = _ops.depthwise_inplace_offset(x_shape, (*kernel, x_shape[3]), stride=tuple(stride), padding=tuple(pads),
                                      dilation=tuple(dilation))
    assert d == brute_force_offset(x_shape, tuple(kernel), tuple(stride), tuple(dilation), tuple(pads))


@given(case=conv_cases("depthwise_conv2d", depth_multiplier=1), more=st.integers(1, 3))
def test_in_place_at_the_offset_gives_the_reference_bytes_on_every_path(case: Case, more: int) -> None:
    want = case.call(ps.reference.depthwise_conv2d)
    d = offset_of(case)
    c = case.x.shape[3]
    step = math.lcm(c, planner.ALIGNMENT)
    for offset in sorted({d, d + more * c, -(-d // step) * step}):  # the minimum, larger, the planner's
        for path in available_paths():
            got = run_in_place(case, path, offset)
            np.testing.assert_array_equal(got, want, err_msg=f"path {path}, in place at D = {offset} (minimum {d})")


@given(case=conv_cases("depthwise_conv2d", depth_multiplier=1, kernel=(3, 3), dilation=(1, 1),
                       strides=st.sampled_from([(1, 1), (1, 1), (2, 2), (2, 1), (1, 2)]),
                       channels=st.sampled_from([1, 2, 4, 8, 16, 32, 48, 64])))
def test_in_place_3x3_column_quads(case: Case) -> None:
    """The geometry avx512's column quads run (3x3, undilated; C % 16 == 0, or C | 16 at
    stride 1), which the test above reaches rarely: in place at the minimum offset."""
    want = case.call(ps.reference.depthwise_conv2d)
    d = offset_of(case)
    for path in available_paths():
        got = run_in_place(case, path, d)
        np.testing.assert_array_equal(got, want, err_msg=f"path {path}, in place at D = {d}")


@st.composite
def revealing_cases(draw: st.DrawFn) -> Case:
    """A depthwise case whose input values (126, 127) no output value (0 .. taps) can take: all
    weights 1, input zero point 126, output = the accumulator (multiplier 2**30, shift 1).
    An output byte written over an input byte that is read afterwards lowers that read by at
    least 126 - taps, and every overwrite lowers: the corrupted output is always smaller."""
    case = draw(conv_cases("depthwise_conv2d", depth_multiplier=1))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(126, 128, case.x.shape).astype(np.int8)
    w = np.ones(case.w.shape, np.int8)
    c = w.shape[-1]
    kw = {k: v for k, v in case.kwargs.items() if k in ("stride", "padding", "dilation", "depth_multiplier")}
    kw |= dict(input_zp=126, output_zp=0, multiplier=np.full(c, 2**30), shift=np.ones(c, np.int64))
    return Case("depthwise_conv2d", x, w, None, kw, case.out_shape, notes=case.notes)


@given(case=revealing_cases())
def test_the_offset_is_minimal(case: Case) -> None:
    """One byte (or one pixel) less and the reference path reads an input byte after an earlier
    output overwrote it: output pixel q* - 1 lands on first(q*), which q* then reads."""
    want = case.call(ps.reference.depthwise_conv2d)
    assert want.min() >= 0 and want.max() <= math.prod(case.w.shape[:2]) < 126
    d = offset_of(case)
    c = case.x.shape[3]
    for smaller in (d - c, d - 1):
        if smaller < 0:
            continue
        got = run_in_place(case, "ref", smaller)
        assert (got <= want).all() and (got < want).any(), f"D = {smaller} (minimum {d}) did not corrupt"


@given(case=st.integers(2, 4).flatmap(lambda m: conv_cases("depthwise_conv2d", depth_multiplier=m)))
def test_no_in_place_with_a_depth_multiplier(case: Case) -> None:
    """Output channel oc reads input channel oc / M: not channel-local, so no offset (PS_ERR_PARAM)."""
    assert offset_of(case) is None
    g = geometry(case)
    offset = ffi.new("size_t *")
    status = lib.ps_depthwise_conv2d_inplace_offset(_ops._conv_params(g), _ops._dims(case.x.shape),
                                                    _ops._filter_dims("depthwise_conv2d", case.w.shape), offset)
    assert status == lib.PS_ERR_PARAM


def test_offset_statuses() -> None:
    """The geometry checks of the kernel itself, each status path."""
    g = _args.conv_geometry("depthwise_conv2d", (1, 5, 5, 2), (3, 3, 2), padding="same")
    conv, x, w = _ops._conv_params(g), _ops._dims((1, 5, 5, 2)), _ops._filter_dims("depthwise_conv2d", (3, 3, 2))
    offset = ffi.new("size_t *")
    assert lib.ps_depthwise_conv2d_inplace_offset(conv, x, w, offset) == lib.PS_OK
    assert offset[0] == 2 * (5 + 1)  # one row and one pixel of 2 channels
    for args in [(ffi.NULL, x, w, offset), (conv, ffi.NULL, w, offset), (conv, x, ffi.NULL, offset),
                 (conv, x, w, ffi.NULL)]:
        assert lib.ps_depthwise_conv2d_inplace_offset(*args) == lib.PS_ERR_NULL
    bad = ffi.new("ps_conv_params *", conv[0])
    bad.stride_w = 0
    assert lib.ps_depthwise_conv2d_inplace_offset(bad, x, w, offset) == lib.PS_ERR_PARAM
    assert lib.ps_depthwise_conv2d_inplace_offset(conv, x, _ops._filter_dims("depthwise_conv2d", (3, 3, 3)),
                                                  offset) == lib.PS_ERR_SHAPE
    valid = _ops._conv_params(_args.conv_geometry("depthwise_conv2d", (1, 5, 5, 2), (3, 3, 2)))
    assert lib.ps_depthwise_conv2d_inplace_offset(valid, _ops._dims((1, 2, 5, 2)), w, offset) == lib.PS_ERR_OUTPUT_SIZE
    assert lib.ps_depthwise_conv2d_inplace_offset(conv, _ops._dims((1, 0, 5, 2)), w, offset) == lib.PS_ERR_SHAPE


# ---- the arena: the planner places in-place outputs, models run them -----------------------


@settings(max_examples=200)
@given(specs=st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 9), st.integers(0, 5)), min_size=1,
                      max_size=20),
       picks=st.lists(st.tuples(st.integers(0, 19), st.integers(0, 19), st.integers(0, 1300)), max_size=30))
def test_planner_places_in_place_pairs_at_their_offset(specs: list[tuple[int, int, int]],
                                                       picks: list[tuple[int, int, int]]) -> None:
    """Random buffers, random in-place relations (an output written at the step its input is last
    read): each output sits exactly its offset below its input, nothing else overlaps (verify),
    and plan_inplace never gives a larger arena than planning without them."""
    buffers = [planner.Buffer(i, size, first, first + length) for i, (size, first, length) in enumerate(specs)]
    relations, sources, targets = [], set(), set()

    def one_step(k: int) -> bool:  # written and last read at one step: no chain may pass through it
        return buffers[k].first == buffers[k].last

    for i, j, words in picks:  # lower index -> higher index: no cycles
        if (i < j < len(buffers) and buffers[i].last == buffers[j].first and i not in sources and j not in targets
                and not (i in targets and one_step(i)) and not (j in sources and one_step(j))):
            relations.append(planner.InPlace(j, i, 4 * words))
            sources.add(i)
            targets.add(j)
    p = planner.plan(buffers, 15, inplace=relations)
    planner.verify(p)
    for r in relations:
        assert p.offset(r.output) == p.offset(r.input) - r.offset
        assert p.inplace_offset(r.output) == r.offset
    assert max(p.live_bytes) <= p.peak_bytes
    alone = planner.plan(buffers, 15)
    chosen = planner.plan_inplace(buffers, 15, candidates=relations)
    assert chosen.peak_bytes <= alone.peak_bytes
    assert set(chosen.inplace) <= set(relations)


def test_planner_rejects_bad_in_place_pairs() -> None:
    a, b = planner.Buffer("a", 64, 0, 1), planner.Buffer("b", 64, 1, 2)
    # a chain through a buffer written and last read at step 0: "a" and "c" would share bytes at step 0
    chain = [planner.Buffer(k, 4, 0, 0) for k in "abc"]
    with pytest.raises(ValueError, match="same step"):
        planner.plan(chain, 1, inplace=[planner.InPlace("b", "a", 0), planner.InPlace("c", "b", 0)])
    with pytest.raises(ValueError, match="last read"):
        planner.plan([a, planner.Buffer("b", 64, 2, 3)], 4, inplace=[planner.InPlace("b", "a", 8)])
    with pytest.raises(ValueError, match="multiple of 4"):
        planner.plan([a, b], 3, inplace=[planner.InPlace("b", "a", 6)])
    p = planner.plan([a, b], 3, inplace=[planner.InPlace("b", "a", 8)])
    assert (p.offset("a"), p.offset("b"), p.peak_bytes) == (8, 0, 72)
    assert p.live_bytes == (64, 72, 64)  # the overlap counted once
    moved = planner.Plan(80, (planner.Buffer("a", 64, 0, 1, 16), planner.Buffer("b", 64, 1, 2, 0)), 3, {},
                         p.inplace)
    with pytest.raises(AssertionError, match="not 8 bytes below"):
        planner.verify(moved)
    with pytest.raises(AssertionError, match="overlap"):  # the same overlap without the relation
        planner.verify(planner.Plan(72, p.buffers, 3))


def _tensor(index: int, shape: tuple[int, ...], dtype: str, scale: Any, zero_point: Any,
            data: np.ndarray | None = None, axis: int = 0) -> Tensor:
    return Tensor(index, f"t{index}", shape, dtype, np.atleast_1d(np.asarray(scale, np.float32)),
                  np.atleast_1d(np.asarray(zero_point, np.int64)), axis, data)


@st.composite
def depthwise_chains(draw: st.DrawFn) -> tuple[Graph, bool]:
    """A graph of 1-3 consecutive DEPTHWISE_CONV_2D (multiplier 1) on the model input, random
    geometry and quantization; with `keep`, the first one's output is also a model output (so
    the next one must not overwrite it)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 20))
    shape = (n, draw(st.integers(1, 14)), draw(st.integers(1, 14)), c)
    tensors = [_tensor(0, shape, "int8", 0.05, draw(st.integers(-128, 127)))]
    ops, count = [], draw(st.integers(1, 3))
    for i in range(count):
        k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
        geo = dict(stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
                   dilation=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
                   padding=draw(st.sampled_from(["same", "valid"])))
        if any((kk - 1) * d + 1 > size for kk, d, size in zip(k, geo["dilation"], shape[1:3])):
            geo["padding"] = "same"
        out = _args.conv_geometry("depthwise_conv2d", shape, (*k, c), **geo).out_shape
        w_scale = rng.uniform(0.002, 0.02, c)
        x_id, w_id, b_id, y_id = len(tensors) - 1, len(tensors), len(tensors) + 1, len(tensors) + 2
        tensors += [
            _tensor(w_id, (1, *k, c), "int8", w_scale, np.zeros(c), rng.integers(-127, 128, (1, *k, c)).astype(np.int8), 3),
            _tensor(b_id, (c,), "int32", 0.05 * w_scale, np.zeros(c), rng.integers(-2000, 2001, c).astype(np.int32)),
            _tensor(y_id, out, "int8", 0.05 * np.sqrt(k[0] * k[1]), draw(st.integers(-128, 127))),
        ]
        ops.append(Operator(i, "DEPTHWISE_CONV_2D", (x_id, w_id, b_id), (y_id,),
                            dict(geo, activation=draw(st.sampled_from(["NONE", "RELU"])), depth_multiplier=1)))
        shape = out
    keep = count > 1 and draw(st.booleans())
    outputs = (3, len(tensors) - 1) if keep else (len(tensors) - 1,)
    return Graph(tuple(tensors), tuple(ops), (0,), outputs), keep


@given(chain=depthwise_chains(), seed=st.integers(0, 2**32 - 1))
def test_models_run_depthwise_in_place(chain: tuple[Graph, bool], seed: int) -> None:
    """A model whose depthwise steps overwrite their inputs (the model input first, then each
    in-place output in turn) gives, under the arena watch, the reference's every tensor and the
    bytes of the plan without in place, in an arena no larger; an input that is still read
    (a model output) is never overwritten."""
    graph, keep = chain
    m, separate = Model(graph), Model(graph, inplace=False)
    assert not separate.plan.inplace and m.plan.peak_bytes <= separate.plan.peak_bytes
    x = np.random.default_rng(seed).integers(-128, 128, m.input.shape, dtype=np.int8)
    produced = m.run(x, check=True)
    want = x
    for layer in m.layers:
        want = ps.reference.depthwise_conv2d(want, layer.weights, layer.bias, **layer.params)
        np.testing.assert_array_equal(produced[layer.output], want, err_msg=f"step {layer.index}")
    for got, expected in zip(m(x), separate(x)) if keep else [(m(x), separate(x))]:
        np.testing.assert_array_equal(got, expected)
    last_read = {layer.input: layer.index for layer in m.layers}
    for r in m.plan.inplace:
        layer = next(layer for layer in m.layers if layer.output == r.output)
        assert r.input == layer.input and last_read[layer.input] == layer.index
        assert r.input not in graph.outputs
        assert r.offset == inplace_offset(layer) and r.offset % layer.input_shape[3] == 0
    if keep:
        assert m.plan.inplace_offset(m.layers[1].output) is None  # its input is a model output
    if len(m.layers) == 1:  # one step: in place saves whenever the output overlaps the input
        overlaps = inplace_offset(m.layers[0]) < math.prod(m.layers[0].output_shape)
        assert (m.plan.inplace_offset(m.layers[0].output) is not None) == overlaps
    event(f"{len(m.plan.inplace)} of {len(m.layers)} steps in place")


def test_command_line_no_inplace(tmp_path: Any) -> None:
    """--no-inplace plans as load_tflite(..., inplace=False) in run, report and export."""
    import json
    from pathlib import Path

    from test_cli import run_console_script

    path = Path(__file__).resolve().parent / "data" / "models" / "mobilenet_slice_96.tflite"
    for flags, inplace in (((), True), (("--no-inplace",), False)):
        peak = ps.load_tflite(path, inplace=inplace).plan.peak_bytes
        done = run_console_script("report", str(path), "--json", *flags, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert doc["inplace"] == inplace and doc["peak_bytes"]["fused"] == peak
        done = run_console_script("run", str(path), "--check", *flags, cwd=tmp_path)
        assert done.returncode == 0 and f"arena: {peak:,} bytes" in done.stdout, done.stdout + done.stderr
        assert ("in place: step 1" in done.stdout) == inplace
        done = run_console_script("export", str(path), "--out", str(tmp_path / f"c{inplace}"), "--name", "net",
                                  *flags, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"#define NET_ARENA_BYTES {peak}\n" in (tmp_path / f"c{inplace}" / "net.h").read_text()
    assert ps.load_tflite(path).plan.peak_bytes < ps.load_tflite(path, inplace=False).plan.peak_bytes


def test_a_chain_of_depthwise_steps_runs_in_place_together() -> None:
    """Two stride-1 depthwise steps in a row: either one alone in place saves nothing (the other
    step still holds two whole maps), both together do: the three maps share one region, each
    output (16 + 1) x 8 bytes below its input, and nothing else."""
    layers = [("depthwise_conv2d", dict(kernel=3, padding="same"))] * 2
    sk, separate = ps.sketch((1, 16, 16, 8), layers), ps.sketch((1, 16, 16, 8), layers, inplace=False)
    size, d = 16 * 16 * 8, (16 + 1) * 8
    assert separate.plan.peak_bytes == 2 * size and not separate.plan.inplace
    assert [sk.plan.inplace_offset(s.output) for s in sk.layers] == [d, d]
    assert sk.plan.peak_bytes == size + 2 * d
    assert [sk.plan.offset(t) for t in (0, 1, 2)] == [2 * d, d, 0]
