"""Deconvolution, read as Convolution's parameters: hand-worked cases in the oracle and the lowering, the
lowering against the oracle, what the loader refuses, and the kernel contract."""
from __future__ import annotations

from helpers import X, assert_both, family_tests, loader_refusal_test, lowering_grid_test


def test_deconvolution_stride_pad_bias():
    # weight [1, 10, 100] placed at 2*i: x0 = 1 writes [1, 10, 100, 0, 0], x1 = 2 writes [0, 0, 2, 20, 200]
    x, w = [[[1, 2]]], [[[1, 10, 100]]]
    assert_both("Deconvolution", "convolution_param { num_output: 1 kernel_size: 3 stride: 2 bias_term: false }", x, blobs=[w], expected=[[[1, 10, 102, 20, 200]]])
    assert_both("Deconvolution", "convolution_param { num_output: 1 kernel_size: 3 stride: 2 pad: 1 }", x, blobs=[w, [0.5]], expected=[[[10.5, 102.5, 20.5]]])


def test_deconvolution_dilation_and_group():
    # dilation 2: taps at 0 and 2 of each input position: [1, 0, 10, 0] + [0, 2, 0, 20]
    assert_both("Deconvolution", "convolution_param { num_output: 1 kernel_size: 2 dilation: 2 bias_term: false }", [[[1, 2]]], blobs=[[[[1, 10]]]], expected=[[[1, 2, 10, 20]]])
    # group 2, weight (C=2, 1, 1, 1): each channel scaled by its own weight
    params = "convolution_param { num_output: 2 kernel_size: 1 group: 2 bias_term: false }"
    assert_both("Deconvolution", params, [[[[1]], [[2]]]], blobs=[[[[[3]]], [[[4]]]]], expected=[[[[3]], [[8]]]])


GRID = {
    # name: (type, bottom shapes, params, tops)
    "deconv-k4s2p1": ("Deconvolution", [(2, 3, 5, 4)], "convolution_param { num_output: 4 kernel_size: 4 stride: 2 pad: 1 }", 1),
    "deconv-group-no-bias": ("Deconvolution", [(2, 4, 3, 3)], "convolution_param { num_output: 6 kernel_size: 3 group: 2 bias_term: false }", 1),
    "deconv-dilated-hw": ("Deconvolution", [(1, 2, 4, 5)], "convolution_param { num_output: 3 kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0 dilation: 2 }", 1),
    "deconv-1d": ("Deconvolution", [(2, 3, 6)], "convolution_param { num_output: 2 kernel_size: 3 stride: 3 }", 1),
    "deconv-depthwise-upsample": ("Deconvolution", [(1, 4, 3, 3)], "convolution_param { num_output: 4 kernel_size: 4 stride: 2 pad: 1 group: 4 bias_term: false }", 1),
}

test_deconv_vs_oracle = lowering_grid_test(GRID)

REFUSALS = {
    # name: (type, bottom shapes, params, tops, message)
    "deconv-pad": ("Deconvolution", [(2, 3, 5, 4)], "convolution_param { num_output: 2 kernel_size: 1 pad: 3 }", 1, "leaves no output"),
}

test_loader_refuses = loader_refusal_test(REFUSALS)

FAMILY = "deconv"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "Deconvolution": ("convolution_param { num_output: 4 kernel_size: 3 stride: 2 }", [X], [(3, 4, 3, 3), (4,)], 1),
}

test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
