"""Benchmark configuration: one thread everywhere, and the ratio tables at the end of the run.

Every timed implementation runs on one thread (LiteRT with num_threads=1, NumPy's BLAS
pinned to one thread below), on the same inputs, in the same process. Each benchmark
records its minimum time (the least disturbed by other load on the machine) under a
group (the layer or model) and a variant (pyshrink, pyshrink unfused, a pyshrink kernel
path, NumPy reference, LiteRT reference / optimized / XNNPACK); at the end the tables of
ratios are printed, and written as Markdown with --speed-table=PATH.
"""

from __future__ import annotations

import os

# Before NumPy loads its BLAS: a BLAS thread pool would time-share the cores with the
# single-threaded kernels being timed (and NumPy's reference would not be one thread).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from collections import defaultdict  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

RESULTS: dict[str, dict[str, dict[str, float]]] = {"kernel": defaultdict(dict), "model": defaultdict(dict)}
META: dict[str, dict[str, Any]] = defaultdict(dict)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--speed-table", default=None, help="also write the ratio tables (Markdown) to this file")


@pytest.fixture
def record():
    """record(kind, group, variant, benchmark): keep the benchmark's minimum time (s)."""

    def _record(kind: str, group: str, variant: str, benchmark: Any) -> None:
        stats = getattr(benchmark, "stats", None)
        if stats is None or getattr(stats, "stats", None) is None:
            return  # --benchmark-disable: nothing was timed
        RESULTS[kind][group][variant] = stats.stats.min

    return _record


def _us(t: float | None) -> str:
    return "" if t is None else (f"{t * 1e6:,.1f}" if t < 1e-3 else f"{t * 1e6:,.0f}")


def _ratio(a: float | None, b: float | None, digits: int = 1) -> str:
    if a is None or b is None or b == 0:
        return ""
    return f"{a / b:,.{digits}f}"


def kernel_table() -> list[str]:
    rows = RESULTS["kernel"]
    if not rows:
        return []
    paths = [p for p in ("ref", "portable", "avx2", "avx512", "dsp")
             if any(f"pyshrink[{p}]" in r for r in rows.values())]
    head = ["layer", "MACs", "pyshrink µs", "GMAC/s", "fused / unfused", "NumPy ref ×", "LiteRT ref ×",
            "LiteRT opt ×", "XNNPACK ×"] + [f"path {p} µs" for p in paths]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for group, r in rows.items():
        t = r.get("pyshrink")
        macs = META[group].get("macs", 0)
        gmacs = f"{macs / t / 1e9:.1f}" if t and macs else ""
        cells = [f"`{group}`", f"{macs:,}" if macs else "", _us(t), gmacs,
                 _ratio(t, r.get("pyshrink-unfused"), 2), _ratio(r.get("numpy"), t),
                 _ratio(r.get("litert-ref"), t), _ratio(r.get("litert-opt"), t, 2),
                 _ratio(r.get("litert-xnnpack"), t, 2)]
        cells += [_us(r.get(f"pyshrink[{p}]")) for p in paths]
        out.append("| " + " | ".join(cells) + " |")
    return out


def model_table() -> list[str]:
    rows = RESULTS["model"]
    if not rows:
        return []
    head = ["model", "pyshrink µs", "C kernels µs", "unfused µs", "fused / unfused", "NumPy ref ×",
            "LiteRT ref ×", "LiteRT opt ×", "XNNPACK ×", "LiteRT ref µs", "LiteRT opt µs", "XNNPACK µs"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for group, r in rows.items():
        t = r.get("pyshrink")
        out.append("| " + " | ".join([
            f"`{group}`", _us(t), _us(r.get("pyshrink-kernels")), _us(r.get("pyshrink-unfused")),
            _ratio(t, r.get("pyshrink-unfused"), 2), _ratio(r.get("numpy"), t), _ratio(r.get("litert-ref"), t),
            _ratio(r.get("litert-opt"), t, 2), _ratio(r.get("litert-xnnpack"), t, 2),
            _us(r.get("litert-ref")), _us(r.get("litert-opt")), _us(r.get("litert-xnnpack"))]) + " |")
    return out


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    kernels, models = kernel_table(), model_table()
    if not kernels and not models:
        return
    legend = ("Minimum time of each, one thread. `×` columns: that implementation's time / pyshrink's "
              "(above 1: pyshrink is faster). fused / unfused: pyshrink's fused conv+pool over the conv "
              "and the pool as two steps of one C call.")
    text = [legend, ""]
    if kernels:
        text += ["Kernels (one C call with prebuilt arguments; LiteRT: `invoke()` of a one-layer model):", "",
                 *kernels, ""]
    if models:
        text += ["Models (`model(x)`: input in, output out; LiteRT: `set_tensor`, `invoke`, `get_tensor`):", "",
                 *models, ""]
    terminalreporter.write_sep("=", "pyshrink speed (ratios)")
    for line in text:
        terminalreporter.write_line(line)
    path = config.getoption("--speed-table")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(text) + "\n")
