"""Bad input: one clear line on stderr naming the file, line or layer, exit status 2, no traceback."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import FIXTURES, GOLDENS, need_shared
from helpers import assert_one_line_error, cli

from senet_convert.caffe import caffe_pb2
from senet_convert.caffe.writer import write_caffemodel

PROTO = FIXTURES / "tiny-senet.prototxt"
MODEL = FIXTURES / "tiny-senet.caffemodel"


run = cli


def test_inspect_works_on_the_fixture():
    result = run("inspect", PROTO, MODEL)
    assert result.exit_code == 0, result.output
    assert "conv2_1" in result.stdout and "Axpy" in result.stdout
    assert "every weighted layer in the caffemodel is used" in result.stdout
    data = json.loads(run("inspect", PROTO, MODEL, "--json").stdout)
    assert data["totals"]["parameters"] == 5150
    assert data["layers"][0]["output_shapes"] == [[1, 8, 16, 16]]


def test_inspect_reports_senet154_totals(models_dir):
    data = json.loads(run("inspect", models_dir / "SENet-154.prototxt", "--json").stdout)
    assert data["totals"]["parameters"] == 115_336_693
    assert round(data["totals"]["multiply_adds"] / 1e9, 1) == 20.7


def test_truncated_caffemodel(tmp_path):
    cut = tmp_path / "cut.caffemodel"
    cut.write_bytes(MODEL.read_bytes()[: MODEL.stat().st_size * 2 // 3])
    assert_one_line_error(run("inspect", PROTO, cut), str(cut), "truncated")


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes(tmp_path, seed):
    junk = tmp_path / "junk.caffemodel"
    junk.write_bytes(np.random.default_rng(seed).bytes(4096))
    assert_one_line_error(run("inspect", PROTO, junk), str(junk))


def test_prototxt_syntax_error_names_line_and_column(tmp_path):
    bad = tmp_path / "bad.prototxt"
    text = PROTO.read_text().replace("kernel_size: 3\n    stride: 2\n  }", "kernel_sise: 3\n    stride: 2\n  }", 1)
    bad.write_text(text)
    line = text[: text.index("kernel_sise")].count("\n") + 1
    assert_one_line_error(run("inspect", bad), f"{bad}:{line}:", "kernel_sise")


def test_unknown_layer_type_lists_supported(tmp_path):
    bad = tmp_path / "lrn.prototxt"
    bad.write_text(PROTO.read_text().replace('type: "Sigmoid"', 'type: "Interp"', 1))
    message = assert_one_line_error(run("inspect", bad), "Interp", "supported:", "Axpy", "BatchNorm")
    assert "conv2_1_prob" in message


def test_missing_weights(tmp_path):
    partial = tmp_path / "partial.caffemodel"
    from senet_convert.loader import load_net

    net = load_net(PROTO, MODEL)
    write_caffemodel(partial, [(caffe_pb2.LayerParameter(name=l.name, type=l.type), l.blobs) for l in net.layers if l.name != "conv2_1_3x3"])
    assert_one_line_error(run("inspect", PROTO, partial), "no weights for layer 'conv2_1_3x3' (Convolution)")


def test_weight_shape_mismatch(tmp_path):
    from senet_convert.loader import load_net

    net = load_net(PROTO, MODEL)
    wrong = tmp_path / "wrong.caffemodel"
    layers = [(caffe_pb2.LayerParameter(name=l.name, type=l.type), l.blobs if l.name != "conv1/3x3_s2" else [np.zeros((8, 3, 5, 5), np.float32)]) for l in net.layers]
    write_caffemodel(wrong, layers)
    assert_one_line_error(run("inspect", PROTO, wrong), "conv1/3x3_s2", "blob 0", "8x3x3x3 (216)", "8x3x5x5 (600)")


@pytest.mark.parametrize("dims", ["dim: 1 dim: -3 dim: 32 dim: 32", "dim: 1 dim: 3 dim: 0 dim: 32", "dim: 100000 dim: 3 dim: 100000 dim: 100000"])
def test_negative_or_absurd_dims_are_refused(tmp_path, dims):
    bad = tmp_path / "dims.prototxt"
    bad.write_text(PROTO.read_text().replace("dim: 1\n      dim: 3\n      dim: 32\n      dim: 32", dims))
    assert_one_line_error(run("inspect", bad), str(bad), "data")


def test_absurd_batch_is_refused():
    assert_one_line_error(run("inspect", PROTO, "--batch", "0"), "batch size 0")


def test_caffemodel_of_another_prototxt():
    other = need_shared(GOLDENS / "SE-ResNet-50.mini.caffemodel")
    assert_one_line_error(run("inspect", PROTO, other), "another prototxt")


def test_caffemodel_of_a_similar_net_with_other_shapes(tmp_path):
    # Same layer names, other widths: the first mismatching blob is named.
    assert_one_line_error(run("inspect", need_shared(GOLDENS / "SE-ResNet-50.mini.prototxt"), need_shared(GOLDENS / "SE-ResNeXt-50.mini.caffemodel")), "shape mismatch")


def test_missing_files(tmp_path):
    result = run("inspect", tmp_path / "nope.prototxt")
    assert result.exit_code == 2 and "Traceback" not in result.output and "nope.prototxt" in result.output
    assert_one_line_error(run("inspect", PROTO, tmp_path / "nope.caffemodel"), "nope.caffemodel")


def test_prototxt_and_caffemodel_swapped():
    assert_one_line_error(run("inspect", MODEL), str(MODEL), "binary")
    assert_one_line_error(run("inspect", PROTO, PROTO), "text file")


def test_errors_leave_no_output_files(tmp_path):
    cut = tmp_path / "cut.caffemodel"
    cut.write_bytes(MODEL.read_bytes()[:1000])
    before = set(os.listdir(tmp_path))
    run("inspect", PROTO, cut)
    assert set(os.listdir(tmp_path)) == before


def test_absurd_layer_sizes_are_refused(tmp_path):
    bad = tmp_path / "wide.prototxt"
    bad.write_text(PROTO.read_text().replace("num_output: 10\n", "num_output: 4000000000\n", 1))
    assert_one_line_error(run("inspect", bad), "classifier", "limit")
