"""--optimize end to end: caffe2torch/caffe2onnx write the optimized graph, verify checks it."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner

from conftest import FIXTURES
from senet_convert import convert
from senet_convert.cli import main

PROTO = str(FIXTURES / "tiny-senet.prototxt")
MODEL = str(FIXTURES / "tiny-senet.caffemodel")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("optimized")
    result = CliRunner().invoke(main, ["caffe2torch", PROTO, MODEL, "-o", str(out), "--optimize", "--onnx", "--outputs", "classifier"])
    assert result.exit_code == 0, result.output
    return out, result


def test_caffe2torch_optimize_writes_a_folded_pt2_and_an_exact_checkpoint(written):
    out, result = written
    assert "folded" in result.stderr
    program = torch.export.load(out / "tiny-senet.pt2")
    assert not any("bn" in key for key in program.state_dict), "BatchNorm/Scale should be folded away"
    exact = convert(PROTO, MODEL, outputs=["classifier"])
    x = torch.from_numpy(np.random.default_rng(0).uniform(-4, 4, (3, 3, 32, 32)).astype(np.float32))
    want = exact(x)
    assert (program.module()(x) - want).abs().max() <= 1e-5 * want.abs().max()
    checkpoint = torch.load(out / "tiny-senet.pt", weights_only=True)
    assert "conv1/3x3_s2/bn.scale_factor" in checkpoint["state_dict"], "the checkpoint keeps Caffe's blobs"


def test_optimized_onnx_is_marked_and_verified(written):
    out, _ = written
    model = onnx.load(str(out / "tiny-senet.onnx"))
    assert {p.key: p.value for p in model.metadata_props}["senet_convert.optimized"] == "true"
    assert not any(node.op_type == "BatchNormalization" for node in model.graph.node)
    result = CliRunner().invoke(main, ["verify", PROTO, MODEL, "--optimize", "--onnx", str(out / "tiny-senet.onnx"), "--no-info", "--json", str(out / "r.json")])
    assert result.exit_code == 0, result.output
    rows = {b["name"]: b for b in json.loads((out / "r.json").read_text())["backends"]}
    assert rows["torch cpu, optimized"]["ok"]


def test_caffe2onnx_optimize(tmp_path):
    result = CliRunner().invoke(main, ["caffe2onnx", PROTO, MODEL, "-o", str(tmp_path / "fast.onnx"), "--optimize"])
    assert result.exit_code == 0, result.output
    model = onnx.load(str(tmp_path / "fast.onnx"))
    assert {p.key: p.value for p in model.metadata_props}["senet_convert.optimized"] == "true"


def test_verify_optimize_catches_a_bad_fold(monkeypatch):
    # A fold that forgets BatchNorm's scale factor must be caught at the first value after the fold.
    from senet_convert import folding as opt

    original = opt._affine

    def wrong(layer, shape):
        found = original(layer, shape)
        if found is not None and layer.type == "BatchNorm":
            a, b = found
            return a * 1.01, b
        return found

    monkeypatch.setattr(opt, "_affine", wrong)
    result = CliRunner().invoke(main, ["verify", PROTO, MODEL, "--optimize", "--no-info"])
    assert result.exit_code == 1, result.output
    assert "torch cpu, optimized" in result.stdout and "first value out of tolerance" in result.stdout
