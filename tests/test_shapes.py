"""Shape inference by Caffe's rules, on hand-worked cases."""
from __future__ import annotations

import pytest
from google.protobuf import text_format

from senet_convert.caffe import caffe_pb2
from senet_convert.caffe.layers import LayerError as ShapeError
from senet_convert.caffe.layers import set_up


def infer(param, shapes):
    setup = set_up(param.type, param, shapes, ["top"])
    return list(setup.tops), list(setup.blobs)


def layer(type_: str, params: str = "") -> caffe_pb2.LayerParameter:
    return text_format.Parse(f'type: "{type_}" {params}', caffe_pb2.LayerParameter())


@pytest.mark.parametrize(
    "params, size, expected",
    [
        ("kernel_size: 3 stride: 2", 112, 56),  # ceil; floor would give 55
        ("kernel_size: 3 stride: 2", 6, 3),
        ("kernel_size: 3 stride: 2 pad: 1", 6, 4),
        ("kernel_size: 2 stride: 3 pad: 1", 5, 2),  # ceil gives 3, but that window would start in the padding
        ("kernel_size: 2 stride: 2", 7, 4),
        ("kernel_size: 3 stride: 2 round_mode: FLOOR", 112, 55),
        ("kernel_size: 3 stride: 1 pad: 1", 28, 28),
        ("global_pooling: true", 7, 1),
    ],
    ids=["112-k3s2", "6-k3s2", "6-k3s2p1", "5-k2s3p1-clipped", "7-k2s2", "floor", "k3s1p1", "global"],
)
def test_pooling_sizes(params, size, expected):
    tops, blobs = infer(layer("Pooling", f"pooling_param {{ {params} }}"), [(2, 4, size, size)])
    assert tops == [(2, 4, expected, expected)] and blobs == []


def test_pooling_clip_rule_applies_to_both_axes_when_either_pad_is_set():
    # Caffe tests (out-1)*stride >= H + pad_h on both axes if pad_h or pad_w is non-zero.
    # rows: ceil((6+2-3)/2)+1 = 4 (3*2 < 7, kept); cols: ceil((5-1)/3)+1 = 3, and 2*3 >= 5 + 0
    # clips it to 2, but only because pad_h is set.
    params = "kernel_h: 3 kernel_w: 1 stride_h: 2 stride_w: 3 pad_w: 0 pad_h: {}"
    assert infer(layer("Pooling", f"pooling_param {{ {params.format(1)} }}"), [(1, 1, 6, 5)])[0] == [(1, 1, 4, 2)]
    assert infer(layer("Pooling", f"pooling_param {{ {params.format(0)} }}"), [(1, 1, 6, 5)])[0] == [(1, 1, 3, 3)]


def test_convolution_forms_and_blobs():
    tops, blobs = infer(layer("Convolution", "convolution_param { num_output: 64 kernel_h: 3 kernel_w: 5 stride: 2 pad_h: 1 pad_w: 2 group: 2 dilation: 2 }"), [(2, 8, 20, 20)])
    assert tops == [(2, 64, 9, 8)] and blobs == [(64, 4, 3, 5), (64,)]  # extents 5 and 9
    with pytest.raises(ShapeError, match="not both"):
        infer(layer("Convolution", "convolution_param { num_output: 4 kernel_size: 3 kernel_h: 3 kernel_w: 3 }"), [(1, 2, 8, 8)])
    with pytest.raises(ShapeError, match="group"):
        infer(layer("Convolution", "convolution_param { num_output: 4 kernel_size: 1 group: 3 }"), [(1, 6, 8, 8)])


@pytest.mark.parametrize(
    "dims, expected",
    [("dim: 0 dim: 0", (2, 64)), ("dim: 0 dim: -1", (2, 64)), ("dim: -1 dim: 8 dim: 8", (2, 8, 8)), ("dim: 0 dim: 0 dim: 1 dim: 1", (2, 64, 1, 1))],
)
def test_reshape_zero_and_minus_one(dims, expected):
    tops, _ = infer(layer("Reshape", f"reshape_param {{ shape {{ {dims} }} }}"), [(2, 64, 1, 1)])
    assert tops == [expected]


def test_two_bottom_scale_axis_zero_and_blobs():
    tops, blobs = infer(layer("Scale", "scale_param { axis: 0 bias_term: false }"), [(2, 64, 7, 7), (2, 64)])
    assert tops == [(2, 64, 7, 7)] and blobs == []
    with pytest.raises(ShapeError):
        infer(layer("Scale", "scale_param { axis: 0 }"), [(2, 64, 7, 7), (2, 32)])
    assert infer(layer("Scale", "scale_param { bias_term: true }"), [(2, 64, 7, 7)])[1] == [(64,), (64,)]


def test_inner_product_axis_and_transpose():
    assert infer(layer("InnerProduct", "inner_product_param { num_output: 10 }"), [(2, 64, 1, 1)]) == ([(2, 10)], [(10, 64), (10,)])
    assert infer(layer("InnerProduct", "inner_product_param { num_output: 10 transpose: true bias_term: false axis: 2 }"), [(2, 3, 4, 5)]) == ([(2, 3, 10)], [(20, 10)])


def test_axpy_eltwise_concat_batchnorm():
    assert infer(layer("Axpy"), [(2, 8, 1, 1), (2, 8, 5, 5), (2, 8, 5, 5)])[0] == [(2, 8, 5, 5)]
    with pytest.raises(ShapeError):
        infer(layer("Axpy"), [(2, 4, 1, 1), (2, 8, 5, 5), (2, 8, 5, 5)])
    with pytest.raises(ShapeError, match="coeff"):
        infer(layer("Eltwise", "eltwise_param { operation: PROD coeff: 1 coeff: 2 }"), [(1, 2), (1, 2)])
    assert infer(layer("Concat"), [(2, 3, 4, 4), (2, 5, 4, 4)])[0] == [(2, 8, 4, 4)]
    assert infer(layer("BatchNorm"), [(2, 3, 4, 4)])[1] == [(3,), (3,), (1,)]
