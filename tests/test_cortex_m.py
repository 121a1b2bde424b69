"""The C core builds for microcontrollers and needs nothing a bare-metal firmware lacks.

tools/cortex_m_build.py compiles every csrc/*.c with Debian's arm-none-eabi-gcc for Cortex-M0+,
M4, M7 (and M55 when the compiler knows it) with `-std=c99 -Os -ffreestanding -Wall -Wextra
-Werror`, and checks with arm-none-eabi-nm / -objdump / -size that the objects reference no
symbol outside memcpy/memset (no libgcc helper either, also on the M0+, which lacks divide and
64-bit multiply instructions: csrc/arith.h), use no floating-point register or instruction and
have no writable statics. Here: that check for each CPU, a check that the checker itself catches
each kind of violation, the flash-size table's sanity, and on qemu that a fused kernel's scratch
size does not wrap on a 32-bit target and that arith.h's routines are exact on a Cortex-M0.

Without arm-none-eabi-gcc (Debian's gcc-arm-none-eabi; the qemu test also needs
libnewlib-arm-none-eabi and qemu-system-arm) the tests are skipped, naming the package; with
CI=true they fail instead (CI installs them).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("cortex_m_build", ROOT / "tools" / "cortex_m_build.py")
assert _spec is not None and _spec.loader is not None
cmb = importlib.util.module_from_spec(_spec)
sys.modules["cortex_m_build"] = cmb
_spec.loader.exec_module(cmb)

FIRMWARE = ROOT / "pyshrink" / "firmware"


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def require(**tools: str) -> None:
    """Skip (fail under CI=true) unless every executable is on PATH; kwargs: executable=package."""
    missing = sorted({package for exe, package in tools.items() if shutil.which(exe.replace("_", "-")) is None})
    if missing:
        message = f"needs Debian's {', '.join(missing)} (apt-get install {' '.join(missing)})"
        if _ci():
            pytest.fail(message + "; CI must have it", pytrace=False)
        pytest.skip(message)


def require_arm_gcc() -> None:
    require(arm_none_eabi_gcc="gcc-arm-none-eabi", arm_none_eabi_nm="binutils-arm-none-eabi",
            arm_none_eabi_objdump="binutils-arm-none-eabi", arm_none_eabi_size="binutils-arm-none-eabi")


def require_newlib(cpu: str) -> None:
    """Skip (fail under CI=true) unless newlib's libc for `cpu` is installed: arm-none-eabi-gcc
    prints a bare file name when it has no libc.a to point at."""
    libc = subprocess.run(["arm-none-eabi-gcc", f"-mcpu={cpu}", "-mthumb", "-print-file-name=libc.a"],
                          capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(libc):
        require(newlib_is_missing="libnewlib-arm-none-eabi")


@pytest.mark.parametrize("cpu", list(cmb.CPUS))
def test_core_builds_for_cortex_m(cpu: str, tmp_path: Path) -> None:
    require_arm_gcc()
    target = cmb.CPUS[cpu]
    if not cmb.compiler_knows(target):
        if cpu in cmb.REQUIRED_CPUS:
            pytest.fail(f"arm-none-eabi-gcc does not accept {' '.join(target.flags)}")
        pytest.skip(f"this arm-none-eabi-gcc does not know {target.label}")
    result = cmb.check_cpu(target, tmp_path)
    print(cmb.report_check(result))
    assert result.ok, cmb.report_check(result)
    assert result.objects == len(list(cmb.CSRC.glob("*.c")))
    assert set(result.external) <= cmb.ALLOWED_LIBC  # no libgcc helper, on the M0+ neither


@pytest.mark.parametrize("opt", ["-O0", "-O1", "-O2", "-O3"])
def test_m0plus_core_needs_no_libgcc_at_other_optimisation_levels(opt: str, tmp_path: Path) -> None:
    """The check builds with -Os; firmware is often -O2 (the export harness) or -O0 (debugging): on
    the M0+ the core still references nothing but memcpy/memset (no divide or long-multiply helper
    comes back when the compiler inlines differently)."""
    require_arm_gcc()
    result = cmb.check_cpu(cmb.CPUS["m0plus"], tmp_path, extra=(opt,))
    assert result.ok, cmb.report_check(result)
    assert set(result.external) <= cmb.ALLOWED_LIBC


BAD_SOURCE = r"""
#include <stddef.h>
void *malloc(size_t size);
void *memcpy(void *dst, const void *src, size_t n);
int printf(const char *format, ...);
int counter;                                         /* a writable static */
float scale(float x) { return x * 1.5f; }            /* float arithmetic */
double half(int x) { return (double)x / 2.0; }      /* double arithmetic */
void *grab(void) { counter++; return malloc(16); }  /* allocation */
void say(int x) { printf("%d\n", x); }              /* stdio */
long long quotient(long long a, long long b) { return a / b; }  /* libgcc: __aeabi_ldivmod */
long long product(int a, int b) { return (long long)a * b; }    /* M0+: __aeabi_lmul */
int ratio(int a, int b) { return a / b; }                       /* M0+: __aeabi_idiv */
unsigned bits(float f) { unsigned u; memcpy(&u, &f, sizeof u); return u; }  /* hard float: vmov from s0 */
"""


@pytest.mark.parametrize("cpu", ["m0plus", "m4"])
def test_checker_catches_each_violation(cpu: str, tmp_path: Path) -> None:
    """A source with float math, malloc, printf, a global, libgcc helpers and a float argument
    fails the check, each named."""
    require_arm_gcc()
    src = tmp_path / "bad.c"
    src.write_text(BAD_SOURCE)
    result = cmb.check_cpu(cmb.CPUS[cpu], tmp_path, srcs=[src])
    text = "\n".join(result.problems)
    assert not result.ok
    assert "malloc (allocation)" in text and "printf (stdio)" in text, text
    assert "writable statics" in text, text
    assert "__aeabi_ldivmod (a libgcc helper)" in text, text
    if not cmb.CPUS[cpu].hard_float:  # soft float: libgcc's float helpers; no divide, no long multiply
        assert "soft-float helper" in text and "__aeabi_fmul" in text, text
        assert "__aeabi_lmul (a libgcc helper)" in text and "__aeabi_idiv (a libgcc helper)" in text, text
    else:  # hard float: FP instructions; moving a float argument out of s0 counts too
        assert "floating-point instruction in bad.o <scale>" in text and "vmul.f32" in text, text
        assert "<half>" in text, text
        assert re.search(r"floating-point instruction in bad\.o <bits>: \S+ s0\b", text), text  # vmov/vstr
        assert "__aeabi_lmul" not in text and "__aeabi_idiv" not in text, text  # umull, sdiv


def test_flash_sizes_per_kernel(tmp_path: Path) -> None:
    require_arm_gcc()
    cpus = [cmb.CPUS["m0plus"], cmb.CPUS["m4"]]
    table = cmb.kernel_sizes(cpus, tmp_path)
    assert set(table) == set(cmb.KERNELS) | {"whole core"}
    for cpu in cpus:
        whole = table["whole core"][cpu.key]
        for name in cmb.KERNELS:
            assert 0 < table[name][cpu.key] <= whole, (name, cpu.key, table[name])
        assert whole < 64 * 1024, "the whole core should fit a small MCU's flash"
    print("\n" + cmb.format_sizes(table, cpus, markdown=False))


def test_fused_scratch_size_does_not_wrap_on_32_bit(tmp_path: Path) -> None:
    """tests/c/scratch_size_32bit.c on an emulated Cortex-M4 (32-bit size_t): a fused layer whose
    scratch size is 2**32 + 1,024 bytes. It used to wrap to 1,024, and the kernel accepted that
    scratch and wrote 64 KiB past it; now the size function saturates (SIZE_MAX) and the kernel
    never writes outside the scratch it was given."""
    require_arm_gcc()
    require(qemu_system_arm="qemu-system-arm")
    require_newlib("cortex-m4")
    elf = tmp_path / "repro.elf"
    cmd = ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft", "-O2", "-std=c99", "-Wall",
           "-I", str(cmb.CSRC), "-I", str(FIRMWARE), *map(str, sorted(cmb.CSRC.glob("*.c"))),
           str(FIRMWARE / "ps_fw_startup.c"), str(FIRMWARE / "ps_fw_semihost.c"),
           str(ROOT / "tests" / "c" / "scratch_size_32bit.c"), "-nostartfiles", "-T", str(FIRMWARE / "mps2_an386.ld"),
           "-o", str(elf)]
    built = subprocess.run(cmd, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    done = subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-semihosting-config",
                           "enable=on,target=native", "-kernel", str(elf)], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    assert "guard_bytes_overwritten" in output, output
    assert done.returncode == 0 and "guard_bytes_overwritten 0 " in output, output
    assert "status 7 " in output, output  # PS_ERR_SCRATCH: 1 KiB is not the 4 GiB it needs


MICROBIT = ("qemu-system-arm", "-M", "microbit", "-nographic", "-semihosting-config", "enable=on,target=native")


def _arith_firmware(tmp_path: Path, cpu: str) -> Path:
    """tests/c/arith_driver.c for `cpu`, linked for QEMU's micro:bit (nRF51822: 256 KB flash at 0,
    16 KB RAM at 0x20000000) with the project's startup code and a copy of its linker script."""
    script = (FIRMWARE / "mps2_an386.ld").read_text()
    for region, size in (("FLASH (rx)  : ORIGIN = 0x00000000", "256K"), ("RAM   (rwx) : ORIGIN = 0x20000000", "16K")):
        assert f"{region}, LENGTH = 4M" in script, region
        script = script.replace(f"{region}, LENGTH = 4M", f"{region}, LENGTH = {size}")
    (tmp_path / "microbit.ld").write_text(script)
    elf = tmp_path / f"arith-{cpu}.elf"
    cmd = ["arm-none-eabi-gcc", f"-mcpu={cpu}", "-mthumb", "-mfloat-abi=soft", "-O2", "-std=c99", "-Wall", "-Wextra",
           "-Werror", "-DPS_ARITH_SEMIHOST", "-I", str(cmb.CSRC), "-I", str(FIRMWARE),
           str(ROOT / "tests" / "c" / "arith_driver.c"), str(FIRMWARE / "ps_fw_startup.c"),
           str(FIRMWARE / "ps_fw_semihost.c"), "-nostartfiles", "-T", str(tmp_path / "microbit.ld"), "-o", str(elf)]
    built = subprocess.run(cmd, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    return elf


def test_arith_routines_on_cortex_m0(tmp_path: Path) -> None:
    """tests/c/arith_driver.c (see tests/test_arith.py) built for Cortex-M0+ and run on QEMU's
    micro:bit, a Cortex-M0 (ARMv6-M: no divide, no 64-bit multiply instruction): arith.h's
    32-bit-only routines against libgcc's helpers there, no mismatch, and every routine's case
    count and digest equal to the host's native build. The same driver built for Cortex-M3
    (ARMv7-M: sdiv, umull, ...) takes a fault on that board: QEMU models an ARMv6-M core."""
    require_arm_gcc()
    require(qemu_system_arm="qemu-system-arm")
    require_newlib("cortex-m0plus")
    machines = subprocess.run(["qemu-system-arm", "-M", "help"], capture_output=True, text=True).stdout
    assert re.search(r"^microbit\s.*Cortex-M0", machines, re.M), machines
    from test_arith import parse, run_host_driver

    host = parse(run_host_driver(tmp_path, "-O2"))
    done = subprocess.run([*MICROBIT, "-kernel", str(_arith_firmware(tmp_path, "cortex-m0plus"))],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "(soft)" in output, output[-3000:]
    routines, cases, failed = parse(output)
    assert failed == 0 and cases > 2_000_000
    assert (routines, cases) == host[:2]

    wrong = subprocess.run([*MICROBIT, "-kernel", str(_arith_firmware(tmp_path, "cortex-m3"))],
                           capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert wrong.returncode != 0 and "FAULT" in wrong.stdout + wrong.stderr, wrong.stdout + wrong.stderr
