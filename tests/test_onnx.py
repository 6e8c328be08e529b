"""ONNX export: a checked, standard-domain graph with a dynamic batch, named after the Caffe blobs, that
ONNX Runtime computes within the goldens' tolerance of real Caffe and of the float64 oracle.

The full-size exports (the three golden nets and the four official architectures without goldens,
SE-ResNet-101/152, SE-ResNeXt-101, SENet-154) take minutes on 2 cores: they are marked slow, and CI
runs them; `pytest -m "not slow"` leaves them out of a quick run.
"""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from conftest import FIXTURES, GOLDEN_FULL, OFFICIAL

from senet_convert import reference
from senet_convert import verify as parity
from senet_convert.errors import ConvertError
from senet_convert.export import onnx as ox
from senet_convert.loader import load_net
from senet_convert.verify import onnxruntime as ort
from senet_convert.verify.compare import relative_error

TINY = (FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel")
TOLERANCE = 2e-5


@pytest.fixture(scope="module")
def tiny():
    net = load_net(*TINY)
    model, info = ox.export_program(None, net)
    return net, model, info


@pytest.fixture(scope="module")
def tiny_file(tiny, tmp_path_factory):
    net, model, _ = tiny
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    assert ox.save_model(model, path) == [path]
    return net, path


def _oracle(net, x, **kwargs):
    return reference.run(net, {"data": x}, **kwargs)


def _relative(x, ref):
    return relative_error(x, ref)


def test_graph_is_standard_checked_and_named_after_caffe(tiny_file):
    net, path = tiny_file
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert {o.domain: o.version for o in model.opset_import} == {"": ox.OPSET}
    assert not model.functions
    ops = {n.op_type for n in model.graph.node}
    assert all(n.domain == "" and onnx.defs.has(n.op_type, "") for n in model.graph.node)
    assert {"Mul", "Add"} <= ops and "Axpy" not in ops  # Axpy: a * x + y
    (data,), (prob,) = model.graph.input, model.graph.output

    def dims(v):
        return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

    assert (data.name, dims(data)) == ("data", ["batch", 3, 32, 32])
    assert (prob.name, dims(prob)) == ("prob", ["batch", 10])
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["caffe.net"] == "Tiny-SENet" and meta["senet_convert.version"]
    assert model.producer_name == "senet-convert"
    layers = {layer.name for layer in net.layers}
    assert all(n.name.rsplit("/", 1)[0] in layers for n in model.graph.node), [n.name for n in model.graph.node][:10]
    assert not any(p.key.startswith("pkg.torch") for n in model.graph.node for p in n.metadata_props)


def test_dynamic_batch_matches_the_oracle(tiny_file):
    net, path = tiny_file
    session = ort.ort_session(path)
    rng = np.random.default_rng(0)
    for batch in (1, 3, 8):
        x = rng.uniform(-4, 4, (batch, 3, 32, 32)).astype(np.float32)
        (prob,) = session.run(None, {"data": x})
        assert _relative(prob, _oracle(net, x)["prob"]) <= TOLERANCE


def test_intermediate_values_are_exposed_by_name(tiny_file):
    net, path = tiny_file
    model = ort.load_model(path)
    values = parity.execution_order(net)
    named = [v for v in values if v in ort.tensor_names(model)]
    assert len(named) >= 0.8 * len(values)
    assert any("@" in v for v in named)  # values that in-place layers overwrite
    x = np.random.default_rng(1).uniform(-4, 4, (2, 3, 32, 32)).astype(np.float32)
    got = ort.run_onnx(ort.ort_session(ort.with_outputs(model, named)), {"data": x}, named)
    oracle = _oracle(net, x, intermediate=True)
    worst = max((_relative(got[v], oracle[v]), v) for v in named if np.abs(oracle[v]).max() > 0)
    assert worst[0] <= TOLERANCE, worst


def test_external_data_and_no_partial_files(tiny, tmp_path, monkeypatch):
    net, model, _ = tiny
    path = tmp_path / "big.onnx"
    files = ox.save_model(model, path, external_data=True)
    assert files == [path, tmp_path / "big.onnx.data"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.onnx", "big.onnx.data"]
    loaded = onnx.load(str(path), load_external_data=False)
    assert ort.uses_external_data(loaded)
    x = np.random.default_rng(2).uniform(-4, 4, (2, 3, 32, 32)).astype(np.float32)
    (prob,) = ort.ort_session(path).run(None, {"data": x})
    assert _relative(prob, _oracle(net, x)["prob"]) <= TOLERANCE
    # a failing check leaves neither file (nor the temporary folder) behind
    failed = tmp_path / "failed"

    def refuse(*args, **kwargs):
        raise onnx.checker.ValidationError("refused")

    monkeypatch.setattr(onnx.checker, "check_model", refuse)
    for external in (True, False):
        with pytest.raises(onnx.checker.ValidationError):
            ox.save_model(model, failed / "m.onnx", external_data=external)
        assert list(failed.iterdir()) == []


def test_outputs_and_opset_are_checked(tiny):
    net, _, _ = tiny
    assert ox.output_names(net, None) == (["prob"], ["prob"])
    assert ox.output_names(net, ["classifier", "prob"]) == (["classifier", "prob"], ["classifier", "prob"])
    # a Caffe blob's last value is returned under the blob's name; an earlier value under its own
    relu = net.final["conv1/3x3_s2"]
    assert ox.output_names(net, ["conv1/3x3_s2"]) == ([relu], ["conv1/3x3_s2"])
    assert ox.output_names(net, ["conv1/3x3_s2@conv1/3x3_s2/bn"])[1] == ["conv1/3x3_s2@conv1/3x3_s2/bn"]
    with pytest.raises(ConvertError, match="no blob or value named 'nope'"):
        ox.output_names(net, ["nope"])
    with pytest.raises(ConvertError, match="twice"):
        ox.output_names(net, ["prob", "prob"])
    with pytest.raises(ConvertError, match="opset 16"):
        ox.export_program(None, net, opset=16)


def test_onnx_bug_is_caught_and_named(tiny_file, tmp_path):
    # a corrupted weight inside the .onnx: ORT's first exposed value out of tolerance names the layer
    net, path = tiny_file
    model = ort.load_model(path)
    node = next(n for n in model.graph.node if n.name == "conv2_1_3x3/Conv")
    weight = next(t for t in model.graph.initializer if t.name == node.input[1])
    array = onnx.numpy_helper.to_array(weight).copy()
    array[0] *= 1.01
    weight.CopyFrom(onnx.numpy_helper.from_array(array, weight.name))
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    x = {"data": np.random.default_rng(4).uniform(-4, 4, (2, 3, 32, 32)).astype(np.float32)}
    report = parity.verify(net, x, onnx=bad, info=False)
    ort_row = next(b for b in report.backends if b.name.startswith("onnxruntime"))
    assert not report.ok and report.backends[0].ok
    assert ort_row.first_failure.layer == "conv2_1_3x3", report.render()
    # a file that senet-convert did not write is compared at its outputs only
    del model.metadata_props[:]
    onnx.save(model, str(bad))
    report = parity.verify(net, x, onnx=bad, info=False)
    ort_row = next(b for b in report.backends if b.name.startswith("onnxruntime"))
    assert [c.value for c in ort_row.checks] == ["prob"] and "outputs only" in ort_row.note


def _full_size(model, models_dir, synthetic_caffemodel, batch):
    return load_net(models_dir / f"{model}.prototxt", synthetic_caffemodel(model), batch=batch)


@pytest.mark.slow
@pytest.mark.parametrize("model", GOLDEN_FULL)
def test_full_size_onnx_and_torch_match_real_caffe(model, models_dir, goldens_dir, synthetic, synthetic_caffemodel, tmp_path):
    """Official prototxt, synthetic weights: ORT and torch vs real Caffe's logits and probabilities, and
    vs the oracle at every value (verify passes on the full-size golden models)."""
    net = _full_size(model, models_dir, synthetic_caffemodel, batch=2)
    info = ox.export_onnx(None, net, tmp_path / f"{model}.onnx", outputs=["classifier", "prob"])
    g = np.load(goldens_dir / f"{model}.golden.npz")
    x = synthetic.synthetic_input(tuple(g["input_shape"]), seed=int(g["input_seed"]))
    caffe = {"data": x, "classifier": g["blob/classifier/data"], "prob": g["blob/prob/data"]}
    report = parity.verify(net, {"data": x}, onnx=info["files"][0], caffe_blobs=caffe, info=False)
    assert report.ok, report.render()
    rows = {(b.name.split(" (")[0], b.against.split(" ")[0]): b for b in report.backends}
    ort_caffe = rows[("onnxruntime cpu", "Caffe")]
    assert sorted(c.value for c in ort_caffe.checks) == ["classifier", "prob"]
    for c in ort_caffe.checks:
        assert c.error <= TOLERANCE * c.scale, (c.value, c.relative)
    ort_oracle = rows[("onnxruntime cpu", "oracle")]
    assert len(ort_oracle.checks) >= 0.7 * len(parity.execution_order(net))
    assert rows[("torch cpu", "oracle")].total == len(rows[("torch cpu", "oracle")].checks)


@pytest.mark.slow
@pytest.mark.parametrize("model", [m for m in OFFICIAL if m not in GOLDEN_FULL])
def test_official_architectures_onnx_match_the_oracle(model, models_dir, synthetic, synthetic_caffemodel, tmp_path):
    net = _full_size(model, models_dir, synthetic_caffemodel, batch=1)
    info = ox.export_onnx(None, net, tmp_path / f"{model}.onnx")
    x = synthetic.synthetic_input((1, 3, 224, 224), seed=0)
    report = parity.verify(net, {"data": x}, onnx=info["files"][0], info=False)
    assert report.ok, report.render()
