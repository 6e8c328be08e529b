"""ONNX files: a checked, standard-domain graph with a dynamic batch, every value named after the IR,
written from the Net's arrays without copies, that ONNX Runtime computes within the goldens' tolerance
of real Caffe and of the float64 oracle, on all seven official architectures.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest

from conftest import FIXTURES, GOLDEN_FULL, OFFICIAL, REPO, synthetic_net
from goldens import load_case
from senet_convert import reference
from senet_convert import verify as parity
from senet_convert.errors import ConvertError
from senet_convert.export import onnx as ox
from senet_convert.export.provenance import sha256
from senet_convert.export.onnx_files import tensor_header, write_inline
from senet_convert.loader import load_net
from senet_convert.verify import onnxruntime as ort
from senet_convert.verify.compare import relative_error

TINY = (FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel")
TOLERANCE = 2e-5


@pytest.fixture(scope="module")
def tiny():
    return load_net(*TINY)


@pytest.fixture(scope="module")
def tiny_file(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    info = ox.export_onnx(tiny, path)
    assert info["files"] == [path]
    return tiny, path


def _oracle(net, x, **kwargs):
    return reference.run(net, {"data": x}, **kwargs)


def _relative(x, ref):
    return relative_error(np.asarray(x, np.float64), ref)


def test_graph_is_standard_checked_and_named_after_caffe(tiny_file):
    net, path = tiny_file
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    assert {o.domain: o.version for o in model.opset_import} == {"": ox.OPSET}
    assert not model.functions
    ops = {n.op_type for n in model.graph.node}
    assert all(n.domain == "" and onnx.defs.has(n.op_type, "") for n in model.graph.node)
    assert {"Mul", "Add"} <= ops and "Axpy" not in ops  # Axpy: a * x + y
    assert not any(a.name == "ceil_mode" and a.i for n in model.graph.node for a in n.attribute)
    (data,), (prob,) = model.graph.input, model.graph.output

    def dims(v):
        return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

    assert (data.name, dims(data)) == ("data", ["batch", 3, 32, 32])
    assert (prob.name, dims(prob)) == ("prob", ["batch", 10])
    # every tensor has its shape recorded, the batch symbolic
    shapes = {v.name: dims(v) for v in model.graph.value_info}
    assert shapes["conv1/3x3_s2"] == ["batch", *net.shapes["conv1/3x3_s2"][1:]]
    assert set(shapes) >= ort.tensor_names(model) - {"prob"}
    layers = {layer.name for layer in net.layers}
    assert all(n.name.rsplit("/", 1)[0] in layers for n in model.graph.node), [n.name for n in model.graph.node][:10]
    assert all(t.name.rsplit(".", 1)[0] in layers for t in model.graph.initializer)
    assert not any(p.key.startswith("pkg.torch") for n in model.graph.node for p in n.metadata_props)


def test_metadata_holds_the_contract_class_order_sources_and_version(tiny_file):
    net, path = tiny_file
    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["caffe.net"] == "Tiny-SENet" and meta["senet_convert.version"] == model.producer_version
    assert model.producer_name == "senet-convert"
    assert meta["caffe.prototxt_sha256"] == sha256(TINY[0]) and meta["caffe.caffemodel_sha256"] == sha256(TINY[1])
    contract = json.loads(meta["caffe.input"])
    assert contract["name"] == "data" and contract["shape"][1:] == [3, 32, 32] and contract["class_order"] == meta["caffe.class_order"] == "caffe"
    assert json.loads(meta["caffe.outputs"]) == {"prob": "prob"}
    assert meta["senet_convert.optimized"] == "false"


def test_dynamic_batch_matches_the_oracle(tiny_file):
    net, path = tiny_file
    session = ort.ort_session(path)
    rng = np.random.default_rng(0)
    for batch in (1, 3, 8):
        x = rng.uniform(-4, 4, (batch, 3, 32, 32)).astype(np.float32)
        (prob,) = session.run(None, {"data": x})
        assert _relative(prob, _oracle(net, x)["prob"]) <= TOLERANCE


def test_every_value_is_exposed_by_name(tiny_file):
    net, path = tiny_file
    model = ort.load_model(path)
    values = [v for v in parity.execution_order(net) if v not in net.inputs]
    assert set(values) <= ort.tensor_names(model)
    assert any("@" in v for v in values)  # values that in-place layers overwrite
    x = np.random.default_rng(1).uniform(-4, 4, (2, 3, 32, 32)).astype(np.float32)
    got = ort.run_onnx(ort.ort_session(ort.with_outputs(model, values)), {"data": x}, values)
    oracle = _oracle(net, x, intermediate=True)
    worst = max((_relative(got[v], oracle[v]), v) for v in values if np.abs(oracle[v]).max() > 0)
    assert worst[0] <= TOLERANCE, worst


def test_onnx_reference_evaluator_agrees(tiny_file):
    # ONNX's own numpy runtime: a second implementation of every operator the file uses
    from onnx.reference import ReferenceEvaluator

    net, path = tiny_file
    x = np.random.default_rng(2).uniform(-4, 4, (2, 3, 32, 32)).astype(np.float32)
    (prob,) = ReferenceEvaluator(str(path)).run(None, {"data": x})
    assert _relative(prob, _oracle(net, x)["prob"]) <= TOLERANCE


def test_streamed_file_is_the_model_onnx_would_save(tiny, tmp_path, monkeypatch):
    # the writer appends each initializer's raw_data straight from the array: the file parses as the
    # ModelProto that numpy_helper + SerializeToString give
    from senet_convert.to_onnx import assemble

    monkeypatch.setattr(ox, "INLINE_BYTES", 64)  # the tiny net's weights are small: stream most of them
    graph = assemble(tiny)
    model, large = ox.skeleton(graph, tiny.shapes)
    assert len(large) > 20
    path = tmp_path / "streamed.onnx"
    with open(path, "wb") as out:
        written = write_inline(model, large, out)
    assert written == path.stat().st_size
    full = onnx.ModelProto()
    full.CopyFrom(model)
    full.graph.initializer.extend(onnx.numpy_helper.from_array(a, h.name) for h, a in large)
    assert onnx.load(str(path)) == full
    arrays = {h.name: a for h, a in large}
    for tensor in onnx.load(str(path)).graph.initializer:
        if tensor.name in arrays:
            np.testing.assert_array_equal(onnx.numpy_helper.to_array(tensor), arrays[tensor.name])
            assert tensor_header(tensor.name, arrays[tensor.name]).dims == tensor.dims


def test_initializers_share_memory_with_the_net(tiny):
    from senet_convert.to_onnx import assemble

    graph = assemble(tiny)
    blobs = [b for layer in tiny.layers for b in layer.blobs]
    weights = [i.array for i in graph.initializers if i.name.endswith((".weight", ".bias"))]
    assert weights and all(any(np.shares_memory(w, b) for b in blobs) for w in weights)


def test_external_data_and_no_partial_files(tiny, tmp_path, monkeypatch):
    path = tmp_path / "big.onnx"
    info = ox.export_onnx(tiny, path, external_data=True)
    assert info["files"] == [path, tmp_path / "big.onnx.data"] and info["external_data"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.onnx", "big.onnx.data"]
    loaded = onnx.load(str(path), load_external_data=False)
    assert ort.uses_external_data(loaded)
    onnx.checker.check_model(str(path), full_check=True)
    x = np.random.default_rng(2).uniform(-4, 4, (2, 3, 32, 32)).astype(np.float32)
    (prob,) = ort.ort_session(path).run(None, {"data": x})
    assert _relative(prob, _oracle(net=tiny, x=x)["prob"]) <= TOLERANCE
    # a failing check leaves neither file (nor a temporary file or folder) behind
    failed = tmp_path / "failed"
    failed.mkdir()

    def refuse(*args, **kwargs):
        raise onnx.checker.ValidationError("refused")

    monkeypatch.setattr(onnx.checker, "check_model", refuse)
    for external in (True, False):
        with pytest.raises(onnx.checker.ValidationError):
            ox.export_onnx(tiny, failed / "m.onnx", external_data=external)
        assert list(failed.iterdir()) == []


def test_weights_past_the_protobuf_limit_go_to_external_data(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(ox, "PROTO_LIMIT", 1000)
    info = ox.export_onnx(tiny, tmp_path / "m.onnx")
    assert info["external_data"] and info["files"] == [tmp_path / "m.onnx", tmp_path / "m.onnx.data"]


def test_outputs_and_opset_are_checked(tiny, tmp_path):
    net = tiny
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
    for opset in (16, ox.OPSET + 1):
        with pytest.raises(ConvertError, match=f"opset {opset}"):
            ox.export_onnx(net, tmp_path / "m.onnx", opset=opset)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("opset", range(ox.MIN_OPSET, ox.OPSET + 1))
def test_every_opset_runs(tiny, opset, tmp_path):
    info = ox.export_onnx(tiny, tmp_path / "m.onnx", opset=opset, outputs=["classifier"])
    model = onnx.load(str(info["files"][0]))
    assert {o.domain: o.version for o in model.opset_import} == {"": opset}
    x = np.random.default_rng(opset).uniform(-4, 4, (1, 3, 32, 32)).astype(np.float32)
    (logits,) = ort.ort_session(info["files"][0]).run(None, {"data": x})
    assert _relative(logits, _oracle(tiny, x, outputs=["classifier"])["classifier"]) <= TOLERANCE


def test_default_opset_is_the_newest_onnx_runtime_runs():
    import onnxruntime
    from onnx import helper

    def runs(opset):
        x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
        y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
        graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        try:
            onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        except Exception:
            return False
        return True

    assert runs(ox.OPSET)
    assert not any(runs(opset) for opset in range(ox.OPSET + 1, onnx.defs.onnx_opset_version() + 1))


def test_optimized_file(tiny, tmp_path):
    exact = ox.export_onnx(tiny, tmp_path / "exact.onnx")
    info = ox.export_onnx(tiny, tmp_path / "fast.onnx", optimized=True)
    model = onnx.load(str(tmp_path / "fast.onnx"))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["senet_convert.optimized"] == "true" and "folded" in meta["senet_convert.folding"]
    assert info["nodes"] < exact["nodes"] and not {"BatchNormalization", "Sub", "Div"} & {n.op_type for n in model.graph.node}
    x = np.random.default_rng(3).uniform(-4, 4, (3, 3, 32, 32)).astype(np.float32)
    (prob,) = ort.ort_session(tmp_path / "fast.onnx").run(None, {"data": x})
    assert _relative(prob, _oracle(tiny, x)["prob"]) <= 1e-5


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


def test_caffe2onnx_imports_no_torch(tmp_path):
    code = (
        "import sys; from pathlib import Path; from senet_convert.cli import main; "
        f"sys.argv = ['senet-convert', 'caffe2onnx', {str(TINY[0])!r}, {str(TINY[1])!r}, '-o', {str(tmp_path / 't.onnx')!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    assert (tmp_path / "t.onnx").is_file()


# ---- full size: the official prototxts with synthetic weights ----


def _worst_value(path, oracle: dict, x: np.ndarray) -> tuple[float, str, int]:
    """(worst max|d| / max|oracle|, its value, values compared): ORT at every value the file names."""
    model = ort.load_model(path, with_data=True)
    names = sorted(ort.tensor_names(model) & set(oracle))
    session = ort.ort_session(ort.with_outputs(model, names, copy=False), arena=False)
    del model
    got = ort.run_onnx(session, {"data": x}, names)
    worst = max((float(np.abs(got[v] - oracle[v]).max() / max(np.abs(oracle[v]).max(), 1e-30)), v) for v in names)
    return (*worst, len(names))


@pytest.mark.slow
@pytest.mark.parametrize("model", GOLDEN_FULL)
def test_full_size_onnx_matches_real_caffe_at_batch_1_and_3(model, models_dir, goldens_dir, synthetic, tmp_path):
    """ORT vs real Caffe's logits and probabilities (the file's batch is dynamic: samples of Caffe's
    batch of 2 regrouped as batches of 1 and 3), and vs the oracle at every value at Caffe's batch."""
    case = load_case(model, "full", goldens_dir, models_dir, synthetic)
    info = ox.export_onnx(case.net, tmp_path / f"{model}.onnx", outputs=["classifier", "prob"])
    session = ort.ort_session(info["files"][0])
    for rows in ([0], [1, 0, 1]):
        got = ort.run_onnx(session, {"data": case.input[rows]})
        for blob in ("classifier", "prob"):
            want = case.golden[f"blob/{blob}/data"][rows]
            assert _relative(got[blob], want) <= TOLERANCE, (blob, rows)
    oracle = reference.run(case.net, {"data": case.input}, intermediate=True)
    worst, value, compared = _worst_value(info["files"][0], oracle, case.input)
    assert worst <= TOLERANCE, (value, worst)
    assert compared == len(parity.execution_order(case.net))


@pytest.mark.slow
@pytest.mark.parametrize("model", OFFICIAL)
def test_official_architectures_match_the_oracle_at_every_value(model, synthetic, tmp_path):
    """The exact file at every value of the net (in-place intermediates and the Dropout's copy
    included) within 2e-5, the optimized one at every value it keeps within 1e-5."""
    net = synthetic_net(model, synthetic, batch=1)
    x = synthetic.synthetic_input((1, 3, 224, 224), seed=0)
    oracle = reference.run(net, {"data": x}, intermediate=True)
    exact = ox.export_onnx(net, tmp_path / "exact.onnx")["files"][0]
    worst, value, compared = _worst_value(exact, oracle, x)
    assert worst <= TOLERANCE and compared == len(parity.execution_order(net)), (value, worst, compared)
    optimized = ox.export_onnx(net, tmp_path / "optimized.onnx", optimized=True)["files"][0]
    worst, value, kept = _worst_value(optimized, oracle, x)
    assert worst <= 1e-5 and net.outputs[0] in oracle and kept > compared / 3, (value, worst, kept)
