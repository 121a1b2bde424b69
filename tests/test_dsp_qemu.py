"""The dsp kernel path's real Cortex-M4 instructions, on random layers, against the NumPy reference.

The host runs the dsp path's loops with the DSP instructions written in C99 (every property
test does); here the same source is compiled by arm-none-eabi-gcc for Cortex-M4, where
__ARM_FEATURE_DSP selects the intrinsics (SXTB16, SXTAB16, SMLAD, SMLABB/SMLATT, SSAT) and
the LDM/ROR forms in inline assembly, and runs on QEMU's mps2-an386. One firmware
(tests/c/dsp_cases.c with pyshrink's firmware harness) reads many packed kernel calls over
semihosting, one QEMU run per build: conv2d, depthwise (depth multipliers, large kernels),
pointwise, fully connected and the three fused ops (window and ring pools, all roundings)
with random shapes, strides 1-3, dilations, explicit padding, 1-17 channels (receptive
fields long enough to be split), zero points over [-128, 127], multipliers and shifts at
their extremes (0, 2^30, 2^31 - 1, shifts -31..30), narrow activation ranges, both
requantization modes and biases at the accumulator bound. Every output must equal
pyshrink.reference's bytes, and AUTO must resolve to dsp in the firmware.

PYSHRINK_DSP_CASES (default 1500) and PYSHRINK_DSP_SEED (default 0) change the batch.
Needs Debian's gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm (skipped without
them; with CI=true, failed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pyshrink as ps
from pyshrink import _args, _ops, firmware
from pyshrink import export as export_module
from pyshrink._pyshrink import lib

ROOT = Path(__file__).resolve().parent.parent
CASES_C = Path(__file__).resolve().parent / "c" / "dsp_cases.c"
OPS = ("conv2d", "depthwise_conv2d", "pointwise_conv2d", "fully_connected", "conv2d_avgpool",
       "depthwise_conv2d_avgpool", "pointwise_conv2d_avgpool")
HEADER_WORDS = 48
INPUT_SIZE = 8192
OUTPUT_SIZE = 1036  # status, AUTO's path, scratch size (int32 each), then up to 1024 bytes
INT32_MAX = 2**31 - 1
N_CASES = int(os.environ.get("PYSHRINK_DSP_CASES", "1500"))
SEED = int(os.environ.get("PYSHRINK_DSP_SEED", "0"))


def _skip_without_packages() -> None:
    missing = firmware.missing_packages()
    if not missing:
        return
    message = f"Debian package(s) {', '.join(missing)} not installed (apt-get install {' '.join(missing)})"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# ---- random cases -------------------------------------------------------------------------------


def _quant(rng: np.random.Generator, c_out: int, abs_sums: np.ndarray) -> dict[str, Any]:
    """Zero points, per-channel multipliers/shifts at their extremes, act range, bias within the bound."""
    input_zp = int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))
    output_zp = int(rng.integers(-128, 128))
    mult = rng.integers(2**30, 2**31, c_out, dtype=np.int64)
    special = rng.random(c_out)
    mult[special < 0.08] = 0
    mult[(special >= 0.08) & (special < 0.16)] = 2**30
    mult[(special >= 0.16) & (special < 0.24)] = 2**31 - 1
    kind = rng.random()
    if kind < 0.6:  # the usual right shifts
        shift = rng.integers(-12, -1, c_out)
    elif kind < 0.85:  # anything, the extremes included
        shift = rng.choice([-31, -30, -24, -23, -2, -1, 0, 1, 5, 30], c_out)
    else:
        shift = rng.integers(-31, 31, c_out)
    act = rng.random()
    if act < 0.6:
        act_min, act_max = -128, 127
    elif act < 0.8:
        act_min, act_max = output_zp, 127  # ReLU
    else:
        act_min = int(rng.integers(-128, 128))
        act_max = int(rng.integers(act_min, 128))
    max_x = max(127 - input_zp, input_zp + 128)
    bound = INT32_MAX - abs_sums.astype(np.int64) * max_x
    pick = rng.random()
    if pick < 0.2:
        bias = None
    elif pick < 0.4:  # at the accumulator bound: accumulators reach +-2^31 - 1
        bias = (bound * rng.choice([-1, 1], c_out)).astype(np.int32)
    else:
        bias = (rng.random(c_out) * np.minimum(bound, 200_000)).astype(np.int64) * rng.choice([-1, 1], c_out)
        bias = bias.astype(np.int32)
    return dict(bias=bias, input_zp=input_zp, output_zp=output_zp, multiplier=mult.astype(np.int32),
                shift=shift.astype(np.int32), act_min=act_min, act_max=act_max,
                requant="single" if rng.random() < 0.25 else "double")


def _pool_kw(rng: np.random.Generator) -> dict[str, Any]:
    ph, pw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    if rng.random() < 0.6:  # window mode: stride >= pool
        sh, sw = ph + int(rng.integers(0, 2)), pw + int(rng.integers(0, 2))
    else:  # ring mode: overlapping
        sh, sw = int(rng.integers(1, ph + 1)), int(rng.integers(1, pw + 1))
    pad = tuple(int(rng.integers(0, p)) if rng.random() < 0.3 else 0 for p in (ph, ph, pw, pw))
    kw: dict[str, Any] = dict(pool=(ph, pw), pool_stride=(sh, sw), pool_padding=pad,
                              rounding=str(rng.choice(["tflite", "tflite", "floor", "half_up"])))
    if rng.random() < 0.3:
        lo = int(rng.integers(-128, 100))
        kw.update(pool_act_min=lo, pool_act_max=int(rng.integers(lo, 128)))
    return kw


def _random_case(rng: np.random.Generator) -> tuple[str, np.ndarray, np.ndarray, dict[str, Any]]:
    op = str(rng.choice(OPS))
    kind = op.removesuffix("_avgpool")
    n = 1 if rng.random() < 0.8 else 2
    h, w = int(rng.integers(1, 10)), int(rng.integers(1, 10))
    c_in = int(rng.integers(1, 18))
    geometry: dict[str, Any] = {}
    if kind == "fully_connected":
        features = int(rng.choice([int(rng.integers(1, 40)), int(rng.integers(40, 300))]))
        x_shape: tuple[int, ...] = (int(rng.integers(1, 6)), features)
        w_shape: tuple[int, ...] = (int(rng.integers(1, 18)), features)
    elif kind == "pointwise_conv2d":
        x_shape, w_shape = (n, h, w, c_in), (int(rng.integers(1, 18)), c_in)
    else:
        kh, kw = (int(rng.integers(1, 6)), int(rng.integers(1, 6))) if rng.random() < 0.9 else (7, 7)
        stride = (int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 1, 2, 3])))
        dilation = (int(rng.choice([1, 1, 1, 2])), int(rng.choice([1, 1, 1, 2])))
        pad = tuple(int(rng.integers(0, k)) if rng.random() < 0.5 else 0 for k in (kh, kh, kw, kw))
        h = max(h, (kh - 1) * dilation[0] + 1 - pad[0] - pad[1])
        w = max(w, (kw - 1) * dilation[1] + 1 - pad[2] - pad[3])
        geometry = dict(stride=stride, dilation=dilation, padding=pad)
        x_shape = (n, h, w, c_in)
        if kind == "depthwise_conv2d":
            mult = int(rng.choice([1, 1, 1, 2, 3]))
            geometry["depth_multiplier"] = mult
            w_shape = (kh, kw, c_in * mult)
        else:
            w_shape = (int(rng.integers(1, 18)), kh, kw, c_in)
    x = rng.integers(-128, 128, x_shape, dtype=np.int8)
    if rng.random() < 0.1:
        x[...] = rng.choice([-128, 127])
    wt = rng.integers(-128, 128, w_shape, dtype=np.int8)
    if kind == "depthwise_conv2d":
        per_channel = wt.reshape(-1, wt.shape[-1]).T
    else:
        per_channel = wt.reshape(wt.shape[0], -1)
    kw_all = _quant(rng, per_channel.shape[0], np.abs(per_channel.astype(np.int64)).sum(axis=1))
    kw_all.update(geometry)
    if op.endswith("_avgpool"):
        kw_all.update(_pool_kw(rng))
    return op, x, wt, kw_all


def _pack(op: str, x: np.ndarray, w: np.ndarray, kw: dict[str, Any]) -> tuple[bytes, tuple[int, ...]]:
    """The record dsp_cases.c reads, built from the C structs pyshrink marshals for this call."""
    kind = op.removesuffix("_avgpool")
    kw = dict(kw)
    bias = kw.pop("bias")
    pool_kw = {k: kw.pop(k) for k in list(kw) if k.startswith("pool") or k == "rounding"}
    call = _args.conv_call(kind, x, w, bias, **kw)
    with _ops.kernel_path("dsp"):
        if pool_kw:
            geo = _args.fused_pool_geometry(call.geometry.out_shape, **pool_kw)
            k = _ops.Kernel(op, call, geo)
        else:
            k = _ops.Kernel(kind, call)
    header = np.zeros(HEADER_WORDS, dtype=np.int32)
    header[0] = OPS.index(op)
    header[1] = lib.PS_PATH_DSP
    for at, d in ((2, k.x_dims), (6, k.w_dims), (10, k.y_dims)):
        header[at:at + 4] = (d.n, d.h, d.w, d.c)
    c = k.conv
    header[14:23] = (c.stride_h, c.stride_w, c.dilation_h, c.dilation_w, c.pad_top, c.pad_bottom, c.pad_left,
                     c.pad_right, c.depth_multiplier)
    q = k.quant
    header[23:29] = (q.input_zp, q.output_zp, q.act_min, q.act_max, q.requant, bias is not None)
    if k.pool is not None:
        p = k.pool
        header[29:40] = (p.pool_h, p.pool_w, p.stride_h, p.stride_w, p.pad_top, p.pad_bottom, p.pad_left,
                         p.pad_right, p.rounding, p.act_min, p.act_max)
    xb, wb = call.x.tobytes(), call.w.tobytes()
    c_out = len(call.quant.multiplier)
    header[40:43] = (len(xb), len(wb), c_out)

    def padded(b: bytes) -> bytes:
        return b + bytes(-len(b) % 4)

    body = header.tobytes() + padded(xb) + padded(wb)
    if bias is not None:
        body += np.asarray(call.bias, dtype=np.int32).tobytes()
    body += np.asarray(call.quant.multiplier, dtype=np.int32).tobytes()
    body += np.asarray(call.quant.shift, dtype=np.int32).tobytes()
    return body, (k.out_shape, k.scratch_bytes)


def make_cases(count: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    cases: list[dict[str, Any]] = []
    while len(cases) < count:
        op, x, w, kw = _random_case(rng)
        try:
            want = getattr(ps.reference, op)(x, w, kw["bias"], **{k: v for k, v in kw.items() if k != "bias"})
        except ps.PyshrinkError:
            continue  # e.g. a shift rounding with a window count that is not a power of two
        record, (out_shape, scratch) = _pack(op, x, w, kw)
        if len(record) > INPUT_SIZE or want.nbytes > OUTPUT_SIZE - 12 or scratch > 8192:
            continue
        cases.append(dict(op=op, x=x, w=w, kw=kw, want=want, record=record + bytes(INPUT_SIZE - len(record)),
                          scratch=scratch))
    return cases


# ---- the firmware ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    return make_cases(N_CASES, SEED)


def _build(tmp: Path, opt: str) -> firmware.Firmware:
    src = tmp / "src"
    src.mkdir(parents=True)
    for f in sorted(export_module.csrc_dir().iterdir()):
        if f.suffix in (".c", ".h"):
            shutil.copy(f, src / f.name)
    shutil.copy(CASES_C, src / "dspcases.c")
    (src / "dspcases.h").write_text(
        "#include <stdint.h>\n"
        f"#define DSPCASES_INPUT_SIZE {INPUT_SIZE}\n#define DSPCASES_OUTPUT_SIZE {OUTPUT_SIZE}\n"
        "int dspcases_invoke(const int8_t *input, int8_t *output);\n")
    exp = export_module.Export(src, "dspcases", src / "dspcases.h", src / "dspcases.c", (), INPUT_SIZE,
                               (OUTPUT_SIZE,), 0, ("cases",), 0)
    return firmware.build_firmware(exp, tmp / "build", opt=opt)


def _dsp_instructions(fw: firmware.Firmware) -> set[str]:
    """The mnemonics of the linked arm_dsp code (its functions start with dsp_ or ps_conv_run_dsp)."""
    dump = subprocess.run(["arm-none-eabi-objdump", "-d", "--no-show-raw-insn", str(fw.elf)], capture_output=True,
                          text=True, check=True).stdout
    seen: set[str] = set()
    inside = False
    for line in dump.splitlines():
        head = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if head:
            inside = head.group(1).startswith(("dsp_", "ps_conv_run_dsp"))
            continue
        parts = line.split("\t")
        if inside and len(parts) >= 2:
            seen.add(parts[1].strip().split(".")[0])
    return seen


@pytest.mark.parametrize("opt", ["-O2", "-Os"])
def test_dsp_path_on_cortex_m4_equals_the_reference(cases: list[dict[str, Any]], opt: str, tmp_path: Path) -> None:
    _skip_without_packages()
    fw = _build(tmp_path, opt)
    used = _dsp_instructions(fw)
    for mnemonic in ("smlad", "sxtb16", "sxtab16", "smlabb", "smlatt", "smlal", "ssat", "ldmia", "clz"):
        assert mnemonic in used, f"the Cortex-M4 build of arm_dsp.c does not use {mnemonic}: {sorted(used)}"
    run = firmware.run_qemu(fw, [c["record"] for c in cases], timeout=600)
    assert len(run.outputs) == len(cases)
    ops_seen: dict[str, int] = {}
    for i, (case, out) in enumerate(zip(cases, run.outputs)):
        status, auto, scratch = np.frombuffer(out[:12], dtype="<i4")
        assert auto == lib.PS_PATH_DSP, "PS_PATH_AUTO does not resolve to the dsp path on Cortex-M4"
        what = f"case {i} (seed {SEED}): {case['op']} x{case['x'].shape} w{case['w'].shape} {case['kw']}"
        assert status == lib.PS_OK, f"{what}: status {status}"
        assert scratch == case["scratch"], f"{what}: scratch {scratch}, the host asks {case['scratch']}"
        got = np.frombuffer(out[12:12 + case["want"].nbytes], dtype=np.int8).reshape(case["want"].shape)
        if not np.array_equal(got, case["want"]):
            bad = np.argwhere(got != case["want"])[0]
            pytest.fail(f"{what}: first difference at {tuple(bad)}: {got[tuple(bad)]} != {case['want'][tuple(bad)]}")
        ops_seen[case["op"]] = ops_seen.get(case["op"], 0) + 1
    assert set(ops_seen) == set(OPS), ops_seen


def test_the_cases_span_the_dsp_paths_special_cases(cases: list[dict[str, Any]]) -> None:
    """The batch reaches split receptive fields, depth multipliers, large kernels, ring and window
    pools, every requantization branch (fast and generic, single rounding) and every activation
    clamp, so the QEMU run above exercises them all."""
    k_long = sum(1 for c in cases if c["op"].startswith(("conv2d", "fully")) and c["w"][0].size > 60)
    mult = sum(1 for c in cases if c["kw"].get("depth_multiplier", 1) > 1)
    big = sum(1 for c in cases if c["op"].startswith("depthwise") and c["w"].shape[0] * c["w"].shape[1] > 32)
    ring = sum(1 for c in cases if "pool_stride" in c["kw"] and (c["kw"]["pool_stride"][0] < c["kw"]["pool"][0]
                                                                   or c["kw"]["pool_stride"][1] < c["kw"]["pool"][1]))
    window = sum(1 for c in cases if "pool_stride" in c["kw"]) - ring
    fast = sum(1 for c in cases if c["kw"]["requant"] == "double" and (c["kw"]["shift"] <= -2).all())
    generic = sum(1 for c in cases if c["kw"]["requant"] == "single" or (c["kw"]["shift"] > -2).any())
    narrow = sum(1 for c in cases if (c["kw"]["act_min"], c["kw"]["act_max"]) != (-128, 127))
    counts = dict(k_long=k_long, mult=mult, big=big, ring=ring, window=window, fast=fast, generic=generic,
                  narrow=narrow)
    assert min(counts.values()) >= 3, counts
