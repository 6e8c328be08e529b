"""Scale and Bias: one or two bottoms, axis and num_axes; the lowering against the oracle."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import X, assert_matches_oracle, family_tests, forward, forward1, grid, layer_net, one

from senet_convert.errors import ConvertError

# ---- Scale and Bias --------------------------------------------------------------------


def test_scale_two_bottoms_axis_0():
    # SE-BN-Inception: x (N, C, H, W) times the SE gate (N, C), one factor per (n, c) plane
    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 8]).reshape(2, 2, 1, 2)
    gate = np.array([[10.0, 100.0], [-1.0, 0.5]])
    out = forward1("Scale", "scale_param { axis: 0 }", x, gate)
    np.testing.assert_array_equal(out, np.array([10.0, 20, 300, 400, -5, -6, 3.5, 4]).reshape(2, 2, 1, 2))


def test_scale_learned_gamma_beta():
    x = np.array([1.0, 2, 3, 4]).reshape(1, 2, 2)
    out = forward1("Scale", "scale_param { bias_term: true }", x, blobs=[[2.0, -1.0], [0.5, 10.0]])
    np.testing.assert_array_equal(out, np.array([2.5, 4.5, 7.0, 6.0]).reshape(1, 2, 2))


def test_scale_multi_axis_negative_axis_and_scalar():
    x = np.arange(12, dtype=np.float64).reshape(1, 2, 3, 2)
    gamma = np.arange(6, dtype=np.float32).reshape(2, 3)  # spans axes 1 and 2, broadcast over the last
    out = forward1("Scale", "scale_param { axis: -3 num_axes: 2 }", x, blobs=[gamma])
    np.testing.assert_array_equal(out, x * gamma.reshape(1, 2, 3, 1))
    # a 0-axis factor (Caffe allocates one for num_axes 0): axis is then ignored
    out = forward1("Scale", "scale_param { axis: 2 num_axes: 0 }", x, blobs=[np.float32(3.0).reshape(())])
    np.testing.assert_array_equal(out, 3 * x)


def test_scale_shape_mismatch():
    with pytest.raises(ConvertError, match="does not match"):
        forward("Scale", "scale_param { axis: 0 }", np.zeros((2, 3, 4, 4)), np.zeros((3, 2)))


def test_bias_layer():
    x = np.zeros((2, 3, 1, 1))
    out = forward1("Bias", "", x, blobs=[[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(out.reshape(2, 3), [[1, 2, 3], [1, 2, 3]])
    out = forward1("Bias", "bias_param { axis: 0 num_axes: 2 }", x, np.array([[1.0, 2, 3], [4, 5, 6]]))
    np.testing.assert_array_equal(out.reshape(2, 3), [[1, 2, 3], [4, 5, 6]])


def test_two_bottom_scale_axis_0_is_se_bn_inception_gate():
    x = np.arange(8, dtype=np.float32).reshape(2, 2, 1, 2)
    s = np.array([[1, 2], [-1, 0.5]], dtype=np.float32)
    out = one("Scale", "scale_param { axis: 0 }", x, s)
    np.testing.assert_array_equal(out, [[[[0, 1]], [[4, 6]]], [[[-4, -5]], [[3, 3.5]]]])



SCALE = {
    # name: (type, bottom shapes, params)
    "scale-c": ("Scale", [(2, 4, 3, 3)], ""),
    "scale-c-bias": ("Scale", [(2, 4, 3, 3)], "scale_param { bias_term: true }"),
    "scale-axis1-num_axes2": ("Scale", [(2, 4, 3, 5)], "scale_param { num_axes: 2 bias_term: true }"),
    "scale-axis0-to-end": ("Scale", [(2, 4, 3)], "scale_param { axis: 0 num_axes: -1 }"),
    "scale-scalar": ("Scale", [(2, 4, 3)], "scale_param { num_axes: 0 bias_term: true }"),
    "scale-axis-negative": ("Scale", [(2, 4, 3, 5)], "scale_param { axis: -2 }"),
    "scale-nc": ("Scale", [(3, 4)], "scale_param { bias_term: true }"),
    "scale-two-bottoms-axis0": ("Scale", [(2, 4, 3, 3), (2, 4)], "scale_param { axis: 0 }"),
    "scale-two-bottoms-axis1": ("Scale", [(2, 4, 3, 3), (4, 3)], ""),
    "scale-two-bottoms-bias": ("Scale", [(2, 4, 3, 3), (4,)], "scale_param { bias_term: true }"),
    "bias-c": ("Bias", [(2, 4, 3, 3)], ""),
    "bias-axis2": ("Bias", [(2, 4, 3, 3)], "bias_param { axis: 2 num_axes: 2 }"),
    "bias-two-bottoms": ("Bias", [(2, 4, 3, 3), (2, 4)], "bias_param { axis: 0 }"),
}


@pytest.mark.parametrize("type_, bottoms, params", grid(SCALE))
def test_scale_and_bias_vs_oracle(type_, bottoms, params):
    assert_matches_oracle(layer_net(type_, params, *bottoms))


# ---- every type of the family: the kernel contract, and the lowering against the oracle ----

FAMILY = "scale"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "Scale": ("scale_param { bias_term: true }", [X], [(3,), (3,)], 1),
    "Bias": ("", [X], [(3,)], 1),
}


test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
