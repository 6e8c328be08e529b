"""Softmax along an axis, as Caffe computes it; the lowering against the oracle."""
from __future__ import annotations

import numpy as np
from helpers import X, family_tests, forward1, lowering_grid_test


def test_softmax():
    out = forward1("Softmax", "", np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1000.0]]))
    expected = [[0.09003057317038046, 0.24472847105479764, 0.6652409557748219], [1 / 3, 1 / 3, 1 / 3]]
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    x = np.array([[[0.0, np.log(3.0)]]])
    np.testing.assert_allclose(forward1("Softmax", "softmax_param { axis: -1 }", x), [[[0.25, 0.75]]], rtol=1e-15)
    np.testing.assert_array_equal(forward1("Softmax", "", x), [[[1.0, 1.0]]])  # axis 1 has one element




# ---- every type of the family: the kernel contract, and the lowering against the oracle ----

FAMILY = "softmax"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "Softmax": ("", [X], [], 1),
}
GRID = {
    # name: (type, bottom shapes, params, tops)
    "softmax": ("Softmax", [(2, 10)], "", 1),
    "softmax-axis1-4d": ("Softmax", [(2, 5, 3, 3)], "", 1),
    "softmax-axis-1": ("Softmax", [(2, 5, 3, 4)], "softmax_param { axis: -1 }", 1),
}


test_softmax_vs_oracle = lowering_grid_test(GRID)


test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
