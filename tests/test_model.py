"""Whole TFLite models run by pyshrink give LiteRT's bytes, in one planned arena.

Every fixture (tests/data/*.tflite single ops, tests/data/models/*.tflite whole
networks, all made by the TFLite converter) runs fused and unfused on random
int8 inputs; every tensor pyshrink produces, intermediates included, must equal
LiteRT's BUILTIN_REF tensor (read with experimental_preserve_all_tensors). Each
run is watched: bytes outside a step's plan are randomised before the step and
must not change during it (Model.run(check=True)).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyshrink as ps
from pyshrink import planner

try:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
except ImportError as exc:  # the tests fail (never skip) without LiteRT
    Interpreter, _LITERT_ERROR = None, exc

DATA = Path(__file__).resolve().parent / "data"
SINGLE_OP = sorted(p for p in DATA.glob("*.tflite"))
NETWORKS = sorted(p for p in (DATA / "models").glob("*.tflite"))
#: fixtures pyshrink must refuse, and the words of the reason
REJECTED = {"pool_requant": "changes quantization"}
RUNNABLE = [p for p in SINGLE_OP + NETWORKS if p.stem not in REJECTED]
EXAMPLES = int(os.environ.get("PYSHRINK_MODEL_EXAMPLES", "8"))


def litert_tensors(path: Path, x: np.ndarray) -> dict[int, np.ndarray]:
    if Interpreter is None:
        pytest.fail(f"ai-edge-litert is required (pip install '.[test]'): {_LITERT_ERROR!r}", pytrace=False)
    interp = _interpreter(str(path))
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return {d["index"]: interp.get_tensor(d["index"]) for d in interp.get_tensor_details()}


@lru_cache(maxsize=None)
def _interpreter(path: str):
    interp = Interpreter(model_path=path, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    return interp


@lru_cache(maxsize=None)
def model(path: Path, fuse: bool, inplace: bool = True) -> ps.Model:
    return ps.load_tflite(path, fuse=fuse, inplace=inplace)


def test_fixture_sets_are_there() -> None:
    assert len(SINGLE_OP) >= 11 and len(NETWORKS) >= 9
    assert {"article_conv_pool", "ds_cnn_kws", "mobilenet_slice_96", "per_tensor", "relu_n1_to_1",
            "pool_variety", "conv_pool_shared"} <= {p.stem for p in NETWORKS}


@pytest.mark.parametrize("inplace", [True, False], ids=["inplace", "no-inplace"])
@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: p.stem)
@settings(max_examples=EXAMPLES, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), constant=st.sampled_from([None, -128, 127, 0]))
def test_every_tensor_equals_litert(path: Path, fuse: bool, inplace: bool, seed: int, constant: int | None) -> None:
    m = model(path, fuse, inplace)
    rng = np.random.default_rng(seed)
    x = (rng.integers(-128, 128, m.input.shape, dtype=np.int8) if constant is None
         else np.full(m.input.shape, constant, np.int8))
    expected = litert_tensors(path, x)
    produced = m.run(x, check=True)
    hidden = {layer.hidden[0] for layer in m.layers if layer.hidden}
    # every activation tensor of the graph is produced, except the pre-pool outputs fusion hides
    activations = {t.index for t in m.graph.tensors if t.data is None}
    assert set(produced) == activations - hidden
    for index, tensor in produced.items():
        np.testing.assert_array_equal(tensor, expected[index], err_msg=f"tensor {index} of {path.stem}")
    outputs = m(x)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    for out, t in zip(outputs, m.outputs):
        np.testing.assert_array_equal(out, expected[t.index])


@pytest.mark.parametrize("name,reason", REJECTED.items())
def test_rejected_fixtures(name: str, reason: str) -> None:
    with pytest.raises(ps.ModelError, match=reason):
        ps.load_tflite(DATA / "models" / f"{name}.tflite")


def _net(name: str) -> Path:
    return DATA / "models" / f"{name}.tflite"


def test_fusion_structure() -> None:
    fused = model(_net("mobilenet_slice_96"), True)
    assert [layer.op for layer in fused.layers] == [
        "conv2d", "depthwise_conv2d", "pointwise_conv2d_avgpool", "depthwise_conv2d", "pointwise_conv2d_avgpool"]
    assert fused.layers[2].fused and fused.layers[2].tflite_ops == ("CONV_2D", "AVERAGE_POOL_2D")
    assert "CONV_2D#2 + AVERAGE_POOL_2D#3" in fused.summary()
    variety = model(_net("pool_variety"), True)
    # dilated conv feeds a max pool (not fused); overlapping 3x3/1 avg pool and a 1x1 stride-2 conv are fused
    assert [layer.op for layer in variety.layers] == [
        "conv2d", "max_pool2d", "depthwise_conv2d_avgpool", "conv2d_avgpool", "reshape", "fully_connected"]
    # a conv whose output is also a model output is not fused
    assert [layer.op for layer in model(_net("conv_pool_shared"), True).layers] == ["conv2d", "avg_pool2d"]
    for path in RUNNABLE:
        for fuse in (True, False):
            m = model(path, fuse)
            covered = sorted(i for layer in m.layers for i in layer.tflite_indices)
            assert covered == list(range(len(m.graph.operators))), path.stem
            assert all(not layer.fused for layer in m.layers) or fuse


def test_article_layer_arena_812_plus_scratch_instead_of_2560() -> None:
    fused, unfused = model(_net("article_conv_pool"), True), model(_net("article_conv_pool"), False)
    scratch = ps.scratch_bytes("conv2d_avgpool", (1, 10, 10, 3), (32, 3, 3, 3), pool=2)
    assert fused.layers[0].scratch_bytes == scratch
    assert fused.plan.peak_bytes == 300 + 512 + scratch == 812 + scratch
    assert unfused.plan.peak_bytes == 2048 + 512 == 2560
    assert unfused.plan.live_bytes == (300 + 2048, 2048 + 512)


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_fused_plan_never_holds_the_pre_pool_tensor(path: Path) -> None:
    if path.stem in REJECTED:
        return test_rejected_fixtures(path.stem, REJECTED[path.stem])
    fused, unfused = model(path, True), model(path, False)
    assert fused.plan.peak_bytes <= unfused.plan.peak_bytes
    for layer in fused.layers:
        if layer.hidden:
            hidden, shape = layer.hidden
            assert hidden not in fused.plan.offsets
            assert hidden in unfused.plan.offsets and unfused.plan.buffer(hidden).size == np.prod(shape)
    # where the unfused peak is at a conv + pool pair, fusion lowers the peak
    pairs = {layer.index for layer in unfused.layers if layer.op == "avg_pool2d"}
    peak_steps = {s for s, live in enumerate(unfused.plan.live_bytes) if live == max(unfused.plan.live_bytes)}
    if any(layer.hidden for layer in fused.layers) and peak_steps <= pairs | {s - 1 for s in pairs}:
        assert fused.plan.peak_bytes < unfused.plan.peak_bytes


def test_planned_peaks() -> None:
    """The README table: fused vs unfused arena bytes, from the planner the run uses."""
    nets = [p for p in RUNNABLE if p.parent.name == "models"]
    peaks = {p.stem: (model(p, False).plan.peak_bytes, model(p, True).plan.peak_bytes) for p in nets}
    separate = {p.stem: (model(p, False, False).plan.peak_bytes, model(p, True, False).plan.peak_bytes)
                for p in nets}
    # without in place: 18,432 + 36,864 pre-pool; fused, the two 18,432 maps of the depthwise step
    assert separate["mobilenet_slice_96"] == (55_296, 2 * 18_432)
    # in place, the depthwise output starts one row and one pixel ((48 + 1) x 8 bytes) below its
    # input: the peak is now at the first conv, its 96x96x1 input beside its 48x48x8 output, which
    # the depthwise output must clear by those 392 bytes (it lies below the conv output)
    assert peaks["mobilenet_slice_96"] == (55_296, 96 * 96 + 48 * 48 * 8 + (48 + 1) * 8)
    assert model(_net("mobilenet_slice_96"), True).plan.inplace_offset(
        model(_net("mobilenet_slice_96"), True).layers[1].output) == (48 + 1) * 8
    assert peaks["per_tensor"][1] < peaks["per_tensor"][0]
    assert peaks["relu_n1_to_1"][1] < peaks["relu_n1_to_1"][0]
    for name in peaks:  # in place never enlarges an arena
        assert peaks[name][0] <= separate[name][0] and peaks[name][1] <= separate[name][1], name


def test_one_arena_allocated_once_and_outputs_are_copies() -> None:
    m = ps.load_tflite(_net("mobilenet_slice_96"))
    arena = m._arena
    assert m.arena_bytes == m.plan.peak_bytes
    x = np.random.default_rng(1).integers(-128, 128, m.input.shape, dtype=np.int8)
    first = m(x)
    second = m(np.zeros_like(x))
    assert m._arena is arena
    assert not np.shares_memory(first, arena)
    np.testing.assert_array_equal(first, m(x))
    assert not np.array_equal(first, second)


def test_arena_watch_catches_a_step_writing_outside_its_plan() -> None:
    """The check is real: a step pointed at the input's region is caught."""
    m = ps.load_tflite(_net("article_conv_pool"), fuse=False)
    base = ps._ops.ffi.from_buffer("int8_t[]", m._arena)
    # Shift the conv step's output pointer by 512 bytes: still inside the arena (2,048 + 512 =
    # 2,560), but past the conv output's planned region.
    assert m.plan.offset(m.layers[0].output) == 0 and m.plan.peak_bytes == 2560
    m._steps[0].output = base + 512
    x = np.zeros(m.input.shape, np.int8)
    with pytest.raises(AssertionError, match="outside its planned"):
        m.run(x, check=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 9), st.integers(0, 5)), min_size=1, max_size=25))
def test_planner_never_overlaps_live_buffers(specs: list[tuple[int, int, int]]) -> None:
    buffers = [planner.Buffer(i, size, first, first + length) for i, (size, first, length) in enumerate(specs)]
    p = planner.plan(buffers, steps=15)
    planner.verify(p)
    assert p.peak_bytes >= max(p.live_bytes)
    assert p.peak_bytes <= sum(planner._align(b.size) for b in buffers)
    assert all(b.offset % planner.ALIGNMENT == 0 for b in p.buffers)


def test_planner_verify_rejects_overlap() -> None:
    a = planner.Buffer("a", 8, 0, 1, 0)
    b = planner.Buffer("b", 8, 1, 2, 4)
    with pytest.raises(AssertionError, match="overlap"):
        planner.verify(planner.Plan(12, (a, b), 3))
    planner.verify(planner.Plan(16, (a, planner.Buffer("b", 8, 2, 3, 4)), 4))  # not alive together: fine


def test_model_input_errors() -> None:
    m = model(_net("article_conv_pool"), True)
    with pytest.raises(TypeError, match="x must have dtype int8"):
        m(np.zeros(m.input.shape, np.float32))
    with pytest.raises(ValueError, match=r"x must have the model's input shape \(1, 10, 10, 3\)"):
        m(np.zeros((1, 10, 10, 4), np.int8))
    with pytest.raises(TypeError, match="x must be a numpy.ndarray"):
        m([[0]])


def test_model_input_off_the_fast_path() -> None:
    """model(x) checks type, dtype and shape by identity first; what fails that test but is
    valid (an ndarray subclass, an int8 dtype equal to but not the builtin one, a
    non-contiguous view) still runs, and gives the same bytes."""
    m = model(_net("conv_pool_shared"), True)
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, m.input.shape, dtype=np.int8)
    expected = m(x)
    assert isinstance(expected, tuple) and len(expected) == 2

    class Sub(np.ndarray):
        pass

    meta = np.dtype(np.int8, metadata={"unit": "counts"})
    assert meta == np.int8 and meta is not np.dtype(np.int8)
    strided = np.zeros(m.input.shape[:-1] + (2 * m.input.shape[-1],), np.int8)[..., ::2]
    strided[...] = x
    for variant in (x.view(Sub), x.astype(meta), strided):
        for got, want in zip(m(variant), expected):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"x must have the model's input shape \(1, 12, 12, 4\)"):
        m(x.view(Sub).reshape(1, 12, 48))


def test_cli_run_checks_against_litert(tmp_path: Path) -> None:
    from test_cli import run_console_script

    done = run_console_script("run", str(_net("pool_variety")), "--check", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "arena watch: every step stayed inside its planned regions" in done.stdout
    produced = 1 + len(model(_net("pool_variety"), True).layers)  # the input and each layer's output
    assert f"LiteRT BUILTIN_REF: {produced} of {produced} tensors identical" in done.stdout
    x = np.random.default_rng(3).integers(-128, 128, (1, 9, 7, 16), dtype=np.int8)
    np.save(tmp_path / "x.npy", x)
    done = run_console_script("run", str(DATA / "pointwise_conv2d.tflite"), "--input", str(tmp_path / "x.npy"),
                              "--no-fuse", "--check", cwd=tmp_path)
    assert done.returncode == 0 and "2 of 2 tensors identical" in done.stdout
    done = run_console_script("run", str(_net("pool_requant")), cwd=tmp_path)
    assert done.returncode == 2 and "changes quantization" in done.stderr and "Traceback" not in done.stderr
    done = run_console_script("run", str(tmp_path / "missing.tflite"), cwd=tmp_path)
    assert done.returncode == 2 and "cannot read model file" in done.stderr
