"""The loader against the official prototxts, real-Caffe goldens and hand-made files."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import FIXTURES, GOLDEN_FULL, GOLDENS, MODELS, OFFICIAL, need_shared
from google.protobuf import text_format

from senet_convert.caffe import caffe_pb2
from senet_convert.caffe.writer import write_caffemodel
from senet_convert.loader import load_net


def _split_sources(layers: list[dict]) -> dict[str, str]:
    """Caffe's auto-inserted Split tops -> the blob they copy."""
    return {top: layer["bottoms"][0] for layer in layers if layer["type"] == "Split" for top in layer["tops"]}


@pytest.mark.parametrize("model", OFFICIAL)
def test_official_prototxts_load(model):
    net = load_net(need_shared(MODELS / f"{model}.prototxt"), batch=2)
    assert net.inputs == {"data": (2, 3, 224, 224)}
    assert [net.blob_of[v] for v in net.outputs] == ["prob"]
    assert net.shapes[net.final["prob"]] == (2, 1000)
    assert net.mean_bgr == (104.0, 117.0, 123.0)


@pytest.mark.parametrize("golden", [f"{m}.golden" for m in GOLDEN_FULL] + [f"{m}.mini.golden" for m in GOLDEN_FULL])
def test_blob_shapes_equal_real_caffe(golden):
    info = json.loads(need_shared(GOLDENS / f"{golden}.json").read_text())
    model = golden.removesuffix(".golden")
    prototxt = GOLDENS / f"{model}.prototxt" if ".mini" in model else MODELS / f"{model}.prototxt"
    net = load_net(need_shared(prototxt), batch=2)
    sources = _split_sources(info["layers"])
    for blob in info["blobs"]:
        value = net.final[sources.get(blob["name"], blob["name"])]
        assert net.shapes[value] == tuple(blob["shape"]), blob["name"]
    assert len(info["blobs"]) > 150


def test_ceil_pooling_and_inception_concats(models_dir):
    resnet = load_net(models_dir / "SE-ResNet-50.prototxt", batch=2)
    assert resnet.shapes[resnet.final["pool1/3x3_s2"]] == (2, 64, 56, 56)  # floor would give 55
    inception = load_net(models_dir / "SE-BN-Inception.prototxt", batch=2)
    for concat in ("inception_3c/concat", "inception_4e/concat"):
        layer = next(l for l in inception.layers if l.type == "Concat" and concat in l.caffe_tops)
        spatial = {inception.shapes[b][2:] for b in layer.bottoms}
        assert len(spatial) == 1, (concat, spatial)


@pytest.mark.parametrize("model", GOLDEN_FULL)
def test_mini_caffemodels_are_read_bit_exactly(model, synthetic):
    info = json.loads(need_shared(GOLDENS / f"{model}.mini.golden.json").read_text())
    net = load_net(GOLDENS / f"{model}.mini.prototxt", GOLDENS / f"{model}.mini.caffemodel")
    expected = {l["name"]: l["param_shapes"] for l in info["layers"] if l["param_shapes"]}
    loaded = {layer.name: layer for layer in net.layers if layer.blobs}
    assert set(loaded) == set(expected)
    for name, shapes in expected.items():
        layer = loaded[name]
        assert [list(b.shape) for b in layer.blobs] == shapes, name
        for i, blob in enumerate(layer.blobs):
            want = synthetic.synthetic_blob(name, layer.type, i, blob.shape)
            assert blob.dtype == np.float32
            assert np.array_equal(blob.view(np.uint32), want.view(np.uint32)), (name, i)
    assert net.unused_weights == []


def test_v1_pair_loads_like_its_v2_twin():
    v1 = load_net(FIXTURES / "tiny-plain-v1.prototxt", FIXTURES / "tiny-plain-v1.caffemodel")
    v2 = load_net(FIXTURES / "tiny-plain-v2.prototxt", FIXTURES / "tiny-plain-v2.caffemodel")
    assert [(l.name, l.type, l.bottoms, l.tops) for l in v1.layers] == [(l.name, l.type, l.bottoms, l.tops) for l in v2.layers]
    for a, b in zip(v1.layers, v2.layers):
        assert a.param == b.param, a.name
        assert len(a.blobs) == len(b.blobs)
        for x, y in zip(a.blobs, b.blobs):
            assert x.shape == y.shape and np.array_equal(x, y), a.name
    assert v1.shapes == v2.shapes and v1.outputs == v2.outputs
    assert {"Convolution", "Eltwise", "Concat", "Dropout", "InnerProduct"} <= {l.type for l in v1.layers}


def test_in_place_values_are_renamed_and_mapped_back():
    net = load_net(FIXTURES / "tiny-senet.prototxt")
    conv, bn, scale, relu = net.layers[:4]
    assert conv.tops == ("conv1/3x3_s2",)
    assert bn.bottoms == conv.tops and bn.tops == ("conv1/3x3_s2@conv1/3x3_s2/bn",)
    assert scale.bottoms == bn.tops and relu.bottoms == scale.tops
    assert net.final["conv1/3x3_s2"] == relu.tops[0]
    assert {net.blob_of[v] for v in (conv.tops + bn.tops + scale.tops + relu.tops)} == {"conv1/3x3_s2"}
    defined = [t for l in net.layers for t in l.tops]
    assert len(defined) == len(set(defined))


HEAD = 'name: "t"\n'
CONV = 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 2 kernel_size: 3 } }\n'


@pytest.mark.parametrize(
    "inputs",
    [
        'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }\n',
        'input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n',
        'input: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 8\ninput_dim: 8\n',
    ],
    ids=["Input-layer", "input_shape", "input_dim"],
)
def test_three_input_forms(tmp_path, inputs):
    path = tmp_path / "net.prototxt"
    path.write_text(HEAD + inputs + CONV)
    net = load_net(path, batch=4)
    assert net.inputs == {"data": (4, 3, 8, 8)}
    assert net.shapes["c"] == (4, 2, 6, 6)


def test_phase_rules_keep_the_test_phase(tmp_path):
    path = tmp_path / "net.prototxt"
    path.write_text(
        HEAD
        + 'input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
        + 'layer { name: "train_only" type: "Dropout" bottom: "data" top: "d" include { phase: TRAIN } }\n'
        + 'layer { name: "test_only" type: "ReLU" bottom: "data" top: "r" include { phase: TEST } }\n'
        + 'layer { name: "not_test" type: "Sigmoid" bottom: "data" top: "s" exclude { phase: TEST } }\n'
        + 'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "r" bottom: "label" top: "loss" }\n'
    )
    net = load_net(path)
    assert [l.name for l in net.layers] == ["test_only"]
    assert [net.blob_of[v] for v in net.outputs] == ["r"]


def test_large_caffemodel_beyond_64mb_and_double_and_legacy_blobs(tmp_path):
    proto = tmp_path / "big.prototxt"
    proto.write_text(
        HEAD
        + 'input: "data"\ninput_shape { dim: 1 dim: 4608 }\n'
        + 'layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 4096 } }\n'
        + 'layer { name: "fc2" type: "InnerProduct" bottom: "fc" top: "fc2" inner_product_param { num_output: 3 } }\n'
    )
    weight = np.random.default_rng(0).standard_normal((4096, 4608), dtype=np.float32)  # 75 MB
    bias = np.arange(4096, dtype=np.float32)
    model = tmp_path / "big.caffemodel"
    # fc2's blobs: float64 double_data with legacy 4-D dims, as old Caffe versions wrote them.
    old = caffe_pb2.LayerParameter(name="fc2", type="InnerProduct")
    w2 = old.blobs.add(num=1, channels=1, height=3, width=4096)
    w2.double_data.extend(np.linspace(-1, 1, 3 * 4096))
    b2 = old.blobs.add(num=1, channels=1, height=1, width=3)
    b2.double_data.extend([0.5, 1.5, 2.5])
    write_caffemodel(model, [(caffe_pb2.LayerParameter(name="fc", type="InnerProduct"), [weight, bias])])
    with open(model, "ab") as out:
        out.write(caffe_pb2.NetParameter(layer=[old]).SerializeToString())
    assert model.stat().st_size > 64 * 2**20
    net = load_net(proto, model)
    assert np.array_equal(net.layer("fc").blobs[0], weight) and np.array_equal(net.layer("fc").blobs[1], bias)
    fc2 = net.layer("fc2").blobs
    assert fc2[0].shape == (3, 4096) and fc2[0].dtype == np.float32
    assert np.array_equal(fc2[0].ravel(), np.linspace(-1, 1, 3 * 4096).astype(np.float32))
    assert fc2[1].tolist() == [0.5, 1.5, 2.5]


def test_parameterless_layers_may_differ_in_name(tmp_path):
    # The official SENet-154 caffemodel names some ReLU/Pooling layers differently from its prototxt.
    proto = FIXTURES / "tiny-senet.prototxt"
    net = load_net(proto)
    model = tmp_path / "renamed.caffemodel"

    def layers():
        for layer in net.layers:
            name = layer.name if layer.type not in ("ReLU", "Pooling") else layer.name + "_renamed"
            yield caffe_pb2.LayerParameter(name=name, type=layer.type), [np.ones(s, np.float32) for s in layer.setup.blobs]

    write_caffemodel(model, layers())
    loaded = load_net(proto, model)
    assert loaded.unused_weights == []
    assert all(l.blobs for l in loaded.layers if l.type in ("Convolution", "BatchNorm", "Scale", "InnerProduct"))


def test_unused_weights_are_reported(tmp_path):
    model = tmp_path / "extra.caffemodel"
    with open(model, "wb") as out:
        out.write((FIXTURES / "tiny-senet.caffemodel").read_bytes())
    write_caffemodel(tmp_path / "x.caffemodel", [(caffe_pb2.LayerParameter(name="orphan", type="Convolution"), [np.ones((2, 2), np.float32)])])
    with open(model, "ab") as out:
        out.write((tmp_path / "x.caffemodel").read_bytes())
    net = load_net(FIXTURES / "tiny-senet.prototxt", model)
    assert net.unused_weights == ["orphan"]


def test_text_of_layer_params_keeps_caffe_defaults():
    net = load_net(FIXTURES / "tiny-senet.prototxt")
    pool = net.layer("pool1/3x3_s2").param.pooling_param
    assert pool.round_mode == caffe_pb2.PoolingParameter.CEIL and pool.pad == 0
    assert net.layer("conv1/3x3_s2/bn").param.batch_norm_param.eps == pytest.approx(1e-5)
    assert text_format.MessageToString(net.layer("conv1/3x3_s2").param.convolution_param, as_one_line=True)
    assert not net.layer("conv1/3x3_s2").param.blobs
