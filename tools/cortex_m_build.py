#!/usr/bin/env python3
"""Build pyshrink's C core (csrc/*.c) for Cortex-M and check what the objects need; print flash sizes.

    python tools/cortex_m_build.py check              # build for M0+, M4, M7 (and M55) and check
    python tools/cortex_m_build.py sizes [--markdown] # flash bytes per kernel, per CPU
    python tools/cortex_m_build.py sizes --write-readme   # refresh the README's table
    python tools/cortex_m_build.py all                # both

Needs Debian's gcc-arm-none-eabi (arm-none-eabi-gcc, and binutils-arm-none-eabi's nm, objdump,
size); exit status 2 when they are missing, 1 when a check fails.

`check`, for each CPU, compiles every csrc/*.c with

    arm-none-eabi-gcc -std=c99 -Os -ffreestanding -Wall -Wextra -Werror -mthumb -mcpu=<cpu> <float ABI>

(M0+: -mfloat-abi=soft, it has no FPU; M4: -mfpu=fpv4-sp-d16 -mfloat-abi=hard; M7: -mfpu=fpv5-d16
-mfloat-abi=hard; M55: -mfloat-abi=hard with its default FPU and MVE, when the compiler knows it) and
checks, with arm-none-eabi-nm, -objdump and -size:

1. undefined symbols: every symbol an object needs and no core object defines is memcpy or memset.
   Nothing else: no libgcc helper either (__aeabi_idiv, __aeabi_lmul, __aeabi_llsl, __aeabi_ldivmod,
   ...: GCC calls these where the CPU lacks the instruction, e.g. divide and 32x32 -> 64 multiply
   on the M0+; the core does that arithmetic itself there, csrc/arith.h), no libm, no soft-float
   helper (__aeabi_f*, __aeabi_d*, __aeabi_*2f, ...), no malloc, calloc, realloc, free, no printf
   and friends.
2. no floating point: no instruction that uses a floating-point register or computes on floating
   point (any VFP/MVE instruction naming an s or d register or FPSCR/VPR, .f16/.f32/.f64 arithmetic,
   conversions, compares) in any object, moves of FP registers included: no function takes or
   returns a float (ps_softmax_prepare takes the float32 bit patterns as uint32_t). MVE integer
   instructions (q registers only, M55) are not floating point and are allowed.
3. no writable statics: every object's .data and .bss are empty (the core keeps no state).

`sizes` compiles the same way plus -ffunction-sections -fdata-sections, and links, for every public
kernel, only what it needs (--gc-sections from that entry point; memcpy/memset not counted): the
flash (.text + .rodata) a firmware pays for that kernel. "whole core" keeps every public function.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
README = ROOT / "README.md"
BEGIN, END = "<!-- cortex-m-sizes:begin -->", "<!-- cortex-m-sizes:end -->"

COMMON_FLAGS = ("-std=c99", "-Os", "-ffreestanding", "-Wall", "-Wextra", "-Werror", "-mthumb")


@dataclass(frozen=True)
class Cpu:
    key: str
    label: str
    flags: tuple[str, ...]
    hard_float: bool


CPUS = {
    "m0plus": Cpu("m0plus", "Cortex-M0+", ("-mcpu=cortex-m0plus", "-mfloat-abi=soft"), False),
    "m4": Cpu("m4", "Cortex-M4", ("-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"), True),
    "m7": Cpu("m7", "Cortex-M7", ("-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard"), True),
    "m55": Cpu("m55", "Cortex-M55", ("-mcpu=cortex-m55", "-mfloat-abi=hard"), True),
}
REQUIRED_CPUS = ("m0plus", "m4", "m7")

ALLOWED_LIBC = {"memcpy", "memset"}
#: libgcc's integer helpers (run-time ABI for the Arm architecture): division, 64-bit multiply,
#: shifts and compares, named as such when an object needs one (none may).
LIBGCC_INTEGER = {
    "__aeabi_idiv", "__aeabi_uidiv", "__aeabi_idivmod", "__aeabi_uidivmod", "__aeabi_ldivmod",
    "__aeabi_uldivmod", "__aeabi_lmul", "__aeabi_llsl", "__aeabi_llsr", "__aeabi_lasr", "__aeabi_lcmp",
    "__aeabi_ulcmp", "__divsi3", "__udivsi3", "__modsi3", "__umodsi3", "__divdi3", "__udivdi3",
    "__moddi3", "__umoddi3", "__muldi3", "__ashldi3", "__ashrdi3", "__lshrdi3", "__clzsi2", "__clzdi2",
    "__ctzsi2", "__popcountsi2", "__gnu_thumb1_case_sqi", "__gnu_thumb1_case_uqi", "__gnu_thumb1_case_shi",
    "__gnu_thumb1_case_uhi", "__gnu_thumb1_case_si",
}
#: the public kernels, each with the entry points a firmware using it calls
KERNELS = {
    "conv2d": ("ps_conv2d", "ps_conv2d_scratch_size"),
    "depthwise_conv2d": ("ps_depthwise_conv2d", "ps_depthwise_conv2d_scratch_size"),
    "pointwise_conv2d": ("ps_pointwise_conv2d", "ps_pointwise_conv2d_scratch_size"),
    "fully_connected": ("ps_fully_connected", "ps_fully_connected_scratch_size"),
    "avg_pool2d": ("ps_avg_pool2d",),
    "max_pool2d": ("ps_max_pool2d",),
    "conv2d_avgpool": ("ps_conv2d_avgpool", "ps_conv2d_avgpool_scratch_size"),
    "depthwise_conv2d_avgpool": ("ps_depthwise_conv2d_avgpool", "ps_depthwise_conv2d_avgpool_scratch_size"),
    "pointwise_conv2d_avgpool": ("ps_pointwise_conv2d_avgpool", "ps_pointwise_conv2d_avgpool_scratch_size"),
    "softmax": ("ps_softmax",),
    "softmax_prepare": ("ps_softmax_prepare",),
    "quantize_multiplier": ("ps_quantize_multiplier",),
}
TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-nm", "arm-none-eabi-objdump", "arm-none-eabi-size")


class ToolMissing(RuntimeError):
    pass


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def require_tools() -> None:
    missing = missing_tools()
    if missing:
        raise ToolMissing(f"{', '.join(missing)} not found: install Debian's gcc-arm-none-eabi "
                          "(apt-get install gcc-arm-none-eabi; it brings binutils-arm-none-eabi)")


def run(cmd: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def compiler_knows(cpu: Cpu) -> bool:
    done = subprocess.run(["arm-none-eabi-gcc", *cpu.flags, "-mthumb", "-x", "c", "-c", "-", "-o", os.devnull],
                          input="int pyshrink_probe;\n", capture_output=True, text=True)
    return done.returncode == 0


def available_cpus(requested: list[str]) -> list[Cpu]:
    out = []
    for key in requested:
        cpu = CPUS[key]
        if compiler_knows(cpu):
            out.append(cpu)
        elif key in REQUIRED_CPUS:
            raise RuntimeError(f"arm-none-eabi-gcc does not accept {' '.join(cpu.flags)}")
        else:
            print(f"note: this arm-none-eabi-gcc does not know {cpu.label}; skipped", file=sys.stderr)
    return out


def sources() -> list[Path]:
    return sorted(CSRC.glob("*.c"))


def compile_core(cpu: Cpu, out_dir: Path, extra: tuple[str, ...] = (),
                 srcs: list[Path] | None = None) -> list[Path]:
    """Every csrc/*.c (or `srcs`) to out_dir/<name>.o; raises with the compiler's output on any warning."""
    out_dir.mkdir(parents=True, exist_ok=True)
    objects = []
    for src in sources() if srcs is None else srcs:
        obj = out_dir / (src.stem + ".o")
        run(["arm-none-eabi-gcc", *COMMON_FLAGS, *cpu.flags, *extra, "-I", str(CSRC), "-c", str(src), "-o", str(obj)])
        objects.append(obj)
    return objects


# ---- check -----------------------------------------------------------------------------------


@dataclass
class CheckResult:
    cpu: Cpu
    objects: int = 0
    external: dict[str, set[str]] = field(default_factory=dict)  # symbol -> objects that need it
    problems: list[str] = field(default_factory=list)
    mve_integer: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


_NM_LINE = re.compile(r"^\s*(?:[0-9a-fA-F]+\s+)?([A-Za-z])\s+(\S+)$")


def symbols(obj: Path) -> tuple[set[str], set[str]]:
    """(defined global symbols, undefined symbols) of an object."""
    defined, undefined = set(), set()
    for line in run(["arm-none-eabi-nm", str(obj)]).splitlines():
        m = _NM_LINE.match(line)
        if not m:
            continue
        kind, name = m.groups()
        if kind == "U":
            undefined.add(name)
        elif kind.isupper():
            defined.add(name)
    return defined, undefined


_FN = re.compile(r"^[0-9a-f]+ <(.+)>:$")
_FP_REG = re.compile(r"\b[sd]\d+\b|\bfpscr\b|\bvpr\b", re.I)
_Q_REG = re.compile(r"\bq\d+\b", re.I)


def fp_instructions(obj: Path) -> list[tuple[str, str, str]]:
    """(function, mnemonic, operands) of every instruction that uses FP/vector registers or FP types."""
    found = []
    fn = "?"
    for line in run(["arm-none-eabi-objdump", "-d", "--no-show-raw-insn", str(obj)]).splitlines():
        m = _FN.match(line)
        if m:
            fn = m.group(1)
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not re.match(r"^\s+[0-9a-f]+:$", parts[0]):
            continue
        mnemonic = parts[1].strip()
        operands = re.sub(r"<[^>]*>", "", parts[2].split(";")[0]).strip() if len(parts) > 2 else ""
        # every VFP / MVE instruction is a v* mnemonic in the unified syntax objdump prints (plus the
        # pre-UAL FPSCR moves); core instructions cannot name s/d/q registers
        if mnemonic.lower().startswith("v") or mnemonic.lower() in ("fmrx", "fmxr", "fldmx", "fstmx"):
            found.append((fn, mnemonic, operands))
    return found


def check_cpu(cpu: Cpu, build: Path, srcs: list[Path] | None = None, extra: tuple[str, ...] = ()) -> CheckResult:
    """Compile the core (or `srcs`) for `cpu` and check symbols, FP instructions and statics."""
    result = CheckResult(cpu)
    objects = compile_core(cpu, build / cpu.key, extra, srcs)
    result.objects = len(objects)
    defined_all: set[str] = set()
    needs: dict[str, set[str]] = {}
    for obj in objects:
        defined, undefined = symbols(obj)
        defined_all |= defined
        for name in undefined:
            needs.setdefault(name, set()).add(obj.name)
    result.external = {k: v for k, v in needs.items() if k not in defined_all}
    for name, users in sorted(result.external.items()):
        if name in ALLOWED_LIBC:
            continue
        why = ("a soft-float helper" if re.match(r"__aeabi_([fd]|[a-z0-9]+2[fd]|[fd]2)", name)
               else "allocation" if name in ("malloc", "calloc", "realloc", "free")
               else "stdio" if "printf" in name or name in ("puts", "putchar", "fwrite", "write")
               else "a libgcc helper" if name in LIBGCC_INTEGER
               else "not memcpy/memset")
        result.problems.append(f"{cpu.label}: undefined symbol {name} ({why}), needed by {', '.join(sorted(users))}")
    for obj in objects:
        sizes = run(["arm-none-eabi-size", str(obj)]).splitlines()[1].split()
        data, bss = int(sizes[1]), int(sizes[2])
        if data or bss:
            result.problems.append(f"{cpu.label}: {obj.name} has writable statics (.data {data} B, .bss {bss} B)")
        for fn, mnemonic, operands in fp_instructions(obj):
            base = mnemonic.lower()
            uses_fp = bool(_FP_REG.search(operands)) or bool(re.search(r"\.f(16|32|64)\b", base)) or \
                base.startswith(("vcvt", "vmrs", "vmsr", "vsqrt", "vdiv", "vfm", "vfnm", "vrint"))
            if not uses_fp and _Q_REG.search(operands):
                result.mve_integer += 1  # an MVE integer instruction (q registers): not floating point
                continue
            result.problems.append(f"{cpu.label}: floating-point instruction in {obj.name} <{fn}>: "
                                   f"{mnemonic} {operands}")
    return result


def report_check(r: CheckResult) -> str:
    libc = sorted(n for n in r.external if n in ALLOWED_LIBC)
    lines = [f"{r.cpu.label:11} {' '.join(r.cpu.flags)}: {r.objects} objects, "
             f"{'OK' if r.ok else 'FAILED'}; external symbols: {', '.join(libc) or 'none'}"]
    if r.mve_integer:
        lines.append(f"{'':11} {r.mve_integer} MVE integer instructions (q registers; no floating point)")
    lines += [f"  - {p}" for p in r.problems]
    return "\n".join(lines)


# ---- sizes -----------------------------------------------------------------------------------


def link_size(cpu: Cpu, objects: list[Path], entries: tuple[str, ...], out: Path) -> int:
    """Flash bytes (.text + .rodata) of the objects' closure from `entries`."""
    keep = [f"-Wl,--undefined={e}" for e in entries[1:]]
    run(["arm-none-eabi-gcc", *cpu.flags, "-mthumb", "-nostdlib", "-nostartfiles", "-Wl,--gc-sections",
         f"-Wl,--entry={entries[0]}", *keep, "-Wl,--unresolved-symbols=ignore-all", "-Wl,--no-warn-rwx-segments",
         *map(str, objects), "-lgcc", "-o", str(out)])
    fields = run(["arm-none-eabi-size", "-A", str(out)]).splitlines()
    total = 0
    for line in fields:
        parts = line.split()
        if len(parts) >= 2 and parts[0] in (".text", ".rodata") or (parts and parts[0].startswith(".rodata.")):
            total += int(parts[1])
    return total


def kernel_sizes(cpus: list[Cpu], build: Path) -> dict[str, dict[str, int]]:
    """kernel -> cpu key -> flash bytes; plus "whole core"."""
    table: dict[str, dict[str, int]] = {}
    for cpu in cpus:
        objects = compile_core(cpu, build / f"{cpu.key}-sections", ("-ffunction-sections", "-fdata-sections"))
        every = tuple(e for entries in KERNELS.values() for e in entries) + ("ps_status_message", "ps_output_size",
                                                                             "ps_kernel_path_supported")
        for name, entries in list(KERNELS.items()) + [("whole core", every)]:
            size = link_size(cpu, objects, entries, build / f"{cpu.key}-{name.replace(' ', '_')}.elf")
            table.setdefault(name, {})[cpu.key] = size
    return table


def format_sizes(table: dict[str, dict[str, int]], cpus: list[Cpu], markdown: bool) -> str:
    if markdown:
        lines = ["| kernel | " + " | ".join(c.label for c in cpus) + " |",
                 "| --- | " + " | ".join("---:" for _ in cpus) + " |"]
        for name, row in table.items():
            cells = [f"{row[c.key]:,}" for c in cpus]
            label = f"**{name}**" if name == "whole core" else f"`{name}`"
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        return "\n".join(lines)
    width = max(len(n) for n in table) + 2
    lines = [f"{'kernel':<{width}}" + "".join(f"{c.label:>13}" for c in cpus)]
    for name, row in table.items():
        lines.append(f"{name:<{width}}" + "".join(f"{row[c.key]:>13,}" for c in cpus))
    return "\n".join(lines)


def compiler_version() -> str:
    return run(["arm-none-eabi-gcc", "--version"]).splitlines()[0]


def write_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    if BEGIN not in readme or END not in readme:
        raise RuntimeError(f"README.md has no {BEGIN} ... {END} markers")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")


# ---- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", choices=("check", "sizes", "all"), default="check")
    parser.add_argument("--cpus", default=",".join(CPUS), help="comma-separated: " + ", ".join(CPUS))
    parser.add_argument("--build", type=Path, help="keep the objects here (default: a temporary directory)")
    parser.add_argument("--strict", action="store_true",
                        help="no effect, for old command lines: check always allows memcpy/memset only")
    parser.add_argument("--markdown", action="store_true", help="sizes as a Markdown table")
    parser.add_argument("--write-readme", action="store_true", help=f"put the sizes table between {BEGIN} and {END}")
    args = parser.parse_args(argv)
    try:
        require_tools()
    except ToolMissing as exc:
        print(f"cortex_m_build: {exc}", file=sys.stderr)
        return 2
    requested = [c.strip() for c in args.cpus.split(",") if c.strip()]
    unknown = [c for c in requested if c not in CPUS]
    if unknown:
        parser.error(f"unknown CPU(s) {', '.join(unknown)}; known: {', '.join(CPUS)}")
    with tempfile.TemporaryDirectory(prefix="pyshrink-cortex-m-") as tmp:
        build = args.build or Path(tmp)
        cpus = available_cpus(requested)
        status = 0
        if args.mode in ("check", "all"):
            print(f"cortex_m_build: {compiler_version()}; {' '.join(COMMON_FLAGS)} + per CPU:")
            for cpu in cpus:
                try:
                    result = check_cpu(cpu, build)
                except RuntimeError as exc:
                    print(f"{cpu.label}: FAILED to compile:\n{exc}")
                    status = 1
                    continue
                print(report_check(result))
                status |= 0 if result.ok else 1
            print(f"cortex_m_build: check {'OK' if status == 0 else 'FAILED'} ({', '.join(c.label for c in cpus)})")
        if args.mode in ("sizes", "all"):
            table = kernel_sizes(cpus, build)
            markdown = format_sizes(table, cpus, True)
            if args.write_readme:
                write_readme(f"{markdown}\n\n<sub>{compiler_version()}, `-Os`; regenerate with "
                             "`python tools/cortex_m_build.py sizes --write-readme`.</sub>")
                print(f"cortex_m_build: wrote the table into {README.name}")
            print(markdown if args.markdown or args.write_readme else format_sizes(table, cpus, False))
        return status


if __name__ == "__main__":
    sys.exit(main())
