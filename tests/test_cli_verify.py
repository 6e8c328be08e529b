"""The caffe2onnx and verify commands, and caffe2torch --onnx: files, exit codes (0 exact, 1 out of
tolerance, 2 bad input), the report, and the inputs verify accepts (synthetic, .npy, images, a dump
of Caffe's blobs).
"""
from __future__ import annotations

import json
import sys

import numpy as np
import onnx
import pytest
import torch
from conftest import FIXTURES
from helpers import cli

from senet_convert import reference
from senet_convert.errors import ConvertError
from senet_convert.loader import load_net
from senet_convert.verify.inputs import load_image

PROTO = str(FIXTURES / "tiny-senet.prototxt")
MODEL = str(FIXTURES / "tiny-senet.caffemodel")


invoke = cli


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("c2t")
    result = invoke("caffe2torch", PROTO, MODEL, "-o", out, "--onnx")
    assert result.exit_code == 0, result.output
    return out, result


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    """A stand-in for what the pycaffe snippet writes: the input and every blob's final value."""
    net = load_net(PROTO, MODEL)
    x = np.random.default_rng(7).uniform(-4, 4, (3, 3, 32, 32)).astype(np.float32)
    values = reference.run(net, {"data": x}, intermediate=True)
    blobs = {blob: values[value].astype(np.float32) for blob, value in net.final.items()}
    path = tmp_path_factory.mktemp("dump") / "caffe_blobs.npz"
    np.savez(path, **blobs, **{"pool1/3x3_s2_pool1/3x3_s2_0_split_0": blobs["pool1/3x3_s2"]})
    return path, net, blobs


def test_caffe2torch_onnx_writes_the_onnx(converted):
    out, result = converted
    assert sorted(p.name for p in out.iterdir()) == ["tiny-senet.onnx", "tiny-senet.pt", "tiny-senet.pt2"]
    assert "tiny-senet.onnx" in result.stdout
    onnx.checker.check_model(onnx.load(str(out / "tiny-senet.onnx")), full_check=True)


def test_verify_torch_pt2_and_onnx_pass_with_a_json_report(converted, tmp_path):
    out, _ = converted
    report = tmp_path / "report.json"
    result = invoke("verify", PROTO, MODEL, "--onnx", out / "tiny-senet.onnx", "--pt2", out / "tiny-senet.pt2", "--json", report, "--batch", 3)
    assert result.exit_code == 0, result.output
    assert "verify: PASSED" in result.stdout and "batch 3" in result.stdout
    assert "info, not checked" in result.stdout and "bf16 autocast" in result.stdout
    data = json.loads(report.read_text())
    assert data["ok"] and data["batch"] == 3 and data["tolerance"] == 2e-5
    names = [b["name"] for b in data["backends"]]
    assert names == ["torch cpu", "torch cpu, as deployed", "pt2 cpu (tiny-senet.pt2)", "onnxruntime cpu (tiny-senet.onnx)",
                     "onnx.reference cpu (tiny-senet.onnx)"]
    torch_row, deployed_row, pt2_row, ort_row, reference_row = data["backends"]
    assert torch_row["compared"] == torch_row["total"] == 68
    # the one-pass graph, at the final value of every Caffe blob the net computes
    net = load_net(PROTO, MODEL)
    assert deployed_row["compared"] == len(set(net.final.values()) - set(net.inputs)) > 20
    assert pt2_row["compared"] == 1 and ort_row["compared"] >= 60
    assert reference_row["compared"] == ort_row["compared"] and reference_row["ok"]
    assert torch_row["top1_agreement"] == [3, 3]


def test_caffe2onnx_opset_17_outputs_and_directory(tmp_path):
    result = invoke("caffe2onnx", PROTO, MODEL, "-o", tmp_path, "--outputs", "classifier,prob", "--opset", 17)
    assert result.exit_code == 0, result.output
    path = tmp_path / "tiny-senet.onnx"
    assert "opset 17" in result.stdout and "returns classifier, prob" in result.stdout and str(path) in result.stdout
    model = onnx.load(str(path))
    assert [o.name for o in model.graph.output] == ["classifier", "prob"]
    assert {o.domain: o.version for o in model.opset_import} == {"": 17}
    result = invoke("verify", PROTO, MODEL, "--onnx", path, "--no-info")
    assert result.exit_code == 0, result.output
    assert "info, not checked" not in result.stdout


def test_verify_against_a_caffe_dump(dump):
    path, _, _ = dump
    result = invoke("verify", PROTO, MODEL, "--caffe-blobs", path, "--no-info")
    assert result.exit_code == 0, result.output
    assert "Caffe blobs (caffe_blobs.npz)" in result.stdout and "batch 3" in result.stdout
    assert "Split blobs" in result.stdout  # named, and ignored


def test_verify_exits_1_and_names_the_layer(dump, tmp_path):
    _, _, blobs = dump
    bad = dict(blobs)
    bad["conv2_1_1x1_up"] = bad["conv2_1_1x1_up"] * np.float32(1.001)  # the SE gate, after its Sigmoid
    path = tmp_path / "bad.npz"
    np.savez(path, **bad)
    result = invoke("verify", PROTO, MODEL, "--caffe-blobs", path, "--no-info")
    assert result.exit_code == 1, result.output
    assert "verify: FAILED" in result.stdout
    assert "first value out of tolerance: 'conv2_1_1x1_up@conv2_1_prob' (Caffe blob 'conv2_1_1x1_up'), made by layer 'conv2_1_prob' (Sigmoid)" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--onnx", "missing.onnx"], "missing.onnx: no such file"),
        (["--pt2", "missing.pt2"], "missing.pt2: no such file"),
        (["--input", "{bad_npy}"], "the net takes N x 3 x 32 x 32"),
        (["--input", "{text}"], "not a readable image"),
        (["--caffe-blobs", "{text}"], "not a readable .npz"),
        (["--caffe-blobs", "{no_input}"], "holds no input blob"),
        (["--onnx", "{text}"], "not a readable ONNX model"),
    ],
    ids=["missing-onnx", "missing-pt2", "npy-shape", "not-an-image", "not-an-npz", "dump-without-input", "not-onnx"],
)
def test_bad_input_exits_2_with_one_line(args, message, tmp_path):
    pytest.importorskip("PIL")
    files = {"bad_npy": tmp_path / "x.npy", "text": tmp_path / "x.txt", "no_input": tmp_path / "noinput.npz"}
    np.save(files["bad_npy"], np.zeros((1, 3, 16, 16), np.float32))
    files["text"].write_text("hello")
    np.savez(files["no_input"], prob=np.zeros((2, 10), np.float32))
    args = [a.format(**files) for a in args]
    result = invoke("verify", PROTO, MODEL, "--no-info", *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("senet-convert: error:") and message in lines[0], result.stderr


def test_caffe2onnx_refuses_opset_16():
    result = invoke("caffe2onnx", PROTO, MODEL, "--opset", 16)
    assert result.exit_code == 2 and "16" in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_cuda_without_a_device_exits_2():
    result = invoke("verify", PROTO, MODEL, "--device", "both")
    assert result.exit_code == 2 and "no CUDA device" in result.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_verify_on_cuda(converted):
    out, _ = converted
    result = invoke("verify", PROTO, MODEL, "--device", "both", "--onnx", out / "tiny-senet.onnx")
    assert result.exit_code == 0, result.output
    assert "torch cuda" in result.stdout and "TF32 on" in result.stdout


# ---- inputs ----


def test_images_get_the_official_preprocessing(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rgb = np.random.default_rng(0).integers(0, 256, (256, 300, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    # the shorter side is already 256: no resampling, a centre crop of 224 at (16, 38)
    x = load_image(path)
    expected = rgb[16:240, 38:262, ::-1].astype(np.float32) - np.array([104, 117, 123], np.float32)
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    np.testing.assert_array_equal(x, expected.transpose(2, 0, 1))
    # otherwise the shorter side becomes 256 first, keeping the aspect ratio
    Image.fromarray(rgb).resize((600, 512)).save(tmp_path / "big.png")
    assert load_image(tmp_path / "big.png").shape == (3, 224, 224)


def test_verify_with_image_files(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    for i in range(2):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(tmp_path / f"{i}.jpg")
    saved = tmp_path / "input.npy"
    result = invoke("verify", PROTO, MODEL, "--input", tmp_path / "0.jpg", "--input", tmp_path / "1.jpg", "--no-info", "--save-input", saved)
    assert result.exit_code == 0, result.output
    assert "images 0.jpg, 1.jpg" in result.stdout and "batch 2" in result.stdout
    # --save-input writes what was fed, for real Caffe to run on (see docs/verify.md)
    x = np.load(saved)
    assert x.shape == (2, 3, 32, 32) and x.dtype == np.float32
    np.testing.assert_array_equal(x[1], load_image(tmp_path / "1.jpg", (32, 32)))


def test_verify_with_a_npy(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(-4, 4, (3, 32, 32)).astype(np.float32))
    result = invoke("verify", PROTO, MODEL, "--input", tmp_path / "x.npy", "--batch", 2, "--no-info")
    assert result.exit_code == 0, result.output
    assert "x.npy, batch 2" in result.stdout


def test_without_pillow_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL raises ImportError
    (tmp_path / "a.jpg").write_bytes(b"not decoded anyway")
    with pytest.raises(ConvertError, match=r"pip install 'senet-convert\[image\]'"):
        load_image(tmp_path / "a.jpg")


def test_verify_checks_a_transformed_conversion_and_reports_the_deviation(tmp_path):
    converted = cli("caffe2torch", PROTO, MODEL, "-o", str(tmp_path), "--global-pool", "--input-space", "torchvision")
    assert converted.exit_code == 0, converted.output
    args = ["verify", PROTO, MODEL, "--global-pool", "--input-space", "torchvision", "--no-info", "--json", str(tmp_path / "r.json")]
    result = cli(*args, "--pt2", str(tmp_path / "tiny-senet.pt2"))
    assert result.exit_code == 0, result.output
    assert "deliberate deviation from the prototxt" in result.stdout and "global-pool" in result.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["ok"] and report["deviations"][0].startswith("global-pool")
    # The .pt2 has the adapter: checked against the untransformed net, its outputs differ.
    plain = cli("verify", PROTO, MODEL, "--no-info", "--pt2", str(tmp_path / "tiny-senet.pt2"))
    assert plain.exit_code == 1, plain.output
