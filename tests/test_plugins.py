"""Plugins: the two shipped examples end to end (convert, verify, ONNX), the fork-field error without
them, entry points, and the mistakes a plugin author can make (each a one-line error).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import REPO
from senet_convert import plugins, reference, shapes
from senet_convert.caffe import extensions
from senet_convert.caffe.writer import write_caffemodel
from senet_convert.cli import main
from senet_convert.errors import ConvertError
from senet_convert.loader import fill_weights, load_net
from senet_convert.reference import registry as oracle_registry
from senet_convert.to_onnx import registry as onnx_registry
from senet_convert.to_torch import registry as torch_registry

EXAMPLES = REPO / "examples" / "plugins"
SHUFFLE = EXAMPLES / "shuffle_channel.py"
NORMALIZE = EXAMPLES / "ssd_normalize.py"

SHUFFLENET = """name: "shufflenet-part"
input: "data"
input_shape { dim: 2 dim: 3 dim: 12 dim: 12 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 12 kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "gconv" type: "Convolution" bottom: "conv1" top: "gconv" convolution_param { num_output: 12 kernel_size: 1 group: 3 } }
layer { name: "shuffle" type: "ShuffleChannel" bottom: "gconv" top: "shuffle" shuffle_channel_param { group: 3 } }
layer { name: "dwconv" type: "Convolution" bottom: "shuffle" top: "dwconv" convolution_param { num_output: 12 kernel_size: 3 pad: 1 group: 12 } }
layer { name: "shuffle_default" type: "ShuffleChannel" bottom: "dwconv" top: "dwconv" }
layer { name: "pool" type: "Pooling" bottom: "dwconv" top: "pool" pooling_param { pool: AVE global_pooling: true } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 5 } }
"""

SSD = """name: "ssd-part"
input: "data"
input_shape { dim: 2 dim: 3 dim: 10 dim: 10 }
layer { name: "conv4_3" type: "Convolution" bottom: "data" top: "conv4_3" convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
layer { name: "relu4_3" type: "ReLU" bottom: "conv4_3" top: "conv4_3" }
layer {
  name: "conv4_3_norm"
  type: "Normalize"
  bottom: "conv4_3"
  top: "conv4_3_norm"
  norm_param {
    across_spatial: false
    scale_filler { type: "constant" value: 20 }
    channel_shared: false
  }
}
layer { name: "norm_all" type: "Normalize" bottom: "conv4_3_norm" top: "norm_all" }
layer { name: "head" type: "Convolution" bottom: "norm_all" top: "head" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
"""


@pytest.fixture
def isolated():
    """Plugins change process-wide registries: each test gets them back as they were."""
    tables = [shapes.RULES, oracle_registry.KERNELS.impls, oracle_registry.KERNELS.extra, torch_registry.BUILDERS.impls,
              torch_registry.BUILDERS.extra, onnx_registry.EMITTERS.impls,
              onnx_registry.EMITTERS.extra, plugins._loaded]
    saved = [dict(t) for t in tables]
    state = extensions._state
    schema = (dict(state.messages), dict(state.fields), state._classes)
    yield
    for table, copy in zip(tables, saved):
        table.clear()
        table.update(copy)
    state.messages, state.fields, state._classes = schema


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def fork_files(tmp_path: Path, text: str, plugin: Path) -> tuple[Path, Path]:
    """The prototxt, and a caffemodel whose layers carry the fork's fields as a fork's Caffe writes them."""
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text(text)
    plugins.load_plugin(plugin)
    rng = np.random.default_rng(0)
    net = fill_weights(load_net(prototxt), lambda name, kind, i, shape: rng.uniform(0.5, 1.5, shape).astype(np.float32))
    caffemodel = tmp_path / "net.caffemodel"
    write_caffemodel(caffemodel, [(layer.param, layer.blobs) for layer in net.layers], name=net.name)
    return prototxt, caffemodel


# ---- without the plugin ---------------------------------------------------------------------


def test_fork_prototxt_without_its_plugin_says_so_in_one_line(tmp_path):
    path = tmp_path / "ssd.prototxt"
    path.write_text(SSD)
    result = invoke("inspect", path)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert f"{path}:11:3: layer 'conv4_3_norm' (Normalize) has a field 'norm_param' that BVLC Caffe's schema lacks" in line
    assert "Caffe fork" in line and "SSD" in line and "--plugin" in line and "docs/plugins.md" in line
    assert "Message type" not in line  # not protobuf's words


def test_a_typo_in_a_known_message_is_not_called_a_fork(tmp_path):
    path = tmp_path / "typo.prototxt"
    path.write_text(SHUFFLENET.replace("kernel_size: 3 stride: 2", "kernal_size: 3 stride: 2"))
    result = invoke("inspect", path)
    assert result.exit_code == 2
    assert "layer 'conv1' (Convolution): ConvolutionParameter has no field 'kernal_size'" in result.stderr
    assert "did you mean 'kernel_size'?" in result.stderr and "fork" not in result.stderr


# ---- the two example plugins, end to end ---------------------------------------------------------


@pytest.mark.parametrize("text, plugin", [(SHUFFLENET, SHUFFLE), (SSD, NORMALIZE)], ids=["shuffle_channel", "ssd_normalize"])
def test_example_plugin_converts_verifies_and_exports_onnx(tmp_path, isolated, text, plugin):
    prototxt, caffemodel = fork_files(tmp_path, text, plugin)
    out = tmp_path / "out"
    result = invoke("caffe2torch", "--plugin", plugin, prototxt, caffemodel, "-o", out, "--onnx")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["net.onnx", "net.pt", "net.pt2"]
    report = tmp_path / "report.json"
    result = invoke("verify", "--plugin", plugin, prototxt, caffemodel, "--onnx", out / "net.onnx", "--pt2", out / "net.pt2", "--json", report, "--no-info")
    assert result.exit_code == 0, result.output
    assert "verify: PASSED" in result.stdout
    rows = {row["name"]: row for row in json.loads(report.read_text())["backends"]}
    net = load_net(prototxt)
    plugin_values = {top for layer in net.layers if layer.type in ("ShuffleChannel", "Normalize") for top in layer.tops}
    assert plugin_values and rows["torch cpu"]["compared"] == rows["torch cpu"]["total"]
    assert rows["onnxruntime cpu (net.onnx)"]["compared"] >= len(plugin_values)
    # the .pt2 needs no plugin: plain torch runs it
    program = torch.export.load(str(out / "net.pt2")).module()
    x = np.random.default_rng(1).standard_normal((3, *next(iter(net.inputs.values()))[1:])).astype(np.float32)
    fill = load_net(prototxt, caffemodel)
    (expected,) = reference.run(fill, {"data": x}).values()
    np.testing.assert_allclose(program(torch.from_numpy(x)).numpy(), expected, rtol=0, atol=2e-5 * np.abs(expected).max())


def test_shuffle_channel_by_hand(isolated):
    plugins.load_plugin(SHUFFLE)
    from senet_convert.loader import net_from_text

    net = net_from_text('input: "x" input_shape { dim: 1 dim: 6 }\n'
                        'layer { name: "s" type: "ShuffleChannel" bottom: "x" top: "y" shuffle_channel_param { group: 2 } }')
    x = np.arange(6.0).reshape(1, 6)  # groups [0 1 2] [3 4 5] interleaved
    np.testing.assert_array_equal(reference.run(net, {"x": x})["y"], [[0, 3, 1, 4, 2, 5]])


def test_a_plugin_type_is_shape_only_and_its_implementations_read_the_layer(isolated):
    # Built-in types are read into typed parameters; a plugin's type keeps no parameters in its Setup.
    plugins.load_plugin(SHUFFLE)
    assert not shapes.RULES["ShuffleChannel"].module.startswith("senet_convert.caffe.layers.")
    for backend in (oracle_registry.KERNELS, torch_registry.BUILDERS, onnx_registry.EMITTERS):
        assert backend.reads_layer("ShuffleChannel"), backend.name


def test_ssd_normalize_by_hand(isolated):
    plugins.load_plugin(NORMALIZE)
    from senet_convert.loader import net_from_text

    body = 'input: "x" input_shape { dim: 1 dim: 2 dim: 1 dim: 2 }\nlayer { name: "n" type: "Normalize" bottom: "x" top: "y" %s }'
    x = np.array([[[[3.0, 0]], [[4, 2]]]])  # per position: norms 5 and 2; over everything sqrt(29)
    net = net_from_text(body % "norm_param { across_spatial: false channel_shared: false eps: 0 }")
    net.layers[0].blobs = [np.array([1.0, 10.0], dtype=np.float32)]
    np.testing.assert_allclose(reference.run(net, {"x": x})["y"], [[[[0.6, 0]], [[8, 10]]]], rtol=1e-15)
    net = net_from_text(body % "")
    net.layers[0].blobs = [np.array(2.0, dtype=np.float32)]  # channel_shared: a blob of shape ()
    np.testing.assert_allclose(reference.run(net, {"x": x})["y"], 2 * x / np.sqrt(29 + float(np.float32(1e-10))), rtol=1e-15)


def test_verify_catches_a_wrong_plugin_lowering(tmp_path, isolated):
    bad = tmp_path / "bad_shuffle.py"
    bad.write_text(SHUFFLE.read_text().replace(".transpose(1, 2)", ""))  # the torch half forgets to shuffle
    prototxt, caffemodel = fork_files(tmp_path, SHUFFLENET, bad)
    result = invoke("verify", "--plugin", bad, prototxt, caffemodel, "--no-info")
    assert result.exit_code == 1, result.output
    assert "made by layer 'shuffle' (ShuffleChannel)" in result.stdout


def test_the_caffemodel_of_a_fork_reads_without_the_plugin(tmp_path, isolated):
    _, caffemodel = fork_files(tmp_path, SSD, NORMALIZE)
    from senet_convert.caffe.caffemodel import read_caffemodel

    layers = {layer.name: layer for layer in read_caffemodel(caffemodel).layers}
    assert layers["conv4_3_norm"].type == "Normalize" and layers["conv4_3_norm"].blobs[0].data.shape == (8,)


# ---- entry points and a plugin author's mistakes -------------------------------------------------


def test_entry_point_plugins_load(tmp_path, isolated, monkeypatch):
    (tmp_path / "zoo_shuffle.py").write_text(SHUFFLE.read_text())
    info = tmp_path / "zoo_shuffle-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zoo-shuffle\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{plugins.GROUP}]\nshuffle = zoo_shuffle\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "ShuffleChannel" not in shapes.RULES
    assert plugins.load_installed() == ["shuffle"]
    assert {"ShuffleChannel"} <= set(shapes.RULES) & set(oracle_registry.KERNELS) & set(torch_registry.BUILDERS)
    assert plugins.load_installed() == ["shuffle"]  # once only
    sys.modules.pop("zoo_shuffle", None)


PLUGIN_HEAD = "from senet_convert import plugins\n"


@pytest.mark.parametrize(
    "body, message",
    [
        ("plugins.register_layer('Half', tops=lambda p, s: s)\n", "'Half' has no oracle (register_oracle); 'Half' has no torch lowering"),
        ("plugins.declare_parameter('P', field='p_param', number=145, fields=[])\n", "145 is BVLC Caffe's 'parameter_param'"),
        ("plugins.declare_parameter('P', field='p_param', number=900, fields=[plugins.Field('x', 'complex', 1)])\n", "type 'complex'"),
        ("plugins.register_oracle('ReLU')(lambda layer, inputs: inputs)\n", "'ReLU' registered twice"),
        ("x = 1\nraise RuntimeError('broken')\n", "at plugin.py:3: RuntimeError: broken"),
    ],
    ids=["incomplete", "bvlc-number", "bad-type", "twice", "raises"],
)
def test_plugin_mistakes_are_one_line_errors(tmp_path, isolated, body, message):
    path = tmp_path / "plugin.py"
    path.write_text(PLUGIN_HEAD + body)
    result = invoke("inspect", "--plugin", path, REPO / "fixtures" / "tiny-senet.prototxt")
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert str(path) in line and message in line


def test_missing_plugin_file(tmp_path):
    with pytest.raises(ConvertError, match="no such plugin file"):
        plugins.load_plugin(tmp_path / "nope.py")


def test_declared_fields_read_with_their_defaults(isolated):
    field = plugins.declare_parameter(
        "ZooParameter", field="zoo_param", number=9001,
        fields=[plugins.Field("k", "int32", 1, default=-3), plugins.Field("mode", {"A": 0, "B": 1}, 2, default="B"),
                plugins.Field("sizes", "uint32", 3, repeated=True), plugins.Field("shape", "BlobShape", 4)],
    )
    from senet_convert.caffe.prototxt import parse_net

    (layer,) = parse_net('layer { name: "z" type: "Zoo" zoo_param { sizes: 2 sizes: 5 shape { dim: 7 } } }').layer
    value = field.of(layer)
    assert (value.k, value.mode, list(value.sizes), list(value.shape.dim)) == (-3, 1, [2, 5], [7])
    assert field.has(layer) and extensions.declared_fields() == {"zoo_param": field}
