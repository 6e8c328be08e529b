"""LRN, ACROSS_CHANNELS and WITHIN_CHANNEL: hand-worked cases, the lowering against the oracle, and
both against real Caffe's AlexNet (../shared/goldens/classic) at every blob and in-place snapshot."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import GOLDENS, need_shared
from goldens import BLOB_TOLERANCE, Case, Comparison
from helpers import X, assert_matches_oracle, assert_onnx_matches_oracle, family_tests, forward1, grid, layer_net, onnx_file, run_every_value

from senet_convert import reference
from senet_convert.errors import ConvertError
from senet_convert.loader import load_net, net_from_text
from senet_convert.to_torch import lower


def test_across_channels_by_hand():
    # n = 3, alpha/n = 1, k = 1: channel c divides by k + x[c-1]^2 + x[c]^2 + x[c+1]^2 (zeros past the edges)
    x = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    out = forward1("LRN", "lrn_param { local_size: 3 alpha: 3 beta: 1 }", x)
    np.testing.assert_allclose(out.ravel(), [1 / 6, 2 / 15, 3 / 14], rtol=1e-15)


def test_within_channel_by_hand_and_k_plays_no_part():
    # n = 3, alpha 9: a window of ones gives 1 + 9 * (ones in the 3x3 window) / 9
    x = np.ones((1, 1, 3, 3))
    expected = 1 / np.array([[5.0, 7.0, 5.0], [7.0, 10.0, 7.0], [5.0, 7.0, 5.0]])
    for k in ("", "k: 5"):
        params = f"lrn_param {{ local_size: 3 alpha: 9 beta: 1 norm_region: WITHIN_CHANNEL {k} }}"
        np.testing.assert_allclose(forward1("LRN", params, x)[0, 0], expected, rtol=1e-15)


def test_defaults_are_caffes():
    # local_size 5, alpha 1, beta 0.75, k 1, ACROSS_CHANNELS: one channel, so the window is x^2 alone
    x = np.full((1, 1, 1, 1), 2.0)
    np.testing.assert_allclose(forward1("LRN", "", x).ravel(), [2.0 * (1 + 4.0 / 5) ** -0.75], rtol=1e-15)


@pytest.mark.parametrize(
    "params, shape, message",
    [
        ("lrn_param { local_size: 4 }", (1, 8, 3, 3), "local_size 4 must be odd"),
        ("", (2, 8, 3), "4-D bottom"),
        ("lrn_param { alpha: inf }", (1, 8, 3, 3), "must be finite"),
    ],
    ids=["even-size", "3-D", "alpha-inf"],
)
def test_refused_at_load(params, shape, message):
    head = 'input: "x" input_shape { ' + " ".join(f"dim: {d}" for d in shape) + " }\n"
    with pytest.raises(ConvertError, match=message):
        net_from_text(head + f'layer {{ name: "norm" type: "LRN" bottom: "x" top: "y" {params} }}')


GRID = {
    # name: (bottom shape, params)
    "across-default": ((2, 7, 5, 4), ""),
    "across-alexnet": ((2, 16, 6, 6), "lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 }"),
    "across-strong-k2": ((2, 6, 3, 3), "lrn_param { local_size: 3 alpha: 2 beta: 0.5 k: 2 }"),
    "across-wider-than-c": ((1, 3, 4, 4), "lrn_param { local_size: 7 alpha: 0.5 }"),
    "within-default": ((2, 3, 6, 5), "lrn_param { norm_region: WITHIN_CHANNEL }"),
    "within-5": ((2, 2, 7, 7), "lrn_param { local_size: 5 alpha: 0.3 beta: 1.5 norm_region: WITHIN_CHANNEL k: 3 }"),
}


@pytest.mark.parametrize("shape, params", grid(GRID))
def test_lrn_vs_oracle(shape, params):
    assert_matches_oracle(layer_net("LRN", params, shape))


@pytest.mark.parametrize("shape, params", grid(GRID))
def test_onnx_vs_oracle(shape, params, tmp_path):
    # ONNX's reference evaluator (onnx 1.23) sums its LRN window over the batch axis instead of the
    # channels, so only ONNX Runtime checks ACROSS_CHANNELS; WITHIN_CHANNEL uses no LRN node.
    assert_onnx_matches_oracle(layer_net("LRN", params, shape), tmp_path, batches=(1, 3), evaluator="WITHIN_CHANNEL" in params)


def _alexnet_case(synthetic) -> Case:
    classic = need_shared(GOLDENS / "classic")
    meta = json.loads((classic / "AlexNet.golden.json").read_text())
    golden = np.load(classic / "AlexNet.golden.npz")
    net = load_net(classic / "AlexNet.prototxt", batch=2)
    param_shapes = {layer["name"]: layer["param_shapes"] for layer in meta["layers"]}
    for layer in net.layers:
        layer.blobs = [synthetic.synthetic_blob(layer.name, layer.type, i, s) for i, s in enumerate(param_shapes[layer.name])]
    x = synthetic.synthetic_input(tuple(golden["input_shape"]), seed=int(golden["input_seed"]))
    return Case(net, meta, golden, x)


def test_alexnet_matches_real_caffe_through_the_oracle_and_the_lowering(synthetic):
    case = _alexnet_case(synthetic)
    wanted = case.wanted()
    assert any(layer.type == "LRN" for layer in case.net.layers)
    oracle = reference.run(case.net, {"data": case.input}, outputs=sorted(set(wanted.values())))
    with torch.inference_mode():
        lowered = {v: t.numpy() for v, t in lower(case.net, intermediate=True)(torch.from_numpy(case.input)).items()}
    for values in (oracle, lowered):
        result = Comparison()
        for key, value in wanted.items():
            result.add(case.golden, key, values[value])
        assert not result.shape_mismatches, result.shape_mismatches
        assert not result.failures("blob/", BLOB_TOLERANCE), result.failures("blob/")
        assert not result.failures("layer/", BLOB_TOLERANCE), result.failures("layer/")
        assert {"blob/norm1", "blob/norm2", "blob/fc8"} <= set(result.errors)


def test_alexnet_onnx_runtime_matches_real_caffe(synthetic, tmp_path):
    case = _alexnet_case(synthetic)
    inputs = {"data": case.input}
    values = {**inputs, **run_every_value(case.net, onnx_file(case.net, tmp_path), inputs)}
    result = Comparison()
    for key, value in case.wanted().items():
        result.add(case.golden, key, np.asarray(values[value]))
    assert not result.shape_mismatches, result.shape_mismatches
    assert not result.failures("blob/", BLOB_TOLERANCE), result.failures("blob/")
    assert not result.failures("layer/", BLOB_TOLERANCE), result.failures("layer/")
    assert {"blob/norm1", "blob/norm2", "blob/fc8", "blob/prob"} <= set(result.errors)


FAMILY = "lrn"
# One small case per registered type: (params, input shapes, blob shapes, number of tops)
CASES = {
    "LRN": ("lrn_param { local_size: 3 alpha: 0.5 }", [X], [], 1),
}


test_every_type_of_the_family_has_a_case, test_kernel_keeps_dtype_and_inputs = family_tests(FAMILY, CASES)
