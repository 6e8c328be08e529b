"""Parameters are validated where they are read: what `inspect` accepts every command converts and runs,
and what breaks later is refused at load, by every command alike, in one line naming the layer and its line."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_one_line_error, cli

from senet_convert.caffe import caffe_pb2
from senet_convert.caffe.writer import write_caffemodel

INPUT = 'name: "t"\ninput: "data"\ninput_shape { dim: 1 dim: 4 dim: 6 dim: 6 }\n'
CASES = {
    "softmax-axis-7": ('layer {\n  name: "prob" type: "Softmax" bottom: "data" top: "prob"\n  softmax_param { axis: 7 }\n}\n',
                       "layer 'prob' (Softmax)", "axis 7"),
    "batchnorm-negative-eps": ('layer {\n  name: "bn" type: "BatchNorm" bottom: "data" top: "bn"\n  batch_norm_param { eps: -1 }\n}\n',
                               "layer 'bn' (BatchNorm)", "eps -1"),
    "stochastic-pooling": ('layer {\n  name: "pool" type: "Pooling" bottom: "data" top: "pool"\n'
                           '  pooling_param { pool: STOCHASTIC kernel_size: 2 stride: 2 }\n}\n', "layer 'pool' (Pooling)", "STOCHASTIC"),
    "concat-dim-and-axis": ('layer {\n  name: "cat" type: "Concat" bottom: "data" bottom: "data" top: "cat"\n'
                            '  concat_param { axis: 1 concat_dim: 1 }\n}\n', "layer 'cat' (Concat)", "not both"),
}
# Each caffemodel holds the layer's record (a weightless layer's has no blobs), as Caffe writes them: the
# caffemodel itself is good, and the parameter is what every command must refuse.
BLOBS = {"batchnorm-negative-eps": ("bn", "BatchNorm", [np.zeros(4, np.float32), np.ones(4, np.float32), np.ones(1, np.float32)]),
         "softmax-axis-7": ("prob", "Softmax", []), "stochastic-pooling": ("pool", "Pooling", []), "concat-dim-and-axis": ("cat", "Concat", [])}
COMMANDS = ("inspect", "caffe2torch", "caffe2onnx", "verify")


def _files(tmp_path, case):
    body = CASES[case][0]
    prototxt = tmp_path / f"{case}.prototxt"
    prototxt.write_text(INPUT + body)
    name, type_, blobs = BLOBS[case]
    layers = [(caffe_pb2.LayerParameter(name=name, type=type_), blobs)]
    caffemodel = tmp_path / f"{case}.caffemodel"
    write_caffemodel(caffemodel, layers, name="t")
    return prototxt, caffemodel


def _run(command, prototxt, caffemodel, out):
    if command == "inspect":
        return cli("inspect", prototxt)
    if command == "caffe2torch":
        return cli("caffe2torch", prototxt, caffemodel, "-o", out)
    if command == "caffe2onnx":
        return cli("caffe2onnx", prototxt, caffemodel, "-o", out / "t.onnx")
    return cli("verify", prototxt, caffemodel)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_at_load_by_every_command(tmp_path, case, command):
    prototxt, caffemodel = _files(tmp_path, case)
    out = tmp_path / "out"
    out.mkdir()
    _, layer, what = CASES[case]
    line = assert_one_line_error(_run(command, prototxt, caffemodel, out), layer, what)
    assert f"{prototxt}:4:" in line or "line 4" in line, line  # the layer's line in the prototxt
    assert not any(out.iterdir()), "no partial output"


@pytest.mark.parametrize("axes, refused", [(32, False), (33, True), (100_000, True)])
def test_an_input_has_at_most_caffes_32_axes(tmp_path, axes, refused):
    prototxt = tmp_path / "many.prototxt"
    prototxt.write_text('name: "t"\ninput: "data"\ninput_shape { ' + "dim: 1 " * axes + "}\n")
    result = cli("inspect", prototxt)
    if refused:
        assert_one_line_error(result, "input 'data'", f"{axes} axes", "limit of 32")
    else:
        assert result.exit_code == 0, result.output


def test_an_in_place_layer_on_the_input_converts_to_onnx_and_verifies(tmp_path):
    # bottom: "data" top: "data": the input's final value is the ReLU's, which ONNX cannot also name "data"
    prototxt = tmp_path / "inplace.prototxt"
    prototxt.write_text(INPUT + 'layer {\n  name: "relu" type: "ReLU" bottom: "data" top: "data"\n}\n')
    caffemodel = tmp_path / "inplace.caffemodel"
    write_caffemodel(caffemodel, [(caffe_pb2.LayerParameter(name="relu", type="ReLU"), [])], name="t")
    result = cli("caffe2onnx", prototxt, caffemodel, "-o", tmp_path / "t.onnx")
    assert result.exit_code == 0, result.output
    result = cli("verify", prototxt, caffemodel, "--onnx", tmp_path / "t.onnx", "--no-info")
    assert result.exit_code == 0 and "verify: PASSED" in result.output, result.output
