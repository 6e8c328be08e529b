"""ReLU, Sigmoid, TanH: Caffe's forms; the lowering against the oracle."""
from __future__ import annotations

import numpy as np
from helpers import X, family_tests, forward1, lowering_grid_test

# ---- activations -----------------------------------------------------------------------


def test_relu_and_negative_slope():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(forward1("ReLU", "", x), [0, 0, 3])
    np.testing.assert_allclose(forward1("ReLU", "relu_param { negative_slope: 0.25 }", x), [-0.5, 0, 3], rtol=0)


def test_sigmoid_is_caffes_tanh_form():
    x = np.array([0.0, 2.0, -30.0])
    expected = [0.5, 0.5 * np.tanh(1.0) + 0.5, 0.5 * np.tanh(-15.0) + 0.5]
    out = forward1("Sigmoid", "", x)
    np.testing.assert_array_equal(out, expected)
    logistic = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(out[:2], logistic[:2], rtol=1e-15)
    # far out the tanh form cancels (0.5 - 0.4999...): it is not the logistic value there
    assert abs(out[2] / logistic[2] - 1) > 1e-5


def test_tanh():
    np.testing.assert_array_equal(forward1("TanH", "", np.array([0.0, 1.0])), [0.0, np.tanh(1.0)])




# ---- every type of the family: the kernel contract, and the lowering against the oracle ----

FAMILY = "activation"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "ReLU": ("relu_param { negative_slope: 0.1 }", [X], [], 1),
    "Sigmoid": ("", [X], [], 1),
    "TanH": ("", [X], [], 1),
}
GRID = {
    # name: (type, bottom shapes, params, tops)
    "relu": ("ReLU", [(2, 3, 4, 4)], "", 1),
    "leaky-relu": ("ReLU", [(2, 3, 4, 4)], "relu_param { negative_slope: 0.1 }", 1),
    "sigmoid": ("Sigmoid", [(2, 3, 4, 4)], "", 1),
    "tanh": ("TanH", [(2, 3, 4, 4)], "", 1),
}


test_activation_vs_oracle = lowering_grid_test(GRID)


test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
