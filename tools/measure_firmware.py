#!/usr/bin/env python3
"""Measure the exported fixture networks on an emulated Cortex-M4, and write the README table.

For each network of tests/data/models (the ones the README lists), fused and unfused:
export it (pyshrink.export_c), build it with arm-none-eabi-gcc for Cortex-M4 at -O2 and
-Os, link it for QEMU's mps2-an386 with pyshrink's harness, run it under
`qemu-system-arm -icount shift=0` on random inputs, check every output against LiteRT's
reference interpreter (when ai-edge-litert is installed), and report:

  flash        .text + .ARM.exidx + .data of the ELF (arm-none-eabi-size): everything in
               flash, the harness included; "model + kernels" excludes the harness (startup,
               semihosting, the timing driver), from the link map
  RAM          .data + .bss (the arena and every other static; the harness's I/O buffers
               live in a separate section and are not counted) + the worst stack of
               NAME_invoke (-fstack-usage over GCC's call graph)
  instructions SysTick ticks around NAME_invoke * 40 (1 instruction = 1 ns under
               -icount shift=0; SysTick runs on the 25 MHz processor clock), the largest
               over the random inputs

    python tools/measure_firmware.py                 # print the tables
    python tools/measure_firmware.py --write-readme  # also replace the table in README.md

Needs Debian's gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

import pyshrink as ps
from pyshrink import firmware

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "data" / "models"
NETWORKS = ("article_conv_pool", "ds_cnn_kws", "ds_cnn_kws_softmax", "mobilenet_slice_96", "per_tensor",
            "pool_variety", "relu_n1_to_1")
#: CMSIS-NN, measured the same way (qemu mps2-an386, -icount shift=0, SysTick): quoted from issue 7.
CMSIS_NN = {
    "article_conv_pool": (248_040, 2_560, "conv 226,760 + pool 21,280; activations"),
    "mobilenet_slice_96": (8_174_720, 36_864, "ping-pong activation buffers"),
}
BEGIN, END = "<!-- firmware-table:begin -->", "<!-- firmware-table:end -->"


def litert_outputs(path: Path, x: np.ndarray) -> bytes | None:
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        return None
    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return b"".join(interp.get_tensor(d["index"]).tobytes() for d in interp.get_output_details())


def measure(name: str, fuse: bool, opt: str, work: Path, inputs: int, seed: int) -> dict:
    path = MODELS / f"{name}.tflite"
    model = ps.load_tflite(path, fuse=fuse)
    tag = f"{name}-{'fused' if fuse else 'unfused'}{opt}"
    exp = ps.export_c(model, work / tag / "src", name="net")
    fw = firmware.build_firmware(exp, work / tag / "build", opt=opt)
    rng = np.random.default_rng(seed)
    xs = [rng.integers(-128, 128, model.input.shape, dtype=np.int8) for _ in range(inputs)]
    run = firmware.run_qemu(fw, [x.tobytes() for x in xs])
    checked = 0
    for x, out in zip(xs, run.outputs):
        expected = litert_outputs(path, x)
        if expected is not None:
            if out != expected:
                raise SystemExit(f"{tag}: the firmware's output differs from LiteRT's")
            checked += 1
    return dict(name=name, fuse=fuse, opt=opt, calls=len(exp.steps), fused_steps=sum(s.endswith("_avgpool") for s in exp.steps),
                flash=fw.flash_bytes, model_flash=fw.flash_by_part["model"] + fw.flash_by_part["kernels"],
                tables=exp.table_bytes, arena=exp.arena_bytes, statics=fw.static_ram_bytes - exp.arena_bytes,
                stack=fw.stack_bytes, stack_chain=list(fw.stack_chain), stack_painted=max(run.stack_used), ram=fw.ram_bytes,
                instructions=max(run.instructions), instructions_min=min(run.instructions), checked=checked,
                inputs=len(xs))


def _compare(value: int, reference: int) -> str:
    return "fewer" if value < reference else "more" if value > reference else "as many"


def _relation(value: int, reference: int) -> str:
    return "less than" if value < reference else "more than" if value > reference else "equal to"


def _stack_difference(fused: dict, unfused: dict) -> str:
    """Where the fused build's worst stack differs from the unfused one's, frame by frame."""
    diff = fused["stack"] - unfused["stack"]
    if diff == 0:
        return "the same worst stack"
    frames = lambda r: dict(f.rsplit(" ", 1) for f in r["stack_chain"])  # noqa: E731
    f, u = frames(fused), frames(unfused)
    changed = [f"{fn} {u.get(fn, '-')} -> {f.get(fn, '-')} B" for fn in dict.fromkeys([*u, *f]) if f.get(fn) != u.get(fn)]
    return f"worst stack {diff:+,} bytes: {', '.join(changed)}"


def tables(results: list[dict], inputs: int) -> str:
    by = {(r["name"], r["fuse"], r["opt"]): r for r in results}
    out = ["| model | plan | flash (size) | model + kernels | const tables | arena | other statics | stack "
           "| RAM | instructions / inference |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in NETWORKS:
        for fuse in (True, False):
            r = by[(name, fuse, "-O2")]
            plan = "fused" if fuse else "unfused"
            if fuse and r["fused_steps"] == 0:
                plan = "fused (no pair)"
            out.append(f"| `{name}` | {plan} | {r['flash']:,} | {r['model_flash']:,} | {r['tables']:,} | "
                       f"{r['arena']:,} | {r['statics']:,} | {r['stack']:,} | **{r['ram']:,}** | "
                       f"**{r['instructions']:,}** |")
    out += ["", "The same builds at `-Os`:", "",
            "| model | plan | flash (size) | model + kernels | RAM | instructions / inference |",
            "| --- | --- | ---: | ---: | ---: | ---: |"]
    for name in NETWORKS:
        for fuse in (True, False):
            r = by[(name, fuse, "-Os")]
            out.append(f"| `{name}` | {'fused' if fuse else 'unfused'} | {r['flash']:,} | {r['model_flash']:,} | "
                       f"{r['ram']:,} | {r['instructions']:,} |")
    out += ["", "Against CMSIS-NN (its figures quoted from issue 7, measured the same way):", "",
            "| layer | CMSIS-NN instructions | CMSIS-NN activation RAM | pyshrink fused `-O2` instructions "
            "| pyshrink arena | pyshrink RAM (arena + statics + stack) | instructions vs CMSIS-NN |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, (instr, ram, what) in CMSIS_NN.items():
        r = by[(name, True, "-O2")]
        out.append(f"| `{name}` | {instr:,} | {ram:,} ({what}) | {r['instructions']:,} | {r['arena']:,} | "
                   f"{r['ram']:,} | {r['instructions'] / instr:.2f}x |")
    out.append("")
    for name, (instr, ram, _) in CMSIS_NN.items():
        r = by[(name, True, "-O2")]
        out.append(f"- `{name}`, fused, `-O2`: {_compare(r['instructions'], instr)} instructions than CMSIS-NN "
                   f"({r['instructions'] / instr:.2f}x); a {r['arena']:,}-byte arena, {_relation(r['arena'], ram)} "
                   f"its {ram:,} bytes of activations; with the other statics and the stack, {r['ram']:,} bytes of "
                   f"RAM in all ({_relation(r['ram'], ram)} {ram:,}).")
    smaller, other = [], []
    for name in NETWORKS:
        f, u = by[(name, True, "-O2")], by[(name, False, "-O2")]
        if f["fused_steps"] == 0:
            continue
        if f["ram"] < u["ram"]:
            smaller.append(f"`{name}` {f['ram']:,} vs {u['ram']:,}")
        else:
            other.append(f"`{name}` {f['ram']:,} vs {u['ram']:,} (the same {f['arena']:,}-byte arena: the peak is "
                         f"not at the fused pair; {_stack_difference(f, u)})")
    out.append(f"- Fused against unfused RAM (`-O2`), where a conv + pool pair is fused: smaller for "
               f"{', '.join(smaller) or 'none'}" + (f"; not smaller for {', '.join(other)}" if other else "") + ".")
    checked = sum(r["checked"] for r in results)
    over = [r for r in results if r["stack_painted"] > r["stack"]]
    exact = sum(r["stack_painted"] == r["stack"] for r in results)
    out += ["", f"Instructions: the largest of {inputs} random inputs per build (SysTick ticks x 40). Outputs "
            f"checked against LiteRT: {checked} of {sum(r['inputs'] for r in results)} runs identical. Stack: the "
            f"bytes painted during the runs " + (f"EXCEEDED the static bound in {len(over)} builds"
                                                 if over else "never exceeded the static bound")
            + f" (reached it exactly in {exact} of {len(results)} builds)."]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write-readme", action="store_true", help=f"replace the table between {BEGIN} and {END}")
    parser.add_argument("--inputs", type=int, default=5, help="random inputs per build (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    missing = firmware.missing_packages()
    if missing:
        print(f"measure_firmware: install the Debian packages {', '.join(missing)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pyshrink-measure-") as tmp:
        jobs = [(n, f, o) for n in NETWORKS for f in (True, False) for o in ("-O2", "-Os")]
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(lambda j: measure(*j, Path(tmp), args.inputs, args.seed), jobs))
    text = tables(results, args.inputs)
    print(text)
    if args.write_readme:
        readme = ROOT / "README.md"
        old = readme.read_text(encoding="utf-8")
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
        if not pattern.search(old):
            print(f"measure_firmware: README.md has no {BEGIN} ... {END} block", file=sys.stderr)
            return 1
        readme.write_text(pattern.sub(lambda _: f"{BEGIN}\n{text}\n{END}", old), encoding="utf-8")
        print("measure_firmware: README.md updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
