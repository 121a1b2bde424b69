"""Export a model as C for a microcontroller: constant tables, one static arena, one function.

    ps.export_c("kws.tflite", "out/", name="kws")      # or a loaded ps.Model

writes `out/kws.h`, `out/kws.c` and a copy of the C core (every `.c` and `.h` of
csrc/, found when exporting), so that `cc -std=c99 -c out/*.c` builds it with
nothing else. `kws.c` holds:

- the weights, biases, per-channel multipliers and shifts, and every params struct
  of every step as `static const` tables (softmax parameters precomputed by the
  core's integer-only `ps_softmax_prepare`: no floating point at run time);
- one `static` arena of exactly `model.plan.peak_bytes` bytes, aligned for the int32
  scratch of the fused kernels;
- `int kws_invoke(const int8_t *input, int8_t *output)`: copies the input into the
  arena, calls the kernels in the planned order at the planned arena offsets (a
  RESHAPE is an alias: nothing runs; an in-place depthwise step writes its output over
  its dying input, starting the planned number of bytes below it), copies the output
  out, and returns 0, or the `ps_status` of the first step that fails.

The C arguments are not re-derived here: they are read back from the very structs
`pyshrink._ops.Kernel` marshals for the Python run (every field, by cffi
introspection, written with designated initializers), so the firmware calls each
kernel exactly as `model(x)` does, and a field added to a params struct later
is exported as well.

A model with several outputs writes them one after another into `output`, in the
model's output order (`KWS_OUTPUT_COUNT`, `KWS_OUTPUTn_OFFSET`, `KWS_OUTPUTn_SIZE`);
`KWS_OUTPUT_SIZE` is their total.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import planner
from ._errors import PyshrinkError
from ._pyshrink import ffi
from .model import Model, load_tflite

__all__ = ["ExportError", "Export", "export_c", "csrc_dir", "check_name"]


class ExportError(PyshrinkError, ValueError):
    """The model or the arguments cannot be exported (the message says why, on one line)."""


#: C keywords (C99, C11, C23): not usable as the model name.
C_KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if inline int
    long register restrict return short signed sizeof static struct switch typedef union unsigned void
    volatile while _Bool _Complex _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn _Static_assert
    _Thread_local alignas alignof bool constexpr false nullptr static_assert thread_local true typeof
    typeof_unqual _BitInt _Decimal32 _Decimal64 _Decimal128
""".split())

#: The C standard library's headers (C99 to C23): NAME.h must not shadow one.
C_HEADERS = frozenset(f"{h}.h" for h in """
    assert complex ctype errno fenv float inttypes iso646 limits locale math setjmp signal stdalign stdarg
    stdatomic stdbit stdbool stdckdint stddef stdint stdio stdlib stdnoreturn string tgmath threads time uchar
    wchar wctype
""".split())

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INT32_MIN = -(2**31)


@dataclass(frozen=True)
class Export:
    """What export_c wrote."""

    out_dir: Path
    name: str
    header: Path
    source: Path
    files: tuple[Path, ...]  # every file written: NAME.h, NAME.c, the C core's sources
    input_size: int
    output_sizes: tuple[int, ...]  # one per model output, in the model's order
    arena_bytes: int
    steps: tuple[str, ...]  # the kernels called, in order (reshapes are not calls)
    table_bytes: int  # bytes of the const tables (weights, biases, multipliers, shifts, params structs)

    @property
    def output_size(self) -> int:
        return sum(self.output_sizes)

    @property
    def macro(self) -> str:
        """The prefix of the header's macros: NAME upper-cased (MODEL_INPUT_SIZE, ...)."""
        return self.name.upper()


# ---- where the C core is ------------------------------------------------------------------


def csrc_dir() -> Path:
    """The C core's sources: shipped in the package (`pyshrink/_csrc`, from a wheel) or,
    in a source checkout or an editable install, the repository's `csrc/`."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_csrc", here.parent / "csrc"):
        if (candidate / "pyshrink.h").is_file():
            return candidate
    raise ExportError(f"cannot find the C core's sources (pyshrink.h) in {here / '_csrc'} or {here.parent / 'csrc'}; "
                      "reinstall pyshrink")


def _core_files() -> list[Path]:
    return sorted(p for p in csrc_dir().iterdir() if p.suffix in (".c", ".h") and p.is_file())


# ---- names --------------------------------------------------------------------------------


def check_name(name: Any, core_files: list[Path] | None = None) -> str:
    """The model name as given, if it can prefix C identifiers and name NAME.c/NAME.h."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        shown = repr(name) if isinstance(name, str) else f"of type {type(name).__name__}"
        raise ExportError(f"name {shown} is not a C identifier (ASCII letters, digits and '_', not starting "
                          "with a digit)")
    if name in C_KEYWORDS:
        raise ExportError(f"name {name!r} is a C keyword")
    if name.startswith("_"):
        raise ExportError(f"name {name!r} starts with '_': such identifiers are reserved in C")
    if name.lower() == "ps" or name.lower().startswith("ps_"):
        raise ExportError(f"name {name!r}: the ps_ / PS_ prefix belongs to the pyshrink C core")
    if f"{name.lower()}.h" in C_HEADERS:
        raise ExportError(f"name {name!r}: {name}.h would shadow the C standard header <{name.lower()}.h> "
                          "(with -I on the export directory)")
    stems = {p.stem.lower() for p in (core_files if core_files is not None else _core_files())}
    if name.lower() in stems:
        raise ExportError(f"name {name!r} would overwrite the C core's {name.lower()}.c/.h in the export; "
                          "choose another name")
    return name


# ---- C literals -----------------------------------------------------------------------------


def _int_literal(v: int) -> str:
    v = int(v)
    return "(-2147483647 - 1)" if v == _INT32_MIN else str(v)


def _array_body(values: np.ndarray, per_line: int) -> str:
    items = [_int_literal(v) for v in values.ravel().tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "    " + ",\n    ".join(lines)


_CTYPE_TO_NUMPY = {"int8_t": np.int8, "uint8_t": np.uint8, "int16_t": np.int16, "uint16_t": np.uint16,
                   "int32_t": np.int32, "uint32_t": np.uint32, "int64_t": np.int64}


def _address(cdata: Any) -> int:
    return int(ffi.cast("uintptr_t", cdata))


class _Emitter:
    """Builds NAME.c: the tables, the arena and the invoke function."""

    def __init__(self, name: str):
        self.name = name
        self.tables: list[str] = []
        self.table_bytes = 0

    def array(self, symbol: str, cdata: Any) -> str:
        """A `static const T symbol[n]` table holding the elements of a cffi array."""
        item = ffi.typeof(cdata).item.cname
        if item not in _CTYPE_TO_NUMPY:
            raise ExportError(f"cannot export an array of {item} ({symbol})")
        dtype = np.dtype(_CTYPE_TO_NUMPY[item])
        values = np.frombuffer(ffi.buffer(cdata), dtype=dtype).copy()
        per_line = 16 if dtype.itemsize == 1 else 8
        self.tables.append(f"static const {item} {symbol}[{values.size}] PS_EXPORT_ALIGNED = {{\n"
                           f"{_array_body(values, per_line)}\n}};")
        self.table_bytes += values.nbytes
        return symbol

    def struct(self, symbol: str, pointer: Any, arrays: dict[int, str]) -> str:
        """A `static const T symbol = { .field = ... }` copy of a cffi struct; returns `&symbol`."""
        ctype = ffi.typeof(pointer).item
        body = self._fields(ctype, pointer[0], arrays, symbol)
        self.tables.append(f"static const {ctype.cname} {symbol} = {{\n{body}\n}};")
        self.table_bytes += ffi.sizeof(ctype)
        return f"&{symbol}"

    def _fields(self, ctype: Any, value: Any, arrays: dict[int, str], where: str, indent: str = "    ") -> str:
        lines = []
        for field_name, f in ctype.fields:
            lines.append(f"{indent}.{field_name} = {self._value(f.type, getattr(value, field_name), arrays, f'{where}.{field_name}', indent)},")
        return "\n".join(lines)

    def _value(self, ctype: Any, value: Any, arrays: dict[int, str], where: str, indent: str) -> str:
        kind = ctype.kind
        if kind == "enum":
            names = ctype.elements  # value -> name
            return names.get(int(value), _int_literal(int(value)))
        if kind == "primitive":
            if ctype.cname in ("float", "double", "long double"):
                raise ExportError(f"{where} is floating point: the exported code has none")
            if isinstance(value, bytes):  # char
                value = value[0]
            return _int_literal(int(value))
        if kind == "pointer":
            if value == ffi.NULL:
                return "NULL"
            symbol = arrays.get(_address(value))
            if symbol is None:
                raise ExportError(f"{where} points to memory the exporter does not know")
            return symbol
        if kind == "struct":
            inner = self._fields(ctype, value, arrays, where, indent + "    ")
            return "{\n" + inner + "\n" + indent + "}"
        if kind == "array":
            return "{" + ", ".join(self._value(ctype.item, value[i], arrays, f"{where}[{i}]", indent)
                                   for i in range(ctype.length)) + "}"
        raise ExportError(f"cannot export {where} of type {ctype.cname}")


class _Slot:
    """Stands for a pointer into the arena in Kernel.args()."""

    def __init__(self, expr: str):
        self.expr = expr


def _wrap_call(fn: str, args: list[str], width: int = 100) -> str:
    """`fn(a, b, ...)` as the right side of `    status = `, wrapped under the first argument."""
    lines, line = [], f"{fn}("
    indent = " " * (len("    status = ") + len(fn) + 1)
    for i, a in enumerate(args):
        piece = a + (", " if i < len(args) - 1 else ")")
        if len("    status = ") + len(line) + len(piece.rstrip()) > width and not line.endswith("("):
            lines.append(line.rstrip())
            line = indent[len("    status = "):]
        line += piece
    lines.append(line)
    return ("\n" + " " * len("    status = ")).join(lines)


def _step_call(em: _Emitter, model: Model, step: int, layer: Any, kernel: Any) -> tuple[str, str]:
    """The C statement of one step, from the exact arguments the Python run passes."""
    prefix = f"{em.name}_s{step}"
    plan = model.plan
    x = _Slot(f"{em.name}_arena + {plan.offset(layer.input)}")
    y = _Slot(f"{em.name}_arena + {plan.offset(layer.output)}")
    scratch = _Slot(f"{em.name}_arena + {plan.offset(('scratch', layer.index))}") if kernel.scratch_bytes else None
    args = kernel.args(x, y, scratch if scratch is not None else ffi.NULL)
    # The arrays the Kernel owns (weights, bias, multipliers, shifts, ...): exported once
    # each, by the attribute name the Kernel gives them; struct fields point at them.
    arrays: dict[int, str] = {}
    own = {id(v): k for k, v in vars(kernel).items()}
    for attr, value in sorted(vars(kernel).items()):
        if isinstance(value, ffi.CData) and value != ffi.NULL and ffi.typeof(value).kind == "array":
            arrays.setdefault(_address(value), em.array(f"{prefix}_{attr}", value))
    fn = kernel.fn.__name__
    params = ffi.typeof(kernel.fn).args
    if len(params) != len(args):
        raise ExportError(f"step {step} ({layer.op}): {fn} takes {len(params)} arguments, the Kernel gives {len(args)}")
    c_args = []
    for i, a in enumerate(args):
        if isinstance(a, _Slot):
            c_args.append(a.expr)
        elif isinstance(a, ffi.CData):
            t = ffi.typeof(a)
            if a == ffi.NULL:
                c_args.append("NULL")
            elif t.kind == "array":
                c_args.append(arrays[_address(a)])
            elif t.kind == "pointer" and t.item.kind == "struct":
                c_args.append(em.struct(f"{prefix}_{own.get(id(a), f'arg{i}')}", a, arrays))
            else:
                raise ExportError(f"step {step} ({layer.op}): cannot export argument {i} of type {t.cname}")
        elif isinstance(a, (int, np.integer)) and not isinstance(a, bool):
            ctype = params[i].cname if i < len(params) else "int"
            c_args.append(f"({ctype}){int(a)}" if ctype in ("size_t", "ptrdiff_t") else _int_literal(int(a)))
        else:
            raise ExportError(f"step {step} ({layer.op}): cannot export argument {i} ({type(a).__name__})")
    source = " + ".join(f"{c}#{j}" for c, j in zip(layer.tflite_ops, layer.tflite_indices))
    inplace = plan.inplace_offset(layer.output)
    comment = (f"/* step {step}: {layer.op} [{source}] {layer.input_shape} -> {layer.output_shape}"
               + (f", {kernel.scratch_bytes} B scratch" if kernel.scratch_bytes else "")
               + (f", in place: output {inplace} B below its input, over it" if inplace is not None else "") + " */")
    return comment, _wrap_call(fn, c_args)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _render(model: Model, name: str) -> tuple[str, str, tuple[str, ...], tuple[int, ...], int]:
    em = _Emitter(name)
    macro = name.upper()
    plan = model.plan
    statements: list[str] = []
    steps: list[str] = []
    for layer, kernel in zip(model.layers, model._kernels):
        if kernel is None:  # reshape: its output aliases its input
            statements.append(f"    /* {layer.op} [{layer.tflite_ops[0]}#{layer.tflite_indices[0]}]: "
                              f"tensor {layer.output} aliases tensor {layer.input} (arena + "
                              f"{plan.offset(layer.output)}), nothing to run */")
            continue
        comment, call = _step_call(em, model, layer.index, layer, kernel)
        steps.append(kernel.fn.__name__)
        statements.append(f"    {comment}\n    status = {call};\n    if (status != PS_OK) {{\n"
                          f"        return (int)status;\n    }}")
    in_t = model.input
    outs = model.outputs
    out_sizes = tuple(o.nbytes for o in outs)
    copy_out = []
    position = 0
    for i, o in enumerate(outs):
        copy_out.append(f"    memcpy(output + {position}, {name}_arena + {plan.offset(o.index)}, {o.nbytes}); "
                        f"/* output {i}: tensor {o.index} {o.shape} */")
        position += o.nbytes

    def shape(t: Any) -> str:
        return "x".join(str(d) for d in t.shape)

    def quant(t: Any) -> str:
        return f"scale {float(t.scale[0])!r}, zero point {int(t.zero_point[0])}" if t.scale.size else "not quantized"

    multi = ""
    if len(outs) > 1:
        lines = [f"#define {macro}_OUTPUT_COUNT {len(outs)}"]
        position = 0
        for i, o in enumerate(outs):
            lines += [f"#define {macro}_OUTPUT{i}_OFFSET {position}", f"#define {macro}_OUTPUT{i}_SIZE {o.nbytes}"]
            position += o.nbytes
        multi = "\n/* The model has several outputs: invoke writes them one after another. */\n" + "\n".join(lines) + "\n"
    out_doc = "\n".join(f" * output {i}: int8 {shape(o)} (tensor {o.index}, {quant(o)})" for i, o in enumerate(outs))
    header = f"""/* {name}.h: generated by pyshrink.export_c ({'fused' if model.fused else 'unfused'}, {_count(len(steps), 'kernel call')}).
 * input:    int8 {shape(in_t)} (tensor {in_t.index}, {quant(in_t)})
{out_doc}
 * The scales are for reference only: the generated code does no floating point.
 */
#ifndef {macro}_H
#define {macro}_H

#include <stdint.h>

#define {macro}_INPUT_SIZE {in_t.nbytes}
#define {macro}_OUTPUT_SIZE {sum(out_sizes)}
#define {macro}_ARENA_BYTES {plan.peak_bytes}
{multi}
#ifdef __cplusplus
extern "C" {{
#endif

/* Runs the model on {macro}_INPUT_SIZE int8 bytes (NHWC) and writes {macro}_OUTPUT_SIZE
 * bytes to output. Returns 0 (PS_OK) on success, else the ps_status of the step that
 * failed. Uses one static arena of {macro}_ARENA_BYTES bytes: not reentrant. */
int {name}_invoke(const int8_t *input, int8_t *output);

#ifdef __cplusplus
}}
#endif

#endif /* {macro}_H */
"""
    body = "\n\n".join(statements)
    source = f"""/* {name}.c: generated by pyshrink.export_c. Do not edit.
 * {_count(len(model.layers), 'step')}, {_count(len(steps), 'kernel call')}, arena {plan.peak_bytes} bytes ({'fused' if model.fused else 'unfused'}).
 * No allocation, no floating point; the only non-const object is the arena.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pyshrink.h"
#include "{name}.h"

#if defined(__GNUC__) || defined(__clang__)
#define PS_EXPORT_ALIGNED __attribute__((aligned({planner.ALIGNMENT})))
#else
#define PS_EXPORT_ALIGNED
#endif

{chr(10).join(em.tables)}

/* The arena: every activation and scratch buffer, at the offsets planned by pyshrink. */
#if defined(__GNUC__) || defined(__clang__)
static int8_t {name}_arena[{macro}_ARENA_BYTES] PS_EXPORT_ALIGNED;
#else
/* no alignment attribute: a union with int32_t aligns it (its size may round up to 4) */
static union {{
    int32_t align_;
    int8_t bytes_[{macro}_ARENA_BYTES];
}} {name}_arena_union_;
#define {name}_arena ({name}_arena_union_.bytes_)
#endif

int {name}_invoke(const int8_t *input, int8_t *output)
{{
    ps_status status;
    if (input == NULL || output == NULL) {{
        return (int)PS_ERR_NULL;
    }}
    memcpy({name}_arena + {plan.offset(in_t.index)}, input, {macro}_INPUT_SIZE); /* input: tensor {in_t.index} */

{body}

{chr(10).join(copy_out)}
    return (int)PS_OK;
}}
"""
    return header, source, tuple(steps), out_sizes, em.table_bytes


# ---- the entry point ------------------------------------------------------------------------

#: Lists the C core files an export copied, so that re-exporting into the same directory
#: removes a core file that no longer exists (a stale one would break `cc DIR/*.c`).
CORE_MANIFEST = ".pyshrink-core"


def _remove_stale_core(out: Path, current: set[str]) -> None:
    manifest = out / CORE_MANIFEST
    if not manifest.is_file():
        return
    for line in manifest.read_text(encoding="utf-8").splitlines():
        entry = line.strip()
        if entry and not entry.startswith("#") and entry not in current and "/" not in entry and "\\" not in entry \
                and entry.endswith((".c", ".h")):
            (out / entry).unlink(missing_ok=True)



def export_c(model_or_path: Model | str | os.PathLike | bytes | bytearray | memoryview, out_dir: str | os.PathLike,
             *, name: str = "model", fuse: bool = True, inplace: bool = True) -> Export:
    """Write `out_dir/NAME.h`, `out_dir/NAME.c` and the C core's sources (see the module doc).

    `model_or_path` is a `.tflite` path or its bytes (loaded with `fuse` and `inplace`), or
    a loaded `Model` (exported as it was loaded: `fuse` and `inplace` are then not used). Raises ExportError
    (a ValueError) for a bad name, ModelError for a model pyshrink cannot run, and
    OSError when the directory cannot be created or written; each message is one line.
    Nothing is written unless everything could be generated.
    """
    core = _core_files()
    check_name(name, core)
    model = (model_or_path if isinstance(model_or_path, Model)
             else load_tflite(model_or_path, fuse=fuse, inplace=inplace))
    header, source, steps, out_sizes, table_bytes = _render(model, name)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for path, text in [(out / f"{name}.h", header), (out / f"{name}.c", source)]:
            path.write_text(text, encoding="utf-8")
            written.append(path)
        _remove_stale_core(out, {p.name for p in core} | {f"{name}.h", f"{name}.c"})
        for src in core:
            dst = out / src.name
            dst.write_bytes(src.read_bytes())
            written.append(dst)
        (out / CORE_MANIFEST).write_text(
            "# The C core's files pyshrink.export_c copied here (a later export removes those it no longer ships)\n"
            + "".join(f"{p.name}\n" for p in core), encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OSError(exc.errno, f"cannot write the export to {out}: {reason}"
                      + (f" ({exc.filename})" if exc.filename and str(exc.filename) != str(out) else "")) from None
    return Export(out, name, out / f"{name}.h", out / f"{name}.c", tuple(written), model.input.nbytes, out_sizes,
                  model.plan.peak_bytes, steps, table_bytes)
