"""The layers beyond the SENets' (BVLC Caffe's remaining inference layers): hand-worked cases whose
expected arrays are written out from Caffe's semantics, checked in the oracle AND the torch lowering,
then grids of one-layer nets where torch (float32) must match the oracle (float64) and the loader's
shapes.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from senet_convert.errors import ConvertError
from helpers import assert_matches_oracle, forward, kernel_contract_test, layer_net, make_net, run_torch

NAN = float("nan")
EPS9 = float(np.float32(1e-9))


def both(type_: str, params: str, *inputs, blobs=None, tops: int = 1) -> list[list[np.ndarray]]:
    """[oracle tops, torch tops] of a one-layer net on `inputs` (float32, as Caffe holds them)."""
    arrays = [np.asarray(x, dtype=np.float32) for x in inputs]
    oracle = forward(type_, params, *arrays, blobs=blobs or (), tops=tops)
    net = layer_net(type_, params, *(a.shape for a in arrays), tops=tops, blobs=blobs)
    got = run_torch(net, {f"x{i}": a for i, a in enumerate(arrays)})
    got = [got] if tops == 1 else list(got)
    return [oracle, [g.numpy() for g in got]]


def check(type_: str, params: str, *inputs, expected, blobs=None, rtol=1e-6, tops: int = 1) -> None:
    """Both backends give `expected` (one array, or a list of one per top when tops > 1)."""
    for backend, got in zip(("oracle", "torch"), both(type_, params, *inputs, blobs=blobs, tops=tops)):
        want = expected if tops > 1 else [expected]
        assert len(got) == len(want), backend
        for top, w in zip(got, want):
            w = np.asarray(w, dtype=np.float64)
            assert top.shape == w.shape, (backend, top.shape, w.shape)
            np.testing.assert_allclose(top, w, rtol=rtol, atol=1e-7, equal_nan=True, err_msg=backend)


# ---- hand-worked: the neuron layers ------------------------------------------------------------


def test_absval():
    check("AbsVal", "", [[-2, 0, 3.5]], expected=[[2, 0, 3.5]])


def test_bnll_two_branches():
    # x + log(1 + e^-x) for x > 0, log(1 + e^x) otherwise: ln 2 at 0, ln 4 at ln 3, ln 4/3 at -ln 3
    check("BNLL", "", [[0, math.log(3), -math.log(3), 60, -60]], expected=[[math.log(2), math.log(4), math.log(4 / 3), 60, math.exp(-60)]])


def test_clip_and_its_nan():
    # std::max(min, std::min(x, max)): NaN -> min
    check("Clip", "clip_param { min: -1 max: 2 }", [[-3, 0.5, 5, NAN]], expected=[[-1, 0.5, 2, -1]])


def test_elu():
    check("ELU", "elu_param { alpha: 2 }", [[-math.log(2), 0, 3]], expected=[[-1, 0, 3]])
    check("ELU", "", [[-math.log(4)]], expected=[[-0.75]])


def test_exp():
    check("Exp", "exp_param { base: 2 scale: 3 shift: 1 }", [[0, 1, -1]], expected=[[2, 16, 0.25]])
    check("Exp", "", [[0, 1]], expected=[[1, math.e]])


def test_log():
    check("Log", "log_param { base: 10 scale: 2 }", [[5, 50]], expected=[[1, 2]])
    check("Log", "log_param { shift: 1 }", [[0, math.e - 1, -1]], expected=[[0, 1, -math.inf]])


def test_power_and_its_shortcut():
    check("Power", "power_param { power: 2 scale: 3 shift: 1 }", [[0, 1, -1]], expected=[[1, 16, 4]])
    # power * scale == 0: Caffe never reads the input, NaN included
    check("Power", "power_param { power: 0 scale: 3 }", [[NAN, 5]], expected=[[1, 1]])
    check("Power", "power_param { power: 3 scale: 0 shift: 2 }", [[NAN, 5]], expected=[[8, 8]])
    check("Power", "power_param { power: 0.5 }", [[4, -1]], expected=[[2, NAN]])


def test_prelu_per_channel_and_shared():
    x = [[[[-1, 2]], [[-4, 3]]]]  # 1 x 2 x 1 x 2
    check("PReLU", "", x, blobs=[[0.5, 0.25]], expected=[[[[-0.5, 2]], [[-1, 3]]]])
    check("PReLU", "prelu_param { channel_shared: true }", x, blobs=[np.float32(0.1)], expected=[[[[-0.1, 2]], [[-0.4, 3]]]])


def test_swish():
    # sigmoid(ln 3) = 3/4
    check("Swish", "", [[0, math.log(3)]], expected=[[0, 0.75 * math.log(3)]])
    check("Swish", "swish_param { beta: 2 }", [[math.log(3) / 2]], expected=[[0.375 * math.log(3)]])


def test_threshold():
    check("Threshold", "threshold_param { threshold: 0.5 }", [[0.5, 0.6, -1, NAN]], expected=[[0, 1, 0, 0]])
    check("Threshold", "", [[0, 1e-30, -1e-30]], expected=[[0, 1, 0]])


# ---- hand-worked: the other layers -------------------------------------------------------------


def test_deconvolution_stride_pad_bias():
    # weight [1, 10, 100] placed at 2*i: x0 = 1 writes [1, 10, 100, 0, 0], x1 = 2 writes [0, 0, 2, 20, 200]
    x, w = [[[1, 2]]], [[[1, 10, 100]]]
    check("Deconvolution", "convolution_param { num_output: 1 kernel_size: 3 stride: 2 bias_term: false }", x, blobs=[w], expected=[[[1, 10, 102, 20, 200]]])
    check("Deconvolution", "convolution_param { num_output: 1 kernel_size: 3 stride: 2 pad: 1 }", x, blobs=[w, [0.5]], expected=[[[10.5, 102.5, 20.5]]])


def test_deconvolution_dilation_and_group():
    # dilation 2: taps at 0 and 2 of each input position: [1, 0, 10, 0] + [0, 2, 0, 20]
    check("Deconvolution", "convolution_param { num_output: 1 kernel_size: 2 dilation: 2 bias_term: false }", [[[1, 2]]], blobs=[[[[1, 10]]]], expected=[[[1, 2, 10, 20]]])
    # group 2, weight (C=2, 1, 1, 1): each channel scaled by its own weight
    params = "convolution_param { num_output: 2 kernel_size: 1 group: 2 bias_term: false }"
    check("Deconvolution", params, [[[[1]], [[2]]]], blobs=[[[[[3]]], [[[4]]]]], expected=[[[[3]], [[8]]]])


def test_crop_offsets():
    x = np.arange(12).reshape(1, 1, 3, 4)
    like = np.zeros((1, 1, 2, 2))
    check("Crop", "crop_param { offset: 1 offset: 2 }", x, like, expected=[[[[6, 7], [10, 11]]]])
    check("Crop", "crop_param { offset: 1 }", x, like, expected=[[[[5, 6], [9, 10]]]])
    check("Crop", "crop_param { axis: 3 }", x, np.zeros((5, 5, 5, 3)), expected=x[..., :3])


def test_slice_points_and_equal_parts():
    x = [[0, 1, 2, 3, 4]]
    check("Slice", "slice_param { slice_point: 1 slice_point: 3 }", x, tops=3, expected=[[[0]], [[1, 2]], [[3, 4]]])
    check("Slice", "slice_param { axis: 0 }", [[1, 2], [3, 4]], tops=2, expected=[[[1, 2]], [[3, 4]]])
    check("Slice", "slice_param { slice_dim: 1 }", [[1, 2], [3, 4]], tops=2, expected=[[[1], [3]], [[2], [4]]])


def test_tile():
    check("Tile", "tile_param { tiles: 3 }", [[1, 2]], expected=[[1, 2, 1, 2, 1, 2]])
    check("Tile", "tile_param { axis: 0 tiles: 2 }", [[1], [2]], expected=[[1], [2], [1], [2]])


def test_argmax_ranks_ties_larger_index_first():
    x = [[3, 1, 3, 2, 0]]
    check("ArgMax", "argmax_param { top_k: 2 }", x, expected=[[[2, 0]]])
    check("ArgMax", "argmax_param { top_k: 2 out_max_val: true }", x, expected=[[[2, 0], [3, 3]]])
    check("ArgMax", "argmax_param { top_k: 3 axis: 1 }", x, expected=[[2, 0, 3]])
    check("ArgMax", "argmax_param { axis: 1 out_max_val: true }", x, expected=[[3]])
    check("ArgMax", "argmax_param { axis: 0 }", [[1, 5], [4, 2]], expected=[[1, 0]])


@pytest.mark.parametrize(
    "params, expected",
    [
        ("reduction_param { axis: 1 }", [2, 3]),
        ("reduction_param { axis: 1 operation: ASUM }", [6, 15]),
        ("reduction_param { axis: -1 operation: SUMSQ }", [14, 77]),
        ("reduction_param { axis: 1 operation: MEAN coeff: 3 }", [2, 3]),
        ("reduction_param { axis: 1 coeff: -2 }", [-4, -6]),
        ("", 5),  # axis 0: everything, a scalar
    ],
    ids=["sum", "asum", "sumsq-axis-1", "mean-coeff", "sum-coeff", "axis0-scalar"],
)
def test_reduction(params, expected):
    check("Reduction", params, [[1, -2, 3], [4, 5, -6]], expected=expected)


def test_mvn():
    x = [[[[1, 2, 3, 4]]]]  # mean 2.5, population variance 1.25
    centred = np.array([-1.5, -0.5, 0.5, 1.5])
    check("MVN", "", x, expected=[[[centred / (math.sqrt(1.25) + EPS9)]]])
    check("MVN", "mvn_param { normalize_variance: false }", x, expected=[[[centred]]])
    # across channels: one mean and variance per sample; per channel each plane of one value is 0
    check("MVN", "mvn_param { across_channels: true eps: 0.5 }", [[[[1]], [[3]]]], expected=[[[[-1 / 1.5]], [[1 / 1.5]]]])
    check("MVN", "", [[[[1]], [[3]]]], expected=[[[[0]], [[0]]]])
    # a 2-axis bottom comes out with Caffe's legacy 4 axes
    check("MVN", "mvn_param { across_channels: true }", [[1, 3]], expected=[[[[-1 / (1 + EPS9)]], [[1 / (1 + EPS9)]]]])


def test_embed():
    params = "embed_param { num_output: 2 input_dim: 3 }"
    check("Embed", params, [[2, 0]], blobs=[[[1, 2], [3, 4], [5, 6]], [10, 20]], expected=[[[15, 26], [11, 22]]])


def test_embed_refuses_bad_indices():
    params = "embed_param { num_output: 2 input_dim: 3 bias_term: false }"
    for bad, message in (([[3]], r"outside \[0, 3\)"), ([[0.5]], "not whole numbers")):
        with pytest.raises(ConvertError, match=message):
            forward("Embed", params, bad, blobs=[np.ones((3, 2))])


def test_spp():
    x = np.arange(16).reshape(1, 1, 4, 4)
    check("SPP", "spp_param { pyramid_height: 2 }", x, expected=[[15, 5, 7, 13, 15]])
    check("SPP", "spp_param { pyramid_height: 1 pool: AVE }", x, expected=[[[[7.5]]]])
    # 5 x 5, level 1: kernel 3, pad (6 - 5 + 1) // 2 = 1; Caffe's clip leaves 2 windows: rows {0, 1}, {2, 3, 4}
    check("SPP", "spp_param { pyramid_height: 2 }", np.arange(25).reshape(1, 1, 5, 5), expected=[[24, 6, 9, 21, 24]])


def test_parameter_layer():
    body = 'layer { name: "p" type: "Parameter" top: "p" parameter_param { shape { dim: 1 dim: 2 } } }\n'
    body += 'layer { name: "sum" type: "Eltwise" bottom: "x" bottom: "p" top: "sum" }'
    net = make_net(body, {"x": (1, 2)}, blobs={"p": [[[1.5, -2]]]})
    got = assert_matches_oracle(net, {"x": np.array([[1, 1]], dtype=np.float32)})
    np.testing.assert_array_equal(got["p"].numpy(), [[1.5, -2]])
    np.testing.assert_array_equal(got["sum"].numpy(), [[2.5, -1]])


def test_eltwise_prod_and_max_in_torch_too():
    a, b, c = [[1, -2, 3]], [[4, 5, -6]], [[0, 7, 2]]
    check("Eltwise", "eltwise_param { operation: PROD }", a, b, c, expected=[[0, -70, -36]])
    check("Eltwise", "eltwise_param { operation: MAX }", a, b, c, expected=[[4, 7, 3]])


# ---- grids: torch vs the oracle (and the loader's shapes) --------------------------------------


def _grid(cases: dict) -> list:
    return [pytest.param(*case, id=name) for name, case in cases.items()]


X = (2, 3, 5, 4)
GRID = {
    # name: (type, bottom shapes, params, tops)
    "absval": ("AbsVal", [X], "", 1),
    "bnll": ("BNLL", [X], "", 1),
    "clip": ("Clip", [X], "clip_param { min: -0.5 max: 0.7 }", 1),
    "clip-min>max": ("Clip", [X], "clip_param { min: 1 max: -1 }", 1),
    "elu": ("ELU", [X], "", 1),
    "elu-alpha": ("ELU", [X], "elu_param { alpha: 0.3 }", 1),
    "exp": ("Exp", [X], "", 1),
    "exp-base-scale-shift": ("Exp", [X], "exp_param { base: 3 scale: 0.5 shift: -1 }", 1),
    "log": ("Log", [X], "log_param { shift: 5 }", 1),
    "log-base2-negative": ("Log", [X], "log_param { base: 2 scale: -1 shift: 0.5 }", 1),
    "power-square": ("Power", [X], "power_param { power: 2 scale: 0.5 shift: 1 }", 1),
    "power-sqrt": ("Power", [X], "power_param { power: 0.5 shift: 3 }", 1),
    "power-constant": ("Power", [X], "power_param { power: 2 scale: 0 shift: 3 }", 1),
    "power-identity": ("Power", [X], "", 1),
    "prelu": ("PReLU", [X], "", 1),
    "prelu-shared": ("PReLU", [X], "prelu_param { channel_shared: true }", 1),
    "prelu-nc": ("PReLU", [(4, 3)], "", 1),
    "swish": ("Swish", [X], "", 1),
    "swish-beta": ("Swish", [X], "swish_param { beta: 1.7 }", 1),
    "threshold": ("Threshold", [X], "threshold_param { threshold: 0.2 }", 1),
    "deconv-k4s2p1": ("Deconvolution", [(2, 3, 5, 4)], "convolution_param { num_output: 4 kernel_size: 4 stride: 2 pad: 1 }", 1),
    "deconv-group-no-bias": ("Deconvolution", [(2, 4, 3, 3)], "convolution_param { num_output: 6 kernel_size: 3 group: 2 bias_term: false }", 1),
    "deconv-dilated-hw": ("Deconvolution", [(1, 2, 4, 5)], "convolution_param { num_output: 3 kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0 dilation: 2 }", 1),
    "deconv-1d": ("Deconvolution", [(2, 3, 6)], "convolution_param { num_output: 2 kernel_size: 3 stride: 3 }", 1),
    "deconv-depthwise-upsample": ("Deconvolution", [(1, 4, 3, 3)], "convolution_param { num_output: 4 kernel_size: 4 stride: 2 pad: 1 group: 4 bias_term: false }", 1),
    "crop-default": ("Crop", [(2, 3, 7, 6), (2, 3, 4, 4)], "crop_param { offset: 2 }", 1),
    "crop-axis1-offsets": ("Crop", [(2, 5, 7, 6), (1, 2, 4, 3)], "crop_param { axis: 1 offset: 1 offset: 3 offset: 2 }", 1),
    "crop-axis-1": ("Crop", [(2, 3, 7, 6), (1, 1, 1, 2)], "crop_param { axis: -1 offset: 4 }", 1),
    "slice-points": ("Slice", [X], "slice_param { slice_point: 1 }", 2),
    "slice-equal-axis2": ("Slice", [X], "slice_param { axis: 2 slice_point: 1 slice_point: 4 }", 3),
    "slice-equal-3": ("Slice", [(2, 6, 2)], "", 3),
    "slice-one-top": ("Slice", [X], "", 1),
    "slice-axis-1": ("Slice", [X], "slice_param { axis: -1 }", 2),
    "tile": ("Tile", [X], "tile_param { tiles: 2 }", 1),
    "tile-axis-1": ("Tile", [X], "tile_param { axis: -1 tiles: 3 }", 1),
    "argmax": ("ArgMax", [(3, 10)], "", 1),
    "argmax-top3-values": ("ArgMax", [X], "argmax_param { top_k: 3 out_max_val: true }", 1),
    "argmax-axis1": ("ArgMax", [X], "argmax_param { axis: 1 top_k: 2 }", 1),
    "argmax-axis-1-values": ("ArgMax", [X], "argmax_param { axis: -1 out_max_val: true }", 1),
    "reduction-sum": ("Reduction", [X], "", 1),
    "reduction-asum-axis1": ("Reduction", [X], "reduction_param { operation: ASUM axis: 1 }", 1),
    "reduction-sumsq-axis2": ("Reduction", [X], "reduction_param { operation: SUMSQ axis: 2 coeff: 0.5 }", 1),
    "reduction-mean-axis-1": ("Reduction", [X], "reduction_param { operation: MEAN axis: -1 coeff: -2 }", 1),
    "mvn": ("MVN", [X], "", 1),
    "mvn-across": ("MVN", [X], "mvn_param { across_channels: true }", 1),
    "mvn-mean-only": ("MVN", [X], "mvn_param { normalize_variance: false }", 1),
    "mvn-eps": ("MVN", [(2, 3, 1, 2)], "mvn_param { eps: 0.01 }", 1),
    "spp-max-3": ("SPP", [(2, 3, 7, 9)], "spp_param { pyramid_height: 3 }", 1),
    "spp-ave-2": ("SPP", [(2, 3, 6, 5)], "spp_param { pyramid_height: 2 pool: AVE }", 1),
    "spp-1": ("SPP", [(2, 3, 5, 5)], "spp_param { pyramid_height: 1 }", 1),
    "eltwise-prod-2": ("Eltwise", [X, X], "eltwise_param { operation: PROD }", 1),
    "eltwise-max-4": ("Eltwise", [X] * 4, "eltwise_param { operation: MAX }", 1),
}


@pytest.mark.parametrize("type_, bottoms, params, tops", _grid(GRID))
def test_more_layers_vs_oracle(type_, bottoms, params, tops):
    assert_matches_oracle(layer_net(type_, params, *bottoms, tops=tops))


@pytest.mark.parametrize("bias", ["", "bias_term: false"], ids=["bias", "no-bias"])
def test_embed_vs_oracle(bias):
    net = layer_net("Embed", f"embed_param {{ num_output: 5 input_dim: 7 {bias} }}", (2, 3, 4))
    indices = np.random.default_rng(4).integers(0, 7, (2, 3, 4)).astype(np.float32)
    assert_matches_oracle(net, {"x0": indices})


def test_every_new_type_is_in_the_grid_or_a_case():
    covered = {case[0] for case in GRID.values()} | {"Embed", "Parameter"}
    new = {"AbsVal", "ArgMax", "BNLL", "Clip", "Crop", "Deconvolution", "ELU", "Embed", "Exp", "Log", "MVN", "PReLU",
           "Parameter", "Power", "Reduction", "SPP", "Slice", "Swish", "Threshold", "Tile"}
    assert new <= covered


# ---- what the loader refuses (one line, naming the layer) -------------------------------------


@pytest.mark.parametrize(
    "type_, bottoms, params, tops, message",
    [
        ("Clip", [X], "clip_param { min: 0 }", 1, "needs both min and max"),
        ("Exp", [X], "exp_param { base: -2 }", 1, "base -2 must be positive"),
        ("Exp", [X], "exp_param { base: nan }", 1, "base nan must be positive"),
        ("Log", [X], "log_param { base: 1 }", 1, "base 1 must be positive and not 1"),
        ("PReLU", [(5,)], "", 1, "needs a channel axis"),
        ("Crop", [(2, 3, 4, 4), (2, 3, 5, 2)], "", 1, "axis 2: offset 0 \\+ size 5 exceeds"),
        ("Crop", [(2, 3, 4, 4), (2, 3, 2, 2)], "crop_param { offset: 1 offset: 1 offset: 1 }", 1, "3 offsets for 2 cropped axes"),
        ("Slice", [X], "slice_param { slice_point: 2 slice_point: 1 }", 3, "increase strictly"),
        ("Slice", [X], "slice_param { slice_point: 1 }", 3, "1 slice points for 3 tops"),
        ("Slice", [X], "", 2, "does not split into 2 equal parts"),
        ("Slice", [X], "slice_param { axis: 1 slice_dim: 1 }", 2, "not both"),
        ("Tile", [X], "", 1, "needs tiles > 0"),
        ("ArgMax", [X], "argmax_param { axis: 1 top_k: 4 }", 1, "top_k 4 exceeds axis 1's extent 3"),
        ("MVN", [(1, 2, 3, 4, 5)], "", 1, "1 to 4 axes"),
        ("SPP", [(1, 1, 1, 1)], "spp_param { pyramid_height: 3 }", 1, "pyramid level 1: pad"),
        ("SPP", [X], "", 1, "pyramid_height >= 1"),
        ("Deconvolution", [X], "convolution_param { num_output: 2 kernel_size: 1 pad: 3 }", 1, "leaves no output"),
    ],
    ids=["clip-min-only", "exp-base", "exp-base-nan", "log-base-1", "prelu-1d", "crop-too-big", "crop-offsets", "slice-order",
         "slice-count", "slice-equal", "slice-axis-and-dim", "tile-none", "argmax-top_k", "mvn-5d", "spp-too-deep",
         "spp-no-height", "deconv-pad"],
)
def test_loader_refuses(type_, bottoms, params, tops, message):
    with pytest.raises(ConvertError, match=message) as info:
        layer_net(type_, params, *bottoms, tops=tops)
    assert f"layer 'l' ({type_})" in str(info.value)


# ---- every shape-only type: the kernel contract ------------------------------------------------

# One small case per type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "AbsVal": ("", [X], [], 1),
    "ArgMax": ("argmax_param { top_k: 2 out_max_val: true }", [X], [], 1),
    "BNLL": ("", [X], [], 1),
    "Clip": ("clip_param { min: -0.5 max: 0.5 }", [X], [], 1),
    "Crop": ("crop_param { offset: 1 }", [X, (2, 3, 2, 3)], [], 1),
    "ELU": ("", [X], [], 1),
    "Embed": ("embed_param { num_output: 3 input_dim: 10 }", [(2, 3)], [(10, 3), (3,)], 1),
    "Exp": ("exp_param { scale: 0.5 }", [X], [], 1),
    "Log": ("log_param { shift: 10 }", [X], [], 1),
    "MVN": ("", [X], [], 1),
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

test_kernel_keeps_dtype_and_inputs = kernel_contract_test(CASES)
