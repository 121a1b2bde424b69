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
from hypothesis import given

import pyshrink as ps
from kernel_paths import assert_matches_reference_on_every_path, available_paths, on_path
from strategies import Case, pool_cases


@given(case=pool_cases("avg_pool2d"))
def test_avg_pool2d_matches_reference(case: Case) -> None:
    """Over the whole pooling parameter space, C and reference produce the same bytes."""
    assert_matches_reference_on_every_path(case)


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
