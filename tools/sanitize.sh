#!/usr/bin/env bash
# Build the C extension with AddressSanitizer + UndefinedBehaviorSanitizer and run the
# whole test suite against it. Exit 0 only if the build is really sanitized, pytest
# passes and no sanitizer report was written (by the test process or any child of it).
#
#   tools/sanitize.sh                 # the whole suite (tests/)
#   tools/sanitize.sh tests/test_c_core.py -k fused   # any pytest arguments
#
# Environment:
#   PYTHON                  the interpreter (default: .venv/bin/python if present, else python3);
#                           it needs the test dependencies (pip install ".[test]") and cffi + setuptools
#   PYSHRINK_SANITIZE_DIR   where the sanitized copy is built (default: a fresh temporary directory,
#                           removed afterwards unless PYSHRINK_SANITIZE_KEEP=1)
#   CC                      the compiler of the sanitized build (default: gcc; GCC only: its
#                           libasan/libubsan are preloaded)
#
# How: the working tree (without .git, build products and caches) is copied into the
# work directory, the cffi build script (_cffi_src/build_pyshrink.py, the one setup.py
# uses) compiles csrc/*.c there, in place, with
#   -fsanitize=address,undefined -fno-sanitize-recover=all -fno-wrapv -fno-omit-frame-pointer -g
# (appended through CFLAGS after Python's own CFLAGS, which contain -fwrapv: -fwrapv would
# define signed overflow and hide it from UBSan, so every compile line is checked to end
# with -fno-wrapv winning), and pytest runs in the copy with GCC's sanitizer runtimes
# preloaded into every Python process (CPython itself is not instrumented; a sitecustomize.py
# keeps LD_PRELOAD away from gcc, qemu and the other non-Python programs the tests start, and
# restores it in Python children), PYTHONMALLOC=malloc (every Python object a malloc block
# ASan can guard), and
#   ASAN_OPTIONS=detect_leaks=0 (CPython leaks by design):abort_on_error=1:log_path=...
#   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=...
# Reports go to files in the work directory, so a finding in a subprocess whose output a
# test captures (the CLI tests, the softmax probe, the fuzz targets' children) is not lost.
# The last line is "sanitize: OK: ..." or "sanitize: FAILED: ..." (exit status 1).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
START=$(date +%s)

if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then
        PYTHON="$ROOT/.venv/bin/python"
    else
        PYTHON=python3
    fi
fi
CC=${CC:-gcc}

fail() {
    echo "sanitize: FAILED: $*" >&2
    exit 1
}

LIBASAN=$("$CC" -print-file-name=libasan.so)
LIBUBSAN=$("$CC" -print-file-name=libubsan.so)
[ -f "$LIBASAN" ] || fail "$CC has no libasan.so (Debian: apt-get install libasan8 / gcc)"
[ -f "$LIBUBSAN" ] || fail "$CC has no libubsan.so (Debian: apt-get install libubsan1 / gcc)"
# the versioned runtime the extension links against (libasan.so is a linker script or symlink)
LIBASAN=$(readlink -f "$LIBASAN")
LIBUBSAN=$(readlink -f "$LIBUBSAN")

if ! "$PYTHON" -c "import cffi, setuptools, pytest, hypothesis" 2>/dev/null; then
    fail "$PYTHON lacks cffi, setuptools, pytest or hypothesis (pip install setuptools '.[test]')"
fi

if [ -n "${PYSHRINK_SANITIZE_DIR:-}" ]; then
    WORK=$PYSHRINK_SANITIZE_DIR
    if [ -e "$WORK" ] && [ -n "$(ls -A "$WORK" 2>/dev/null)" ] && [ ! -e "$WORK/.pyshrink-sanitize" ]; then
        fail "PYSHRINK_SANITIZE_DIR=$WORK is not empty and was not made by this script: not touching it"
    fi
    rm -rf "$WORK"
    mkdir -p "$WORK"
    touch "$WORK/.pyshrink-sanitize"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/pyshrink-sanitize.XXXXXX")
fi
WORK=$(cd "$WORK" && pwd)
cleanup() {
    if [ "${PYSHRINK_SANITIZE_KEEP:-0}" != "1" ] && [ -z "${PYSHRINK_SANITIZE_DIR:-}" ]; then
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
SRC=$WORK/src
REPORTS=$WORK/reports
mkdir -p "$SRC" "$REPORTS"

# ---- 1. a copy of the working tree ------------------------------------------------------
tar -C "$ROOT" -cf - \
    --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist --exclude=./build_sanitized \
    --exclude='*.so' --exclude='*.o' --exclude='*.egg-info' --exclude=__pycache__ \
    --exclude=.hypothesis --exclude=.pytest_cache --exclude=.benchmarks --exclude=.mypy_cache \
    --exclude=.ruff_cache --exclude=./pyshrink/_pyshrink.c . | tar -C "$SRC" -xf -

# ---- 2. the sanitized build -------------------------------------------------------------
SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -fno-wrapv"
echo "sanitize: building the extension with $SAN_FLAGS"
# (pyproject.toml is moved aside while building: setuptools' Distribution, which cffi's compile
# uses, would validate it, and an older setuptools than the build backend's rejects it)
mv "$SRC/pyproject.toml" "$WORK/pyproject.toml"
if ! (cd "$SRC" && env CC="$CC" CFLAGS="$SAN_FLAGS" LDFLAGS="-fsanitize=address,undefined" PYSHRINK_NATIVE=0 \
        "$PYTHON" -c 'import sys; sys.path.insert(0, "_cffi_src"); import build_pyshrink as b; b.ffibuilder.compile(tmpdir=".", verbose=True)' \
        >"$WORK/build.log" 2>&1); then
    cat "$WORK/build.log" >&2
    fail "the sanitized build did not compile"
fi
mv "$WORK/pyproject.toml" "$SRC/pyproject.toml"
SO=$(ls "$SRC"/pyshrink/_pyshrink*.so 2>/dev/null | head -n1)
[ -n "$SO" ] || { cat "$WORK/build.log" >&2; fail "the build produced no pyshrink/_pyshrink*.so"; }

# Every compile of a csrc/*.c file (and of the cffi wrapper) must carry the sanitizers, and
# the last of -fwrapv / -fno-wrapv on it must be -fno-wrapv.
"$PYTHON" - "$WORK/build.log" "$SRC/csrc" <<'EOF' || fail "the compile lines are not sanitized (see above)"
import os, re, shlex, sys
log, csrc = sys.argv[1], sys.argv[2]
want = {f for f in os.listdir(csrc) if f.endswith(".c")} | {"_pyshrink.c"}
seen, bad = set(), []
for line in open(log, encoding="utf-8", errors="replace"):
    if " -c " not in line or ".c" not in line:
        continue
    try:
        words = shlex.split(line)
    except ValueError:
        continue
    sources = [w for w in words if w.endswith(".c")]
    if not sources:
        continue
    name = os.path.basename(sources[0])
    wrap = [w for w in words if w in ("-fwrapv", "-fno-wrapv")]
    problems = []
    if "-fsanitize=address,undefined" not in words:
        problems.append("no -fsanitize=address,undefined")
    if "-fno-sanitize-recover=all" not in words:
        problems.append("no -fno-sanitize-recover=all")
    if not wrap or wrap[-1] != "-fno-wrapv":
        problems.append(f"-fwrapv wins ({' '.join(wrap) or 'neither flag'})")
    if problems:
        bad.append(f"{name}: {', '.join(problems)}\n    {line.strip()}")
    seen.add(name)
missing = sorted(want - seen)
for b in bad:
    print("sanitize: bad compile line:", b, file=sys.stderr)
if missing:
    print("sanitize: no compile line found for", ", ".join(missing), file=sys.stderr)
sys.exit(1 if bad or missing else 0)
EOF
LINKED=$(ldd "$SO")
if ! grep -q libasan <<<"$LINKED" || ! grep -q libubsan <<<"$LINKED"; then
    fail "$SO is not linked against libasan and libubsan"
fi
echo "sanitize: built $(basename "$SO") ($(ls "$SRC"/csrc/*.c | wc -l) C files, -fno-wrapv last on every compile line)"

# ---- 3. the whole test suite against it -------------------------------------------------
# The runtimes are preloaded into Python processes only: a sitecustomize.py (first on
# PYTHONPATH) takes LD_PRELOAD out of the environment the tests' children inherit and puts
# it back, by re-executing, in any Python child (the CLI tests, subprocess probes, the fuzz
# targets' child processes). gcc, qemu and the exported C programs the tests run are not
# instrumented: preloading ASan into them would only check their libc calls, slow them
# down and, in qemu (coroutines on swapcontext), risk false reports.
PRELOAD="$LIBASAN:$LIBUBSAN"
mkdir -p "$WORK/site"
cat >"$WORK/site/sitecustomize.py" <<'PYEOF'
# Written by pyshrink's tools/sanitize.sh: the ASan/UBSan runtimes are for Python processes only.
import os
import sys

_preload = os.environ.get("PYSHRINK_SANITIZE_PRELOAD", "")
if _preload:
    if _preload.split(":")[0] not in os.environ.get("LD_PRELOAD", "").split(":"):
        if os.environ.get("PYSHRINK_SANITIZE_REEXEC") == sys.executable:
            sys.stderr.write("sanitize: LD_PRELOAD was dropped again after re-executing Python\n")
        else:
            env = dict(os.environ, LD_PRELOAD=_preload, PYSHRINK_SANITIZE_REEXEC=sys.executable)
            os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
    os.environ.pop("LD_PRELOAD", None)
    os.environ.pop("PYSHRINK_SANITIZE_REEXEC", None)
PYEOF
export PYSHRINK_SANITIZE_PRELOAD="$PRELOAD"
export LD_PRELOAD="$PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:log_path=$REPORTS/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$REPORTS/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export PYTHONMALLOC=malloc
export PYTHONPATH="$WORK/site:$SRC${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
export PYSHRINK_SANITIZED=1  # tests that only make sense natively (e.g. timing) may look at it

# the copy, not an installed pyshrink; the sanitized module; Python children preload too
(cd "$SRC" && "$PYTHON" -c '
import os, subprocess, sys
import pyshrink, pyshrink._pyshrink as m
assert pyshrink.__file__.startswith(sys.argv[1]), pyshrink.__file__
assert m.__file__ == sys.argv[2], m.__file__
assert "LD_PRELOAD" not in os.environ, "LD_PRELOAD would reach non-Python children"
child = "import os, pyshrink._pyshrink; print(os.environ.get(\"PYSHRINK_SANITIZE_PRELOAD\"))"
out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout
assert "libasan" in out, out
' "$SRC" "$SO") || fail "the tests would not import the sanitized build (or their Python children would not)"

if [ "$#" -eq 0 ]; then
    set -- tests
fi
echo "sanitize: running pytest $* (Python processes preload $PRELOAD)"
set +e
(cd "$SRC" && "$PYTHON" -m pytest -p no:cacheprovider -q "$@") 2>&1 | tee "$WORK/pytest.log"
status=${PIPESTATUS[0]}
set -e

# ---- 4. the verdict ---------------------------------------------------------------------
# a log file with an error report in it is a finding; runtime warnings alone are not
findings=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer' \
    "$REPORTS"/* 2>/dev/null | sort || true)
logs=$(find "$REPORTS" -type f | wc -l)
ELAPSED=$(( $(date +%s) - START ))
# (no summary line when pytest itself died: the verdict below must still be reached)
SUMMARY=$(grep -E '^(=+ )?[0-9]+ (passed|failed)' "$WORK/pytest.log" | tail -n1 | sed 's/=//g; s/^ *//; s/ *$//' || true)
if [ -n "$findings" ]; then
    PYSHRINK_SANITIZE_KEEP=1
    echo
    for f in $findings; do
        echo "---- $f"
        cat "$f"
    done
    echo "sanitize: FAILED: $(echo "$findings" | wc -l) sanitizer report(s) (ASan/UBSan) above; pytest: ${SUMMARY:-no summary}; ${ELAPSED}s"
    exit 1
fi
if [ "$logs" -gt 0 ]; then
    echo "sanitize: note: $logs sanitizer log file(s) with runtime warnings only, no error report:"
    cat "$REPORTS"/* | sed 's/^==[0-9]*==//' | sort | uniq -c | sort -rn | head -n 5
fi
if [ "$status" -ne 0 ]; then
    echo "sanitize: FAILED: pytest under ASan+UBSan: ${SUMMARY:-no summary} (exit $status); no sanitizer report; ${ELAPSED}s"
    exit 1
fi
echo "sanitize: OK: ASan+UBSan build, ${SUMMARY}, 0 sanitizer reports, ${ELAPSED}s"
