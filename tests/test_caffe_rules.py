"""Caffe's own answer where a file is ambiguous: duplicate tops, layers stored twice in the
caffemodel, data beside double_data, legacy dims beside BlobShape (net.cpp, blob.cpp)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import FIXTURES
from senet_convert.caffe import caffe_pb2
from senet_convert.errors import ConvertError
from senet_convert.loader import load_net

HEAD = 'name: "t"\ninput: "data"\ninput_shape { dim: 1 dim: 2 dim: 4 dim: 4 }\n'
FC = 'layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 3 } }\n'


def _proto(tmp_path, body: str):
    path = tmp_path / "net.prototxt"
    path.write_text(HEAD + body)
    return path


def _model(tmp_path, *layers: caffe_pb2.LayerParameter):
    path = tmp_path / "net.caffemodel"
    path.write_bytes(caffe_pb2.NetParameter(layer=list(layers)).SerializeToString())
    return path


def _fc(weight=None, bias=None, **blob_fields) -> caffe_pb2.LayerParameter:
    layer = caffe_pb2.LayerParameter(name="fc", type="InnerProduct")
    w = layer.blobs.add(**blob_fields.get("w", {}))
    if "w" not in blob_fields:
        w.shape.dim.extend([3, 32])
    w.data.extend(np.zeros(96) if weight is None else weight)
    b = layer.blobs.add()
    b.shape.dim.extend([3])
    b.data.extend(np.zeros(3) if bias is None else bias)
    return layer


# ---- tops: "Duplicate blobs produced by multiple sources" ----


def test_a_top_written_by_two_layers_is_refused_as_caffe_does(tmp_path):
    path = _proto(tmp_path, 'layer { name: "a" type: "ReLU" bottom: "data" top: "x" }\n'
                            'layer { name: "b" type: "Sigmoid" bottom: "data" top: "x" }\n')
    with pytest.raises(ConvertError, match=r"layer 'b' \(Sigmoid\).*'x' is already produced by layer 'a'.*multiple sources"):
        load_net(path)


def test_a_top_named_after_a_bottom_at_another_index_is_not_in_place(tmp_path):
    # Caffe's in-place test is top j == bottom j: top 0 == bottom 1 is a second source of 'data'.
    path = _proto(tmp_path, 'layer { name: "e" type: "Eltwise" bottom: "fc0" bottom: "data" top: "data" }\n')
    path.write_text(HEAD + 'layer { name: "r" type: "ReLU" bottom: "data" top: "fc0" }\n'
                    'layer { name: "e" type: "Eltwise" bottom: "fc0" bottom: "data" top: "data" }\n')
    with pytest.raises(ConvertError, match=r"layer 'e'.*already produced by the net's input"):
        load_net(path)


def test_in_place_chains_are_caffes_own_and_stay_accepted(tmp_path):
    path = _proto(tmp_path, 'layer { name: "r" type: "ReLU" bottom: "data" top: "y" }\n'
                            'layer { name: "s" type: "Sigmoid" bottom: "y" top: "y" }\n'
                            'layer { name: "t" type: "TanH" bottom: "y" top: "y" }\n'
                            'layer { name: "p" type: "Pooling" bottom: "y" top: "p" pooling_param { kernel_size: 2 } }\n'
                            'layer { name: "q" type: "Pooling" bottom: "y" top: "q" pooling_param { kernel_size: 2 } }\n')
    assert [l.name for l in load_net(path).layers] == ["r", "s", "t", "p", "q"]


def test_in_place_write_to_a_value_another_layer_reads_is_refused(tmp_path):
    # InsertSplits renames both readers' bottoms to split blobs, so the in-place top 'y' no longer
    # equals its bottom and Caffe reports a second source.
    path = _proto(tmp_path, 'layer { name: "r" type: "ReLU" bottom: "data" top: "y" }\n'
                            'layer { name: "p" type: "Pooling" bottom: "y" top: "p" pooling_param { kernel_size: 2 } }\n'
                            'layer { name: "s" type: "Sigmoid" bottom: "y" top: "y" }\n')
    with pytest.raises(ConvertError, match=r"layer 's' \(Sigmoid\).*in place, but layer 'p' also reads it"):
        load_net(path)


def test_the_official_pattern_in_place_after_the_last_reader_is_fine():
    assert load_net(FIXTURES / "tiny-senet.prototxt").layers


# ---- the caffemodel: copies in order, double_data, legacy dims ----


def test_a_layer_stored_twice_gets_its_last_copy(tmp_path):
    path = _proto(tmp_path, FC)
    first, last = np.full(96, 1.0), np.full(96, 2.0)
    net = load_net(path, _model(tmp_path, _fc(first), _fc(last)))
    assert np.all(net.layer("fc").blobs[0] == 2.0)


def test_a_wrongly_shaped_later_copy_is_an_error_as_in_caffe(tmp_path):
    path = _proto(tmp_path, FC)
    bad = _fc()
    bad.blobs[0].shape.dim[:] = [4, 24]
    with pytest.raises(ConvertError, match=r"layer 'fc' \(InnerProduct\), copy 2 of 2 in the caffemodel: blob 0 shape mismatch"):
        load_net(path, _model(tmp_path, _fc(), bad))


def test_double_data_is_preferred_over_data(tmp_path):
    layer = _fc(np.full(96, 1.0))
    layer.blobs[0].double_data.extend(np.full(96, 0.25))
    net = load_net(_proto(tmp_path, FC), _model(tmp_path, layer))
    assert np.all(net.layer("fc").blobs[0] == 0.25)


def test_double_data_of_the_wrong_count_is_refused_even_beside_good_data(tmp_path):
    layer = _fc()
    layer.blobs[0].double_data.extend([1.0, 2.0])
    with pytest.raises(ConvertError, match="blob 0 holds 2 values in double_data"):
        load_net(_proto(tmp_path, FC), _model(tmp_path, layer))


def test_legacy_dims_decide_over_the_blob_shape(tmp_path):
    # BlobShape is wrong, the legacy dims (1, 1, 3, 32) are right: Caffe's ShapeEquals takes the legacy ones.
    layer = _fc(w={"num": 1, "channels": 1, "height": 3, "width": 32})
    layer.blobs[0].shape.dim.extend([7, 7])
    net = load_net(_proto(tmp_path, FC), _model(tmp_path, layer))
    assert net.layer("fc").blobs[0].shape == (3, 32)
    # and the other way round: a right BlobShape does not rescue wrong legacy dims
    layer = _fc(w={"num": 1, "channels": 1, "height": 96, "width": 1})
    layer.blobs[0].shape.dim.extend([3, 32])
    with pytest.raises(ConvertError, match="blob 0 shape mismatch.*3x32 \\(96\\).*1x1x96x1 \\(96\\)"):
        load_net(_proto(tmp_path, FC), _model(tmp_path, layer))


def test_a_blob_without_any_shape_is_refused(tmp_path):
    layer = _fc()
    layer.blobs[0].ClearField("shape")
    with pytest.raises(ConvertError, match="blob 0 has no shape"):
        load_net(_proto(tmp_path, FC), _model(tmp_path, layer))


def test_a_diff_of_the_wrong_count_is_refused(tmp_path):
    layer = _fc()
    layer.blobs[1].diff.extend([0.0])
    with pytest.raises(ConvertError, match="blob 1 holds 1 diff values"):
        load_net(_proto(tmp_path, FC), _model(tmp_path, layer))


# ---- weights that are not finite ----


def test_non_finite_weights_are_warned_about_by_layer(tmp_path):
    weight = np.zeros(96)
    weight[:3] = np.nan
    weight[5] = np.inf
    net = load_net(_proto(tmp_path, FC), _model(tmp_path, _fc(weight)))
    assert net.warnings == [f"{tmp_path / 'net.caffemodel'}: layer 'fc' (InnerProduct): blob 0 holds 3 NaN and 1 infinite of 96 values"]


def test_double_data_overflowing_float32_is_reported(tmp_path):
    layer = _fc()
    del layer.blobs[1].data[:]
    layer.blobs[1].double_data.extend([1e300, -1e39, 1.0])
    net = load_net(_proto(tmp_path, FC), _model(tmp_path, layer))
    assert np.isinf(net.layer("fc").blobs[1][:2]).all()
    assert "blob 1 holds 2 infinite of 3 values (2 from double_data too large for float32)" in net.warnings[0]


def test_finite_weights_give_no_warning():
    net = load_net(FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel")
    assert net.warnings == []
