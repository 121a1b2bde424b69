"""The shrink report (`ps.report`, `pyshrink report`) and cost sketches (`ps.sketch`).

The article's figures are SPEC.md's worked example, derived by hand there. For the
fixture networks, MACs and bytes are counted here from the TFLite graph itself
(operators, weight and output tensor shapes) with SPEC.md's formulas, not through
pyshrink.costs or the report's layer records; peaks and live bytes must be the plans
the loaded models allocate (`Model.plan`).
"""

from __future__ import annotations

import json
import math
import re
import sys
from functools import lru_cache
from pathlib import Path

import pytest

import pyshrink as ps
from pyshrink import cli
from pyshrink._report import BOARDS, PLOT_MISSING, SCHEMA, SCHEMA_VERSION, parse_bytes
from pyshrink._sketch import Network, article_sketch, layer_scratch_bytes
from test_cli import run_console_script

DATA = Path(__file__).resolve().parent / "data"
MODELS = DATA / "models"
REJECTED = {"pool_requant"}
NETWORKS = sorted(p for p in MODELS.glob("*.tflite") if p.stem not in REJECTED)
ARTICLE_LAYERS = [("conv2d", dict(filters=32, kernel=3, padding="valid", activation="relu")),
                  ("avg_pool2d", dict(pool=2))]


@lru_cache(maxsize=None)
def model(path: Path, fuse: bool) -> ps.Model:
    return ps.load_tflite(path, fuse=fuse)


@lru_cache(maxsize=None)
def report_of(path: Path, fuse: bool) -> ps.Report:
    return ps.report(model(path, fuse))


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


# ---- the article's figures ------------------------------------------------------------------


def test_fixture_networks_are_there() -> None:
    assert {"article_conv_pool", "ds_cnn_kws", "mobilenet_slice_96", "pool_variety", "per_tensor"} <= {
        p.stem for p in NETWORKS}


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
def test_article_figures_through_the_api(fuse: bool) -> None:
    r = ps.report(fuse=fuse)  # no model: the article's layer, built in as a sketch
    assert r.source == "article" and r.plan == ("fused" if fuse else "unfused")
    conv = r.steps[0]
    assert conv.macs == 3 * 3 * 3 * 32 * 8 * 8 == 55_296
    assert conv.weight_bytes == 864 and conv.bias_bytes == 128
    pre_pool = conv.conv_output_shape if fuse else conv.output_shape
    assert math.prod(pre_pool) == 2_048
    assert pct(conv.weight_share) == "29.7%"  # 864 / (864 + 2,048)
    stride2, separable = sorted(r.what_ifs, key=lambda w: w.kind != "stride2")
    assert (stride2.kind, separable.kind) == ("stride2", "separable")
    assert stride2.macs_after == 32 * 27 * 4 * 4 == 13_824
    assert pct(stride2.weight_share_after) == "62.8%"  # 864 / (864 + 512)
    assert separable.macs_parts == (1_728, 6_144) and separable.macs_after == 7_872
    assert separable.weight_bytes_before == 864 and separable.weight_bytes_after == 27 + 96 == 123
    assert pct(separable.weight_share_after) == "5.7%"  # 123 / (123 + 2,048)
    assert separable.savings_factor == pytest.approx(1 / 32 + 1 / 9) == 7_872 / 55_296
    # the same numbers the planner of the real converted model uses
    assert r.peak_bytes == {"unfused": 2_560, "fused": 1_004}
    assert r.peak_bytes == {"unfused": model(MODELS / "article_conv_pool.tflite", False).plan.peak_bytes,
                            "fused": model(MODELS / "article_conv_pool.tflite", True).plan.peak_bytes}
    text = str(r)
    for figure in ["55,296", "55,296 -> 13,824", "1,728 + 6,144 = 7,872", "7,869", "864 -> 123",
                   "29.7%", "5.7%", "62.8%", "1/32 + 1/9", "2,560", "1,004"]:
        assert figure in text, figure
    assert ("2,048 values, never stored" if fuse else "2,048") in text


def test_article_sketch_plans_like_the_converted_model() -> None:
    sk = ps.sketch((1, 10, 10, 3), ARTICLE_LAYERS)
    unfused = sk.with_fuse(False)
    real_f, real_u = model(MODELS / "article_conv_pool.tflite", True), model(MODELS / "article_conv_pool.tflite", False)
    assert sk.plan.peak_bytes == real_f.plan.peak_bytes == 1_004
    assert unfused.plan.peak_bytes == real_u.plan.peak_bytes == 2_560
    assert sk.plan.live_bytes == real_f.plan.live_bytes and unfused.plan.live_bytes == real_u.plan.live_bytes
    assert [s.op for s in sk.layers] == ["conv2d_avgpool"] and sk.layers[0].scratch_bytes == ps.scratch_bytes(
        "conv2d_avgpool", (1, 10, 10, 3), (32, 3, 3, 3), pool=2)
    assert ps.report(sk).to_dict()["peak_bytes"] == ps.report(real_f).to_dict()["peak_bytes"]
    assert article_sketch().plan.peak_bytes == 1_004


def test_what_if_peaks_are_plans_of_the_changed_architecture() -> None:
    """Each what-if's peak is what the same planner gives the changed model, written as a sketch."""
    r = ps.report()
    stride2 = next(w for w in r.what_ifs if w.kind == "stride2")
    separable = next(w for w in r.what_ifs if w.kind == "separable")
    strided = ps.sketch((1, 10, 10, 3), [("conv2d", dict(filters=32, kernel=3, stride=2))])
    split = ps.sketch((1, 10, 10, 3), [("depthwise_conv2d", dict(kernel=3)), ("pointwise_conv2d", dict(filters=32)),
                                       ("avg_pool2d", dict(pool=2))])
    for w, sk in [(stride2, strided), (separable, split)]:
        assert w.peak_bytes == {"unfused": sk.with_fuse(False).plan.peak_bytes, "fused": sk.plan.peak_bytes}
    assert stride2.peak_bytes == {"unfused": 300 + 512, "fused": 300 + 512}
    assert ps.report(split).totals["macs"] == separable.macs_after == 7_872


def test_cli_report_prints_the_article_figures(tmp_path: Path) -> None:
    done = run_console_script("report", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    for figure in ["55,296", "13,824", "1,728 + 6,144 = 7,872", "7,869", "864 -> 123", "2,048 values",
                   "29.7%", "5.7%", "62.8%"]:
        assert figure in text, figure
    assert re.search(r"unfused\s+2,560 B", text) and re.search(r"fused\s+1,004 B\s+<- listed", text)
    done = run_console_script("report", "--no-fuse", cwd=tmp_path)
    assert done.returncode == 0 and re.search(r"unfused\s+2,560 B\s+<- listed", done.stdout)
    assert re.search(r"^\s+1\s+avg_pool2d", done.stdout, re.M)


def test_cli_json_is_the_api_document(tmp_path: Path) -> None:
    done = run_console_script("report", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc == ps.report().to_dict()
    assert doc["schema"] == SCHEMA and doc["schema_version"] == SCHEMA_VERSION == 1
    assert doc["peak_bytes"] == {"unfused": 2_560, "fused": 1_004}
    layer = doc["layers"][0]
    assert {k: layer[k] for k in ("op", "input_shape", "output_shape", "macs", "weight_bytes", "bias_bytes",
                                  "activation_bytes", "live_bytes")} == {
        "op": "conv2d_avgpool", "input_shape": [1, 10, 10, 3], "output_shape": [1, 4, 4, 32], "macs": 55_296,
        "weight_bytes": 864, "bias_bytes": 128, "activation_bytes": 512, "live_bytes": 1_004}
    assert layer["scratch_bytes"] == ps.scratch_bytes("conv2d_avgpool", (1, 10, 10, 3), (32, 3, 3, 3), pool=2)
    sep = next(w for w in doc["what_if"] if w["kind"] == "separable")
    assert sep["macs"] == {"before": 55_296, "after": 7_872, "parts": [1_728, 6_144]} and sep["estimate"] is True


# ---- every fixture network: costs counted from the graph, peaks from the plans -----------------


def graph_costs(m: ps.Model) -> dict[int, dict[str, int]]:
    """Per TFLite operator: MACs (SPEC.md), weight and bias bytes, output bytes, from the graph's tensors."""
    g = m.graph
    result = {}
    for op in g.operators:
        out = g.tensors[op.outputs[0]].shape
        c = dict(macs=0, weight_bytes=0, bias_bytes=0, output_bytes=math.prod(out))
        if op.code in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            w = g.tensors[op.inputs[1]].shape
            if op.code == "CONV_2D":  # C_out*KH*KW*C_in*H_out*W_out, per image
                c_out, kh, kw, c_in = w
                c["macs"] = out[0] * c_out * kh * kw * c_in * out[1] * out[2]
            elif op.code == "DEPTHWISE_CONV_2D":  # KH*KW*C_in*M*H_out*W_out, w is (1, KH, KW, C_in*M)
                _, kh, kw, channels = w
                c["macs"] = out[0] * kh * kw * channels * out[1] * out[2]
            else:  # units*features per row
                units, features = w
                c["macs"] = (math.prod(out) // units) * units * features
            c["weight_bytes"] = math.prod(w)
            has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
            c["bias_bytes"] = 4 * math.prod(g.tensors[op.inputs[2]].shape) if has_bias else 0
        result[op.index] = c
    return result


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_report_matches_the_graph_and_the_plans(path: Path, fuse: bool) -> None:
    m = model(path, fuse)
    r = report_of(path, fuse)
    counted = graph_costs(m)
    assert r.plan == ("fused" if fuse else "unfused") and len(r.steps) == len(m.layers)
    for step, layer in zip(r.steps, m.layers):
        ops = [counted[i] for i in layer.tflite_indices]
        assert step.macs == sum(c["macs"] for c in ops), (path.stem, step.index)
        assert step.weight_bytes == sum(c["weight_bytes"] for c in ops)
        assert step.bias_bytes == sum(c["bias_bytes"] for c in ops)
        assert step.activation_bytes == counted[layer.tflite_indices[-1]]["output_bytes"]
        assert step.scratch_bytes == layer.scratch_bytes
        assert step.tflite_ops == tuple(f"{c}#{i}" for c, i in zip(layer.tflite_ops, layer.tflite_indices))
        if layer.fused:
            assert step.conv_output_shape == layer.hidden[1] and step.parts[1] == "avg_pool2d"
    assert r.totals["macs"] == sum(c["macs"] for c in counted.values())
    assert r.totals["weight_bytes"] == sum(c["weight_bytes"] for c in counted.values())
    assert r.peak_bytes == {"unfused": model(path, False).plan.peak_bytes, "fused": model(path, True).plan.peak_bytes}
    assert r.live_bytes == {"unfused": model(path, False).plan.live_bytes, "fused": model(path, True).plan.live_bytes}
    assert [s.live_bytes for s in r.steps] == list(m.plan.live_bytes)
    assert r.totals["max_live_bytes"] == max(m.plan.live_bytes)
    doc = r.to_dict()
    assert json.loads(json.dumps(doc)) == doc and json.loads(r.to_json()) == doc


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_what_if_pipeline_replans_the_models_exactly(path: Path) -> None:
    """The what-ifs re-plan with the same fusion, scratch sizes and planner: unchanged, they give the model's plans."""
    net = Network.of_model(model(path, True))
    for fuse in (True, False):
        m = model(path, fuse)
        steps, plan = net.steps(fuse)
        assert [s.op for s in steps] == [layer.op for layer in m.layers]
        assert [layer_scratch_bytes(layer) for layer in m.layers] == [layer.scratch_bytes for layer in m.layers]
        assert [s.scratch_bytes for s in steps] == [layer.scratch_bytes for layer in m.layers]
        assert plan.peak_bytes == m.plan.peak_bytes and plan.live_bytes == m.plan.live_bytes
        assert plan.offsets == m.plan.offsets


def sketch_of(m: ps.Model) -> list[tuple[str, dict]]:
    """A model's layers written as sketch specs (shapes and geometry only)."""
    specs = []
    for layer in m.layers:
        p, w = layer.params, layer.weights
        geometry = {k: p[k] for k in ("stride", "padding", "dilation") if k in p}
        if layer.op == "conv2d":
            specs.append(("conv2d", dict(filters=w.shape[0], kernel=w.shape[1:3], **geometry)))
        elif layer.op == "depthwise_conv2d":
            specs.append(("depthwise_conv2d", dict(kernel=w.shape[:2], depth_multiplier=p["depth_multiplier"],
                                                   **geometry)))
        elif layer.op == "pointwise_conv2d":
            specs.append(("pointwise_conv2d", dict(filters=w.shape[0])))
        elif layer.op == "fully_connected":
            specs.append(("fully_connected", dict(units=w.shape[0])))
        elif layer.op in ("avg_pool2d", "max_pool2d"):
            specs.append((layer.op, dict(pool=p["pool"], stride=p["stride"], padding=p["padding"])))
        elif layer.op == "reshape":
            specs.append(("reshape", dict(shape=layer.output_shape)))
        else:
            specs.append((layer.op, {}))
    return specs


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_sketch_of_each_fixture_costs_and_plans_like_the_model(path: Path) -> None:
    unfused = model(path, False)
    sk = ps.sketch(unfused.input.shape, sketch_of(unfused), name=path.stem)
    if path.stem == "conv_pool_shared":
        # the model's conv output is also a model output, so it is not fused (nor a what-if candidate);
        # a sketch is a chain with one output, so there the pair is fused
        assert [x.op for x in sk.layers] == ["conv2d_avgpool"]
        assert [x.op for x in model(path, True).layers] == ["conv2d", "avg_pool2d"]
        assert sk.with_fuse(False).plan.peak_bytes == unfused.plan.peak_bytes
        return
    for fuse in (False, True):
        m, s = model(path, fuse), sk.with_fuse(fuse)
        assert [x.op for x in s.layers] == [x.op for x in m.layers]
        assert [x.output_shape for x in s.layers] == [x.output_shape for x in m.layers]
        assert [x.scratch_bytes for x in s.layers] == [x.scratch_bytes for x in m.layers]
        assert s.plan.peak_bytes == m.plan.peak_bytes and s.plan.live_bytes == m.plan.live_bytes
        rs, rm = ps.report(s), ps.report(m)
        assert [x.macs for x in rs.steps] == [x.macs for x in rm.steps]
        assert [x.weight_bytes for x in rs.steps] == [x.weight_bytes for x in rm.steps]
        assert rs.peak_bytes == rm.peak_bytes
        assert [(w.kind, w.macs_after, w.peak_bytes) for w in rs.what_ifs] == [
            (w.kind, w.macs_after, w.peak_bytes) for w in rm.what_ifs]


def test_what_ifs_of_the_fixtures() -> None:
    mobile = report_of(MODELS / "mobilenet_slice_96.tflite", True)
    kinds = [(w.kind, w.step) for w in mobile.what_ifs]
    assert kinds == [("stride2", 2), ("stride2", 4)]  # pointwise + 2x2 pool -> 1x1 stride-2 conv
    assert mobile.what_ifs[0].macs_after * 4 == mobile.what_ifs[0].macs_before == 16 * 8 * 48 * 48
    # DS-CNN: the only pool is global (a strided conv would sample, not average), the only standard conv has C_in 1
    assert report_of(MODELS / "ds_cnn_kws.tflite", True).what_ifs == ()
    assert "none:" in str(report_of(MODELS / "ds_cnn_kws.tflite", True))
    per_tensor = report_of(MODELS / "per_tensor.tflite", True)
    sep = next(w for w in per_tensor.what_ifs if w.kind == "separable")
    assert sep.macs_parts == (3 * 3 * 3 * 16 * 16, 8 * 3 * 16 * 16)
    assert sep.savings_factor == pytest.approx(1 / 8 + 1 / 9)


def test_report_of_a_model_lists_its_own_plan_and_shows_both_peaks() -> None:
    path = MODELS / "per_tensor.tflite"
    assert ps.report(model(path, False)).plan == "unfused"
    assert ps.report(model(path, True)).plan == "fused"
    assert ps.report(model(path, True), fuse=False).plan == "unfused"
    assert ps.report(str(path)).peak_bytes == {"unfused": 2_816, "fused": 1_328}
    with pytest.raises(TypeError, match="report\\(\\) takes a pyshrink.Model"):
        ps.report(42)


@pytest.mark.parametrize("name", ["ds_cnn_kws", "pool_variety"])
def test_cli_json_round_trips_for_models(name: str, tmp_path: Path) -> None:
    path = MODELS / f"{name}.tflite"
    done = run_console_script("report", str(path), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    expected = report_of(path, True).to_dict() | {"model": path.name}
    assert doc == expected
    done = run_console_script("report", str(path), "--json", "--no-fuse", cwd=tmp_path)
    doc = json.loads(done.stdout)
    assert doc["plan"] == "unfused" and [x["live_bytes"] for x in doc["layers"]] == list(
        model(path, False).plan.live_bytes)
    assert doc["peak_bytes"] == {"unfused": model(path, False).plan.peak_bytes,
                                 "fused": model(path, True).plan.peak_bytes}


# ---- sketches ---------------------------------------------------------------------------------


DS_CNN = [("conv2d", dict(filters=64, kernel=(10, 4), stride=2, padding="same"))] + [
    ("depthwise_conv2d", dict(kernel=3, padding="same")), ("conv2d", dict(filters=64, kernel=1))] * 4 + [
    ("avg_pool2d", dict(pool=(25, 5))), ("flatten", {}), ("fully_connected", dict(units=12))]


def test_sketch_file_round_trip_and_cli_budget(tmp_path: Path) -> None:
    sk = ps.sketch((1, 49, 10, 1), DS_CNN, name="ds-cnn")
    assert [s.op for s in sk.layers][-4:] == ["depthwise_conv2d", "pointwise_conv2d_avgpool", "reshape",
                                              "fully_connected"]
    assert sk.plan.peak_bytes == model(MODELS / "ds_cnn_kws.tflite", True).plan.peak_bytes == 16_000
    (tmp_path / "arch.json").write_text(json.dumps(sk.to_dict()))
    again = ps.load_sketch(tmp_path / "arch.json")
    assert again.to_dict() == sk.to_dict() and again.plan == sk.plan
    done = run_console_script("report", "--sketch", "arch.json", "--budget", "12KB", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ds-cnn" in done.stdout and "does NOT fit (3,712 B over)" in done.stdout
    done = run_console_script("report", "arch.json", "--json", "--budget", "16000", cwd=tmp_path)
    doc = json.loads(done.stdout)
    assert doc["source"] == "sketch" and doc["budget_bytes"] == 16_000 and doc["fits"] == {"unfused": True,
                                                                                           "fused": True}
    assert doc["totals"]["macs"] == report_of(MODELS / "ds_cnn_kws.tflite", True).totals["macs"]


def test_budget_sizes() -> None:
    assert parse_bytes("64KB") == parse_bytes("64 KiB") == parse_bytes("64k") == 65_536
    assert parse_bytes("0.5MB") == 512 * 1024 and parse_bytes(20_000) == parse_bytes("20000") == 20_000
    for bad in ["lots", "12XB", "0", "-5KB", ""]:
        with pytest.raises(ValueError, match="budget"):
            parse_bytes(bad)
    r = ps.report(budget="1KB")
    assert r.fits == {"unfused": False, "fused": True}  # 2,560 > 1,024 >= 1,004
    assert "unfused does NOT fit (1,536 B over)" in str(r) and "fused fits" in str(r)


@pytest.mark.parametrize("layers,message", [
    ([("conv3d", {})], "unknown op 'conv3d'"),
    ([("conv2d", dict(kernel=3))], "missing keyword\\(s\\) filters"),
    ([("conv2d", dict(filters=8, kernel=3, strides=2))], "unknown keyword\\(s\\) strides"),
    ([("conv2d", dict(filters=8, kernel=11))], "sketch layer 0 \\(conv2d\\).*larger than the padded input"),
    ([("conv2d", dict(filters=0, kernel=3))], "filters must be >= 1"),
    ([("fully_connected", dict(units=4)), ("conv2d", dict(filters=2, kernel=1))], "layer 1 .*4-D NHWC"),
    ([("avg_pool2d", dict(pool=2)), ("reshape", dict(shape=(1, 7)))], "cannot reshape"),
    ([("conv2d", dict(filters=8, kernel=3, activation="tanh"))], "activation"),
    ([], "at least one layer"),
    (["conv2d"], "expected \\(op, \\{keywords\\}\\)"),
])
def test_sketch_errors_name_the_layer(layers: list, message: str) -> None:
    with pytest.raises(ps.SketchError, match=message):
        ps.sketch((1, 10, 10, 3), layers)


def test_sketch_yaml_needs_pyyaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.yaml").write_text("input_shape: [1, 10, 10, 3]\nlayers:\n  - {op: conv2d, filters: 32, kernel: 3}\n")
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml raises ImportError
    with pytest.raises(ps.SketchError, match="needs pyyaml"):
        ps.load_sketch(tmp_path / "a.yaml")


# ---- plot ---------------------------------------------------------------------------------------


def test_plot_writes_a_png(tmp_path: Path) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:  # in the test extra: fail, never skip
        pytest.fail(f"matplotlib is required (pip install '.[test]'): {exc!r}", pytrace=False)
    r = ps.report(model(MODELS / "mobilenet_slice_96.tflite", True), budget="64KB")
    r.plot(tmp_path / "m.png")
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    done = run_console_script("report", "--plot", "a.png", cwd=tmp_path)
    assert done.returncode == 0 and "wrote a.png" in done.stdout
    assert (tmp_path / "a.png").stat().st_size > 10_000
    assert any("Nano 33 BLE Sense" in name and size == 256 * 1024 for name, size in BOARDS)


def test_plot_without_matplotlib_says_so_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    for name in ["matplotlib", "matplotlib.figure", "matplotlib.ticker"]:
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    with pytest.raises(ImportError, match=re.escape(PLOT_MISSING)):
        ps.report().plot(tmp_path / "x.png")
    assert cli.main(["report", "--plot", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"pyshrink report: {PLOT_MISSING}"]
    assert "pip install 'pyshrink[plot]'" in err and not (tmp_path / "x.png").exists()


# ---- bad input: one line, non-zero exit, no traceback ---------------------------------------------


def test_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "garbage.tflite").write_bytes(b"not a flatbuffer at all" * 3)
    (tmp_path / "bad.json").write_text("{ not json")
    (tmp_path / "wrong.json").write_text(json.dumps({"input_shape": [1, 4, 4, 1],
                                                     "layers": [{"op": "conv2d", "filters": 2, "kernel": 5}]}))
    cases = [
        (["report", "missing.tflite"], "cannot read model file"),
        (["report", "garbage.tflite"], "not a .tflite model"),
        (["report", str(MODELS / "pool_requant.tflite")], "changes quantization"),
        (["report", str(DATA / "bad" / "conv_add.tflite")], "unsupported operator ADD"),
        (["report", str(DATA / "bad" / "float_conv.tflite")], "float"),
        (["report", "--sketch", "bad.json"], "not valid JSON"),
        (["report", "--sketch", "wrong.json"], "sketch layer 0 (conv2d)"),
        (["report", "--sketch", "missing.json"], "cannot read sketch file"),
        (["report", "--budget", "lots"], "budget must be a size"),
        (["report", "--plot", "x.unknownformat"], "unknownformat"),
    ]
    for args, message in cases:
        done = run_console_script(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and done.stdout == "", args
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pyshrink report: "), (args, done.stderr)
        assert message.lower() in lines[0].lower(), (args, lines[0])


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_in_place_steps_in_the_report(path: Path) -> None:
    """The report shows the plans the models allocate, in place or not: each in-place step with its
    offset, live bytes that count the overlap once, and `inplace=False` giving the models loaded so."""
    for inplace in (True, False):
        r = ps.report(ps.load_tflite(path, inplace=inplace))
        plans = {p: ps.load_tflite(path, fuse=p == "fused", inplace=inplace).plan for p in ("unfused", "fused")}
        assert r.inplace == inplace and r.to_dict()["inplace"] == inplace
        assert r.peak_bytes == {p: plan.peak_bytes for p, plan in plans.items()}
        assert r.live_bytes == {p: plan.live_bytes for p, plan in plans.items()}
        fused = ps.load_tflite(path, inplace=inplace)
        assert [s.inplace_offset for s in r.steps] == [fused.plan.inplace_offset(x.output) for x in fused.layers]
        assert [x["inplace_offset"] for x in r.to_dict()["layers"]] == [s.inplace_offset for s in r.steps]
        assert all(s.inplace_offset is None for s in r.steps) or inplace
        for s in r.steps:
            if s.inplace_offset is not None:  # input and output overlap: live bytes count them once
                assert s.op == "depthwise_conv2d" and s.live_bytes < s.activation_bytes + math.prod(s.input_shape)
                assert f"= in place: its output starts {s.inplace_offset:,} B below its input" in str(r)
        # asking the report for the other setting re-plans the model that way
        assert ps.report(ps.load_tflite(path, inplace=not inplace), inplace=inplace).peak_bytes == r.peak_bytes
    mobile = ps.report(MODELS / "mobilenet_slice_96.tflite")
    assert mobile.peak_bytes["fused"] < ps.report(MODELS / "mobilenet_slice_96.tflite", inplace=False).peak_bytes["fused"]


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_sketch_plans_in_place_like_the_model(path: Path) -> None:
    unfused = ps.load_tflite(path, fuse=False)
    if path.stem == "conv_pool_shared":
        return  # a sketch fuses its pair (see above): the plans differ by design
    for inplace in (True, False):
        sk = ps.sketch(unfused.input.shape, sketch_of(unfused), inplace=inplace)
        for fuse in (False, True):
            m, s = ps.load_tflite(path, fuse=fuse, inplace=inplace), sk.with_fuse(fuse)
            assert s.inplace == inplace and s.plan.peak_bytes == m.plan.peak_bytes
            assert s.plan.live_bytes == m.plan.live_bytes
            assert [s.plan.inplace_offset(x.output) for x in s.layers] == [
                m.plan.inplace_offset(x.output) for x in m.layers]  # the same steps in place, same offsets
            assert ("in place: step" in s.summary()) == bool(s.plan.inplace) == ("in place: step" in m.summary())
