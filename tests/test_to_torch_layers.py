"""The torch lowering, layer by layer: hand-worked cases with their expected arrays written out, grids
of one-layer nets compared with the numpy oracle (torch float32 vs oracle float64), the registry,
module naming, outputs, and SENet-154's distinctive parts.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from google.protobuf import text_format

from senet_convert import reference, shapes
from senet_convert.caffe import caffe_pb2
from senet_convert.errors import ConvertError
from senet_convert.graph import Layer, Net
from senet_convert.loader import net_from_text
from senet_convert.to_torch import SUPPORTED_TYPES, build, caffe_name, lower, module_name, parameter_map, registry

FLT_MAX = float(np.finfo(np.float32).max)
TOL = 2e-6  # max |torch float32 - oracle float64| relative to max |oracle|


def make_net(body: str, inputs: dict[str, tuple[int, ...]], *, blobs: dict | None = None, seed: int = 0) -> Net:
    """A net from prototxt layers; blobs random (shapes as Caffe allocates them) unless given."""
    head = "".join(f'input: "{name}" input_shape {{ {" ".join(f"dim: {d}" for d in shape)} }}\n' for name, shape in inputs.items())
    net = net_from_text(head + body)
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        if blobs and layer.name in blobs:
            layer.blobs = [np.asarray(b, dtype=np.float32) for b in blobs[layer.name]]
            continue
        wanted = shapes.blob_shapes(net, layer)
        draw = (lambda s: rng.uniform(0.5, 1.5, s)) if layer.type == "BatchNorm" else rng.standard_normal  # var > 0
        layer.blobs = [draw(s).astype(np.float32) for s in wanted]
    return net


def layer_net(type_: str, params: str, *shapes_: tuple[int, ...], tops: int = 1, blobs=None) -> Net:
    bottoms = "".join(f' bottom: "x{i}"' for i in range(len(shapes_)))
    top = "".join(f' top: "y{i}"' for i in range(tops))
    body = f'layer {{ name: "l" type: "{type_}"{bottoms}{top} {params} }}'
    return make_net(body, {f"x{i}": s for i, s in enumerate(shapes_)}, blobs=None if blobs is None else {"l": blobs})


def run_torch(net: Net, inputs: dict[str, np.ndarray], **kwargs):
    module = lower(net, **kwargs)
    with torch.inference_mode():
        return module(*[torch.from_numpy(inputs[name]) for name in net.inputs])


def random_inputs(net: Net, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in net.inputs.items()}


def assert_matches_oracle(net: Net, inputs: dict[str, np.ndarray] | None = None, tol: float = TOL) -> dict:
    inputs = random_inputs(net) if inputs is None else inputs
    expected = reference.run(net, inputs, intermediate=True)
    got = run_torch(net, inputs, intermediate=True)
    assert set(got) == set(expected)
    for value, want in expected.items():
        have = got[value].numpy()
        assert have.dtype == np.float32, value
        assert have.shape == want.shape, (value, have.shape, want.shape)
        finite = np.abs(want[np.isfinite(want)])
        scale = finite.max() if finite.size else 0.0
        np.testing.assert_allclose(have, want, rtol=0, atol=max(tol * scale, 1e-30), equal_nan=True, err_msg=value)
    # The loader's shape inference is a third, independent opinion.
    for value, have in got.items():
        assert tuple(have.shape) == tuple(net.shapes[value]), f"{value}: the loader says {net.shapes[value]}"
    return got


def one(type_: str, params: str, *inputs, blobs=None) -> np.ndarray:
    arrays = [np.asarray(x, dtype=np.float32) for x in inputs]
    net = layer_net(type_, params, *(a.shape for a in arrays), blobs=blobs)
    return run_torch(net, {f"x{i}": a for i, a in enumerate(arrays)}).numpy()


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


def test_batchnorm_scale_factor():
    # blobs mean*s = [2, 4], var*s = [8, 2], s = 2: mean [1, 2], var [4, 1]; eps 0
    x = np.array([[[[1, 5]], [[2, 4]]]], dtype=np.float32)  # 1 x 2 x 1 x 2
    out = one("BatchNorm", "batch_norm_param { eps: 0 }", x, blobs=[[2, 4], [8, 2], [2]])
    np.testing.assert_array_equal(out, [[[[0, 2]], [[0, 2]]]])


def test_batchnorm_zero_scale_factor_zeroes_the_statistics():
    x = np.array([[[[1, -3]], [[2, 4]]]], dtype=np.float32)
    out = one("BatchNorm", "", x, blobs=[[2, 4], [8, 2], [0]])
    np.testing.assert_allclose(out, x / np.sqrt(np.float32(1e-5)), rtol=1e-6)


def test_two_bottom_scale_axis_0_is_se_bn_inception_gate():
    x = np.arange(8, dtype=np.float32).reshape(2, 2, 1, 2)
    s = np.array([[1, 2], [-1, 0.5]], dtype=np.float32)
    out = one("Scale", "scale_param { axis: 0 }", x, s)
    np.testing.assert_array_equal(out, [[[[0, 1]], [[4, 6]]], [[[-4, -5]], [[3, 3.5]]]])


@pytest.mark.parametrize(
    "shape, params, expected",
    [
        ((2, 3, 1, 1), "shape { dim: 0 dim: 0 }", (2, 3)),
        ((2, 3, 4), "shape { dim: 0 dim: -1 }", (2, 12)),
        ((2, 3, 4), "shape { dim: -1 dim: 2 dim: 0 }", (3, 2, 4)),  # 0 copies the input's axis 2; -1 = 24 / 8
        ((2, 3, 4), "axis: 1 num_axes: 1 shape { dim: 3 dim: 1 }", (2, 3, 1, 4)),
        ((2, 3, 4), "axis: -1 shape { dim: 1 dim: 1 }", (2, 3, 4, 1, 1)),
        ((2, 3, 4), "axis: 1 shape { dim: -1 }", (2, 12)),
    ],
    ids=["se-inception-0-0", "0,-1", "-1,2,0", "axis1-num_axes1", "axis-1-append", "axis1-infer"],
)
def test_reshape(shape, params, expected):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    out = one("Reshape", f"reshape_param {{ {params} }}", x)
    assert out.shape == expected
    np.testing.assert_array_equal(out.ravel(), x.ravel())


def test_axpy():
    a = np.array([[2, -1]], dtype=np.float32)  # N x C
    x = np.array([[[[1, 2]], [[3, 4]]]], dtype=np.float32)
    y = np.array([[[[10, 20]], [[30, 40]]]], dtype=np.float32)
    np.testing.assert_array_equal(one("Axpy", "", a, x, y), [[[[12, 24]], [[27, 36]]]])
    np.testing.assert_array_equal(one("Axpy", "", a[:, :, None, None], x, y), [[[[12, 24]], [[27, 36]]]])


def test_eltwise_sum_with_coefficients():
    a, b = np.array([[1.0, 2]], dtype=np.float32), np.array([[4.0, 8]], dtype=np.float32)
    np.testing.assert_array_equal(one("Eltwise", "eltwise_param { coeff: 1 coeff: -0.5 }", a, b), [[-1, -2]])


# ---- grids: torch vs the numpy oracle -----------------------------------------------------


def _grid(cases: dict[str, tuple]) -> list:
    return [pytest.param(*case, id=name) for name, case in cases.items()]


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


@pytest.mark.parametrize("h, w, params", _grid(POOLING))
def test_pooling_vs_oracle(h, w, params):
    assert_matches_oracle(layer_net("Pooling", f"pooling_param {{ {params} }}", (2, 3, h, w)))


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


@pytest.mark.parametrize("shape, params", _grid(CONVOLUTION))
def test_convolution_vs_oracle(shape, params):
    assert_matches_oracle(layer_net("Convolution", f"convolution_param {{ {params} }}", shape))


BATCHNORM = {
    "nchw": ((2, 5, 4, 3), "", 1.0),
    "scale-factor-0.25": ((2, 5, 4, 3), "", 0.25),
    "scale-factor-999.9": ((2, 5, 4, 3), "", 999.9),
    "scale-factor-0": ((2, 5, 4, 3), "", 0.0),
    "eps-1e-3": ((2, 5, 4, 3), "batch_norm_param { eps: 0.001 }", 0.5),
    "nc": ((3, 5), "batch_norm_param { use_global_stats: true }", 2.0),
    "batch-statistics": ((4, 3, 5, 5), "batch_norm_param { use_global_stats: false }", 1.0),
}


@pytest.mark.parametrize("shape, params, factor", _grid(BATCHNORM))
def test_batchnorm_vs_oracle(shape, params, factor):
    rng = np.random.default_rng(3)
    c = shape[1]
    blobs = [rng.normal(0, 0.3, c) * factor, rng.uniform(0.5, 1.5, c) * factor, [factor]]
    assert_matches_oracle(layer_net("BatchNorm", params, shape, blobs=blobs))


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


@pytest.mark.parametrize("type_, bottoms, params", _grid(SCALE))
def test_scale_and_bias_vs_oracle(type_, bottoms, params):
    assert_matches_oracle(layer_net(type_, params, *bottoms))


ELEMENTWISE = {
    # name: (type, bottom shapes, params)
    "relu": ("ReLU", [(2, 3, 4, 4)], ""),
    "leaky-relu": ("ReLU", [(2, 3, 4, 4)], "relu_param { negative_slope: 0.1 }"),
    "sigmoid": ("Sigmoid", [(2, 3, 4, 4)], ""),
    "tanh": ("TanH", [(2, 3, 4, 4)], ""),
    "sum": ("Eltwise", [(2, 3, 4, 4)] * 2, ""),
    "sum-3": ("Eltwise", [(2, 3, 4, 4)] * 3, "eltwise_param { operation: SUM }"),
    "sum-coeff": ("Eltwise", [(2, 3, 4, 4)] * 3, "eltwise_param { coeff: 0.5 coeff: -2 coeff: 3 }"),
    "sum-coeff-ones": ("Eltwise", [(2, 3)] * 2, "eltwise_param { coeff: 1 coeff: 1 }"),
    "prod": ("Eltwise", [(2, 3, 4, 4)] * 3, "eltwise_param { operation: PROD }"),
    "max": ("Eltwise", [(2, 3, 4, 4)] * 3, "eltwise_param { operation: MAX }"),
    "axpy-nc11": ("Axpy", [(2, 3, 1, 1), (2, 3, 4, 5), (2, 3, 4, 5)], ""),
    "axpy-nc": ("Axpy", [(2, 3), (2, 3, 4, 5), (2, 3, 4, 5)], ""),
    "softmax": ("Softmax", [(2, 10)], ""),
    "softmax-axis1-4d": ("Softmax", [(2, 5, 3, 3)], ""),
    "softmax-axis-1": ("Softmax", [(2, 5, 3, 4)], "softmax_param { axis: -1 }"),
    "dropout": ("Dropout", [(2, 8)], "dropout_param { dropout_ratio: 0.2 }"),
}


@pytest.mark.parametrize("type_, bottoms, params", _grid(ELEMENTWISE))
def test_elementwise_vs_oracle(type_, bottoms, params):
    assert_matches_oracle(layer_net(type_, params, *bottoms))


TENSOR = {
    # name: (type, bottom shapes, params, tops)
    "ip": ("InnerProduct", [(2, 3, 4, 4)], "inner_product_param { num_output: 5 }", 1),
    "ip-no-bias": ("InnerProduct", [(2, 12)], "inner_product_param { num_output: 5 bias_term: false }", 1),
    "ip-axis2": ("InnerProduct", [(2, 3, 4, 4)], "inner_product_param { num_output: 5 axis: 2 }", 1),
    "ip-axis-1": ("InnerProduct", [(2, 3, 4)], "inner_product_param { num_output: 5 axis: -1 }", 1),
    "ip-transpose": ("InnerProduct", [(2, 3, 2, 2)], "inner_product_param { num_output: 5 transpose: true }", 1),
    "concat": ("Concat", [(2, 3, 4, 4), (2, 5, 4, 4)], "", 1),
    "concat-axis-1": ("Concat", [(2, 3, 4), (2, 3, 2), (2, 3, 1)], "concat_param { axis: -1 }", 1),
    "concat-concat_dim": ("Concat", [(2, 3), (4, 3)], "concat_param { concat_dim: 0 }", 1),
    "split": ("Split", [(2, 3, 4, 4)], "", 3),
    "reshape-0-0": ("Reshape", [(2, 6, 1, 1)], "reshape_param { shape { dim: 0 dim: 0 } }", 1),
    "reshape-infer": ("Reshape", [(2, 6, 2, 2)], "reshape_param { shape { dim: 0 dim: -1 dim: 4 } }", 1),
    "reshape-axis": ("Reshape", [(2, 6, 2, 2)], "reshape_param { axis: 1 num_axes: 1 shape { dim: 2 dim: 3 } }", 1),
    "flatten": ("Flatten", [(2, 3, 4, 5)], "", 1),
    "flatten-2-3": ("Flatten", [(2, 3, 4, 5)], "flatten_param { axis: 2 end_axis: 3 }", 1),
    "flatten-negative": ("Flatten", [(2, 3, 4, 5)], "flatten_param { axis: -3 end_axis: -2 }", 1),
}


@pytest.mark.parametrize("type_, bottoms, params, tops", _grid(TENSOR))
def test_tensor_layers_vs_oracle(type_, bottoms, params, tops):
    assert_matches_oracle(layer_net(type_, params, *bottoms, tops=tops))


# ---- the registry and the state_dict mapping ------------------------------------------------


def test_both_registries_cover_the_same_types():
    assert set(SUPPORTED_TYPES) == set(reference.SUPPORTED_TYPES)


def test_registering_a_type_twice_fails():
    with pytest.raises(ValueError, match="'ReLU' registered twice"):
        registry.register("ReLU")(lambda layer: torch.nn.ReLU())
    assert registry.BUILDERS["ReLU"].__module__.endswith("to_torch.activation")


def test_unknown_type_names_layer_type_and_supported():
    param = text_format.Parse('name: "interp1" type: "Interp"', caffe_pb2.LayerParameter())  # a Caffe fork's type
    layer = Layer(name="interp1", type="Interp", bottoms=("x",), tops=("y",), param=param, line=12)
    with pytest.raises(ConvertError, match=r"layer 'interp1' \(Interp\) at line 12.*'Interp'.*BatchNorm, Bias, Clip, Concat"):
        build(layer)


@pytest.mark.parametrize(
    "type_, params, bottoms, message",
    [
        ("Pooling", "pooling_param { pool: STOCHASTIC kernel_size: 2 }", 1, "STOCHASTIC"),
        ("Pooling", "pooling_param { kernel_size: 2 pad: 2 }", 1, "smaller than kernel"),
        ("Pooling", "pooling_param { global_pooling: true stride: 2 }", 1, "stride 1"),
        ("Pooling", "pooling_param { kernel_h: 2 }", 1, "together"),
        ("Convolution", "convolution_param { num_output: 2 kernel_size: 3 }", 1, "needs 2 learned blobs, has 0"),
        ("Eltwise", "eltwise_param { operation: PROD coeff: 1 coeff: 2 }", 2, "only allowed for SUM"),
        ("Eltwise", "", 1, "at least 2 bottoms"),
        ("Scale", "", 1, "needs 1 learned blobs, has 0"),
        ("Reshape", "reshape_param { shape { dim: -1 dim: -1 } }", 1, "invalid reshape dims"),
    ],
    ids=["stochastic", "pad>=kernel", "global-stride", "kernel_h-alone", "conv-no-weights", "prod-coeff", "eltwise-1", "scale-no-weights", "reshape-two-1"],
)
def test_builders_refuse_bad_layers(type_, params, bottoms, message):
    param = text_format.Parse(params, caffe_pb2.LayerParameter(name="bad", type=type_))
    layer = Layer(name="bad", type=type_, bottoms=tuple(f"x{i}" for i in range(bottoms)), tops=("y",), param=param)
    with pytest.raises(ConvertError, match=message):
        build(layer)


PARAMETERS = {
    "conv": ("Convolution", [(1, 4, 5, 5)], "convolution_param { num_output: 2 kernel_size: 3 group: 2 }", ["weight", "bias"]),
    "conv-no-bias": ("Convolution", [(1, 4, 5, 5)], "convolution_param { num_output: 2 kernel_size: 3 bias_term: false }", ["weight"]),
    "ip": ("InnerProduct", [(1, 4, 2, 2)], "inner_product_param { num_output: 3 }", ["weight", "bias"]),
    "ip-transpose": ("InnerProduct", [(1, 4, 2, 2)], "inner_product_param { num_output: 3 transpose: true }", ["weight", "bias"]),
    "bn": ("BatchNorm", [(1, 4, 2, 2)], "", ["mean", "var", "scale_factor"]),
    "scale": ("Scale", [(1, 4, 2, 2)], "scale_param { bias_term: true }", ["weight", "bias"]),
    "scale-no-bias": ("Scale", [(1, 4, 2, 2)], "", ["weight"]),
    "scale-two-bottoms-bias": ("Scale", [(1, 4, 2, 2), (1, 4)], "scale_param { axis: 0 bias_term: true }", ["bias"]),
    "scale-two-bottoms": ("Scale", [(1, 4, 2, 2), (1, 4)], "scale_param { axis: 0 }", []),
    "bias": ("Bias", [(1, 4, 2, 2)], "", ["bias"]),
    "relu": ("ReLU", [(1, 4, 2, 2)], "", []),
}


@pytest.mark.parametrize("type_, bottoms, params, names", _grid(PARAMETERS))
def test_state_dict_is_the_caffe_blobs(type_, bottoms, params, names):
    net = layer_net(type_, params, *bottoms)
    (layer,) = net.layers
    mapping = parameter_map(net)
    assert mapping == {f"l.{name}": ("l", i) for i, name in enumerate(names)}
    state = lower(net).state_dict()
    assert list(state) == list(mapping)
    for key, (_, index) in mapping.items():
        blob = layer.blobs[index]
        assert state[key].dtype == torch.float32
        assert tuple(state[key].shape) == blob.shape
        np.testing.assert_array_equal(state[key].numpy(), blob)
        assert not np.shares_memory(state[key].numpy(), blob)  # a copy: the Net is left alone


# ---- naming, outputs, the module as a whole ------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("conv1/7x7_s2", "conv1/7x7_s2"),
        ("res2a.branch1", "res2a%2Ebranch1"),
        ("50%", "50%25"),
        ('say"hi"', "say%22hi%22"),
        ("forward", "%66orward"),
        ("training", "%74raining"),
        ("pass", "%70ass"),
        ("ünïcode", "%C3%BCn%C3%AFcode"),
        ("", "%"),
    ],
)
def test_module_name_round_trips(name, expected):
    assert module_name(name) == expected
    assert caffe_name(expected) == name
    assert "." not in expected


TINY = """
layer { name: "forward" type: "Convolution" bottom: "data" top: "conv.1"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "conv.1/bn" type: "BatchNorm" bottom: "conv.1" top: "conv.1" }
layer { name: "pass" type: "Scale" bottom: "conv.1" top: "conv.1" scale_param { bias_term: true } }
layer { name: "relu\\"1" type: "ReLU" bottom: "conv.1" top: "conv.1" }
layer { name: "pool" type: "Pooling" bottom: "conv.1" top: "pool" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 3 } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""


def test_awkward_layer_names_lower_and_map_back():
    net = make_net(TINY, {"data": (2, 3, 8, 8)})
    module = lower(net)
    assert 'getattr(self, "conv%2E1/bn")' in module.code
    keys = list(module.state_dict())
    assert keys[0] == "%66orward.weight" and "conv%2E1/bn.scale_factor" in keys
    assert {caffe_name(key.rsplit(".", 1)[0]) for key in keys} == {"forward", "conv.1/bn", "pass", "fc"}
    assert set(parameter_map(net)) == set(keys)
    assert_matches_oracle(net)


def test_outputs_resolve_caffe_blobs_to_their_final_value():
    net = make_net(TINY, {"data": (2, 3, 8, 8)})
    inputs = random_inputs(net)
    every = run_torch(net, inputs, intermediate=True)
    # Caffe's blob conv.1 ends up after the ReLU; the value "conv.1" is the raw convolution
    assert net.final["conv.1"] == 'conv.1@relu"1'
    blob, raw, prob = run_torch(net, inputs, outputs=["conv.1", "conv.1@conv.1/bn", "prob"])
    torch.testing.assert_close(blob, every['conv.1@relu"1'], rtol=0, atol=0)
    torch.testing.assert_close(raw, every["conv.1@conv.1/bn"], rtol=0, atol=0)
    assert torch.all(blob >= 0) and not torch.equal(blob, every["conv.1"])
    single = run_torch(net, inputs)  # net.outputs == ["prob"]: one tensor, not a tuple
    assert isinstance(single, torch.Tensor)
    torch.testing.assert_close(single, prob, rtol=0, atol=0)


def test_partial_outputs_run_only_what_they_need_but_keep_all_weights():
    net = make_net(TINY, {"data": (2, 3, 8, 8)})
    module = lower(net, outputs=["pool"])
    called = {node.target for node in module.graph.nodes if node.op == "call_module"}
    # the Scale "pass" runs inside its BatchNorm's call (one pass), its parameters fetched for it
    assert called == {module_name(name) for name in ("forward", "conv.1/bn", 'relu"1', "pool")}
    fetched = {node.target for node in module.graph.nodes if node.op == "get_attr"}
    assert fetched == {f"{module_name('pass')}.weight", f"{module_name('pass')}.bias"}
    assert module.absorbed == {"conv.1/bn": "pass"}
    assert list(module.state_dict()) == list(parameter_map(net))


def test_unknown_output_fails():
    net = make_net(TINY, {"data": (2, 3, 8, 8)})
    with pytest.raises(ConvertError, match="no blob or value named 'nope'"):
        lower(net, outputs=["nope"])
    with pytest.raises(TypeError):
        lower(net, outputs=["prob"], intermediate=True)


def test_node_names_are_readable():
    net = make_net(TINY, {"data": (2, 3, 8, 8)})
    names = [node.name for node in lower(net).graph.nodes]
    assert names == ["data", "forward", "pass_weight", "pass_bias", "conv_1_bn", "relu_1", "pool", "fc", "prob", "output"]
    names = [node.name for node in lower(net, one_pass_batchnorm=False).graph.nodes]
    assert names == ["data", "forward", "conv_1_bn", "pass_", "relu_1", "pool", "fc", "prob", "output"]


# ---- BatchNorm and its Scale in one pass (the graph users run) ------------------------------


def bn_scale_net(bn: str = "", scale: str = "scale_param { bias_term: true }", shape=(2, 3, 6, 6), factor: float = 2.0,
                 extra: str = "", bn_top: str = "conv", scale_top: str | None = None) -> Net:
    """conv -> BatchNorm -> Scale -> ReLU, in place unless bn_top and scale_top say otherwise."""
    scale_top = scale_top or bn_top
    first = ('layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" '
             'convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }' if len(shape) == 4 else
             'layer { name: "conv" type: "InnerProduct" bottom: "data" top: "conv" inner_product_param { num_output: 4 } }')
    body = f"""{first}
layer {{ name: "bn" type: "BatchNorm" bottom: "conv" top: "{bn_top}" {bn} }}
layer {{ name: "scale" type: "Scale" bottom: "{bn_top}" top: "{scale_top}" {scale} }}
layer {{ name: "relu" type: "ReLU" bottom: "{scale_top}" top: "{scale_top}" }}
{extra}"""
    net = make_net(body, {"data": shape})
    rng = np.random.default_rng(5)
    net.layer("bn").blobs = [(rng.normal(0, 0.3, 4) * factor).astype(np.float32),
                             (rng.uniform(0.5, 1.5, 4) * factor).astype(np.float32), np.float32([factor])]
    return net


ONE_PASS = {
    # name: (bn_scale_net arguments, BatchNorm absorbs the Scale)
    "in-place-with-bias": ({}, True),
    "no-bias": ({"scale": ""}, True),
    "axis-minus-3": ({"scale": "scale_param { axis: -3 bias_term: true }"}, True),
    "eps-and-factor-999.9": ({"bn": "batch_norm_param { eps: 0.001 }", "factor": 999.9}, True),
    "factor-0": ({"factor": 0.0}, True),
    "inner-product-nc": ({"shape": (3, 5)}, True),
    "batch-statistics": ({"bn": "batch_norm_param { use_global_stats: false }", "shape": (4, 3, 6, 6)}, False),
    "factor-over-c-h-w": ({"scale": "scale_param { num_axes: -1 bias_term: true }"}, False),
    "scalar-factor": ({"scale": "scale_param { num_axes: 0 }"}, False),
    "second-reader": ({"bn_top": "bn", "scale_top": "scaled",
                       "extra": 'layer { name: "sum" type: "Eltwise" bottom: "bn" bottom: "scaled" top: "sum" }'}, False),
    "read-after-overwrite": ({"bn_top": "bn",  # "bn" here is the ReLU's value: the BatchNorm's has one reader
                              "extra": 'layer { name: "sum" type: "Eltwise" bottom: "bn" bottom: "conv" top: "sum" }'}, True),
}


@pytest.mark.parametrize("kwargs, absorbed", _grid(ONE_PASS))
def test_one_pass_batchnorm_scale_matches_the_oracle(kwargs, absorbed):
    net = bn_scale_net(**kwargs)
    inputs = random_inputs(net)
    outputs = list(net.outputs)
    module = lower(net, outputs=outputs)
    assert module.absorbed == ({"bn": "scale"} if absorbed else {})
    with torch.inference_mode():
        got = module(*[torch.from_numpy(inputs[name]) for name in net.inputs])
    got = got if isinstance(got, tuple) else (got,)
    expected = reference.run(net, inputs, intermediate=True)
    for value, have in zip(outputs, got):
        want = expected[net.final.get(value, value)]
        np.testing.assert_allclose(have.numpy(), want, rtol=0, atol=TOL * max(np.abs(want).max(), 1e-30), err_msg=value)


def test_one_pass_only_where_the_batchnorm_value_is_hidden():
    net = bn_scale_net()
    assert lower(net, outputs=["conv@bn"]).absorbed == {}  # asked for: computed on its own
    assert lower(net, outputs=["conv@scale"]).absorbed == {"bn": "scale"}
    assert lower(net, one_pass_batchnorm=False).absorbed == {}
    assert lower(net, intermediate=True).absorbed == {}
    two_bottoms = make_net("""
layer { name: "bn" type: "BatchNorm" bottom: "x" top: "x" }
layer { name: "scale" type: "Scale" bottom: "x" bottom: "gate" top: "y" scale_param { axis: 0 } }
""", {"x": (2, 3, 4, 4), "gate": (2, 3)})
    assert lower(two_bottoms).absorbed == {}


def test_batchnorm_statistics_follow_its_buffers():
    # eager calls reuse mean*sf and var*sf; any change to the buffers must show at once
    net = bn_scale_net()
    module = lower(net, outputs=["conv"])
    x = torch.from_numpy(random_inputs(net)["data"])
    bn = module.get_submodule("bn")
    with torch.inference_mode():
        first = module(x)
    state = {k: v.clone() for k, v in module.state_dict().items()}
    state["bn.mean"] += 1
    state["bn.scale_factor"] *= 4
    module.load_state_dict(state)
    fresh = lower(net, outputs=["conv"])
    fresh.load_state_dict(state)
    assert torch.equal(module(x), fresh(x)) and not torch.equal(module(x), first)
    with torch.no_grad():
        bn.var.mul_(3)  # an in-place edit
    fresh.load_state_dict(module.state_dict())
    assert torch.equal(module(x), fresh(x))
    # statistics cached inside inference_mode still serve a forward pass that records gradients
    x.requires_grad_(True)
    module(x).sum().backward()
    assert x.grad is not None and module.get_submodule("scale").weight.grad is not None


def test_one_pass_graph_compiles_whole_and_keeps_bf16_channels_last():
    net = bn_scale_net(extra='layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: AVE global_pooling: true } }')
    module = lower(net, outputs=["pool"]).eval()
    x = torch.from_numpy(random_inputs(net)["data"])
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")  # fullgraph: a break is an error
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), module(x), rtol=1e-6, atol=1e-6)
    channels_last = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        scaled = lower(net, outputs=["conv@scale"]).to(memory_format=torch.channels_last)(channels_last)
    assert scaled.dtype == torch.bfloat16 and scaled.is_contiguous(memory_format=torch.channels_last)


# ---- SENet-154's distinctive parts, and a dynamic batch ------------------------------------


def conv_bn(name: str, bottom: str, out: int, kernel: int, stride: int = 1, pad: int = 0, group: int = 1, relu: bool = True) -> str:
    text = f"""
layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{name}"
        convolution_param {{ num_output: {out} bias_term: false kernel_size: {kernel} stride: {stride} pad: {pad} group: {group} }} }}
layer {{ name: "{name}/bn" type: "BatchNorm" bottom: "{name}" top: "{name}" batch_norm_param {{ use_global_stats: true }} }}
layer {{ name: "{name}/bn/scale" type: "Scale" bottom: "{name}" top: "{name}" scale_param {{ bias_term: true }} }}
"""
    return text + (f'layer {{ name: "{name}/relu" type: "ReLU" bottom: "{name}" top: "{name}" }}\n' if relu else "")


SENET154_PARTS = (
    # three-conv stem, pool 3x3/s2 ceil
    conv_bn("conv1_1/3x3_s2", "data", 8, 3, 2, 1)
    + conv_bn("conv1_2/3x3", "conv1_1/3x3_s2", 8, 3, 1, 1)
    + conv_bn("conv1_3/3x3", "conv1_2/3x3", 16, 3, 1, 1)
    + 'layer { name: "pool1/3x3_s2" type: "Pooling" bottom: "conv1_3/3x3" top: "pool1/3x3_s2" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }\n'
    # a downsampling block: 1x1, 3x3 group 64 stride 2, 1x1; 3x3 stride 2 projection shortcut
    + conv_bn("conv2_1_1x1_reduce", "pool1/3x3_s2", 128, 1)
    + conv_bn("conv2_1_3x3", "conv2_1_1x1_reduce", 128, 3, 2, 1, group=64)
    + conv_bn("conv2_1_1x1_increase", "conv2_1_3x3", 32, 1, relu=False)
    + conv_bn("conv2_1_1x1_proj", "pool1/3x3_s2", 32, 3, 2, 1, relu=False)
    # squeeze-excitation gate, fused with the residual add by Axpy
    + """
layer { name: "conv2_1_global_pool" type: "Pooling" bottom: "conv2_1_1x1_increase" top: "conv2_1_global_pool"
        pooling_param { pool: AVE kernel_size: 5 stride: 1 } }
layer { name: "conv2_1_1x1_down" type: "Convolution" bottom: "conv2_1_global_pool" top: "conv2_1_1x1_down"
        convolution_param { num_output: 2 kernel_size: 1 stride: 1 } }
layer { name: "conv2_1_1x1_down/relu" type: "ReLU" bottom: "conv2_1_1x1_down" top: "conv2_1_1x1_down" }
layer { name: "conv2_1_1x1_up" type: "Convolution" bottom: "conv2_1_1x1_down" top: "conv2_1_1x1_up"
        convolution_param { num_output: 32 kernel_size: 1 stride: 1 } }
layer { name: "conv2_1_prob" type: "Sigmoid" bottom: "conv2_1_1x1_up" top: "conv2_1_1x1_up" }
layer { name: "conv2_1" type: "Axpy" bottom: "conv2_1_1x1_up" bottom: "conv2_1_1x1_increase" bottom: "conv2_1_1x1_proj" top: "conv2_1" }
layer { name: "conv2_1/relu" type: "ReLU" bottom: "conv2_1" top: "conv2_1" }
layer { name: "pool5/7x7_s1" type: "Pooling" bottom: "conv2_1" top: "pool5/7x7_s1" pooling_param { pool: AVE kernel_size: 5 stride: 1 } }
layer { name: "pool5/7x7_s1/drop" type: "Dropout" bottom: "pool5/7x7_s1" top: "pool5/7x7_s1" dropout_param { dropout_ratio: 0.2 } }
layer { name: "classifier" type: "InnerProduct" bottom: "pool5/7x7_s1" top: "classifier" inner_product_param { num_output: 10 } }
layer { name: "prob" type: "Softmax" bottom: "classifier" top: "prob" }
"""
)


def test_senet154_parts_vs_oracle():
    net = make_net(SENET154_PARTS, {"data": (2, 3, 36, 36)})
    # 36 -> 18 (stride 2) -> pool: floor 8, Caffe's ceil 9 -> 5 (stride 2)
    assert net.shapes["pool1/3x3_s2"] == (2, 16, 9, 9) and net.shapes["conv2_1"] == (2, 32, 5, 5)
    got = assert_matches_oracle(net)
    # Dropout is the identity at test time
    assert torch.equal(got["pool5/7x7_s1"], got["pool5/7x7_s1@pool5/7x7_s1/drop"])


SE_INCEPTION_GATE = """
layer { name: "inception/1x1" type: "Convolution" bottom: "data" top: "inception/1x1" convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "inception/pool" type: "Pooling" bottom: "data" top: "inception/pool" pooling_param { pool: AVE kernel_size: 3 stride: 1 pad: 1 } }
layer { name: "inception/output" type: "Concat" bottom: "inception/1x1" bottom: "inception/pool" top: "inception/output" }
layer { name: "inception_global_pool" type: "Pooling" bottom: "inception/output" top: "inception_global_pool" pooling_param { pool: AVE engine: CAFFE global_pooling: true } }
layer { name: "inception_1x1_up" type: "Convolution" bottom: "inception_global_pool" top: "inception_1x1_up" convolution_param { num_output: 7 kernel_size: 1 } }
layer { name: "inception_prob" type: "Sigmoid" bottom: "inception_1x1_up" top: "inception_1x1_up" }
layer { name: "inception_prob_reshape" type: "Reshape" bottom: "inception_1x1_up" top: "inception_prob_reshape" reshape_param { shape { dim: 0 dim: 0 } } }
layer { name: "inception/scale" type: "Scale" bottom: "inception/output" bottom: "inception_prob_reshape" top: "inception/scaled" scale_param { axis: 0 bias_term: false } }
layer { name: "pool" type: "Pooling" bottom: "inception/scaled" top: "pool" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 5 } }
"""


@pytest.mark.parametrize("body", [SENET154_PARTS, SE_INCEPTION_GATE], ids=["senet154-parts", "se-inception-gate"])
def test_export_keeps_the_batch_dynamic(body):
    net = make_net(body, {"data": (2, 3, 12, 12) if body is SE_INCEPTION_GATE else (2, 3, 36, 36)})
    module = lower(net).eval()
    example = torch.from_numpy(random_inputs(net)["data"])
    program = torch.export.export(module, (example,), dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=64)},))
    other = torch.randn(5, *example.shape[1:])
    with torch.inference_mode():
        torch.testing.assert_close(program.module()(other), module(other), rtol=1e-6, atol=1e-6)
    assert set(program.state_dict) == set(parameter_map(net))


def _imports(path) -> set[str]:
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.update([base] + [f"{base}.{alias.name}" if node.module else base + alias.name for alias in node.names])
    return names


def test_lowering_shares_no_arithmetic_with_the_oracle_or_the_loader():
    package = Path(registry.__file__).parent
    for path in sorted(package.glob("*.py")):
        imported = _imports(path)
        shared = {name for name in imported if name.lstrip(".").split(".")[0] in {"reference", "shapes", "loader"}}
        assert not shared, f"{path.name} imports {shared}"

