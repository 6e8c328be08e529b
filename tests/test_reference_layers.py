"""The numpy reference, layer by layer: hand-worked cases whose expected arrays are written out (they
pin the oracle to Caffe's semantics), grids against naive loops, the registry and `run`.
"""
from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format

from senet_convert import reference
from senet_convert.caffe import caffe_pb2
from senet_convert.errors import ConvertError
from senet_convert.graph import Layer, Net
from senet_convert.reference import KERNELS, SUPPORTED_TYPES, registry

REPO = Path(__file__).resolve().parents[1]
FLT_MAX = float(np.finfo(np.float32).max)
EPS32 = float(np.float32(1e-5))  # Caffe's default eps as the float32 it is


def make_layer(type_: str, params: str = "", *, bottoms: int = 1, tops: int = 1, blobs=()) -> Layer:
    param = text_format.Parse(params, caffe_pb2.LayerParameter())
    param.name, param.type = f"test/{type_}", type_
    return Layer(
        name=param.name,
        type=type_,
        bottoms=tuple(f"in{i}" for i in range(bottoms)),
        tops=tuple(f"out{i}" for i in range(tops)),
        param=param,
        blobs=[np.asarray(b, dtype=np.float32) for b in blobs],
    )


def forward(type_: str, params: str, *inputs, blobs=(), tops: int = 1, dtype=np.float64) -> list[np.ndarray]:
    layer = make_layer(type_, params, bottoms=len(inputs), tops=tops, blobs=blobs)
    return KERNELS[type_](layer, [np.asarray(x, dtype=dtype) for x in inputs])


def forward1(type_: str, params: str, *inputs, **kwargs) -> np.ndarray:
    (out,) = forward(type_, params, *inputs, **kwargs)
    return out


# ---- Pooling ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, kernel, stride, pad, round_mode, expected",
    [
        (112, 3, 2, 0, "CEIL", 56),  # SENet's pool1: floor would give 55
        (112, 3, 2, 0, "FLOOR", 55),
        (56, 3, 2, 0, "CEIL", 28),
        (28, 3, 2, 0, "CEIL", 14),
        (14, 3, 2, 0, "CEIL", 7),
        (14, 3, 2, 0, "FLOOR", 6),
        (13, 3, 2, 0, "CEIL", 6),  # exact fit: both modes agree
        (13, 3, 2, 0, "FLOOR", 6),
        (6, 3, 2, 1, "CEIL", 4),
        (6, 3, 2, 1, "FLOOR", 3),
        (5, 2, 2, 1, "CEIL", 3),  # ceil gives 4, but window 4 would start at 6 >= 5 + 1: clipped
        (7, 3, 1, 1, "CEIL", 7),
        (7, 7, 1, 0, "CEIL", 1),
    ],
    ids=lambda v: str(v),
)
def test_pooling_output_size(size, kernel, stride, pad, round_mode, expected):
    x = np.zeros((1, 1, size, size))
    for pool in ("MAX", "AVE"):
        params = f"pooling_param {{ pool: {pool} kernel_size: {kernel} stride: {stride} pad: {pad} "
        params += f"round_mode: {round_mode} }}"
        assert forward1("Pooling", params, x).shape == (1, 1, expected, expected)


def test_pooling_rectangular_params():
    x = np.zeros((1, 1, 9, 12))
    params = "pooling_param { pool: MAX kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0 }"
    # rows: ceil((9 + 2 - 3) / 2) + 1 = 5; cols: ceil((12 - 2) / 3) + 1 = 5 (pad_h > 0, so the
    # clipping rule runs on both axes: (5 - 1) * 3 = 12 >= 12 + 0 removes the last column)
    assert forward1("Pooling", params, x).shape == (1, 1, 5, 4)


X6 = np.arange(36, dtype=np.float64).reshape(1, 1, 6, 6)  # X6[r, c] = 6r + c


def test_max_pool_6x6_k3_s2_ceil():
    # windows start at 0, 2, 4; the last one is clipped to rows/cols 4..5
    expected = [[14, 16, 17], [26, 28, 29], [32, 34, 35]]
    out = forward1("Pooling", "pooling_param { pool: MAX kernel_size: 3 stride: 2 }", X6)
    np.testing.assert_array_equal(out[0, 0], expected)


def test_ave_pool_6x6_k3_s2_ceil():
    # the last window holds 2 rows (cols) and is divided by 2, not 3: mean row 1, 3, 4.5
    expected = [[7, 9, 10.5], [19, 21, 22.5], [28, 30, 31.5]]
    out = forward1("Pooling", "pooling_param { pool: AVE kernel_size: 3 stride: 2 }", X6)
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-15)


def test_ave_pool_divisor_counts_padding_not_overhang():
    # 4x4 ones, k3 s2 p1: windows [-1,2) [1,4) [3,6) clipped to the padded extent [-1,5): sizes 3, 3, 2;
    # of which inside the image 2, 3, 1 values.
    out = forward1("Pooling", "pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }", np.ones((1, 1, 4, 4)))
    expected = [
        [4 / 9, 6 / 9, 2 / 6],
        [6 / 9, 9 / 9, 3 / 6],
        [2 / 6, 3 / 6, 1 / 4],
    ]
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-15)


def test_ave_pool_3x3_s1_p1_border():
    # SE-BN-Inception's inception_*/pool: corners 4/9, edges 6/9
    out = forward1("Pooling", "pooling_param { pool: AVE kernel_size: 3 stride: 1 pad: 1 }", np.ones((1, 1, 3, 3)))
    expected = [[4 / 9, 6 / 9, 4 / 9], [6 / 9, 1, 6 / 9], [4 / 9, 6 / 9, 4 / 9]]
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-15)


def test_max_pool_ignores_padding():
    x = -np.arange(1, 17, dtype=np.float64).reshape(1, 1, 4, 4)  # all negative: a padded 0 would win
    out = forward1("Pooling", "pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }", x)
    expected = [[-1, -2, -4], [-5, -6, -8], [-13, -14, -16]]
    np.testing.assert_array_equal(out[0, 0], expected)


def test_pool_window_past_the_input():
    # Caffe quirk: stride > kernel without padding lets a window start past the input. MAX keeps its
    # initial -FLT_MAX; AVE divides an empty sum by (min(6 + 1, 5) - 6) = -1.
    x = np.array([[[[1.0, 2, 3, 4, 5]]]])
    params = "pooling_param {{ pool: {} kernel_h: 1 kernel_w: 1 stride: 3 }}"
    np.testing.assert_array_equal(forward1("Pooling", params.format("MAX"), x)[0, 0], [[1, 4, -FLT_MAX]])
    ave = forward1("Pooling", params.format("AVE"), x)[0, 0]
    np.testing.assert_array_equal(ave, [[1, 4, 0]])
    assert np.signbit(ave[0, 2])


def test_max_pool_skips_nan_like_caffe():
    x = np.array([[[[np.nan, 1.0], [np.nan, np.nan]]]])
    out = forward1("Pooling", "pooling_param { pool: MAX kernel_size: 2 }", x)
    np.testing.assert_array_equal(out, [[[[1.0]]]])


def test_global_ave_pooling():
    x = np.arange(2 * 3 * 5 * 4, dtype=np.float64).reshape(2, 3, 5, 4)
    out = forward1("Pooling", "pooling_param { pool: AVE global_pooling: true }", x)
    np.testing.assert_allclose(out, x.mean(axis=(2, 3), keepdims=True), rtol=1e-15)
    out = forward1("Pooling", "pooling_param { pool: MAX global_pooling: true }", x)
    np.testing.assert_array_equal(out, x.max(axis=(2, 3), keepdims=True))


@pytest.mark.parametrize(
    "params, message",
    [
        ("pooling_param { pool: STOCHASTIC kernel_size: 2 }", "STOCHASTIC"),
        ("pooling_param { global_pooling: true kernel_size: 2 }", "kernel size cannot"),
        ("pooling_param { global_pooling: true stride: 2 }", "only pad 0 and stride 1"),
        ("pooling_param { kernel_size: 2 pad: 2 }", "smaller than kernel"),
        ("pooling_param { kernel_h: 2 }", "together"),
        ("pooling_param { kernel_size: 2 kernel_h: 2 kernel_w: 2 }", "not both"),
        ("pooling_param { pad: 1 }", "kernel_size"),
    ],
    ids=["stochastic", "global+kernel", "global+stride", "pad>=kernel", "kernel_h-alone", "both-forms", "no-kernel"],
)
def test_pooling_refuses(params, message):
    with pytest.raises(ConvertError, match=message):
        forward("Pooling", params, np.zeros((1, 1, 4, 4)))


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


# ---- BatchNorm -------------------------------------------------------------------------


def test_batchnorm_scale_factor():
    # mean (1, 2) and var (4, 1) stored times s = 2.5
    x = np.array([[3.0, 2.0], [-1.0, 4.0]]).reshape(2, 2, 1, 1)
    out = forward1("BatchNorm", "", x, blobs=[[2.5, 5.0], [10.0, 2.5], [2.5]])
    expected = [
        [(3 - 1) / np.sqrt(4 + EPS32), (2 - 2) / np.sqrt(1 + EPS32)],
        [(-1 - 1) / np.sqrt(4 + EPS32), (4 - 2) / np.sqrt(1 + EPS32)],
    ]
    # float32(1) / float32(2.5) is 0.4000000059604645: the means come out as 1.0000000149, 2.0000000298
    np.testing.assert_allclose(out.reshape(2, 2), expected, rtol=1e-7, atol=1e-7)


def test_batchnorm_reciprocal_is_float32():
    x = np.array([1.0]).reshape(1, 1)
    out = forward1("BatchNorm", "batch_norm_param { eps: 0.001 }", x, blobs=[[3.0], [6.0], [3.0]])
    sf = 0.3333333432674408  # float32(1) / float32(3), not 1/3
    eps = 0.0010000000474974513  # float32(0.001)
    np.testing.assert_allclose(out, [[(1 - 3 * sf) / np.sqrt(6 * sf + eps)]], rtol=1e-15)


def test_batchnorm_zero_scale_factor():
    # s == 0: mean and var count as 0, so top = x / sqrt(eps)
    x = np.array([[1.0, -2.0]]).reshape(1, 2, 1, 1)
    out = forward1("BatchNorm", "", x, blobs=[[5.0, 5.0], [7.0, 7.0], [0.0]])
    np.testing.assert_allclose(out.ravel(), [1 / np.sqrt(EPS32), -2 / np.sqrt(EPS32)], rtol=1e-15)


def test_batchnorm_batch_statistics_when_not_global():
    x = np.array([[1.0, 3.0], [5.0, 7.0]]).reshape(2, 1, 2)  # channel values 1, 3, 5, 7: mean 4, var 5
    out = forward1("BatchNorm", "batch_norm_param { use_global_stats: false }", x, blobs=[[0.0], [1.0], [1.0]])
    np.testing.assert_allclose(out.ravel(), np.array([-3, -1, 1, 3]) / np.sqrt(5 + EPS32), rtol=1e-15)


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
    out = forward1("Scale", "scale_param { axis: 2 }", x, blobs=[np.float32(3.0).reshape(())])  # 0-axis: axis 0
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


# ---- InnerProduct ----------------------------------------------------------------------


def test_inner_product_transpose():
    x = np.array([[1.0, 2.0, 3.0]])
    w_kn = [[1, 0], [0, 1], [1, 1]]  # transpose: stored K x N
    params = "inner_product_param { num_output: 2 transpose: true }"
    out = forward1("InnerProduct", params, x, blobs=[w_kn, [0.5, -0.5]])
    np.testing.assert_array_equal(out, [[4.5, 4.5]])
    out = forward1("InnerProduct", "inner_product_param { num_output: 2 }", x, blobs=[np.transpose(w_kn), [0.5, -0.5]])
    np.testing.assert_array_equal(out, [[4.5, 4.5]])


def test_inner_product_axis_and_flattening():
    x = np.arange(12, dtype=np.float64).reshape(2, 3, 2, 1)
    w = np.ones((1, 2), dtype=np.float32)
    out = forward1("InnerProduct", "inner_product_param { num_output: 1 axis: 2 bias_term: false }", x, blobs=[w])
    np.testing.assert_array_equal(out, x.sum(axis=(2, 3)).reshape(2, 3, 1))
    w = np.ones((4, 6), dtype=np.float32)
    params = "inner_product_param { num_output: 4 bias_term: false }"
    assert forward1("InnerProduct", params, x, blobs=[w]).shape == (2, 4)


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


# ---- tensor layers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, in_shape, out_shape",
    [
        ("reshape_param { shape { dim: 0 dim: -1 dim: 5 } }", (2, 3, 4, 5), (2, 12, 5)),
        ("reshape_param { shape { dim: 0 dim: 0 } }", (2, 3, 1, 1), (2, 3)),  # SE-BN-Inception's gate reshape
        ("reshape_param { shape { dim: -1 } axis: 1 num_axes: 2 }", (2, 3, 4, 5), (2, 12, 5)),
        ("reshape_param { shape { dim: 1 } axis: -1 num_axes: 0 }", (2, 3, 4, 5), (2, 3, 4, 5, 1)),
        ("reshape_param { shape { dim: 0 dim: 2 dim: -1 } axis: 1 }", (2, 4, 6, 5), (2, 4, 2, 15)),
        ("reshape_param { shape { dim: -1 dim: 6 } }", (2, 3, 4, 5), (20, 6)),
    ],
    ids=["0,-1,5", "0,0", "axis1-num_axes2", "axis-1-num_axes0", "axis1-copy", "-1,6"],
)
def test_reshape(params, in_shape, out_shape):
    x = np.arange(np.prod(in_shape), dtype=np.float64).reshape(in_shape)
    out = forward1("Reshape", params, x)
    assert out.shape == out_shape
    np.testing.assert_array_equal(out.ravel(), x.ravel())


@pytest.mark.parametrize(
    "params, message",
    [
        ("reshape_param { shape { dim: -1 dim: -1 } }", "at most one"),
        ("reshape_param { shape { dim: 7 dim: -1 } }", "cannot infer"),
        ("reshape_param { shape { dim: 5 dim: 5 } }", "cannot reshape"),
        ("reshape_param { shape { dim: 0 } axis: 4 }", "no axis 4"),
        ("reshape_param { shape { dim: 1 } axis: 1 num_axes: 4 }", "exceeds"),
    ],
    ids=["two-inferred", "indivisible", "count", "copy-past-end", "num_axes"],
)
def test_reshape_refuses(params, message):
    with pytest.raises(ConvertError, match=message):
        forward("Reshape", params, np.zeros((2, 3, 4, 5)))


@pytest.mark.parametrize(
    "params, out_shape",
    [
        ("", (2, 60)),
        ("flatten_param { axis: 2 }", (2, 3, 20)),
        ("flatten_param { axis: 1 end_axis: 2 }", (2, 12, 5)),
        ("flatten_param { axis: 0 end_axis: -3 }", (6, 4, 5)),
    ],
    ids=["default", "axis2", "axis1-end2", "axis0-end-3"],
)
def test_flatten(params, out_shape):
    x = np.arange(120, dtype=np.float64).reshape(2, 3, 4, 5)
    out = forward1("Flatten", params, x)
    assert out.shape == out_shape
    np.testing.assert_array_equal(out.ravel(), x.ravel())


def test_concat_axes():
    a, b = np.zeros((1, 2, 2)), np.ones((1, 1, 2))
    np.testing.assert_array_equal(forward1("Concat", "", a, b)[0], [[0, 0], [0, 0], [1, 1]])
    np.testing.assert_array_equal(forward1("Concat", "concat_param { axis: -2 }", a, b)[0], [[0, 0], [0, 0], [1, 1]])
    np.testing.assert_array_equal(forward1("Concat", "concat_param { concat_dim: 0 }", a, a).shape, (2, 2, 2))
    np.testing.assert_array_equal(forward1("Concat", "concat_param { axis: 2 }", a, a).shape, (1, 2, 4))
    with pytest.raises(ConvertError, match="not both"):
        forward("Concat", "concat_param { axis: 1 concat_dim: 1 }", a, b)
    with pytest.raises(ConvertError, match="does not fit"):
        forward("Concat", "concat_param { axis: 2 }", a, b)


def test_split_copies_and_dropout_is_identity():
    x = np.array([1.0, 2.0])
    outs = forward("Split", "", x, tops=3)
    assert len(outs) == 3 and all(o is not x for o in outs)
    for o in outs:
        np.testing.assert_array_equal(o, x)
    np.testing.assert_array_equal(forward1("Dropout", "dropout_param { dropout_ratio: 0.7 }", x), x)


def test_softmax():
    out = forward1("Softmax", "", np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1000.0]]))
    expected = [[0.09003057317038046, 0.24472847105479764, 0.6652409557748219], [1 / 3, 1 / 3, 1 / 3]]
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    x = np.array([[[0.0, np.log(3.0)]]])
    np.testing.assert_allclose(forward1("Softmax", "softmax_param { axis: -1 }", x), [[[0.25, 0.75]]], rtol=1e-15)
    np.testing.assert_array_equal(forward1("Softmax", "", x), [[[1.0, 1.0]]])  # axis 1 has one element


# ---- every registered type -------------------------------------------------------------

# One small case per registered type: (params, input shapes, blob shapes, number of tops)
X = (2, 3, 4, 4)
CASES = {
    "Axpy": ("", [(2, 3, 1, 1), X, X], [], 1),
    "BatchNorm": ("", [X], [(3,), (3,), (1,)], 1),
    "Bias": ("", [X], [(3,)], 1),
    "Concat": ("", [X, (2, 2, 4, 4)], [], 1),
    "Convolution": ("convolution_param { num_output: 4 kernel_size: 3 pad: 1 }", [X], [(4, 3, 3, 3), (4,)], 1),
    "Dropout": ("", [X], [], 1),
    "Eltwise": ("eltwise_param { coeff: 1 coeff: -0.5 }", [X, X], [], 1),
    "Flatten": ("", [X], [], 1),
    "InnerProduct": ("inner_product_param { num_output: 5 }", [X], [(5, 48), (5,)], 1),
    "Pooling": ("pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }", [(2, 3, 5, 5)], [], 1),
    "ReLU": ("relu_param { negative_slope: 0.1 }", [X], [], 1),
    "Reshape": ("reshape_param { shape { dim: 0 dim: -1 } }", [X], [], 1),
    "Scale": ("scale_param { bias_term: true }", [X], [(3,), (3,)], 1),
    "Sigmoid": ("", [X], [], 1),
    "Softmax": ("", [X], [], 1),
    "Split": ("", [X], [], 2),
    "TanH": ("", [X], [], 1),
    "AbsVal": ("", [X], [], 1),
    "ArgMax": ("argmax_param { top_k: 2 out_max_val: true }", [X], [], 1),
    "BNLL": ("", [X], [], 1),
    "Clip": ("clip_param { min: -0.5 max: 0.5 }", [X], [], 1),
    "Crop": ("crop_param { offset: 1 }", [X, (2, 3, 2, 3)], [], 1),
    "Deconvolution": ("convolution_param { num_output: 4 kernel_size: 3 stride: 2 }", [X], [(3, 4, 3, 3), (4,)], 1),
    "ELU": ("", [X], [], 1),
    "Embed": ("embed_param { num_output: 3 input_dim: 10 }", [(2, 3)], [(10, 3), (3,)], 1),
    "Exp": ("exp_param { scale: 0.5 }", [X], [], 1),
    "Log": ("log_param { shift: 10 }", [X], [], 1),
    "MVN": ("", [X], [], 1),
    "LRN": ("lrn_param { local_size: 3 alpha: 0.5 }", [X], [], 1),
    "PReLU": ("", [X], [(3,)], 1),
    "Parameter": ("parameter_param { shape { dim: 2 dim: 3 } }", [], [(2, 3)], 1),
    "Power": ("power_param { power: 2 shift: 1 }", [X], [], 1),
    "Reduction": ("reduction_param { axis: 1 operation: SUMSQ }", [X], [], 1),
    "SPP": ("spp_param { pyramid_height: 2 }", [X], [], 1),
    "Slice": ("slice_param { slice_point: 1 }", [X], [], 2),
    "Swish": ("", [X], [], 1),
    "Threshold": ("", [X], [], 1),
    "Tile": ("tile_param { tiles: 2 }", [X], [], 1),
}


def test_every_registered_type_has_a_case():
    assert sorted(CASES) == list(SUPPORTED_TYPES)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("type_", sorted(CASES))
def test_kernel_keeps_dtype_and_inputs(type_, dtype):
    params, in_shapes, blob_shapes, tops = CASES[type_]
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(s).astype(dtype) for s in in_shapes]
    if type_ == "Embed":  # indices into the table
        inputs = [rng.integers(0, 10, s).astype(dtype) for s in in_shapes]
    before = [x.copy() for x in inputs]
    blobs = [rng.uniform(0.5, 1.5, s).astype(np.float32) for s in blob_shapes]
    layer = make_layer(type_, params, bottoms=len(inputs), tops=tops, blobs=blobs)
    outs = KERNELS[type_](layer, inputs)
    if not inputs:  # no bottom to take the dtype from (Parameter): run() gives the top the working dtype
        net = Net(name="one", inputs={}, layers=[layer], outputs=list(layer.tops), shapes={}, blob_of={}, final={})
        outs = list(reference.run(net, {}, dtype=dtype).values())
    assert len(outs) == tops
    assert all(o.dtype == dtype for o in outs)
    assert all(np.isfinite(o).all() for o in outs)
    for x, b in zip(inputs, before):
        np.testing.assert_array_equal(x, b)  # kernels never write to their inputs
    if dtype == np.float32:  # float32 stays within float32 noise of float64
        ref = KERNELS[type_](layer, [x.astype(np.float64) for x in inputs])
        for o, r in zip(outs, ref):
            np.testing.assert_allclose(o, r, rtol=1e-5, atol=1e-5 * np.abs(r).max())


# ---- the registry ----------------------------------------------------------------------


def test_registering_twice_raises():
    with pytest.raises(ValueError, match="'ReLU' registered twice"):
        registry.register("ReLU")(lambda layer, inputs: inputs)
    assert KERNELS["ReLU"].__module__.endswith("reference.activation")


def test_unknown_type_names_layer_type_and_supported():
    layer = make_layer("Interp")  # a Caffe fork's type
    layer.line = 42
    with pytest.raises(ConvertError) as info:
        registry.kernel_for(layer)
    message = str(info.value)
    assert "layer 'test/Interp' (Interp) at line 42" in message
    assert "'Interp'" in message and "BatchNorm" in message and "Axpy" in message


# ---- run ---------------------------------------------------------------------------------


def tiny_net() -> Net:
    """data -> conv -> relu (in place) -> pool -> prob (Softmax); conv also feeds an Eltwise."""
    rng = np.random.default_rng(1)
    conv_params = "convolution_param { num_output: 2 kernel_size: 3 pad: 1 }"
    conv = make_layer("Convolution", conv_params, blobs=[rng.standard_normal((2, 1, 3, 3)), [0.1, -0.1]])
    relu = make_layer("ReLU")
    pool = make_layer("Pooling", "pooling_param { pool: MAX kernel_size: 2 stride: 2 }")
    prob = make_layer("Softmax")
    add = make_layer("Eltwise", bottoms=2)
    wiring = [
        (conv, ("data",), ("conv",)),
        (relu, ("conv",), ("conv@relu",)),
        (pool, ("conv@relu",), ("pool",)),
        (prob, ("pool",), ("prob",)),
        (add, ("conv", "conv@relu"), ("sum",)),
    ]
    for layer, bottoms, tops in wiring:
        layer.bottoms, layer.tops = bottoms, tops
    return Net(
        name="tiny",
        inputs={"data": (2, 1, 4, 4)},
        layers=[w[0] for w in wiring],
        outputs=["prob", "sum"],
        shapes={},
        blob_of={},
        final={},
    )


def test_run_outputs_and_intermediates():
    net = tiny_net()
    x = np.random.default_rng(2).standard_normal((2, 1, 4, 4)).astype(np.float32)
    out = reference.run(net, {"data": x})
    assert sorted(out) == ["prob", "sum"]
    assert out["prob"].shape == (2, 2, 2, 2) and out["prob"].dtype == np.float64
    every = reference.run(net, {"data": x}, intermediate=True)
    assert sorted(every) == ["conv", "conv@relu", "data", "pool", "prob", "sum"]
    np.testing.assert_array_equal(every["conv@relu"], np.maximum(every["conv"], 0))
    np.testing.assert_array_equal(every["sum"], every["conv"] + every["conv@relu"])
    np.testing.assert_array_equal(every["prob"], out["prob"])
    only = reference.run(net, {"data": x}, outputs=["conv", "pool"])
    assert sorted(only) == ["conv", "pool"]
    f32 = reference.run(net, {"data": x}, dtype=np.float32)
    assert f32["prob"].dtype == np.float32
    np.testing.assert_allclose(f32["prob"], out["prob"], rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"inputs": {}}, ConvertError, "missing: \\['data'\\]"),
        ({"inputs": {"data": 0, "label": 0}}, ConvertError, "unknown: \\['label'\\]"),
        ({"outputs": ["nope"]}, ConvertError, "no values named \\['nope'\\]"),
        ({"outputs": ["prob"], "intermediate": True}, TypeError, "not both"),
        ({"dtype": np.float16}, ValueError, "float32 or float64"),
    ],
    ids=["missing-input", "unknown-input", "unknown-output", "intermediate+outputs", "float16"],
)
def test_run_refuses(kwargs, error, message):
    kwargs = {"inputs": {"data": np.zeros((2, 1, 4, 4))}, **kwargs}
    with pytest.raises(error, match=message):
        reference.run(tiny_net(), **kwargs)


def test_run_reports_undefined_values():
    net = tiny_net()
    net.layers[2].bottoms = ("ghost",)
    with pytest.raises(ConvertError, match="reads 'ghost'"):
        reference.run(net, {"data": np.zeros((2, 1, 4, 4))})


def test_run_tiny_senet_fixture():
    # the repo's seeded SE-ResNet-style net: every value has the loader's shape; float32 ~ float64
    from senet_convert.loader import load_net

    net = load_net(REPO / "fixtures" / "tiny-senet.prototxt", REPO / "fixtures" / "tiny-senet.caffemodel")
    assert {"Axpy", "Sigmoid", "Pooling", "InnerProduct", "Softmax"} <= {layer.type for layer in net.layers}
    x = {name: np.random.default_rng(0).uniform(-4, 4, shape) for name, shape in net.inputs.items()}
    values = reference.run(net, x, intermediate=True)
    assert {name: value.shape for name, value in values.items()} == net.shapes
    f32 = reference.run(net, x, dtype=np.float32)
    for name in net.outputs:
        np.testing.assert_allclose(f32[name], values[name], rtol=0, atol=1e-5 * np.abs(values[name]).max())


def test_reference_never_imports_torch():
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from google.protobuf import text_format
        from senet_convert import reference
        from senet_convert.caffe import caffe_pb2
        from senet_convert.graph import Layer, Net

        param = text_format.Parse('relu_param { negative_slope: 0.5 }', caffe_pb2.LayerParameter(name='r', type='ReLU'))
        layer = Layer(name='r', type='ReLU', bottoms=('x',), tops=('y',), param=param)
        net = Net(name='t', inputs={'x': (2,)}, layers=[layer], outputs=['y'], shapes={}, blob_of={}, final={})
        assert reference.run(net, {'x': np.array([-2.0, 2.0])})['y'].tolist() == [-1.0, 2.0]
        loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))
        assert not loaded, loaded
        """
    )
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
