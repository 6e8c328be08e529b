"""The graph users run: a BatchNorm whose value only its Scale reads applies both in one call, matches
the oracle, keeps the Scale's parameters, follows its buffers, and compiles whole under bf16 channels_last."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import TOL, grid, make_net, one_pass, random_inputs

from senet_convert import reference
from senet_convert.graph import Net
from senet_convert.to_torch import (
    lower,
    one_pass_pairs,
)

# ---- BatchNorm and its Scale in one pass (the graph users run) ------------------------------


def bn_scale_net(bn: str = "", scale: str = "scale_param { bias_term: true }", shape=(2, 3, 6, 6), factor: float = 2.0,
                 extra: str = "", bn_top: str = "conv", scale_top: str | None = None) -> Net:
    """conv -> BatchNorm -> Scale -> ReLU, in place unless bn_top and scale_top say otherwise."""
    scale_top = scale_top or bn_top
    first = ('layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" '
             'convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }' if len(shape) == 4 else
             'layer { name: "conv" type: "InnerProduct" bottom: "data" top: "conv" inner_product_param { num_output: 4 } }')
    body = f"""{first}
layer {{ name: "bn" type: "BatchNorm" bottom: "conv" top: "{bn_top}" {bn} }}
layer {{ name: "scale" type: "Scale" bottom: "{bn_top}" top: "{scale_top}" {scale} }}
layer {{ name: "relu" type: "ReLU" bottom: "{scale_top}" top: "{scale_top}" }}
{extra}"""
    net = make_net(body, {"data": shape})
    rng = np.random.default_rng(5)
    net.layer("bn").blobs = [(rng.normal(0, 0.3, 4) * factor).astype(np.float32),
                             (rng.uniform(0.5, 1.5, 4) * factor).astype(np.float32), np.float32([factor])]
    return net


ONE_PASS = {
    # name: (bn_scale_net arguments, BatchNorm absorbs the Scale)
    "in-place-with-bias": ({}, True),
    "no-bias": ({"scale": ""}, True),
    "axis-minus-3": ({"scale": "scale_param { axis: -3 bias_term: true }"}, True),
    "eps-and-factor-999.9": ({"bn": "batch_norm_param { eps: 0.001 }", "factor": 999.9}, True),
    "factor-0": ({"factor": 0.0}, True),
    "inner-product-nc": ({"shape": (3, 5)}, True),
    "batch-statistics": ({"bn": "batch_norm_param { use_global_stats: false }", "shape": (4, 3, 6, 6)}, False),
    "factor-over-c-h-w": ({"scale": "scale_param { num_axes: -1 bias_term: true }"}, False),
    "scalar-factor": ({"scale": "scale_param { num_axes: 0 }"}, False),
    "second-reader": ({"bn_top": "bn", "scale_top": "scaled",
                       "extra": 'layer { name: "sum" type: "Eltwise" bottom: "bn" bottom: "scaled" top: "sum" }'}, False),
    "read-after-overwrite": ({"bn_top": "bn",  # "bn" here is the ReLU's value: the BatchNorm's has one reader
                              "extra": 'layer { name: "sum" type: "Eltwise" bottom: "bn" bottom: "conv" top: "sum" }'}, True),
}


@pytest.mark.parametrize("kwargs, absorbed", grid(ONE_PASS))
def test_one_pass_batchnorm_scale_matches_the_oracle(kwargs, absorbed):
    net = bn_scale_net(**kwargs)
    inputs = random_inputs(net)
    outputs = list(net.outputs)
    module = lower(net, outputs=outputs)
    assert one_pass(module) == ({"bn": "scale"} if absorbed else {})
    with torch.inference_mode():
        got = module(*[torch.from_numpy(inputs[name]) for name in net.inputs])
    got = got if isinstance(got, tuple) else (got,)
    expected = reference.run(net, inputs, intermediate=True)
    for value, have in zip(outputs, got):
        want = expected[net.final.get(value, value)]
        np.testing.assert_allclose(have.numpy(), want, rtol=0, atol=TOL * max(np.abs(want).max(), 1e-30), err_msg=value)


def test_one_pass_only_where_the_batchnorm_value_is_hidden():
    net = bn_scale_net()
    assert one_pass(lower(net, outputs=["conv@bn"])) == {}  # asked for: computed on its own
    assert one_pass(lower(net, outputs=["conv@scale"])) == {"bn": "scale"}
    assert one_pass_pairs(net, ["conv@scale"]) == {"bn": "scale"}  # what verify's deployed row relies on
    assert one_pass(lower(net, one_pass_batchnorm=False)) == {}
    assert one_pass(lower(net, intermediate=True)) == {}
    two_bottoms = make_net("""
layer { name: "bn" type: "BatchNorm" bottom: "x" top: "x" }
layer { name: "scale" type: "Scale" bottom: "x" bottom: "gate" top: "y" scale_param { axis: 0 } }
""", {"x": (2, 3, 4, 4), "gate": (2, 3)})
    assert one_pass(lower(two_bottoms)) == {}


def test_batchnorm_statistics_follow_its_buffers():
    # eager calls reuse mean*sf and var*sf; any change to the buffers must show at once
    net = bn_scale_net()
    module = lower(net, outputs=["conv"])
    x = torch.from_numpy(random_inputs(net)["data"])
    bn = module.get_submodule("bn")
    with torch.inference_mode():
        first = module(x)
    state = {k: v.clone() for k, v in module.state_dict().items()}
    state["bn.mean"] += 1
    state["bn.scale_factor"] *= 4
    module.load_state_dict(state)
    fresh = lower(net, outputs=["conv"])
    fresh.load_state_dict(state)
    assert torch.equal(module(x), fresh(x)) and not torch.equal(module(x), first)
    with torch.no_grad():
        bn.var.mul_(3)  # an in-place edit
    fresh.load_state_dict(module.state_dict())
    assert torch.equal(module(x), fresh(x))
    # statistics cached inside inference_mode still serve a forward pass that records gradients
    x.requires_grad_(True)
    module(x).sum().backward()
    assert x.grad is not None and module.get_submodule("scale").weight.grad is not None


def test_one_pass_graph_compiles_whole_and_keeps_bf16_channels_last():
    net = bn_scale_net(extra='layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: AVE global_pooling: true } }')
    module = lower(net, outputs=["pool"]).eval()
    x = torch.from_numpy(random_inputs(net)["data"])
    compiled = torch.compile(module, fullgraph=True, backend="aot_eager")  # fullgraph: a break is an error
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), module(x), rtol=1e-6, atol=1e-6)
    channels_last = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        scaled = lower(net, outputs=["conv@scale"]).to(memory_format=torch.channels_last)(channels_last)
    assert scaled.dtype == torch.bfloat16 and scaled.is_contiguous(memory_format=torch.channels_last)
