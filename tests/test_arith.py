"""csrc/arith.h: the ARMv6-M arithmetic (32-bit operations only) gives the C operators' bits.

tests/c/arith_driver.c checks each routine of arith.h (32x32 -> 64 and 64-bit multiplies,
64-bit shifts, 32-bit and 64/32 division and modulo) against the C operator, and the core's
inline requantization and pooling arithmetic against its formulas written with the operators:
extremes, exhaustive small ranges and seeded random arguments of every bit length, about
2.6 million cases. It prints, per routine, the case count, the failures and a digest of every
result. Built here with the host cc natively (arith.h = the operators) and with -DPS_SOFT_ARITH
(the versions Cortex-M0/M0+ compile), also under ASan + UBSan: no mismatch in any build, and
the same lines from all. tests/test_cortex_m.py runs the same driver built for Cortex-M0+ on
QEMU's micro:bit (a Cortex-M0).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from test_valgrind import _sanitizer_env

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
DRIVER = ROOT / "tests" / "c" / "arith_driver.c"
LINE = re.compile(r"^arith_driver: (\S+) (\d+) cases, (\d+) failed, digest ([0-9a-f]{16})$", re.M)
TOTAL = re.compile(r"^arith_driver: (\d+) cases, (\d+) failed$", re.M)
SANITIZE = ("-O0", "-fsanitize=address,undefined", "-fno-sanitize-recover=all")


def parse(output: str) -> tuple[dict[str, tuple[int, int, str]], int, int]:
    """({routine: (cases, failed, digest)}, total cases, total failed) from the driver's output."""
    routines = {m.group(1): (int(m.group(2)), int(m.group(3)), m.group(4)) for m in LINE.finditer(output)}
    total = TOTAL.search(output)
    assert total and routines, f"no summary in the driver's output:\n{output[-3000:]}"
    return routines, int(total.group(1)), int(total.group(2))


def run_host_driver(out: Path, *flags: str) -> str:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("a host C compiler (cc) is needed", pytrace=False)
    exe = out / "arith_driver"
    built = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", *flags, "-I", str(CSRC), str(DRIVER),
                            "-o", str(exe)], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    env = _sanitizer_env() if any(f.startswith("-fsanitize") for f in flags) else None
    done = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def native_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    return run_host_driver(tmp_path_factory.mktemp("arith-native"), "-O2")


def test_native_build(native_output: str) -> None:
    """With arith.h as the operators the driver checks itself: no mismatch, every routine run."""
    routines, cases, failed = parse(native_output)
    assert "(native)" in native_output and failed == 0
    assert cases > 2_000_000 and sum(r[0] for r in routines.values()) == cases
    assert {"umull", "smull", "mul64", "smul64", "lsl64/lsr64", "shl64/asr64", "udiv32/umod32", "div32/mod32/divmod32",
            "udiv64_32", "srdhm", "rounding_divide_by_pot", "mbqm_double/single", "requantize", "floor_shift",
            "pool_average", "division_magic"} == set(routines)


@pytest.mark.parametrize("flags", [("-O2",), SANITIZE], ids=["O2", "sanitizers"])
def test_soft_arith_gives_the_operators_bits(flags: tuple[str, ...], native_output: str, tmp_path: Path) -> None:
    """-DPS_SOFT_ARITH: every routine equals the operator, and every digest the native build's."""
    output = run_host_driver(tmp_path, "-DPS_SOFT_ARITH", *flags)
    assert "(soft)" in output and "runtime error" not in output
    routines, cases, failed = parse(output)
    assert failed == 0
    assert (routines, cases) == parse(native_output)[:2]
