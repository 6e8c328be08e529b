"""NaN is never certified: verify fails on non-finite values (NaN never equals NaN) and names the
layer that first produced them; the commands warn about non-finite weights by layer."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import FIXTURES
from senet_convert.caffe import caffe_pb2
from senet_convert.cli import main

PROTO, MODEL = FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel"


def _with_bad_weight(tmp_path, layer_name: str, value: float, index: int = 1):
    net = caffe_pb2.NetParameter()
    net.ParseFromString(MODEL.read_bytes())
    layer = next(l for l in net.layer if l.name == layer_name)
    data = np.array(layer.blobs[index].data, np.float32)
    data[0] = value
    del layer.blobs[index].data[:]
    layer.blobs[index].data.extend(data.tolist())
    path = tmp_path / "bad.caffemodel"
    path.write_bytes(net.SerializeToString())
    return path


def _first_batchnorm():
    text = PROTO.read_text()
    start = text.index('type: "BatchNorm"')
    return text[text.rindex('name: "', 0, start) + 7 : text.index('"', text.rindex('name: "', 0, start) + 7)]


@pytest.mark.parametrize("value", [np.nan, -np.inf], ids=["nan", "inf"])
def test_verify_fails_on_non_finite_values_and_names_the_first_layer(tmp_path, value):
    bn = _first_batchnorm()
    model = _with_bad_weight(tmp_path, bn, value)  # a variance: NaN, or -inf (sqrt of -inf is NaN)
    result = CliRunner().invoke(main, ["verify", str(PROTO), str(model), "--no-info"])
    assert result.exit_code == 1, result.output
    assert "verify: FAILED" in result.stdout and "PASSED" not in result.stdout
    first = [line for line in result.stdout.splitlines() if "first value out of tolerance" in line]
    # torch against the oracle: the BatchNorm made the first NaN (not the Pooling after it); the
    # deployed graph applies BatchNorm and Scale in one pass, so its first is the pair's value.
    assert first and f"made by layer '{bn}' (BatchNorm)" in first[0] and "not finite" in first[0], first
    assert not any("(Pooling)" in line for line in first), first
    assert " 2/2 " not in result.stdout  # no top-1 agreement on NaN outputs
    assert f"warning: {model}: layer '{bn}' (BatchNorm): blob 1 holds" in result.stderr


def test_conversion_warns_about_non_finite_weights_by_layer(tmp_path):
    model = _with_bad_weight(tmp_path, "conv1/3x3_s2", np.nan, index=0)
    result = CliRunner().invoke(main, ["caffe2torch", str(PROTO), str(model), "-o", str(tmp_path / "out"), "--no-pt2"])
    assert result.exit_code == 0, result.output
    assert f"warning: {model}: layer 'conv1/3x3_s2' (Convolution): blob 0 holds 1 NaN of 216 values" in result.stderr


def test_a_value_that_is_nan_on_both_sides_is_no_agreement():
    from senet_convert.loader import net_from_text
    from senet_convert.verify import check

    net = net_from_text('name: "n" input: "x" input_shape { dim: 1 dim: 2 } layer { name: "r" type: "ReLU" bottom: "x" top: "y" }')
    both = np.array([[np.nan, 1.0]])
    result = check("y", both, both.astype(np.float64), 2e-5, net, net.producer())
    assert not result.ok and result.mismatch == "not finite: 1 NaN of 2 here, 1 NaN of 2 in the reference"
