"""Eltwise (SUM with coeff, PROD, MAX in Caffe's comparison order) and Axpy; the lowering against the oracle."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import X, assert_both, family_tests, forward, forward1, lowering_grid_test, one

from senet_convert.errors import ConvertError

# ---- Eltwise and Axpy ------------------------------------------------------------------


def test_eltwise_sum_with_coeff():
    a, b = np.array([1.0, 2.0]), np.array([10.0, 20.0])
    np.testing.assert_array_equal(forward1("Eltwise", "", a, b), [11, 22])
    np.testing.assert_array_equal(forward1("Eltwise", "eltwise_param { coeff: 1 coeff: -1 }", a, b), [-9, -18])
    np.testing.assert_array_equal(forward1("Eltwise", "eltwise_param { coeff: 0.5 coeff: 2 }", a, b), [20.5, 41])


def test_eltwise_prod_and_max():
    a, b, c = np.array([1.0, 5, 3]), np.array([4.0, 2, 3]), np.array([0.0, 6, -1])
    np.testing.assert_array_equal(forward1("Eltwise", "eltwise_param { operation: PROD }", a, b, c), [0, 60, -9])
    np.testing.assert_array_equal(forward1("Eltwise", "eltwise_param { operation: MAX }", a, b, c), [4, 6, 3])


def test_eltwise_max_nan_follows_caffes_comparisons():
    # top = a if a > b else b, then replaced by later bottoms only where strictly greater
    a, b = np.array([np.nan, 1.0]), np.array([1.0, np.nan])
    np.testing.assert_array_equal(forward1("Eltwise", "eltwise_param { operation: MAX }", a, b), [1.0, np.nan])


@pytest.mark.parametrize(
    "params, shapes, message",
    [
        ("eltwise_param { coeff: 1 }", [(2,), (2,)], "one per bottom"),
        ("eltwise_param { operation: PROD coeff: 1 coeff: 1 }", [(2,), (2,)], "only allowed with operation SUM"),
        ("", [(2,), (3,)], "bottom 1 has shape"),
        ("", [(2,)], "at least 2"),
    ],
    ids=["coeff-count", "prod-coeff", "shapes", "one-bottom"],
)
def test_eltwise_refuses(params, shapes, message):
    with pytest.raises(ConvertError, match=message):
        forward("Eltwise", params, *[np.zeros(s) for s in shapes])


def test_axpy():
    a = np.array([2.0, -1.0]).reshape(1, 2, 1, 1)
    x = np.array([1.0, 2, 3, 4]).reshape(1, 2, 1, 2)
    y = np.array([10.0, 20, 30, 40]).reshape(1, 2, 1, 2)
    expected = np.array([12.0, 24, 27, 36]).reshape(1, 2, 1, 2)
    np.testing.assert_array_equal(forward1("Axpy", "", a, x, y), expected)
    np.testing.assert_array_equal(forward1("Axpy", "", a.reshape(1, 2), x, y), expected)
    with pytest.raises(ConvertError, match="expected"):
        forward("Axpy", "", np.zeros((1, 2, 2, 1)), x, y)


def test_axpy_lowered():
    a = np.array([[2, -1]], dtype=np.float32)  # N x C
    x = np.array([[[[1, 2]], [[3, 4]]]], dtype=np.float32)
    y = np.array([[[[10, 20]], [[30, 40]]]], dtype=np.float32)
    np.testing.assert_array_equal(one("Axpy", "", a, x, y), [[[[12, 24]], [[27, 36]]]])
    np.testing.assert_array_equal(one("Axpy", "", a[:, :, None, None], x, y), [[[[12, 24]], [[27, 36]]]])


def test_eltwise_sum_with_coefficients():
    a, b = np.array([[1.0, 2]], dtype=np.float32), np.array([[4.0, 8]], dtype=np.float32)
    np.testing.assert_array_equal(one("Eltwise", "eltwise_param { coeff: 1 coeff: -0.5 }", a, b), [[-1, -2]])


def test_eltwise_prod_and_max_in_torch_too():
    a, b, c = [[1, -2, 3]], [[4, 5, -6]], [[0, 7, 2]]
    assert_both("Eltwise", "eltwise_param { operation: PROD }", a, b, c, expected=[[0, -70, -36]])
    assert_both("Eltwise", "eltwise_param { operation: MAX }", a, b, c, expected=[[4, 7, 3]])


# ---- every type of the family: the kernel contract, and the lowering against the oracle ----

FAMILY = "eltwise"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "Eltwise": ("eltwise_param { coeff: 1 coeff: -0.5 }", [X, X], [], 1),
    "Axpy": ("", [(2, 3, 1, 1), X, X], [], 1),
}
GRID = {
    # name: (type, bottom shapes, params, tops)
    "sum": ("Eltwise", [(2, 3, 4, 4)] * 2, "", 1),
    "sum-3": ("Eltwise", [(2, 3, 4, 4)] * 3, "eltwise_param { operation: SUM }", 1),
    "sum-coeff": ("Eltwise", [(2, 3, 4, 4)] * 3, "eltwise_param { coeff: 0.5 coeff: -2 coeff: 3 }", 1),
    "sum-coeff-ones": ("Eltwise", [(2, 3)] * 2, "eltwise_param { coeff: 1 coeff: 1 }", 1),
    "prod": ("Eltwise", [(2, 3, 4, 4)] * 3, "eltwise_param { operation: PROD }", 1),
    "max": ("Eltwise", [(2, 3, 4, 4)] * 3, "eltwise_param { operation: MAX }", 1),
    "axpy-nc11": ("Axpy", [(2, 3, 1, 1), (2, 3, 4, 5), (2, 3, 4, 5)], "", 1),
    "axpy-nc": ("Axpy", [(2, 3), (2, 3, 4, 5), (2, 3, 4, 5)], "", 1),
    "eltwise-prod-2": ("Eltwise", [(2, 3, 5, 4)] * 2, "eltwise_param { operation: PROD }", 1),
    "eltwise-max-4": ("Eltwise", [(2, 3, 5, 4)] * 4, "eltwise_param { operation: MAX }", 1),
}


test_eltwise_vs_oracle = lowering_grid_test(GRID)


test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
