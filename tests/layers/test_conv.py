"""Convolution: the oracle against naive loops and hand-worked cases, the lowering against the oracle."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import X, assert_matches_oracle, family_tests, forward, forward1, grid, layer_net

from senet_convert.errors import ConvertError

# ---- Convolution -----------------------------------------------------------------------


def naive_conv(x, w, b, stride, pad, dilation, group):
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh = (h + 2 * pad[0] - (dilation[0] * (kh - 1) + 1)) // stride[0] + 1
    ow = (wd + 2 * pad[1] - (dilation[1] * (kw - 1) + 1)) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    og = o // group
    for ni, oi, y, xx in itertools.product(range(n), range(o), range(oh), range(ow)):
        total = 0.0 if b is None else b[oi]
        g = oi // og
        for ci, i, j in itertools.product(range(cg), range(kh), range(kw)):
            r = y * stride[0] - pad[0] + i * dilation[0]
            s = xx * stride[1] - pad[1] + j * dilation[1]
            if 0 <= r < h and 0 <= s < wd:
                total += w[oi, ci, i, j] * x[ni, g * cg + ci, r, s]
        out[ni, oi, y, xx] = total
    return out


CONV_GRID = [
    # (in_ch, out, kernel, stride, pad, dilation, group, bias, hw)
    (3, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1, True, (6, 7)),
    (4, 6, (3, 3), (2, 2), (1, 1), (1, 1), 2, False, (7, 7)),
    (4, 4, (3, 3), (1, 1), (2, 2), (2, 2), 4, True, (6, 6)),  # depthwise, dilated
    (6, 3, (1, 1), (1, 1), (0, 0), (1, 1), 3, True, (5, 4)),
    (2, 2, (1, 1), (2, 2), (0, 0), (1, 1), 1, False, (5, 5)),  # strided projection shortcut
    (2, 3, (2, 3), (2, 1), (0, 1), (2, 1), 1, True, (7, 6)),
    (8, 8, (3, 3), (1, 2), (1, 0), (1, 3), 4, True, (5, 9)),
    (3, 2, (7, 7), (2, 2), (3, 3), (1, 1), 1, False, (9, 9)),
]


@pytest.mark.parametrize(
    "in_ch, out_ch, kernel, stride, pad, dilation, group, bias, hw",
    CONV_GRID,
    ids=[
        f"k{k[0]}x{k[1]}-s{s[0]}{s[1]}-p{p[0]}{p[1]}-d{d[0]}{d[1]}-g{g}" + ("-bias" if b else "")
        for _, _, k, s, p, d, g, b, _ in CONV_GRID
    ],
)
def test_convolution_matches_naive_loop(in_ch, out_ch, kernel, stride, pad, dilation, group, bias, hw):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, in_ch, *hw))
    w = rng.standard_normal((out_ch, in_ch // group, *kernel)).astype(np.float32)
    b = rng.standard_normal(out_ch).astype(np.float32) if bias else None
    params = (
        f"convolution_param {{ num_output: {out_ch} bias_term: {str(bias).lower()} group: {group} "
        f"kernel_h: {kernel[0]} kernel_w: {kernel[1]} stride_h: {stride[0]} stride_w: {stride[1]} "
        f"pad_h: {pad[0]} pad_w: {pad[1]} dilation: {dilation[0]} dilation: {dilation[1]} }}"
    )
    out = forward1("Convolution", params, x, blobs=[w] + ([b] if bias else []))
    b64 = None if b is None else b.astype(np.float64)
    expected = naive_conv(x, w.astype(np.float64), b64, stride, pad, dilation, group)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_convolution_repeated_fields_apply_to_every_axis():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 7, 8))
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    params = "convolution_param { num_output: 3 bias_term: false kernel_size: 3 stride: 2 pad: 1 }"
    single = forward1("Convolution", params, x, blobs=[w])
    per_axis = forward1(
        "Convolution",
        "convolution_param { num_output: 3 bias_term: false kernel_size: [3, 3] stride: [2, 2] pad: [1, 1] }",
        x, blobs=[w],
    )
    np.testing.assert_array_equal(single, per_axis)
    assert single.shape == (1, 3, 4, 4)


def test_convolution_1d_by_hand():
    # kernel [1, 0, -1], pad 1: out[i] = x[i-1] - x[i+1], zeros outside
    x = np.array([[[1.0, 2, 3, 4]]])
    params = "convolution_param { num_output: 1 kernel_size: 3 pad: 1 }"
    out = forward1("Convolution", params, x, blobs=[[[[1, 0, -1]]], [0.5]])
    np.testing.assert_array_equal(out, [[[-1.5, -1.5, -1.5, 3.5]]])


@pytest.mark.parametrize(
    "params, message",
    [
        ("convolution_param { num_output: 2 kernel_size: 3 axis: 2 }", "axis 2"),
        ("convolution_param { num_output: 2 kernel_size: 3 kernel_h: 3 kernel_w: 3 }", "not both"),
        ("convolution_param { num_output: 2 kernel_size: [3, 3, 3] }", "once per spatial axis"),
        ("convolution_param { num_output: 3 kernel_size: 1 group: 2 }", "multiple of group"),
        ("convolution_param { num_output: 2 }", "kernel_size"),
        ("convolution_param { num_output: 2 kernel_size: 9 }", "does not fit"),
    ],
    ids=["axis", "both-forms", "three-kernel-values", "group", "no-kernel", "too-big"],
)
def test_convolution_refuses(params, message):
    w = np.zeros((2, 2, 3, 3))
    with pytest.raises(ConvertError, match=message):
        forward("Convolution", params, np.zeros((1, 2, 5, 5)), blobs=[w, np.zeros(2)])


def test_convolution_checks_weight_shape():
    with pytest.raises(ConvertError, match=r"blob 0 has shape \(2, 2, 3, 3\), expected \(2, 2, 1, 1\)"):
        params = "convolution_param { num_output: 2 kernel_size: 1 }"
        forward("Convolution", params, np.zeros((1, 2, 5, 5)), blobs=[np.zeros((2, 2, 3, 3)), np.zeros(2)])


CONVOLUTION = {
    # name: (input shape, convolution_param body)
    "3x3-p1": ((2, 3, 9, 8), "num_output: 4 kernel_size: 3 pad: 1"),
    "7x7-s2-p3-stem": ((1, 3, 23, 23), "num_output: 8 kernel_size: 7 stride: 2 pad: 3"),
    "1x1-no-bias": ((2, 6, 5, 5), "num_output: 4 kernel_size: 1 bias_term: false"),
    "group2-s2": ((2, 4, 7, 7), "num_output: 6 kernel_size: 3 stride: 2 pad: 1 group: 2 bias_term: false"),
    "group32-resnext": ((1, 64, 6, 6), "num_output: 64 kernel_size: 3 pad: 1 group: 32"),
    "depthwise-dilated": ((2, 4, 9, 9), "num_output: 4 kernel_size: 3 pad: 2 dilation: 2 group: 4"),
    "dilation-hw": ((1, 2, 11, 12), "num_output: 3 kernel_size: 3 dilation: 2 dilation: 3"),
    "kernel_h_w": ((2, 3, 8, 9), "num_output: 4 kernel_h: 3 kernel_w: 1 pad_h: 1 pad_w: 0"),
    "stride_h_w": ((2, 3, 9, 9), "num_output: 2 kernel_size: 3 stride_h: 2 stride_w: 1"),
    "repeated-2-values": ((1, 3, 8, 10), "num_output: 2 kernel_size: 1 kernel_size: 3 stride: 1 stride: 2 pad: 0 pad: 1"),
    "conv1d": ((2, 3, 10), "num_output: 4 kernel_size: 3 stride: 2 pad: 1"),
    "conv3d": ((1, 2, 4, 5, 5), "num_output: 3 kernel_size: 3 pad: 1"),
}


@pytest.mark.parametrize("shape, params", grid(CONVOLUTION))
def test_convolution_vs_oracle(shape, params):
    assert_matches_oracle(layer_net("Convolution", f"convolution_param {{ {params} }}", shape))


# ---- every type of the family: the kernel contract, and the lowering against the oracle ----

FAMILY = "conv"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "Convolution": ("convolution_param { num_output: 4 kernel_size: 3 pad: 1 }", [X], [(4, 3, 3, 3), (4,)], 1),
}


test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
