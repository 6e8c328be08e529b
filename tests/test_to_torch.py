"""The torch lowering as a whole: its registry and the state_dict mapping, module naming, outputs,
SENet-154's distinctive parts, a dynamic batch, and that it shares no arithmetic with the oracle.
The builders themselves: tests/layers/; BatchNorm+Scale in one pass: test_one_pass.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from google.protobuf import text_format
from helpers import assert_matches_oracle, grid, layer_net, make_net, one_pass, random_inputs, run_torch

from senet_convert import reference
from senet_convert.caffe import caffe_pb2
from senet_convert.errors import ConvertError
from senet_convert.graph import Layer
from senet_convert.loader import net_from_text
from senet_convert.to_torch import (
    SUPPORTED_TYPES,
    build,
    caffe_name,
    lower,
    module_name,
    parameter_map,
    registry,
)

# ---- the registry and the state_dict mapping ------------------------------------------------


def test_both_registries_cover_the_same_types():
    assert set(SUPPORTED_TYPES) == set(reference.SUPPORTED_TYPES)


def test_registering_a_type_twice_fails():
    with pytest.raises(ValueError, match="'ReLU' registered twice"):
        registry.register("ReLU")(lambda layer: torch.nn.ReLU())
    assert registry.BUILDERS["ReLU"].__module__.endswith("to_torch.activation")


def test_unknown_type_names_layer_type_and_supported():
    param = text_format.Parse('name: "frob1" type: "Frobnicate"', caffe_pb2.LayerParameter())
    layer = Layer(name="frob1", type="Frobnicate", bottoms=("x",), tops=("y",), param=param, line=12)
    with pytest.raises(ConvertError, match=r"layer 'frob1' \(Frobnicate\) at line 12.*'Frobnicate'.*BatchNorm, Bias, Clip, Concat"):
        build(layer)


@pytest.mark.parametrize(
    "type_, params, bottoms, message",
    [
        ("Pooling", "pooling_param { pool: STOCHASTIC kernel_size: 2 }", 1, "STOCHASTIC"),
        ("Pooling", "pooling_param { kernel_size: 2 pad: 2 }", 1, "smaller than kernel"),
        ("Pooling", "pooling_param { global_pooling: true stride: 2 }", 1, "stride 1"),
        ("Pooling", "pooling_param { kernel_h: 2 }", 1, "together"),
        ("Convolution", "convolution_param { num_output: 2 kernel_size: 3 }", 1, "needs 2 learned blobs, has 0"),
        ("Eltwise", "eltwise_param { operation: PROD coeff: 1 coeff: 2 }", 2, "only allowed with operation SUM"),
        ("Eltwise", "", 1, "at least 2 bottoms"),
        ("Scale", "", 1, "needs 1 learned blobs, has 0"),
        ("Reshape", "reshape_param { shape { dim: -1 dim: -1 } }", 1, "at most one dim may be -1"),
    ],
    ids=["stochastic", "pad>=kernel", "global-stride", "kernel_h-alone", "conv-no-weights", "prod-coeff", "eltwise-1", "scale-no-weights", "reshape-two-1"],
)
def test_bad_layers_are_refused_at_load_or_lowering(type_, params, bottoms, message):
    # The parameters are refused where they are read (the loader); a layer without its weights when lowered.
    head = "".join(f'input: "x{i}" input_shape {{ dim: 1 dim: 4 dim: 6 dim: 6 }}\n' for i in range(bottoms))
    wiring = "".join(f' bottom: "x{i}"' for i in range(bottoms))
    with pytest.raises(ConvertError, match=message):
        lower(net_from_text(head + f'layer {{ name: "bad" type: "{type_}"{wiring} top: "y" {params} }}'))


PARAMETERS = {
    "conv": ("Convolution", [(1, 4, 5, 5)], "convolution_param { num_output: 2 kernel_size: 3 group: 2 }", ["weight", "bias"]),
    "conv-no-bias": ("Convolution", [(1, 4, 5, 5)], "convolution_param { num_output: 2 kernel_size: 3 bias_term: false }", ["weight"]),
    "ip": ("InnerProduct", [(1, 4, 2, 2)], "inner_product_param { num_output: 3 }", ["weight", "bias"]),
    "ip-transpose": ("InnerProduct", [(1, 4, 2, 2)], "inner_product_param { num_output: 3 transpose: true }", ["weight", "bias"]),
    "bn": ("BatchNorm", [(1, 4, 2, 2)], "", ["mean", "var", "scale_factor"]),
    "scale": ("Scale", [(1, 4, 2, 2)], "scale_param { bias_term: true }", ["weight", "bias"]),
    "scale-no-bias": ("Scale", [(1, 4, 2, 2)], "", ["weight"]),
    "scale-two-bottoms-bias": ("Scale", [(1, 4, 2, 2), (1, 4)], "scale_param { axis: 0 bias_term: true }", ["bias"]),
    "scale-two-bottoms": ("Scale", [(1, 4, 2, 2), (1, 4)], "scale_param { axis: 0 }", []),
    "bias": ("Bias", [(1, 4, 2, 2)], "", ["bias"]),
    "relu": ("ReLU", [(1, 4, 2, 2)], "", []),
}


@pytest.mark.parametrize("type_, bottoms, params, names", grid(PARAMETERS))
def test_state_dict_is_the_caffe_blobs(type_, bottoms, params, names):
    net = layer_net(type_, params, *bottoms)
    (layer,) = net.layers
    mapping = parameter_map(net)
    assert mapping == {f"l.{name}": ("l", i) for i, name in enumerate(names)}
    state = lower(net).state_dict()
    assert list(state) == list(mapping)
    for key, (_, index) in mapping.items():
        blob = layer.blobs[index]
        assert state[key].dtype == torch.float32
        assert tuple(state[key].shape) == blob.shape
        np.testing.assert_array_equal(state[key].numpy(), blob)
        assert not np.shares_memory(state[key].numpy(), blob)  # a copy: the Net is left alone


# ---- naming, outputs, the module as a whole ------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("conv1/7x7_s2", "conv1/7x7_s2"),
        ("res2a.branch1", "res2a%2Ebranch1"),
        ("50%", "50%25"),
        ('say"hi"', "say%22hi%22"),
        ("forward", "%66orward"),
        ("training", "%74raining"),
        ("pass", "%70ass"),
        ("ünïcode", "%C3%BCn%C3%AFcode"),
        ("", "%"),
    ],
)
def test_module_name_round_trips(name, expected):
    assert module_name(name) == expected
    assert caffe_name(expected) == name
    assert "." not in expected


TINY = """
layer { name: "forward" type: "Convolution" bottom: "data" top: "conv.1"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "conv.1/bn" type: "BatchNorm" bottom: "conv.1" top: "conv.1" }
layer { name: "pass" type: "Scale" bottom: "conv.1" top: "conv.1" scale_param { bias_term: true } }
layer { name: "relu\\"1" type: "ReLU" bottom: "conv.1" top: "conv.1" }
layer { name: "pool" type: "Pooling" bottom: "conv.1" top: "pool" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 3 } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""


def test_awkward_layer_names_lower_and_map_back():
    net = make_net(TINY, {"data": (2, 3, 8, 8)})
    module = lower(net)
    assert 'getattr(self, "conv%2E1/bn")' in module.code
    keys = list(module.state_dict())
    assert keys[0] == "%66orward.weight" and "conv%2E1/bn.scale_factor" in keys
    assert {caffe_name(key.rsplit(".", 1)[0]) for key in keys} == {"forward", "conv.1/bn", "pass", "fc"}
    assert set(parameter_map(net)) == set(keys)
    assert_matches_oracle(net)


def test_outputs_resolve_caffe_blobs_to_their_final_value():
    net = make_net(TINY, {"data": (2, 3, 8, 8)})
    inputs = random_inputs(net)
    every = run_torch(net, inputs, intermediate=True)
    # Caffe's blob conv.1 ends up after the ReLU; the value "conv.1" is the raw convolution
    assert net.final["conv.1"] == 'conv.1@relu"1'
    blob, raw, prob = run_torch(net, inputs, outputs=["conv.1", "conv.1@conv.1/bn", "prob"])
    torch.testing.assert_close(blob, every['conv.1@relu"1'], rtol=0, atol=0)
    torch.testing.assert_close(raw, every["conv.1@conv.1/bn"], rtol=0, atol=0)
    assert torch.all(blob >= 0) and not torch.equal(blob, every["conv.1"])
    single = run_torch(net, inputs)  # net.outputs == ["prob"]: one tensor, not a tuple
    assert isinstance(single, torch.Tensor)
    torch.testing.assert_close(single, prob, rtol=0, atol=0)


def test_partial_outputs_run_only_what_they_need_but_keep_all_weights():
    net = make_net(TINY, {"data": (2, 3, 8, 8)})
    module = lower(net, outputs=["pool"])
    called = {node.target for node in module.graph.nodes if node.op == "call_module"}
    # the Scale "pass" runs inside its BatchNorm's call (one pass), its parameters fetched for it
    assert called == {module_name(name) for name in ("forward", "conv.1/bn", 'relu"1', "pool")}
    fetched = {node.target for node in module.graph.nodes if node.op == "get_attr"}
    assert fetched == {f"{module_name('pass')}.weight", f"{module_name('pass')}.bias"}
    assert one_pass(module) == {"conv.1/bn": "pass"}
    assert list(module.state_dict()) == list(parameter_map(net))


def test_unknown_output_fails():
    net = make_net(TINY, {"data": (2, 3, 8, 8)})
    with pytest.raises(ConvertError, match="no blob or value named 'nope'"):
        lower(net, outputs=["nope"])
    with pytest.raises(TypeError):
        lower(net, outputs=["prob"], intermediate=True)


def test_node_names_are_readable():
    net = make_net(TINY, {"data": (2, 3, 8, 8)})
    names = [node.name for node in lower(net).graph.nodes]
    assert names == ["data", "forward", "pass_weight", "pass_bias", "conv_1_bn", "relu_1", "pool", "fc", "prob", "output"]
    names = [node.name for node in lower(net, one_pass_batchnorm=False).graph.nodes]
    assert names == ["data", "forward", "conv_1_bn", "pass_", "relu_1", "pool", "fc", "prob", "output"]


# ---- SENet-154's distinctive parts, and a dynamic batch ------------------------------------


def conv_bn(name: str, bottom: str, out: int, kernel: int, stride: int = 1, pad: int = 0, group: int = 1, relu: bool = True) -> str:
    text = f"""
layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{name}"
        convolution_param {{ num_output: {out} bias_term: false kernel_size: {kernel} stride: {stride} pad: {pad} group: {group} }} }}
layer {{ name: "{name}/bn" type: "BatchNorm" bottom: "{name}" top: "{name}" batch_norm_param {{ use_global_stats: true }} }}
layer {{ name: "{name}/bn/scale" type: "Scale" bottom: "{name}" top: "{name}" scale_param {{ bias_term: true }} }}
"""
    return text + (f'layer {{ name: "{name}/relu" type: "ReLU" bottom: "{name}" top: "{name}" }}\n' if relu else "")


SENET154_PARTS = (
    # three-conv stem, pool 3x3/s2 ceil
    conv_bn("conv1_1/3x3_s2", "data", 8, 3, 2, 1)
    + conv_bn("conv1_2/3x3", "conv1_1/3x3_s2", 8, 3, 1, 1)
    + conv_bn("conv1_3/3x3", "conv1_2/3x3", 16, 3, 1, 1)
    + 'layer { name: "pool1/3x3_s2" type: "Pooling" bottom: "conv1_3/3x3" top: "pool1/3x3_s2" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }\n'
    # a downsampling block: 1x1, 3x3 group 64 stride 2, 1x1; 3x3 stride 2 projection shortcut
    + conv_bn("conv2_1_1x1_reduce", "pool1/3x3_s2", 128, 1)
    + conv_bn("conv2_1_3x3", "conv2_1_1x1_reduce", 128, 3, 2, 1, group=64)
    + conv_bn("conv2_1_1x1_increase", "conv2_1_3x3", 32, 1, relu=False)
    + conv_bn("conv2_1_1x1_proj", "pool1/3x3_s2", 32, 3, 2, 1, relu=False)
    # squeeze-excitation gate, fused with the residual add by Axpy
    + """
layer { name: "conv2_1_global_pool" type: "Pooling" bottom: "conv2_1_1x1_increase" top: "conv2_1_global_pool"
        pooling_param { pool: AVE kernel_size: 5 stride: 1 } }
layer { name: "conv2_1_1x1_down" type: "Convolution" bottom: "conv2_1_global_pool" top: "conv2_1_1x1_down"
        convolution_param { num_output: 2 kernel_size: 1 stride: 1 } }
layer { name: "conv2_1_1x1_down/relu" type: "ReLU" bottom: "conv2_1_1x1_down" top: "conv2_1_1x1_down" }
layer { name: "conv2_1_1x1_up" type: "Convolution" bottom: "conv2_1_1x1_down" top: "conv2_1_1x1_up"
        convolution_param { num_output: 32 kernel_size: 1 stride: 1 } }
layer { name: "conv2_1_prob" type: "Sigmoid" bottom: "conv2_1_1x1_up" top: "conv2_1_1x1_up" }
layer { name: "conv2_1" type: "Axpy" bottom: "conv2_1_1x1_up" bottom: "conv2_1_1x1_increase" bottom: "conv2_1_1x1_proj" top: "conv2_1" }
layer { name: "conv2_1/relu" type: "ReLU" bottom: "conv2_1" top: "conv2_1" }
layer { name: "pool5/7x7_s1" type: "Pooling" bottom: "conv2_1" top: "pool5/7x7_s1" pooling_param { pool: AVE kernel_size: 5 stride: 1 } }
layer { name: "pool5/7x7_s1/drop" type: "Dropout" bottom: "pool5/7x7_s1" top: "pool5/7x7_s1" dropout_param { dropout_ratio: 0.2 } }
layer { name: "classifier" type: "InnerProduct" bottom: "pool5/7x7_s1" top: "classifier" inner_product_param { num_output: 10 } }
layer { name: "prob" type: "Softmax" bottom: "classifier" top: "prob" }
"""
)


def test_senet154_parts_vs_oracle():
    net = make_net(SENET154_PARTS, {"data": (2, 3, 36, 36)})
    # 36 -> 18 (stride 2) -> pool: floor 8, Caffe's ceil 9 -> 5 (stride 2)
    assert net.shapes["pool1/3x3_s2"] == (2, 16, 9, 9) and net.shapes["conv2_1"] == (2, 32, 5, 5)
    got = assert_matches_oracle(net)
    # Dropout is the identity at test time
    assert torch.equal(got["pool5/7x7_s1"], got["pool5/7x7_s1@pool5/7x7_s1/drop"])


SE_INCEPTION_GATE = """
layer { name: "inception/1x1" type: "Convolution" bottom: "data" top: "inception/1x1" convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "inception/pool" type: "Pooling" bottom: "data" top: "inception/pool" pooling_param { pool: AVE kernel_size: 3 stride: 1 pad: 1 } }
layer { name: "inception/output" type: "Concat" bottom: "inception/1x1" bottom: "inception/pool" top: "inception/output" }
layer { name: "inception_global_pool" type: "Pooling" bottom: "inception/output" top: "inception_global_pool" pooling_param { pool: AVE engine: CAFFE global_pooling: true } }
layer { name: "inception_1x1_up" type: "Convolution" bottom: "inception_global_pool" top: "inception_1x1_up" convolution_param { num_output: 7 kernel_size: 1 } }
layer { name: "inception_prob" type: "Sigmoid" bottom: "inception_1x1_up" top: "inception_1x1_up" }
layer { name: "inception_prob_reshape" type: "Reshape" bottom: "inception_1x1_up" top: "inception_prob_reshape" reshape_param { shape { dim: 0 dim: 0 } } }
layer { name: "inception/scale" type: "Scale" bottom: "inception/output" bottom: "inception_prob_reshape" top: "inception/scaled" scale_param { axis: 0 bias_term: false } }
layer { name: "pool" type: "Pooling" bottom: "inception/scaled" top: "pool" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 5 } }
"""


@pytest.mark.parametrize("body", [SENET154_PARTS, SE_INCEPTION_GATE], ids=["senet154-parts", "se-inception-gate"])
def test_export_keeps_the_batch_dynamic(body):
    net = make_net(body, {"data": (2, 3, 12, 12) if body is SE_INCEPTION_GATE else (2, 3, 36, 36)})
    module = lower(net).eval()
    example = torch.from_numpy(random_inputs(net)["data"])
    program = torch.export.export(module, (example,), dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=64)},))
    other = torch.randn(5, *example.shape[1:])
    with torch.inference_mode():
        torch.testing.assert_close(program.module()(other), module(other), rtol=1e-6, atol=1e-6)
    assert set(program.state_dict) == set(parameter_map(net))


def _imports(path) -> set[str]:
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.update([base] + [f"{base}.{alias.name}" if node.module else base + alias.name for alias in node.names])
    return names


def test_lowering_shares_no_arithmetic_with_the_oracle_or_the_loader():
    package = Path(registry.__file__).parent
    for path in sorted(package.glob("*.py")):
        imported = _imports(path)
        shared = {name for name in imported if name.lstrip(".").split(".")[0] in {"reference", "shapes", "loader"}}
        assert not shared, f"{path.name} imports {shared}"
