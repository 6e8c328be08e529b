"""LRN: hand-worked cases from Caffe's LRNLayer semantics, oracle == torch == ONNX Runtime over a
grid, and real Caffe's AlexNet (../shared/goldens/classic), whose norm1/norm2 are ACROSS_CHANNELS LRNs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import SHARED, need_shared
from goldens import BLOB_TOLERANCE, Case, Comparison
from senet_convert import reference
from senet_convert.loader import net_from_text
from senet_convert.to_torch import lower
from test_more_layers import check
from test_to_onnx_layers import assert_onnx_matches_oracle, onnx_file, run_every_value
from test_to_torch_layers import assert_matches_oracle, layer_net

X = np.arange(1, 2 * 3 * 2 * 2 + 1, dtype=np.float32).reshape(2, 3, 2, 2) / 10


def test_across_channels_by_hand():
    # n = 3, alpha 0.6, beta 0.75, k 2: scale[c] = 2 + 0.6/3 * (x[c-1]^2 + x[c]^2 + x[c+1]^2), zeros past the edges
    expected = np.empty_like(X, dtype=np.float64)
    x = X.astype(np.float64)
    for c in range(3):
        window = sum(x[:, j] ** 2 for j in (c - 1, c, c + 1) if 0 <= j < 3)
        expected[:, c] = x[:, c] * (2 + 0.6 / 3 * window) ** -0.75
    check("LRN", "lrn_param { local_size: 3 alpha: 0.6 beta: 0.75 k: 2 }", X, expected=expected)


def test_within_channel_by_hand():
    # n = 3 on a 2 x 2 map: every window holds all four positions (pad 1) and divides by n*n = 9, shift 1, k unused
    x = X.astype(np.float64)
    total = (x**2).sum(axis=(2, 3), keepdims=True)
    expected = x * (1 + 0.6 * total / 9) ** -0.75
    check("LRN", "lrn_param { local_size: 3 alpha: 0.6 norm_region: WITHIN_CHANNEL k: 7 }", X, expected=expected)


def test_defaults_are_caffes():
    # local_size 5, alpha 1, beta 0.75, k 1, ACROSS_CHANNELS: one channel, so the window is x^2 alone
    x = np.full((1, 1, 1, 1), 2.0, np.float32)
    check("LRN", "", x, expected=[[[[2.0 * (1 + 4.0 / 5) ** -0.75]]]])


@pytest.mark.parametrize("params", [
    "lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 }",
    "lrn_param { local_size: 1 alpha: 2 beta: 0.5 k: 0.5 }",
    "lrn_param { local_size: 7 alpha: 3 beta: 1.5 }",
    "lrn_param { local_size: 3 alpha: 0.5 norm_region: WITHIN_CHANNEL }",
    "lrn_param { local_size: 5 alpha: 2 beta: 0.25 norm_region: WITHIN_CHANNEL }",
], ids=["alexnet", "size1", "wide", "within3", "within5"])
def test_oracle_torch_and_onnx_agree(params, tmp_path):
    net = layer_net("LRN", params, (2, 6, 5, 7))
    assert_matches_oracle(net)
    # ONNX's reference evaluator (onnx 1.23) sums its LRN window over the batch axis instead of the
    # channels, so only ONNX Runtime checks ACROSS_CHANNELS; WITHIN_CHANNEL uses no LRN node.
    assert_onnx_matches_oracle(net, tmp_path, batches=(1, 3), evaluator="WITHIN_CHANNEL" in params)


@pytest.mark.parametrize("params, message", [
    ("lrn_param { local_size: 4 }", "local_size 4 must be odd"),
    ("lrn_param { alpha: inf }", "must be finite"),
])
def test_bad_parameters_are_refused_at_load(params, message):
    with pytest.raises(Exception, match=message):
        layer_net("LRN", params, (2, 3, 4, 4))


def _alexnet(synthetic) -> Case:
    classic = need_shared(SHARED / "goldens" / "classic")
    meta = json.loads((classic / "AlexNet.golden.json").read_text())
    golden = np.load(classic / "AlexNet.golden.npz")
    net = net_from_text((classic / "AlexNet.prototxt").read_text(), classic / "AlexNet.prototxt", batch=2)
    param_shapes = {layer["name"]: layer["param_shapes"] for layer in meta["layers"]}
    for layer in net.layers:
        layer.blobs = [synthetic.synthetic_blob(layer.name, layer.type, i, s) for i, s in enumerate(param_shapes[layer.name])]
    x = synthetic.synthetic_input(tuple(golden["input_shape"]), seed=int(golden["input_seed"]))
    return Case(net, meta, golden, x)


def _assert_matches_caffe(case: Case, values: dict) -> None:
    result = Comparison()
    for key, value in case.wanted().items():
        result.add(case.golden, key, np.asarray(values[value]))
    assert not result.shape_mismatches, result.shape_mismatches
    assert not result.failures("blob/", BLOB_TOLERANCE), result.failures("blob/")
    assert not result.failures("layer/", BLOB_TOLERANCE), result.failures("layer/")
    assert {"blob/norm1", "blob/norm2", "blob/fc8", "blob/prob"} <= set(result.errors)


@pytest.fixture(scope="module")
def alexnet(synthetic):
    return _alexnet(synthetic)


def test_alexnet_oracle_matches_real_caffe(alexnet):
    values = reference.run(alexnet.net, {"data": alexnet.input}, intermediate=True)
    _assert_matches_caffe(alexnet, values)


def test_alexnet_torch_matches_real_caffe(alexnet):
    module = lower(alexnet.net, intermediate=True)
    with torch.inference_mode():
        values = {k: v.numpy() for k, v in module(torch.from_numpy(alexnet.input)).items()}
    _assert_matches_caffe(alexnet, values)


def test_alexnet_onnx_runtime_matches_real_caffe(alexnet, tmp_path):
    inputs = {"data": alexnet.input}
    values = {**inputs, **run_every_value(alexnet.net, onnx_file(alexnet.net, tmp_path), inputs)}
    _assert_matches_caffe(alexnet, values)
