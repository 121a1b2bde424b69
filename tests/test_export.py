"""Exported C (pyshrink.export_c) gives LiteRT's bytes, on the host and on an emulated Cortex-M4.

Every runnable fixture (tests/data/*.tflite and tests/data/softmax/*.tflite single ops,
tests/data/models/*.tflite networks fused and unfused; pool_requant is rejected) is
exported, compiled with its own copy of the C core, and run on random and constant
inputs. The outputs must equal LiteRT's BUILTIN_REF outputs byte for byte:

- host: the host C compiler (C99) with a stdin -> stdout driver, one process per model;
- Cortex-M4: arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb, linked with pyshrink's own startup
  code and linker script for QEMU's mps2-an386, run under qemu-system-arm -icount shift=0,
  inputs read and outputs printed over semihosting, one QEMU run per model.

The firmware builds also give the measured costs (flash, RAM = statics + stack, instructions)
that the RAM tests check. Without one of the Debian packages gcc-arm-none-eabi,
libnewlib-arm-none-eabi or qemu-system-arm the Cortex-M4 tests are skipped, naming it
(.ci/run installs them, so CI never skips).
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import pyshrink as ps
from pyshrink import export as export_module
from pyshrink import firmware
from test_cli import run_console_script
from test_model import litert_tensors

DATA = Path(__file__).resolve().parent / "data"
SINGLE_OP = sorted(DATA.glob("*.tflite")) + sorted((DATA / "softmax").glob("*.tflite"))
REJECTED = {"pool_requant": "changes quantization"}
NETWORKS = [p for p in sorted((DATA / "models").glob("*.tflite")) if p.stem not in REJECTED]
CASES = [(p, True) for p in SINGLE_OP] + [(p, fuse) for p in NETWORKS for fuse in (True, False)]
RANDOM_INPUTS = 5
CONSTANT_INPUTS = (-128, 0, 127)
WORKERS = max(2, min(8, os.cpu_count() or 1))
MISSING = firmware.missing_packages()


def _skip_without_packages() -> None:
    """Skip, naming the missing Debian packages; under CI (CI=true, where .ci/run installs them) fail."""
    if not MISSING:
        return
    message = (f"Debian package(s) {', '.join(MISSING)} not installed: the Cortex-M4 build and QEMU run need "
               f"them (apt-get install {' '.join(MISSING)})")
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def case_id(case: tuple[Path, bool]) -> str:
    path, fuse = case
    return f"{path.stem}-{'fused' if fuse else 'unfused'}"


@dataclass
class Exported:
    path: Path
    fuse: bool
    model: ps.Model
    export: export_module.Export
    inputs: list[bytes]
    expected: list[bytes]  # LiteRT's outputs, concatenated in the model's output order


def _inputs(model: ps.Model, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    xs = [rng.integers(-128, 128, model.input.shape, dtype=np.int8) for _ in range(RANDOM_INPUTS)]
    return xs + [np.full(model.input.shape, c, np.int8) for c in CONSTANT_INPUTS]


def _run_all(fn, items):
    """fn over items in threads (compilers and QEMU are processes); exceptions are kept per item."""
    def guarded(item):
        try:
            return fn(item)
        except Exception as exc:  # reported by the test of that item
            return exc
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        return dict(zip(items, pool.map(guarded, items)))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    root = tmp_path_factory.mktemp("export")
    result = {}
    for seed, case in enumerate(CASES):
        path, fuse = case
        model = ps.load_tflite(path, fuse=fuse)
        exp = ps.export_c(model, root / case_id(case), name="net")
        xs = _inputs(model, seed)
        expected = []
        for x in xs:
            tensors = litert_tensors(path, x)
            expected.append(b"".join(tensors[o.index].tobytes() for o in model.outputs))
        result[case_id(case)] = Exported(path, fuse, model, exp, [x.tobytes() for x in xs], expected)
    return result


@pytest.fixture(scope="module")
def host_runs(exported: dict[str, Exported], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Each export compiled with the host compiler and run once on all its inputs.

    The C core's objects are compiled once and linked into every model (each export's core
    files are byte-identical copies: the cache is keyed by their content);
    test_export_directory_compiles_on_its_own_as_c99 compiles one whole directory as is."""
    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.fail("a host C compiler (cc) is needed", pytrace=False)
    root = tmp_path_factory.mktemp("host")

    def build_and_run(key: str) -> list[bytes]:
        e = exported[key]
        exe = firmware.build_host(e.export, root / key, cache=root / "core")
        return firmware.run_host(exe, e.export, e.inputs)

    return _run_all(build_and_run, list(exported))


@pytest.fixture(scope="module")
def m4_runs(exported: dict[str, Exported], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Each export built for Cortex-M4 (-O2) and run once under QEMU on all its inputs."""
    _skip_without_packages()
    root = tmp_path_factory.mktemp("m4")

    def build_and_run(key: str) -> tuple[firmware.Firmware, firmware.QemuRun]:
        e = exported[key]
        fw = firmware.build_firmware(e.export, root / key, opt="-O2", cache=root / "core")
        return fw, firmware.run_qemu(fw, e.inputs)

    return _run_all(build_and_run, list(exported))


def _result(runs: dict[str, object], key: str):
    value = runs[key]
    if isinstance(value, Exception):
        raise value
    return value


def _assert_outputs(e: Exported, outputs: list[bytes], where: str) -> None:
    assert len(outputs) == len(e.expected)
    for i, (got, want) in enumerate(zip(outputs, e.expected)):
        if got != want:
            diff = np.flatnonzero(np.frombuffer(got, np.int8) != np.frombuffer(want, np.int8))
            pytest.fail(f"{where}: input {i}: {diff.size} of {len(want)} output bytes differ from LiteRT's "
                        f"(first at byte {diff[0]})", pytrace=False)


# ---- the proofs: LiteRT's bytes --------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_host_build_gives_litert_bytes(case: tuple[Path, bool], exported: dict[str, Exported],
                                       host_runs: dict[str, object]) -> None:
    key = case_id(case)
    e = exported[key]
    outputs = _result(host_runs, key)
    _assert_outputs(e, outputs, f"host {key}")
    # and the Python run agrees (the same kernels, marshalled by Python instead of the export)
    y = e.model(np.frombuffer(e.inputs[0], np.int8).reshape(e.model.input.shape))
    y = y if isinstance(y, tuple) else (y,)
    assert b"".join(a.tobytes() for a in y) == e.expected[0]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_cortex_m4_firmware_gives_litert_bytes(case: tuple[Path, bool], exported: dict[str, Exported],
                                               m4_runs: dict[str, object]) -> None:
    key = case_id(case)
    fw, run = _result(m4_runs, key)
    _assert_outputs(exported[key], run.outputs, f"Cortex-M4 {key}")
    assert all(t > 0 for t in run.ticks)


# ---- the measurements --------------------------------------------------------------------------------


def _elf_symbols(elf: Path) -> dict[str, tuple[str, int]]:
    out = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    symbols = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            symbols[parts[3]] = (parts[2], int(parts[1], 16))
    return symbols


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_firmware_ram_is_the_arena_plus_stack_plus_small_statics(path: Path, exported: dict[str, Exported],
                                                                  m4_runs: dict[str, object]) -> None:
    for fuse in (True, False):
        key = case_id((path, fuse))
        e = exported[key]
        fw, run = _result(m4_runs, key)
        arena = e.model.plan.peak_bytes
        # the arena is one static object of exactly the planner's size, 4-byte aligned, in .bss
        kind, size = _elf_symbols(fw.elf)["net_arena"]
        assert kind in "bB" and size == arena == e.export.arena_bytes
        # every other static byte: the harness's SysTick wrap counter and alignment padding
        other = fw.static_ram_bytes - arena
        assert 0 <= other <= 8, f"{key}: {other} bytes of statics besides the arena"
        # the static worst-case stack (-fstack-usage over the call graph) bounds what the runs really used
        assert 0 < max(run.stack_used) <= fw.stack_bytes, (key, run.stack_used, fw.stack_chain)
        assert fw.stack_chain[0].startswith("net_invoke ")
        assert fw.ram_bytes == arena + other + fw.stack_bytes


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_fused_firmware_ram_against_unfused(path: Path, exported: dict[str, Exported],
                                            m4_runs: dict[str, object]) -> None:
    """Where fusion lowers the planned arena, the fused firmware needs less RAM, stack included.

    Where the unfused peak is elsewhere (ds_cnn_kws, pool_variety: the arena is the same),
    the RAM differs only by the worst stack: the fused kernel's frames are no deeper than an
    unfused call's (fused_job returns before the kernel runs), so what is left is the generated
    invoke's own frame, which GCC's register allocation may round up by 8 bytes
    (ds_cnn_kws_softmax): measured, not hidden.
    """
    fused_e, unfused_e = exported[case_id((path, True))], exported[case_id((path, False))]
    fused, _ = _result(m4_runs, case_id((path, True)))
    unfused, _ = _result(m4_runs, case_id((path, False)))
    has_pair = any(layer.fused for layer in fused_e.model.layers)
    if not has_pair:
        assert fused_e.model.plan.peak_bytes == unfused_e.model.plan.peak_bytes
        return
    if fused.arena_bytes < unfused.arena_bytes:
        assert fused.ram_bytes < unfused.ram_bytes
        assert unfused.ram_bytes - fused.ram_bytes >= (unfused.arena_bytes - fused.arena_bytes) - 128
    else:
        assert fused.arena_bytes == unfused.arena_bytes
        assert fused.ram_bytes - unfused.ram_bytes == fused.stack_bytes - unfused.stack_bytes
        assert fused.ram_bytes - unfused.ram_bytes <= 16


def test_fusion_lowers_firmware_ram_on_the_article_layer_and_mobilenet(exported: dict[str, Exported],
                                                                      m4_runs: dict[str, object]) -> None:
    # MobileNet fused: the depthwise steps run in place, so the peak is the first conv's 96x96x1 input
    # beside its 48x48x8 output, which the in-place depthwise output below it clears by (48 + 1) x 8 bytes
    mobile_fused = 96 * 96 + 48 * 48 * 8 + (48 + 1) * 8
    for name, unfused_arena, fused_arena in [("article_conv_pool", 2560, 1004),
                                             ("mobilenet_slice_96", 55_296, mobile_fused)]:
        path = DATA / "models" / f"{name}.tflite"
        fused, _ = _result(m4_runs, case_id((path, True)))
        unfused, _ = _result(m4_runs, case_id((path, False)))
        assert (fused.arena_bytes, unfused.arena_bytes) == (fused_arena, unfused_arena)
        assert fused.ram_bytes < unfused.ram_bytes
    # issue 7: CMSIS-NN runs the slice in two 18,432-byte ping-pong activation buffers (36,864 bytes);
    # the whole fused firmware RAM (arena, statics and measured stack) is below that
    mobile, _ = _result(m4_runs, case_id((DATA / "models" / "mobilenet_slice_96.tflite", True)))
    assert mobile.ram_bytes < 2 * 18_432, mobile.ram_bytes


def test_firmware_does_no_floating_point(exported: dict[str, Exported], m4_runs: dict[str, object]) -> None:
    """No soft-float routine is linked (the build is -mfloat-abi=soft, so any float would call one)."""
    float_helper = re.compile(r"^__aeabi_([fd](add|sub|mul|div|cmp\w*|neg)|[if]2[fd]|[fd]2\w+|ui2[fd]|l2[fd]|ul2[fd])$"
                              r"|^__(add|sub|mul|div)[sd]f3$")
    for key in exported:
        fw, _ = _result(m4_runs, key)
        found = [s for s in _elf_symbols(fw.elf) if float_helper.match(s)]
        assert not found, f"{key}: {found}"
        text = exported[key].export.source.read_text()
        assert not re.search(r"\b(float|double)\b", text.split("*/", 1)[1])


# ---- the instruction count ----------------------------------------------------------------------------

CALIBRATION_C = """\
#include <string.h>
#include "cal.h"
/* n iterations of a 2-instruction loop (subs, bne): 2n instructions, plus a few around it. */
int cal_invoke(const int8_t *input, int8_t *output)
{
    uint32_t n;
    memcpy(&n, input, 4);
    __asm__ volatile("1: subs %0, %0, #1\\n bne 1b" : "+r"(n) : : "cc");
    memset(output, 0, 4);
    return 0;
}
"""


def test_instruction_count_is_exact_across_systick_wraps(tmp_path: Path) -> None:
    """The harness counts a known loop to within one SysTick tick (40 instructions), also past a 24-bit wrap."""
    _skip_without_packages()
    src = tmp_path / "src"
    src.mkdir()
    (src / "cal.h").write_text("#include <stdint.h>\n#define CAL_INPUT_SIZE 4\n#define CAL_OUTPUT_SIZE 4\n"
                               "int cal_invoke(const int8_t *input, int8_t *output);\n")
    (src / "cal.c").write_text(CALIBRATION_C)
    exp = export_module.Export(src, "cal", src / "cal.h", src / "cal.c", (), 4, (4,), 0, ("loop",), 0)
    fw = firmware.build_firmware(exp, tmp_path / "build")
    wrap = 0x1000000 * firmware.INSTRUCTIONS_PER_TICK  # instructions per SysTick wrap: 671,088,640
    loops = [1, 1000, 123_457, wrap // 2 + 5_000_000]  # the last one runs past a wrap
    run = firmware.run_qemu(fw, [n.to_bytes(4, "little") for n in loops], timeout=120)
    for n, instructions in zip(loops, run.instructions):
        assert 2 * n <= instructions <= 2 * n + 2 * firmware.INSTRUCTIONS_PER_TICK, (n, instructions)
    assert run.instructions[-1] > wrap
    assert run.overhead_ticks <= 1


# ---- what is written ---------------------------------------------------------------------------------


def test_export_directory_compiles_on_its_own_as_c99(tmp_path: Path) -> None:
    """`cc -std=c99 -c DIR/*.c`, exactly; the generated file is also warning-free under -Wall -Wextra -pedantic."""
    exp = ps.export_c(DATA / "models" / "ds_cnn_kws_softmax.tflite", tmp_path / "out", name="kws")
    sources = sorted(str(p) for p in (tmp_path / "out").glob("*.c"))
    build = tmp_path / "objects"
    build.mkdir()
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-std=c99", "-c", *sources], cwd=build, check=True, capture_output=True)
    done = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-c", str(exp.source),
                           "-o", str(build / "strict.o")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # the whole C core is there (found at export time), and every file came from it
    core = {p.name for p in export_module.csrc_dir().iterdir() if p.suffix in (".c", ".h")}
    assert {p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")} == core | {"kws.c", "kws.h"}
    # the symbols: one global function; the arena is the only writable object, every other one is const
    # (.rodata, or .data.rel.ro where a position-independent build relocates a const struct's pointers)
    table = subprocess.run(["objdump", "-t", str(build / "kws.o")], capture_output=True, text=True, check=True).stdout
    symbols = re.findall(r"^[0-9a-f]+ (.{7}) (\S+)\s+([0-9a-f]+) (\S+)$", table, re.M)
    objects = {name: (section, int(size, 16)) for flags, section, size, name in symbols if "O" in flags}
    functions = {name: flags for flags, section, size, name in symbols if "F" in flags}
    assert functions == {"kws_invoke": functions["kws_invoke"]} and functions["kws_invoke"].startswith("g")
    assert objects.pop("kws_arena") == (".bss", 16_000)
    assert objects and all(section.startswith((".rodata", ".data.rel.ro")) for section, _ in objects.values()), objects


def test_header_macros_and_the_arena(tmp_path: Path) -> None:
    model = ps.load_tflite(DATA / "models" / "mobilenet_slice_96.tflite")
    exp = ps.export_c(model, tmp_path, name="mobilenet")
    header = exp.header.read_text()
    assert "#define MOBILENET_INPUT_SIZE 9216" in header  # 96x96x1
    assert f"#define MOBILENET_OUTPUT_SIZE {model.outputs[0].nbytes}" in header
    assert f"#define MOBILENET_ARENA_BYTES {model.plan.peak_bytes}" in header
    assert "int mobilenet_invoke(const int8_t *input, int8_t *output);" in header
    source = exp.source.read_text()
    assert "static int8_t mobilenet_arena[MOBILENET_ARENA_BYTES]" in source
    assert "malloc" not in source
    # the kernels in the planned order, at the planned offsets, with designated initializers
    calls = re.findall(r"status = (ps_\w+)\(", source)
    assert calls == [f"ps_{layer.op}" for layer in model.layers] == list(exp.steps)
    for layer in model.layers:
        assert f"mobilenet_arena + {model.plan.offset(layer.output)}" in source
    assert ".stride_h = 2," in source and ".requant = PS_REQUANT_DOUBLE," in source


def test_multi_output_model_writes_outputs_one_after_another(tmp_path: Path) -> None:
    model = ps.load_tflite(DATA / "models" / "conv_pool_shared.tflite")
    exp = ps.export_c(model, tmp_path, name="shared")
    header = exp.header.read_text()
    sizes = [o.nbytes for o in model.outputs]
    assert len(sizes) == 2 and exp.output_sizes == tuple(sizes)
    assert "#define SHARED_OUTPUT_COUNT 2" in header
    assert f"#define SHARED_OUTPUT1_OFFSET {sizes[0]}" in header
    assert f"#define SHARED_OUTPUT_SIZE {sum(sizes)}" in header


def test_reshape_is_an_alias(tmp_path: Path) -> None:
    model = ps.load_tflite(DATA / "models" / "pool_variety.tflite")
    exp = ps.export_c(model, tmp_path)
    source = exp.source.read_text()
    reshapes = [layer for layer in model.layers if layer.op == "reshape"]
    assert reshapes and len(exp.steps) == len(model.layers) - len(reshapes)
    assert "aliases tensor" in source and "ps_reshape" not in source


def test_reexport_removes_a_core_file_that_no_longer_exists(tmp_path: Path) -> None:
    ps.export_c(DATA / "conv2d.tflite", tmp_path)
    (tmp_path / "stale_kernel.c").write_text("#error this file is stale\n")
    manifest = tmp_path / export_module.CORE_MANIFEST
    manifest.write_text(manifest.read_text() + "stale_kernel.c\n")
    (tmp_path / "mine.c").write_text("int mine;\n")  # not the exporter's: left alone
    ps.export_c(DATA / "conv2d.tflite", tmp_path)
    assert not (tmp_path / "stale_kernel.c").exists() and (tmp_path / "mine.c").exists()


# ---- bad input: one-line errors ---------------------------------------------------------------------


@pytest.mark.parametrize("name,reason", [
    ("1model", "not a C identifier"), ("my-model", "not a C identifier"), ("", "not a C identifier"),
    ("mödel", "not a C identifier"), ("model.v2", "not a C identifier"), ("int", "C keyword"),
    ("static", "C keyword"), ("_Bool", "C keyword"), ("bool", "C keyword"), ("_model", "reserved in C"),
    ("conv2d", "would overwrite"), ("pyshrink", "would overwrite"), ("ps_net", "belongs to the pyshrink C core"),
    ("string", "shadow the C standard header <string.h>"), ("StdInt", "shadow the C standard header <stdint.h>"),
])
def test_bad_names_are_refused_before_anything_is_written(name: str, reason: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ps.ExportError, match=reason) as info:
        ps.export_c(DATA / "conv2d.tflite", out, name=name)
    assert "\n" not in str(info.value)
    assert not out.exists()


def test_unsupported_models_and_unwritable_directories(tmp_path: Path) -> None:
    with pytest.raises(ps.ModelError, match="changes quantization"):
        ps.export_c(DATA / "models" / "pool_requant.tflite", tmp_path / "a")
    with pytest.raises(ps.ModelError, match="unsupported operator ADD"):
        ps.export_c(DATA / "bad" / "conv_add.tflite", tmp_path / "b")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError, match="cannot write the export to") as info:
        ps.export_c(DATA / "conv2d.tflite", blocker / "out")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_export(tmp_path: Path) -> None:
    done = run_console_script("export", str(DATA / "models" / "article_conv_pool.tflite"), "--out", "fw",
                              "--name", "article", "--no-fuse", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "arena 2,560 bytes" in done.stdout  # unfused: 2,048 conv output + 512 pooled
    assert (tmp_path / "fw" / "article.h").is_file() and (tmp_path / "fw" / "article.c").is_file()
    assert "#define ARTICLE_ARENA_BYTES 2560" in (tmp_path / "fw" / "article.h").read_text()


@pytest.mark.parametrize("args,message", [
    (["models/pool_requant.tflite", "--out", "x"], "changes quantization"),
    (["models/article_conv_pool.tflite", "--out", "x", "--name", "9lives"], "not a C identifier"),
    (["models/article_conv_pool.tflite", "--out", "x", "--name", "while"], "C keyword"),
    (["models/article_conv_pool.tflite", "--out", "blocker/x"], "cannot write the export"),
    (["missing.tflite", "--out", "x"], "missing.tflite"),
])
def test_cli_export_errors_are_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a directory")
    args = [str(DATA / args[0]) if args[0].endswith(".tflite") else args[0], *args[1:]]
    done = run_console_script("export", *args, cwd=tmp_path)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
