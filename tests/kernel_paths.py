"""The C core's kernel paths, for running the equivalence tests on every one of them.

Every path (csrc/dispatch.c) must give the reference's bytes. The property tests compute
the NumPy reference once per example and compare the C op on *every* path this machine
has (`assert_matches_reference_on_every_path`); tests/test_kernel_paths.py reports each
path this machine lacks as a skip naming the missing CPU feature. A path the CPU supports
(per /proc/cpuinfo, read independently of pyshrink) but the build lacks fails, loudly: a
fast path must never go untested on a machine that has it.
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from pyshrink import _ops

#: Every path the C core has, "auto" aside (it resolves to one of these).
KERNEL_PATHS = ("ref", "portable", "avx2", "avx512", "dsp")
#: /proc/cpuinfo flags a path needs.
CPU_FEATURES = {"avx2": ("avx2",), "avx512": ("avx512f", "avx512bw", "avx512vl", "avx512_vnni")}


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags from /proc/cpuinfo, or None where there is none (not Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return set()


def cpu_has(path: str) -> bool:
    """Whether the CPU (per /proc/cpuinfo, independently of pyshrink) can run `path`."""
    if path not in CPU_FEATURES:
        return True
    flags = cpu_flags()
    is_x86 = platform.machine().lower() in ("x86_64", "amd64")
    return is_x86 and flags is not None and all(f in flags for f in CPU_FEATURES[path])


def path_params(paths: tuple[str, ...] = KERNEL_PATHS) -> list:
    """pytest parameters, one per path; skipped (with the reason) where the CPU lacks it."""
    params = []
    for name in paths:
        marks = []
        if not _ops.path_supported(name) and not cpu_has(name):
            needs = " + ".join(CPU_FEATURES.get(name, ()))
            marks.append(pytest.mark.skip(reason=f"kernel path {name}: this CPU lacks {needs}"))
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def available_paths() -> tuple[str, ...]:
    """Every kernel path this machine runs; fails if the CPU has one the build lacks."""
    lost = [p for p in KERNEL_PATHS if cpu_has(p) and not _ops.path_supported(p)]
    if lost:
        pytest.fail(f"the CPU has what the {', '.join(lost)} kernel path(s) need, but this build lacks them")
    return tuple(p for p in KERNEL_PATHS if _ops.path_supported(p))


def assert_matches_reference_on_every_path(case: Any) -> np.ndarray:
    """strategies.assert_matches_reference, with the C op run on every available path (each
    result checked by run_case: a fresh or the given out= array, inputs untouched)."""
    import pyshrink as ps
    from strategies import run_case

    want = run_case(case, getattr(ps.reference, case.op), case.use_out[1])
    got = want
    for path in available_paths():
        with _ops.kernel_path(path):
            got = run_case(case, getattr(ps, case.op), case.use_out[0])
        np.testing.assert_array_equal(got, want, err_msg=f"{case.op}: C (kernel path {path}) and reference differ")
    return got


@contextlib.contextmanager
def on_path(name: str) -> Iterator[None]:
    """Run the kernels built inside the block on path `name`, which must really be that path."""
    if not _ops.path_supported(name):
        pytest.fail(f"the CPU reports {' + '.join(CPU_FEATURES.get(name, ()))} but pyshrink's {name} "
                    "kernel path is not available: this build lost it")
    assert _ops.resolve_path(name) == name
    with _ops.kernel_path(name):
        yield
