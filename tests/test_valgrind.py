"""The C core on its own, from C: tests/c/kernel_driver.c under valgrind memcheck and the sanitizers.

The driver (see its header) calls every kernel on every kernel path the CPU has, at edge shapes
(1x1 images, padding larger than the kernel, pools that do not divide the image, overlapping and
non-overlapping fused pools, batch > 1, receptive fields and channel counts around the SIMD
paths' limits) and on seeded random layers, with every buffer its own exact-size malloc block
(scratch: exactly *_scratch_size() bytes) and outputs and scratch left uninitialised; it checks
hand-computed results, that every path gives the reference path's bytes, that each fused kernel
equals avg_pool2d of its conv, and every status path (NULL pointers, scratch one byte short or
misaligned, out-of-range parameters, accumulator overflow; a rejected call leaves its output
alone). Compiled here with the host cc against csrc/*.c:

- natively (the checks must pass);
- under `valgrind --tool=memcheck --error-exitcode=1` (no invalid read or write, no use of
  uninitialised memory, no leak in the driver);
- built with -fsanitize=address,undefined -fno-sanitize-recover=all (no report);
- with -DPS_SOFT_ARITH, the core's arithmetic as Cortex-M0/M0+ compile it (csrc/arith.h: 32-bit
  operations only): the checks pass and the digest of every reference-path output and status
  is the native build's.

Also tests/c/int32_extremes.c under the sanitizers: the fused kernels at the int32 extremes of
their geometry (a regression test of a signed overflow these checks found).

valgrind is Debian's `valgrind` package; without it that test is skipped (with CI=true it fails).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
DRIVER = ROOT / "tests" / "c" / "kernel_driver.c"
#: random layers per run (the driver's argument); the edge shapes and status paths always run
RANDOM_LAYERS = 300
SUMMARY = re.compile(r"kernel_driver: (\d+) checks, (\d+) failed, (\d+) kernel calls")
DIGEST = re.compile(r"kernel_driver: digest ([0-9a-f]{16})")


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"needs {tool}: install Debian's {package} (apt-get install {package})"
        if _ci():
            pytest.fail(message + "; CI must have it", pytrace=False)
        pytest.skip(message)
    return path


def _cc() -> str:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or _need("cc", "gcc")


def _run_ok(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout}{done.stderr}"


def compile_objects(objdir: Path, sources: list[Path], *flags: str) -> list[Path]:
    """One object per source (in parallel), into objdir."""
    cc = _cc()
    objdir.mkdir(parents=True, exist_ok=True)
    objects = [objdir / f"{src.stem}.o" for src in sources]
    commands = [[cc, "-std=c99", "-g", "-Wall", "-Wextra", *flags, "-I", str(CSRC), "-c", str(src), "-o", str(obj)]
                for src, obj in zip(sources, objects)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(_run_ok, commands))
    return objects


def link(out: Path, objects: list[Path], *flags: str) -> Path:
    _run_ok([_cc(), *flags, *map(str, objects), "-o", str(out)])
    return out


SANITIZE_FLAGS = ("-O0", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=all")


def _summary(output: str) -> tuple[int, int, int]:
    m = SUMMARY.search(output)
    assert m, f"no summary line in the driver's output:\n{output[-3000:]}"
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The driver at -O1 (memcheck reports less reliably on higher optimisation levels)."""
    out = tmp_path_factory.mktemp("driver")
    return link(out / "kernel_driver", compile_objects(out / "objs", sorted(CSRC.glob("*.c")) + [DRIVER], "-O1"))


@pytest.fixture(scope="module")
def sanitized_core(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """csrc/*.c compiled with ASan + UBSan (-fno-sanitize-recover=all), once for this module."""
    return compile_objects(tmp_path_factory.mktemp("sanitized") / "objs", sorted(CSRC.glob("*.c")), *SANITIZE_FLAGS)


@pytest.fixture(scope="module")
def native_run(driver: Path) -> str:
    done = subprocess.run([str(driver), str(RANDOM_LAYERS)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_kernel_driver_passes(native_run: str) -> None:
    checks, failed, calls = _summary(native_run)
    assert failed == 0, native_run
    assert checks > 5000 and calls > 3000, native_run


def test_kernel_driver_with_soft_arith(native_run: str, tmp_path: Path) -> None:
    """The core built with -DPS_SOFT_ARITH (no 64-bit multiply, shift or divide operator, as on
    Cortex-M0/M0+; tests/test_arith.py checks each routine): the same checks pass and every
    reference-path output and status is the native build's, byte for byte (the digest)."""
    objects = compile_objects(tmp_path / "objs", sorted(CSRC.glob("*.c")) + [DRIVER], "-O1", "-DPS_SOFT_ARITH")
    exe = link(tmp_path / "kernel_driver_soft", objects)
    done = subprocess.run([str(exe), str(RANDOM_LAYERS)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _summary(done.stdout) == _summary(native_run)  # as many checks and calls, none failed
    soft, native = DIGEST.search(done.stdout), DIGEST.search(native_run)
    assert soft and native and soft.group(1) == native.group(1), (done.stdout, native_run)


def test_kernel_driver_under_valgrind(driver: Path) -> None:
    valgrind = _need("valgrind", "valgrind")
    cmd = [valgrind, "--tool=memcheck", "--error-exitcode=1", "--leak-check=full",
           "--errors-for-leak-kinds=definite,indirect", "--track-origins=yes", str(driver), str(RANDOM_LAYERS)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    report = done.stdout + done.stderr
    assert done.returncode == 0, f"valgrind memcheck found errors:\n{report[-8000:]}"
    assert re.search(r"ERROR SUMMARY: 0 errors from 0 contexts", done.stderr), report[-4000:]
    checks, failed, _ = _summary(done.stdout)
    assert failed == 0 and checks > 5000, report[-4000:]


def _sanitizer_env() -> dict[str, str]:
    """The environment for a binary that links its own sanitizer runtimes: reports on stderr
    (not in a log_path inherited from tools/sanitize.sh), no preloads."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


def test_kernel_driver_under_sanitizers(tmp_path: Path, sanitized_core: list[Path]) -> None:
    objects = sanitized_core + compile_objects(tmp_path, [DRIVER], *SANITIZE_FLAGS)
    exe = link(tmp_path / "kernel_driver_asan", objects, *SANITIZE_FLAGS)
    done = subprocess.run([str(exe), str(RANDOM_LAYERS)], capture_output=True, text=True, timeout=600,
                          env=_sanitizer_env())
    report = done.stdout + done.stderr
    assert done.returncode == 0, f"the sanitized kernel driver failed:\n{report[-8000:]}"
    assert "runtime error" not in report and "Sanitizer" not in report, report[-8000:]
    _, failed, _ = _summary(done.stdout)
    assert failed == 0


def test_fused_kernels_at_int32_extremes_under_ubsan(tmp_path: Path, sanitized_core: list[Path]) -> None:
    """tests/c/int32_extremes.c built with the sanitizers, on every kernel path: geometries whose
    window arithmetic used to overflow int32 (UB; wrong bytes on the ref and portable paths) are
    rejected with a status, and the same at exactly INT32_MAX compute the right bytes, with no
    UBSan report."""
    objects = sanitized_core + compile_objects(tmp_path, [ROOT / "tests" / "c" / "int32_extremes.c"], *SANITIZE_FLAGS)
    exe = link(tmp_path / "int32_extremes", objects, *SANITIZE_FLAGS)
    done = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, env=_sanitizer_env())
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "runtime error" not in output, output
