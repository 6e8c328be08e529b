"""Pooling (MAX, AVE; ceil rounding and the clipped last window): hand-worked oracle cases, the lowering's, and both against each other."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import FLT_MAX, assert_matches_oracle, family_tests, forward, forward1, grid, layer_net, one

from senet_convert.errors import ConvertError

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


# ---- hand-worked cases ------------------------------------------------------------------

X4 = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)  # X4[r, c] = 4r + c


def test_max_pool_ceil_keeps_the_clipped_last_window():
    # 4x4, k3 s2: floor gives 1x1, Caffe's ceil 2x2; the last window holds rows (cols) 2..3 only
    np.testing.assert_array_equal(one("Pooling", "pooling_param { pool: MAX kernel_size: 3 stride: 2 }", X4)[0, 0], [[10, 11], [14, 15]])


def test_ave_pool_ceil_divides_by_the_clipped_window():
    # sums 45, 39, 66, 50 over windows of 9, 6, 6 and 4 values
    out = one("Pooling", "pooling_param { pool: AVE kernel_size: 3 stride: 2 }", X4)
    np.testing.assert_array_equal(out[0, 0], [[5, 6.5], [11, 12.5]])


def test_ave_pool_counts_padding_but_not_the_ceil_overhang():
    # 4x4 ones, k3 s2 p1 (torch ceil_mode + count_include_pad): windows [-1,2) [1,4) [3,6) are clipped
    # to [-1, 5): sizes 3, 3, 2, holding 2, 3, 1 input values
    out = one("Pooling", "pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }", np.ones((1, 1, 4, 4)))
    expected = [[4 / 9, 6 / 9, 2 / 6], [6 / 9, 1, 3 / 6], [2 / 6, 3 / 6, 1 / 4]]
    np.testing.assert_allclose(out[0, 0], expected, rtol=1e-7)


def test_ave_pool_3x3_s1_p1_counts_padding():
    out = one("Pooling", "pooling_param { pool: AVE kernel_size: 3 stride: 1 pad: 1 }", np.ones((1, 1, 3, 3)))
    np.testing.assert_allclose(out[0, 0], [[4 / 9, 6 / 9, 4 / 9], [6 / 9, 1, 6 / 9], [4 / 9, 6 / 9, 4 / 9]], rtol=1e-7)


def test_max_pool_padding_never_wins():
    out = one("Pooling", "pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }", -1 - X4)
    np.testing.assert_array_equal(out[0, 0], [[-1, -2, -4], [-5, -6, -8], [-13, -14, -16]])


def test_pool_pad_over_half_the_kernel():
    # pad 2 with kernel 3 is legal in Caffe, not in torch's pooling: padded explicitly.
    # 1x4 row [0 1 2 3], k1x3 s1x2 pad_w 2: windows [-2,1) [0,3) [2,5) -> 3 windows, divisors 3, 3, 3
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 1, 4)
    params = "pooling_param {{ pool: {} kernel_h: 1 kernel_w: 3 stride_h: 1 stride_w: 2 pad_h: 0 pad_w: 2 }}"
    np.testing.assert_array_equal(one("Pooling", params.format("MAX"), x)[0, 0], [[0, 2, 3]])
    np.testing.assert_allclose(one("Pooling", params.format("AVE"), x)[0, 0], [[0, 1, 5 / 3]], rtol=1e-7)


def test_pool_window_past_the_input_as_caffe_computes_it():
    # stride > kernel without padding: Caffe's ceil size keeps a window starting at 6 >= 5 that torch
    # drops. MAX leaves it at -FLT_MAX; AVE divides the empty sum by min(6 + 1, 5) - 6 = -1.
    x = np.array([[[[1.0, 2, 3, 4, 5]]]], dtype=np.float32)
    params = "pooling_param {{ pool: {} kernel_h: 1 kernel_w: 1 stride: 3 }}"
    np.testing.assert_array_equal(one("Pooling", params.format("MAX"), x)[0, 0], [[1, 4, -FLT_MAX]])
    ave = one("Pooling", params.format("AVE"), x)[0, 0]
    np.testing.assert_array_equal(ave, [[1, 4, 0]])
    assert np.signbit(ave[0, 2])



POOLING = {
    # name: (H, W, pooling_param body)
    "max-k3s2-ceil-112": (112, 112, "pool: MAX kernel_size: 3 stride: 2"),
    "max-k3s2-ceil-odd": (13, 15, "pool: MAX kernel_size: 3 stride: 2"),
    "ave-k3s2-ceil-odd": (14, 9, "pool: AVE kernel_size: 3 stride: 2"),
    "max-k3s2-floor": (14, 14, "pool: MAX kernel_size: 3 stride: 2 round_mode: FLOOR"),
    "ave-k3s2-floor": (14, 14, "pool: AVE kernel_size: 3 stride: 2 round_mode: FLOOR"),
    "max-k3s2p1": (8, 7, "pool: MAX kernel_size: 3 stride: 2 pad: 1"),
    "ave-k3s2p1-overhang": (8, 7, "pool: AVE kernel_size: 3 stride: 2 pad: 1"),
    "ave-k3s1p1-inception": (7, 7, "pool: AVE kernel_size: 3 stride: 1 pad: 1"),
    "max-k3s1p1": (7, 6, "pool: MAX kernel_size: 3 stride: 1 pad: 1"),
    "ave-k2s2p1-clipped": (5, 5, "pool: AVE kernel_size: 2 stride: 2 pad: 1"),
    "max-k2s2p1-clipped": (5, 6, "pool: MAX kernel_size: 2 stride: 2 pad: 1"),
    "ave-k7s1-pool5": (7, 7, "pool: AVE kernel_size: 7 stride: 1"),
    "ave-k5s3p2": (11, 10, "pool: AVE kernel_size: 5 stride: 3 pad: 2"),
    "ave-pad>k/2": (6, 7, "pool: AVE kernel_size: 3 stride: 2 pad: 2"),
    "max-pad>k/2": (6, 7, "pool: MAX kernel_size: 3 stride: 2 pad: 2"),
    "ave-hw-forms": (9, 11, "pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0"),
    "max-hw-forms": (9, 11, "pool: MAX kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0"),
    # pad_h > 0 makes Caffe clip the last column too, although pad_w is 0: (5 - 1) * 3 >= 12 + 0
    "ave-pad_h-clips-w": (9, 12, "pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0"),
    "max-pad_h-clips-w": (9, 12, "pool: MAX kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0"),
    "max-stride>kernel-past-input": (6, 5, "pool: MAX kernel_size: 1 stride: 3"),
    "ave-stride>kernel-past-input": (6, 5, "pool: AVE kernel_size: 1 stride: 3"),
    "ave-global": (7, 5, "pool: AVE global_pooling: true"),
    "max-global": (7, 5, "pool: MAX global_pooling: true"),
    "ave-global-56": (56, 56, "pool: AVE global_pooling: true engine: CAFFE"),
}


@pytest.mark.parametrize("h, w, params", grid(POOLING))
def test_pooling_vs_oracle(h, w, params):
    assert_matches_oracle(layer_net("Pooling", f"pooling_param {{ {params} }}", (2, 3, h, w)))


# ---- every type of the family: the kernel contract, and the lowering against the oracle ----

FAMILY = "pooling"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "Pooling": ("pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }", [(2, 3, 5, 5)], [], 1),
}


test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
