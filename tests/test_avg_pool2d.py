"""`ps.avg_pool2d` (C) against `ps.reference.avg_pool2d` (NumPy): identical bytes.

Windows 1-6 per axis (rectangular), overlapping, tiling and gapped strides,
"valid"/"same"/explicit padding (padded positions not counted), all three rounding
modes (the shift modes on power-of-two window counts only), narrow and
single-valued activation ranges, batch 1-3, out= given or not.

Every case runs the C op on every kernel path this machine has (tests/kernel_paths.py),
each compared with the one reference result.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import pyshrink as ps
from pyshrink._args import clipped_window_indices
from kernel_paths import assert_matches_reference_on_every_path, available_paths, on_path
from strategies import Case, pool_cases


@given(case=pool_cases("avg_pool2d"))
def test_avg_pool2d_matches_reference(case: Case) -> None:
    """Over the whole pooling parameter space, C and reference produce the same bytes."""
    assert_matches_reference_on_every_path(case)


@given(size=st.integers(1, 9), stride=st.integers(1, 6), data=st.data())
def test_clipped_window_indices_cover_every_distinct_count(size: int, stride: int, data: st.DataObject) -> None:
    """The shift roundings check window counts on the clipped windows only (so a huge axis
    costs a handful of checks): every other window counts the full `size` positions, and the
    picked ones show every count the axis has."""
    pad = data.draw(st.integers(0, size - 1), label="pad")
    extent = data.draw(st.integers(1, 80), label="extent")
    pad_end = data.draw(st.integers(0, size - 1), label="pad_end")
    out = (extent + pad + pad_end - size) // stride + 1
    assume(out >= 1)
    counts = [min(o * stride - pad + size, extent) - max(o * stride - pad, 0) for o in range(out)]
    assume(min(counts) >= 1)
    picked = clipped_window_indices(out, stride, pad, size, extent)
    assert len(set(picked)) == len(picked) and all(0 <= o < out for o in picked)
    assert all(counts[o] == size for o in range(out) if o not in picked)
    assert {counts[o] for o in picked} == set(counts)
    assert len(picked) <= -(-pad // stride) + -(-size // stride) + 1


@pytest.mark.parametrize("path", available_paths())
def test_largest_window_of_negative_values(path: str) -> None:
    """A window of 4095 x 4096 values (the core allows up to 2**24 - 1), all -128 but one: the
    "tflite" rounding's -sum + count // 2 is past INT32_MAX. It used to wrap (signed overflow)
    and give 127."""
    x = np.full((1, 4095, 4096, 1), -128, np.int8)
    x[0, 0, 0, 0] = 127
    want = ps.reference.avg_pool2d(x, pool=(4095, 4096))
    assert want.ravel().tolist() == [-128]
    with on_path(path):
        np.testing.assert_array_equal(ps.avg_pool2d(x, pool=(4095, 4096)), want)
