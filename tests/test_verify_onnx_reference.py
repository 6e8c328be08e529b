"""verify --onnx runs ONNX's own reference evaluator beside ONNX Runtime where that is cheap: the minis
pass in it against the oracle and real Caffe, a wrong file fails in it too, and where it is not run the
report says why."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from conftest import FIXTURES
from test_verify import MINIS, golden_caffe_blobs

from senet_convert import verify as parity
from senet_convert.export.onnx import export_onnx
from senet_convert.loader import load_net, net_from_text
from senet_convert.verify import onnx_reference


def _rows(report, prefix: str):
    return [b for b in report.backends if b.name.startswith(prefix)]


@pytest.mark.parametrize("model", MINIS)
def test_minis_pass_in_the_reference_evaluator_against_the_oracle_and_real_caffe(model, goldens_dir, synthetic, tmp_path):
    stem = f"{model}.mini"
    net = load_net(goldens_dir / f"{stem}.prototxt", goldens_dir / f"{stem}.caffemodel")
    caffe, x = golden_caffe_blobs(goldens_dir, stem, synthetic)
    export_onnx(net, tmp_path / "mini.onnx")
    report = parity.verify(net, {"data": x}, onnx=tmp_path / "mini.onnx", caffe_blobs=caffe, caffe_name="golden", info=False)
    assert report.ok, report.render()
    oracle_row, caffe_row = _rows(report, "onnx.reference")
    assert oracle_row.against == "oracle float64" and caffe_row.against.startswith("Caffe")
    # every value of the net but its input, as ONNX Runtime's row
    (ort_row, _) = _rows(report, "onnxruntime")
    assert {c.value for c in oracle_row.checks} == {c.value for c in ort_row.checks}
    assert len(oracle_row.checks) == len(parity.execution_order(net))
    assert oracle_row.worst_relative < 1e-5 and caffe_row.worst_relative < 1e-5


def test_a_wrong_file_fails_in_the_reference_evaluator_too(tmp_path):
    net = load_net(FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel")
    export_onnx(net, tmp_path / "tiny.onnx")
    model = onnx.load(str(tmp_path / "tiny.onnx"))
    weight = next(t for t in model.graph.initializer if t.name.endswith(".weight"))
    array = onnx.numpy_helper.to_array(weight).copy()
    array.flat[0] += 1.0  # one weight of the first convolution
    weight.CopyFrom(onnx.numpy_helper.from_array(array, weight.name))
    onnx.save(model, str(tmp_path / "wrong.onnx"))
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    report = parity.verify(net, {"data": x}, onnx=tmp_path / "wrong.onnx", info=False)
    assert not report.ok
    (reference,) = _rows(report, "onnx.reference")
    (runtime,) = _rows(report, "onnxruntime")
    assert not reference.ok and not runtime.ok
    assert reference.first_failure.value == runtime.first_failure.value


def test_where_it_is_not_run_the_report_says_why(tmp_path, monkeypatch):
    net = load_net(FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel")
    export_onnx(net, tmp_path / "tiny.onnx")
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    monkeypatch.setattr(onnx_reference, "REFERENCE_MACS", onnx_reference.multiply_adds(net, 1) - 1)
    report = parity.verify(net, {"data": x}, onnx=tmp_path / "tiny.onnx", info=False)
    assert report.ok and not _rows(report, "onnx.reference")
    assert any("onnx.reference not run on tiny.onnx" in n and "multiply-adds" in n for n in report.notes)


def test_an_lrn_file_is_left_to_onnx_runtime(tmp_path):
    text = 'input: "data" input_shape { dim: 2 dim: 4 dim: 3 dim: 3 }\nlayer { name: "norm" type: "LRN" bottom: "data" top: "norm" }\n'
    net = net_from_text(text)
    export_onnx(net, tmp_path / "lrn.onnx")
    x = np.random.default_rng(0).standard_normal((2, 4, 3, 3)).astype(np.float32)
    report = parity.verify(net, {"data": x}, onnx=tmp_path / "lrn.onnx", info=False)
    assert report.ok and not _rows(report, "onnx.reference") and _rows(report, "onnxruntime")
    assert any("LRN node" in n for n in report.notes)


def test_multiply_adds_counts_the_weighted_layers():
    text = """input: "data" input_shape { dim: 1 dim: 2 dim: 5 dim: 5 }
layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 group: 2 } }
layer { name: "d" type: "Deconvolution" bottom: "c" top: "d" convolution_param { num_output: 2 kernel_size: 2 } }
layer { name: "f" type: "InnerProduct" bottom: "d" top: "f" inner_product_param { num_output: 3 } }
"""
    net = net_from_text(text)
    for layer in net.layers:
        layer.blobs = [np.zeros(s, np.float32) for s in layer.setup.blobs]
    conv = 4 * 3 * 3 * (1 * 3 * 3)  # 4x3x3 outputs, each over C/group x 3 x 3 weights
    deconv = 4 * 3 * 3 * (2 * 2 * 2)  # every input value meets num_output x 2 x 2 weights
    inner = 3 * (2 * 4 * 4)
    assert onnx_reference.multiply_adds(net, 2) == 2 * (conv + deconv + inner)
