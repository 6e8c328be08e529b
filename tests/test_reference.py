"""The numpy reference as a whole: its registry of kernels, `run` (outputs, intermediates, dtypes, errors),
the tiny SENet fixture, and that it never imports torch. The kernels themselves: tests/layers/."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers import make_layer

from senet_convert import reference
from senet_convert.errors import ConvertError
from senet_convert.graph import Net
from senet_convert.reference import KERNELS, registry

REPO = Path(__file__).resolve().parents[1]


# ---- the registry ----------------------------------------------------------------------


def test_registering_twice_raises():
    with pytest.raises(ValueError, match="'ReLU' registered twice"):
        registry.register("ReLU")(lambda layer, inputs: inputs)
    assert KERNELS["ReLU"].__module__.endswith("reference.activation")


def test_unknown_type_names_layer_type_and_supported():
    layer = make_layer("Frobnicate")
    layer.line = 42
    with pytest.raises(ConvertError) as info:
        registry.kernel_for(layer)
    message = str(info.value)
    assert "layer 'test/Frobnicate' (Frobnicate) at line 42" in message
    assert "'Frobnicate'" in message and "BatchNorm" in message and "Axpy" in message


# ---- run ---------------------------------------------------------------------------------


def tiny_net() -> Net:
    """data -> conv -> relu (in place) -> pool -> prob (Softmax); conv also feeds an Eltwise."""
    rng = np.random.default_rng(1)
    conv_params = "convolution_param { num_output: 2 kernel_size: 3 pad: 1 }"
    conv = make_layer("Convolution", conv_params, blobs=[rng.standard_normal((2, 1, 3, 3)), [0.1, -0.1]])
    relu = make_layer("ReLU")
    pool = make_layer("Pooling", "pooling_param { pool: MAX kernel_size: 2 stride: 2 }")
    prob = make_layer("Softmax")
    add = make_layer("Eltwise", bottoms=2)
    wiring = [
        (conv, ("data",), ("conv",)),
        (relu, ("conv",), ("conv@relu",)),
        (pool, ("conv@relu",), ("pool",)),
        (prob, ("pool",), ("prob",)),
        (add, ("conv", "conv@relu"), ("sum",)),
    ]
    for layer, bottoms, tops in wiring:
        layer.bottoms, layer.tops = bottoms, tops
    return Net(
        name="tiny",
        inputs={"data": (2, 1, 4, 4)},
        layers=[w[0] for w in wiring],
        outputs=["prob", "sum"],
        shapes={},
        blob_of={},
        final={},
    )


def test_run_outputs_and_intermediates():
    net = tiny_net()
    x = np.random.default_rng(2).standard_normal((2, 1, 4, 4)).astype(np.float32)
    out = reference.run(net, {"data": x})
    assert sorted(out) == ["prob", "sum"]
    assert out["prob"].shape == (2, 2, 2, 2) and out["prob"].dtype == np.float64
    every = reference.run(net, {"data": x}, intermediate=True)
    assert sorted(every) == ["conv", "conv@relu", "data", "pool", "prob", "sum"]
    np.testing.assert_array_equal(every["conv@relu"], np.maximum(every["conv"], 0))
    np.testing.assert_array_equal(every["sum"], every["conv"] + every["conv@relu"])
    np.testing.assert_array_equal(every["prob"], out["prob"])
    only = reference.run(net, {"data": x}, outputs=["conv", "pool"])
    assert sorted(only) == ["conv", "pool"]
    f32 = reference.run(net, {"data": x}, dtype=np.float32)
    assert f32["prob"].dtype == np.float32
    np.testing.assert_allclose(f32["prob"], out["prob"], rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"inputs": {}}, ConvertError, "missing: \\['data'\\]"),
        ({"inputs": {"data": 0, "label": 0}}, ConvertError, "unknown: \\['label'\\]"),
        ({"outputs": ["nope"]}, ConvertError, "no values named \\['nope'\\]"),
        ({"outputs": ["prob"], "intermediate": True}, TypeError, "not both"),
        ({"dtype": np.float16}, ValueError, "float32 or float64"),
    ],
    ids=["missing-input", "unknown-input", "unknown-output", "intermediate+outputs", "float16"],
)
def test_run_refuses(kwargs, error, message):
    kwargs = {"inputs": {"data": np.zeros((2, 1, 4, 4))}, **kwargs}
    with pytest.raises(error, match=message):
        reference.run(tiny_net(), **kwargs)


def test_run_reports_undefined_values():
    net = tiny_net()
    net.layers[2].bottoms = ("ghost",)
    with pytest.raises(ConvertError, match="reads 'ghost'"):
        reference.run(net, {"data": np.zeros((2, 1, 4, 4))})


def test_run_tiny_senet_fixture():
    # the repo's seeded SE-ResNet-style net: every value has the loader's shape; float32 ~ float64
    from senet_convert.loader import load_net

    net = load_net(REPO / "fixtures" / "tiny-senet.prototxt", REPO / "fixtures" / "tiny-senet.caffemodel")
    assert {"Axpy", "Sigmoid", "Pooling", "InnerProduct", "Softmax"} <= {layer.type for layer in net.layers}
    x = {name: np.random.default_rng(0).uniform(-4, 4, shape) for name, shape in net.inputs.items()}
    values = reference.run(net, x, intermediate=True)
    assert {name: value.shape for name, value in values.items()} == net.shapes
    f32 = reference.run(net, x, dtype=np.float32)
    for name in net.outputs:
        np.testing.assert_allclose(f32[name], values[name], rtol=0, atol=1e-5 * np.abs(values[name]).max())


def test_reference_never_imports_torch():
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from google.protobuf import text_format
        from senet_convert import reference
        from senet_convert.caffe import caffe_pb2
        from senet_convert.graph import Layer, Net

        param = text_format.Parse('relu_param { negative_slope: 0.5 }', caffe_pb2.LayerParameter(name='r', type='ReLU'))
        layer = Layer(name='r', type='ReLU', bottoms=('x',), tops=('y',), param=param)
        net = Net(name='t', inputs={'x': (2,)}, layers=[layer], outputs=['y'], shapes={}, blob_of={}, final={})
        assert reference.run(net, {'x': np.array([-2.0, 2.0])})['y'].tolist() == [-1.0, 2.0]
        loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))
        assert not loaded, loaded
        """
    )
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
