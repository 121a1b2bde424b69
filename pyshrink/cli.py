"""The `pyshrink` command. With no arguments: the seed article's worked example.

`pyshrink run MODEL.tflite` runs a model; `pyshrink report [MODEL]` prints the shrink
report (ps.report) of a model, a sketch file, or the article's layer; `pyshrink export
MODEL.tflite --out DIR` writes a model as C for a microcontroller (ps.export_c).

The example is a 10x10x3 int8 input, 32 3x3 filters (valid padding, ReLU), then a
2x2 average pool, with deterministic random weights and quantization. It runs the
convolution and pooling as two calls and as the fused kernel, shows that the bytes
are identical, and prints the article's cost figures and the activation memory of
both runs (the arrays actually allocated, plus the scratch the fused kernel asks for).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from . import _ops, costs

ARTICLE_INPUT = (1, 10, 10, 3)
ARTICLE_FILTERS = (32, 3, 3, 3)


@dataclass
class Example:
    """One int8 conv layer with TFLite-style quantization, ready to run."""

    x: np.ndarray
    w: np.ndarray
    bias: np.ndarray
    conv_kw: dict[str, Any]


def article_example(seed: int = 2026) -> Example:
    """The article's layer with seeded random weights and TFLite-style per-channel quantization."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, ARTICLE_INPUT, dtype=np.int8)
    w = rng.integers(-127, 128, ARTICLE_FILTERS, dtype=np.int8)  # symmetric weights: -127..127
    in_scale, in_zp = 0.02, -5
    w_scale = rng.uniform(0.002, 0.006, ARTICLE_FILTERS[0])
    out_scale, out_zp = 0.05, -128  # ReLU output: the whole int8 range is >= 0
    bias = np.round(rng.normal(0.0, 0.5, ARTICLE_FILTERS[0]) / (in_scale * w_scale)).astype(np.int32)
    multiplier, shift = _ops.quantize_multiplier(in_scale * w_scale / out_scale)
    conv_kw = dict(input_zp=in_zp, output_zp=out_zp, multiplier=multiplier, shift=shift,
                   act_min=max(-128, out_zp), act_max=127)
    return Example(x, w, bias, conv_kw)


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%"


def run_example(out: Any = sys.stdout) -> int:
    """Run the worked example; return 0 if fused and unfused bytes agree."""
    ex = article_example()
    say = lambda *a: print(*a, file=out)  # noqa: E731

    # Unfused: conv output (8x8x32) is a whole tensor, then pooled.
    conv_out = _ops.conv2d(ex.x, ex.w, ex.bias, **ex.conv_kw)
    unfused = _ops.avg_pool2d(conv_out, pool=2)
    # Fused: pooled tile by tile, scratch exactly as the C kernel asks.
    fused = _ops.conv2d_avgpool(ex.x, ex.w, ex.bias, **ex.conv_kw, pool=2)
    scratch = _ops.scratch_bytes("conv2d_avgpool", ex.x.shape, ex.w.shape, pool=2)
    same = fused.tobytes() == unfused.tobytes()

    n, h, w_, c = ex.x.shape
    c_out, kh, kw, _ = ex.w.shape
    plain = costs.macs("conv2d", ex.x.shape, ex.w.shape)
    stride2 = costs.macs("conv2d", ex.x.shape, ex.w.shape, stride=2)
    dw = costs.macs("depthwise_conv2d", ex.x.shape, (kh, kw, c))
    pw = costs.macs("pointwise_conv2d", (n, h - kh + 1, w_ - kw + 1, c), (c_out, c))
    w_plain = costs.weight_bytes(ex.w.shape)
    w_sep = costs.weight_bytes((kh, kw, c)) + costs.weight_bytes((c_out, c))
    out_plain = costs.activation_bytes(conv_out.shape)
    out_stride2 = costs.activation_bytes(_ops.conv2d(ex.x, ex.w, ex.bias, **ex.conv_kw, stride=2).shape)

    # Peak activation memory: the arrays alive at once in each step.
    unfused_steps = [ex.x.nbytes + conv_out.nbytes, conv_out.nbytes + unfused.nbytes]
    fused_peak = ex.x.nbytes + fused.nbytes

    say("pyshrink: the seed article's worked example")
    say(f"  input {h}x{w_}x{c}, {c_out} filters {kh}x{kw}, valid padding, ReLU, then 2x2 average pool (seed 2026)")
    say("")
    say(f"  fused conv2d_avgpool == avg_pool2d(conv2d): {'identical' if same else 'DIFFERENT'} "
        f"({fused.size} bytes, output {fused.shape[1]}x{fused.shape[2]}x{fused.shape[3]})")
    say("")
    say("  MACs")
    say(f"    conv 3x3, stride 1                {plain:>8,}")
    say(f"    conv 3x3, stride 2                {stride2:>8,}")
    say(f"    depthwise separable  {dw:,} + {pw:,} = {dw + pw:,}   (the article prints 7,869: an arithmetic slip)")
    say("  weight bytes")
    say(f"    conv 3x3                          {w_plain:>8,}   (+{costs.bias_bytes(c_out)} bias bytes)")
    say(f"    depthwise separable               {w_sep:>8,}")
    say("  activation bytes")
    say(f"    input                             {ex.x.nbytes:>8,}")
    say(f"    conv output (pre-pool)            {out_plain:>8,}   ({conv_out.size:,} values)")
    say(f"    pooled output                     {fused.nbytes:>8,}")
    say("  weights as a share of (weights + conv output)")
    say(f"    conv 3x3                          {_pct(w_plain, w_plain + out_plain):>8}")
    say(f"    depthwise separable               {_pct(w_sep, w_sep + out_plain):>8}")
    say(f"    conv 3x3 stride 2                 {_pct(w_plain, w_plain + out_stride2):>8}")
    say("  peak activation memory")
    say(f"    unfused (conv, then pool)         {max(unfused_steps):>8,}   "
        f"(steps: {' / '.join(f'{b:,}' for b in unfused_steps)})")
    say(f"    fused conv2d_avgpool              {fused_peak:>8,}   + {scratch} bytes scratch")
    return 0 if same else 1


def _litert_tensors(model_bytes: bytes, x: np.ndarray) -> dict[int, np.ndarray] | None:
    """Every tensor of a LiteRT BUILTIN_REF run, or None when ai-edge-litert is not installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        return None
    interp = Interpreter(model_content=model_bytes, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return {d["index"]: interp.get_tensor(d["index"]) for d in interp.get_tensor_details()}


def run_model(path: str, *, input_path: str | None, fuse: bool, check: bool, seed: int, inplace: bool = True,
              out: Any = sys.stdout) -> int:
    """`pyshrink run`: load a model, run it on random (seeded) or given input, optionally check with LiteRT."""
    from .model import load_tflite

    say = lambda *a: print(*a, file=out)  # noqa: E731
    model = load_tflite(path, fuse=fuse, inplace=inplace)
    if input_path is None:
        x = np.random.default_rng(seed).integers(-128, 128, model.input.shape, dtype=np.int8)
        source = f"random int8 input, seed {seed}"
    else:
        x = np.load(input_path, allow_pickle=False)
        source = input_path
    tensors = model.run(x, check=check)
    say(f"{path}: {len(model.layers)} layers, {'fused' if fuse else 'unfused'}, input {model.input.shape} ({source})")
    say(model.summary())
    for o in model.outputs:
        say(f"output tensor {o.index} {o.shape}: {np.array2string(tensors[o.index].ravel(), threshold=32)}")
    if not check:
        return 0
    say("arena watch: every step stayed inside its planned regions")
    with open(path, "rb") as f:
        litert = _litert_tensors(f.read(), x)
    if litert is None:
        say("--check: LiteRT is not installed (pip install ai-edge-litert), so outputs were not compared")
        return 2
    differ = [i for i, t in tensors.items() if not np.array_equal(t, litert[i])]
    say(f"LiteRT BUILTIN_REF: {len(tensors) - len(differ)} of {len(tensors)} tensors identical"
        + (f"; differ: {differ}" if differ else ""))
    return 1 if differ else 0


def run_report(model: str | None, *, sketch: str | None, fuse: bool, as_json: bool, plot: str | None,
               budget: str | None, inplace: bool = True, out: Any = sys.stdout) -> int:
    """`pyshrink report`: per-step costs, both arena plans' peaks, what-ifs; optionally JSON and a plot."""
    from .model import load_tflite
    from ._report import parse_bytes, report
    from ._sketch import load_sketch

    budget_bytes = None if budget is None else parse_bytes(budget)
    if sketch is not None and model is not None:
        raise ValueError("give a model or --sketch FILE, not both")
    path = sketch if sketch is not None else model
    if path is None:
        subject: Any = None  # the article's layer
    elif sketch is not None or path.lower().endswith((".json", ".yaml", ".yml")):
        subject = load_sketch(path, fuse=fuse, inplace=inplace)
    else:
        subject = load_tflite(path, fuse=fuse, inplace=inplace)
    rep = report(subject, fuse=fuse, budget=budget_bytes, inplace=inplace)
    if path is not None and rep.source == "tflite":
        rep = replace(rep, name=os.path.basename(path))
    if plot is not None:
        rep.plot(plot)
    if as_json:
        print(rep.to_json(), file=out)
    else:
        print(rep, file=out)
    if plot is not None:
        print(f"pyshrink report: wrote {plot}", file=sys.stderr if as_json else out)
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def run_export(model: str, *, out_dir: str, name: str, fuse: bool, inplace: bool = True,
               out: Any = sys.stdout) -> int:
    """`pyshrink export`: write the model as C (NAME.h, NAME.c and the C core) into out_dir."""
    from .export import export_c

    exp = export_c(model, out_dir, name=name, fuse=fuse, inplace=inplace)
    core = len(exp.files) - 2
    print(f"{exp.out_dir}: {exp.name}.h, {exp.name}.c and {core} C core files "
          f"({'fused' if fuse else 'unfused'}, {len(exp.steps)} kernel call{'' if len(exp.steps) == 1 else 's'})",
          file=out)
    print(f"  int {exp.name}_invoke(const int8_t *input, int8_t *output): input {exp.input_size:,} bytes, "
          f"output {exp.output_size:,} bytes, arena {exp.arena_bytes:,} bytes, const tables {exp.table_bytes:,} bytes",
          file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pyshrink", description="int8 TinyML kernels, bit-exact with TensorFlow Lite. "
        "With no command: the seed article's worked example.")
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("run", help="run a .tflite int8 model (random input or an .npy)")
    run.add_argument("model", help="an int8 .tflite file")
    run.add_argument("--input", help="an .npy file of int8 input (default: random, seeded)")
    run.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    run.add_argument("--no-fuse", action="store_true", help="run the graph as written, without fusion")
    run.add_argument("--no-inplace", action="store_true",
                     help="give every depthwise output its own bytes (no step writes over its input)")
    run.add_argument("--check", action="store_true",
                     help="watch the arena plan while running, and compare every tensor with LiteRT")
    rep = commands.add_parser(
        "report", help="where every MAC and byte goes: per-step costs, both arena plans, what-if estimates",
        description="The shrink report of an int8 .tflite model, a sketch file (an architecture without weights), "
        "or, with neither, the seed article's worked example.")
    rep.add_argument("model", nargs="?", help="an int8 .tflite file (a .json/.yaml file is read as a sketch)")
    rep.add_argument("--sketch", metavar="FILE", help="a sketch: JSON (or YAML, with pyyaml) layer specs, no weights")
    rep.add_argument("--no-fuse", action="store_true",
                     help="list the unfused plan's steps (both plans' peaks are always shown)")
    rep.add_argument("--no-inplace", action="store_true",
                     help="plan both arenas without in-place depthwise steps")
    rep.add_argument("--json", action="store_true", help="print the machine-readable report (JSON) instead")
    rep.add_argument("--plot", metavar="FILE.png", help="draw live bytes per step, unfused | fused (needs matplotlib)")
    rep.add_argument("--budget", metavar="SIZE", help="a RAM budget for the arena, e.g. 64KB or 20000 (KB = 1024 B): "
                     "says whether each plan fits")
    exp = commands.add_parser("export", help="write a .tflite int8 model as C for a microcontroller",
                              description="Write MODEL as C99: NAME.h, NAME.c (const weight tables, one static "
                              "arena, NAME_invoke) and the C core's sources, into --out DIR.")
    exp.add_argument("model", help="an int8 .tflite file")
    exp.add_argument("--out", required=True, metavar="DIR", help="the directory to write (created if missing)")
    exp.add_argument("--name", default="model", help="the C name prefix: NAME.h, NAME_invoke (default: model)")
    exp.add_argument("--no-fuse", action="store_true", help="export the graph as written, without fusion")
    exp.add_argument("--no-inplace", action="store_true",
                     help="give every depthwise output its own arena bytes (a larger arena)")
    args = parser.parse_args(argv)
    if args.command is None:
        return run_example()
    if args.command == "report":
        try:
            return run_report(args.model, sketch=args.sketch, fuse=not args.no_fuse, as_json=args.json,
                              plot=args.plot, budget=args.budget, inplace=not args.no_inplace)
        except BrokenPipeError:  # `pyshrink report ... | head`: the reader left, nothing is wrong
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except (ValueError, TypeError, OSError, ImportError) as exc:  # bad input: one line, no traceback
            print(f"pyshrink report: {_one_line(exc)}", file=sys.stderr)
            return 2
    if args.command == "export":
        try:
            return run_export(args.model, out_dir=args.out, name=args.name, fuse=not args.no_fuse,
                              inplace=not args.no_inplace)
        except (ValueError, TypeError, OSError) as exc:  # bad model, name or directory: one line
            print(f"pyshrink export: {' '.join(str(exc).split())}", file=sys.stderr)
            return 2
    try:
        return run_model(args.model, input_path=args.input, fuse=not args.no_fuse, check=args.check,
                         seed=args.seed, inplace=not args.no_inplace)
    except (ValueError, TypeError, OSError) as exc:  # bad model or input: one line, no traceback
        print(f"pyshrink run: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
