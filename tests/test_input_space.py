"""Input conventions: the exact adapter, folding into conv1 (exact but for the padding), --global-pool."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import FIXTURES, synthetic_net

from senet_convert import load_checkpoint, reference
from senet_convert.cli import main
from senet_convert.edits import input_space as spaces
from senet_convert.edits.global_pool import global_pool
from senet_convert.edits.notes import deviations, notes
from senet_convert.errors import ConvertError
from senet_convert.loader import load_net, net_from_text
from senet_convert.to_torch import lower, module_for
from senet_convert.verify.compare import relative_error

PROTO, MODEL = FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel"
TV = spaces.convention("torchvision", None)
CAFFE = spaces.convention("caffe", (104.0, 117.0, 123.0))


def _image(size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _rel(a, b):
    return relative_error(np.asarray(b, np.float64), np.asarray(a, np.float64))


@pytest.fixture(scope="module")
def tiny():
    return load_net(PROTO, MODEL)


# ---- the conventions ---------------------------------------------------------------------


def test_torchvision_to_caffe_by_hand():
    a, b = spaces.affine(TV, CAFFE)
    # B = 255*0.225*t_B + 255*0.406 - 104, G = 255*0.224*t_G + 255*0.456 - 117, R = 255*0.229*t_R + 255*0.485 - 123
    np.testing.assert_allclose(a, [[0, 0, 57.375], [0, 57.12, 0], [58.395, 0, 0]], rtol=1e-12)
    np.testing.assert_allclose(b, [-0.47, -0.72, 0.675], atol=1e-12)


def test_affine_round_trip_and_identity():
    a, b = spaces.affine(TV, CAFFE)
    back_a, back_b = spaces.affine(CAFFE, TV)
    np.testing.assert_allclose(back_a @ a, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(back_a @ b + back_b, 0, atol=1e-12)
    same_a, same_b = spaces.affine(CAFFE, CAFFE)
    assert np.array_equal(same_a, np.eye(3)) and not same_b.any()


def test_caffe_input_is_exact_bgr_minus_mean():
    image = _image()
    x = spaces.to_input(image, CAFFE)
    expected = image[..., ::-1].transpose(2, 0, 1).astype(np.float64) - np.array([104, 117, 123])[:, None, None]
    assert np.array_equal(x[0], expected.astype(np.float32))


def test_unknown_space_and_missing_mean(tiny):
    with pytest.raises(ConvertError, match="input space must be one of caffe, torchvision"):
        spaces.convention("yuv", None)
    net = net_from_text(PROTO.read_text().replace("# mean_value: 104, 117, 123", ""), PROTO)
    with pytest.raises(ConvertError, match="states no 3-channel mean"):
        spaces.add_adapter(net, "torchvision")
    assert spaces.add_adapter(net, "caffe") is net


# ---- the adapter --------------------------------------------------------------------------


def test_adapter_is_exact_and_still_caffe(tiny):
    adapted = spaces.add_adapter(tiny, "torchvision")
    assert adapted.layers[0].name == "data/torchvision_to_caffe" and adapted.layers[0].type == "Convolution"
    assert list(adapted.inputs) == ["data"] and adapted.mean_bgr is None
    assert [k for k, _ in notes(adapted)] == ["input-space"]
    image = _image()
    with torch.no_grad():
        exact = module_for(tiny, ["classifier"])(torch.from_numpy(spaces.to_input(image, CAFFE))).numpy()
        ours = module_for(adapted, ["classifier"])(torch.from_numpy(spaces.to_input(image, TV))).numpy()
    assert _rel(exact, ours) <= 1e-5
    # The adapted net is an ordinary Caffe net: the numpy oracle runs it too.
    oracle = reference.run(adapted, {"data": spaces.to_input(image, TV)}, outputs=[adapted.final["classifier"]])[adapted.final["classifier"]]
    assert _rel(oracle, ours) <= 2e-5


def test_adapter_full_size(synthetic):
    net = synthetic_net("SE-ResNet-50", synthetic)
    caffe = synthetic.synthetic_input((1, 3, 224, 224))
    a, b = spaces.affine(TV, CAFFE)
    tv = np.einsum("kj,njhw->nkhw", np.linalg.inv(a), caffe.astype(np.float64) - b[None, :, None, None]).astype(np.float32)
    with torch.no_grad():
        exact = module_for(net, ["classifier"])(torch.from_numpy(caffe)).numpy()
        ours = module_for(spaces.add_adapter(net, "torchvision"), ["classifier"])(torch.from_numpy(tv)).numpy()
    assert _rel(exact, ours) <= 1e-5


# ---- folding --------------------------------------------------------------------------------


def test_folding_is_exact_except_where_conv1_reads_padding(tiny):
    folded = spaces.fold(tiny, "torchvision")
    conv = spaces.first_convolution(tiny)
    assert folded.layer(conv.name).param.convolution_param.bias_term
    image = _image()
    with torch.no_grad():
        exact = lower(tiny, intermediate=True)(torch.from_numpy(spaces.to_input(image, CAFFE)))[conv.tops[0]].numpy()[0]
        ours = lower(folded, intermediate=True)(torch.from_numpy(spaces.to_input(image, TV)))[conv.tops[0]].numpy()[0]
    # conv1 is 3x3, stride 2, pad 1 on 32x32: output row/column 0 reads the padding, the rest never do.
    assert _rel(exact[:, 1:, 1:], ours[:, 1:, 1:]) <= 1e-5
    # At the border the folded output differs by sum over padded taps of W[o, k] * b[k].
    _, b = spaces.affine(TV, CAFFE)
    w = conv.blobs[0].astype(np.float64)
    expected = np.zeros_like(exact, dtype=np.float64)
    for i in range(16):
        for j in range(16):
            for u in range(3):
                for v in range(3):
                    if 2 * i + u - 1 < 0 or 2 * j + v - 1 < 0:
                        expected[:, i, j] += w[:, :, u, v] @ b
    np.testing.assert_allclose(ours - exact, expected, atol=1e-3 * np.abs(exact).max())
    assert np.abs(expected).max() > 0.1


def test_fold_error_is_measured(tiny):
    result = spaces.measure_fold_error(tiny, _image())
    assert 0 < result["relative"] < 0.05
    assert set(result) >= {"max_abs", "max_abs_logit", "relative", "top1_same", "top5_overlap"}


def test_fold_weights_by_hand():
    w = np.arange(2 * 3 * 1 * 1, dtype=np.float32).reshape(2, 3, 1, 1)  # [[0, 1, 2], [3, 4, 5]]
    a = np.array([[0, 0, 2.0], [0, 3.0, 0], [4.0, 0, 0]])
    b = np.array([1.0, -1.0, 0.5])
    folded, offset = spaces.fold_weights(w, a, b)
    assert folded[:, :, 0, 0].tolist() == [[8, 3, 0], [20, 12, 6]]
    assert offset.tolist() == [0 - 1 + 1.0, 3 - 4 + 2.5]


def test_natural_image():
    image = spaces.natural_image()
    assert image.shape == (224, 224, 3) and image.dtype == np.uint8
    assert np.array_equal(image, spaces.natural_image())
    p = image / 255.0
    np.testing.assert_allclose(p.mean(axis=(0, 1)), spaces.IMAGENET_MEAN, atol=0.03)
    assert np.corrcoef(p.reshape(-1, 3).T).min() > 0.5  # channels correlate, as in photographs
    # Amplitude falls as 1/f: the log-log slope of the radially averaged spectrum is about -1.
    grey = p.mean(axis=2)
    amp = np.abs(np.fft.fft2(grey - grey.mean()))
    fy, fx = np.meshgrid(np.fft.fftfreq(224), np.fft.fftfreq(224), indexing="ij")
    radius = np.hypot(fy, fx)
    bands = np.geomspace(0.01, 0.4, 12)
    means = [amp[(radius >= lo) & (radius < hi)].mean() for lo, hi in itertools.pairwise(bands)]
    slope = np.polyfit(np.log(np.sqrt(bands[:-1] * bands[1:])), np.log(means), 1)[0]
    assert -1.4 < slope < -0.7


# ---- global pooling ------------------------------------------------------------------------


def test_global_pool_same_at_prototxt_size_and_works_elsewhere(tiny):
    pooled = global_pool(tiny)
    assert pooled.layer("pool5/7x7_s1").param.pooling_param.global_pooling
    assert deviations(pooled) and deviations(pooled)[0].startswith("global-pool: layer 'pool5/7x7_s1'")
    assert not deviations(tiny) and global_pool(pooled) is pooled
    x = torch.from_numpy(np.random.default_rng(0).uniform(-100, 100, (1, 3, 32, 32)).astype(np.float32))
    with torch.no_grad():
        assert torch.equal(module_for(tiny)(x), module_for(pooled)(x))
        big = torch.from_numpy(np.random.default_rng(1).uniform(-100, 100, (1, 3, 48, 48)).astype(np.float32))
        values = lower(pooled, intermediate=True)(big)
    pool = pooled.layer("pool5/7x7_s1")
    before = values[pool.bottoms[0]]
    assert before.shape[2:] == (6, 6)
    torch.testing.assert_close(values[pool.tops[0]], before.mean((2, 3), keepdim=True), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("edit, message", [
    (("pool: AVE\n    kernel_size: 4", "pool: MAX\n    kernel_size: 4"), "replaces a final average pool, this one is MAX"),
    (("kernel_size: 4\n    stride: 1", "kernel_size: 2\n    stride: 2"), "cover its whole 4x4 input"),
])
def test_global_pool_refuses(edit, message):
    text = PROTO.read_text()
    assert edit[0] in text
    net = net_from_text(text.replace(edit[0], edit[1]), PROTO)
    with pytest.raises(ConvertError, match=r"layer 'pool5/7x7_s1' \(Pooling\).*" + message):
        global_pool(net)


# ---- through the CLI and the checkpoint -------------------------------------------------------


def test_cli_input_space_and_global_pool_survive_the_checkpoint(tmp_path):
    result = CliRunner().invoke(main, ["caffe2torch", str(PROTO), str(MODEL), "-o", str(tmp_path), "--input-space", "torchvision", "--global-pool", "--outputs", "classifier"])
    assert result.exit_code == 0, result.output
    assert "input-space: torchvision" in result.stderr and "global-pool:" in result.stderr
    module = load_checkpoint(tmp_path / "tiny-senet.pt")
    image = _image(48, seed=3)
    with torch.no_grad():
        exact = module_for(global_pool(load_net(PROTO, MODEL)), ["classifier"])(torch.from_numpy(spaces.to_input(image, CAFFE))).numpy()
        ours = module(torch.from_numpy(spaces.to_input(image, TV))).numpy()
        program = torch.export.load(tmp_path / "tiny-senet.pt2").module()
        small = spaces.to_input(_image(32, seed=4), TV)
        assert _rel(module(torch.from_numpy(small)).numpy(), program(torch.from_numpy(small)).numpy()) <= 1e-6
    assert _rel(exact, ours) <= 1e-5
