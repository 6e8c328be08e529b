"""The optimized graph (senet_convert.to_torch.optimize): folded BatchNorm/Scale, no Dropout, fast modules; the
same numbers as the oracle (value by value, where a value still exists) and as real Caffe (logits).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import FIXTURES, GOLDEN_FULL
from goldens import load_case

from senet_convert import reference
from senet_convert.edits.fold_batchnorm import fold
from senet_convert.loader import fill_weights, load_net, net_from_text
from senet_convert.to_torch import lower
from senet_convert.to_torch.batchnorm import CaffeBatchNorm
from senet_convert.to_torch.optimize import FastPool2d, PointwiseConv2d, optimize
from senet_convert.to_torch.scale import CaffeScale
from senet_convert.verify.compare import execution_order, relative_error
from senet_convert.verify.report import Report
from senet_convert.verify.torch_rows import optimized_backends

GOLDEN_TOLERANCE = 2e-5  # times max|golden logits| (../shared/goldens/README.md)
ORACLE_TOLERANCE = 1e-5  # times max|oracle value|, float32 torch against the float64 oracle

# Every pattern fold() handles, in one small net: conv -> BN -> Scale -> ReLU (in place), a conv output
# read twice (no fold past it: the lone Scale stays; not in place, which Caffe refuses on a value read
# twice), conv with a bias -> Scale only, a BN + Scale with no
# producer to fold into (after a Concat), a BN with scale factor 0, Dropout, InnerProduct -> BN -> Scale.
PATTERNS = """
name: "patterns"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 9 dim: 9 } } }
layer { name: "c1" type: "Convolution" bottom: "data" top: "c1"
        convolution_param { num_output: 4 kernel_size: 3 stride: 2 bias_term: false } }
layer { name: "c1/bn" type: "BatchNorm" bottom: "c1" top: "c1" batch_norm_param { eps: 0.001 } }
layer { name: "c1/scale" type: "Scale" bottom: "c1" top: "c1" scale_param { bias_term: true } }
layer { name: "c1/relu" type: "ReLU" bottom: "c1" top: "c1" }
layer { name: "c2" type: "Convolution" bottom: "c1" top: "c2" convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "c2/relu2" type: "ReLU" bottom: "c2" top: "c2r" }
layer { name: "c2/scale" type: "Scale" bottom: "c2" top: "c2s" scale_param { bias_term: false } }
layer { name: "c4" type: "Convolution" bottom: "c1" top: "c4" convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "c4/scale" type: "Scale" bottom: "c4" top: "c4" scale_param { bias_term: false } }
layer { name: "cat" type: "Concat" bottom: "c1" bottom: "c2s" bottom: "c2r" bottom: "c4" top: "cat" }
layer { name: "cat/bn" type: "BatchNorm" bottom: "cat" top: "cat" }
layer { name: "cat/scale" type: "Scale" bottom: "cat" top: "cat" scale_param { bias_term: true } }
layer { name: "c3" type: "Convolution" bottom: "data" top: "c3"
        convolution_param { num_output: 16 kernel_size: 3 stride: 2 } }
layer { name: "c3/bn" type: "BatchNorm" bottom: "c3" top: "c3" }
layer { name: "sum" type: "Eltwise" bottom: "cat" bottom: "c3" bottom: "c3" top: "sum" }
layer { name: "pool" type: "Pooling" bottom: "sum" top: "pool" pooling_param { pool: AVE global_pooling: true } }
layer { name: "drop" type: "Dropout" bottom: "pool" top: "pool" dropout_param { dropout_ratio: 0.5 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 5 } }
layer { name: "fc/bn" type: "BatchNorm" bottom: "fc" top: "fc" }
layer { name: "fc/scale" type: "Scale" bottom: "fc" top: "fc" scale_param { bias_term: true } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""
PARAMETRIC_SCALES = {"patterns": {"c2/scale", "cat/bn"}}  # the Scales the patterns net keeps on purpose


def patterns_net():
    net = net_from_text(PATTERNS)
    rng = np.random.default_rng(7)
    fill_weights(net, lambda name, type_, i, s: rng.uniform(0.5, 1.5, s).astype(np.float32))
    for layer in net.layers:
        if layer.type == "BatchNorm":
            layer.blobs[2][...] = 0.25 if layer.name != "c3/bn" else 0  # a scale factor other than 1, and 0
    return net


def mini(goldens_dir, model):
    return load_net(goldens_dir / f"{model}.mini.prototxt", goldens_dir / f"{model}.mini.caffemodel")


def random_inputs(net, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-4, 4, shape).astype(np.float32) for name, shape in net.inputs.items()}


NETS = ["patterns", "tiny-senet"] + [f"{m}.mini" for m in GOLDEN_FULL]


@pytest.fixture(scope="module", params=NETS)
def net(request):
    if request.param == "patterns":
        return patterns_net()
    if request.param == "tiny-senet":
        return load_net(FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel")
    from conftest import GOLDENS, need_shared

    return mini(need_shared(GOLDENS), request.param.removesuffix(".mini"))


def test_fold_is_exact_in_the_oracle(net):
    # The fold's arithmetic alone, torch-free: the float64 oracle on the folded net against the oracle
    # on the original. The only difference is the folded weights' rounding to float32.
    folded, folding = fold(net)
    inputs = random_inputs(net)
    want = reference.run(net, inputs)
    got = reference.run(folded, inputs)
    for name in net.outputs:
        err = np.abs(got[name] - want[name]).max()
        assert err <= 1e-6 * np.abs(want[name]).max(), (name, err)
    assert not any(layer.type in ("BatchNorm", "Dropout") for layer in folded.layers)


def test_optimized_graph_matches_the_oracle_value_by_value(net):
    # verify's "optimized" row: the float32 optimized graph against the float64 oracle at every value it keeps.
    inputs = random_inputs(net)
    oracle = reference.run(net, inputs, intermediate=True)
    order = execution_order(net)
    report = Report(net.name, "random", 1, ORACLE_TOLERANCE, len(order))
    optimized_backends(net, inputs, oracle, order, ["cpu"], ORACLE_TOLERANCE, report, lambda message: None)
    (row,) = report.backends
    failures = [c for c in row.checks if not c.ok]
    assert not row.crashed and not failures, failures[:10]
    assert all(c.error <= ORACLE_TOLERANCE * c.scale or c.error == 0 for c in row.checks)
    compared = {c.value for c in row.checks}
    assert net.outputs and set(net.outputs) <= compared
    _, folding = optimize(net)
    assert set(order) - compared == set(folding.removed_values), "only folded-away values may go unchecked"


def test_no_batchnorm_scale_or_dropout_modules(net):
    module, _ = optimize(net)
    for name, sub in module.named_modules():
        assert not isinstance(sub, CaffeBatchNorm), name
        # Scales that remain take their factor from a second bottom (SE-BN-Inception's gate)
        kept = PARAMETRIC_SCALES.get(net.name, ())
        assert not isinstance(sub, CaffeScale) or sub.weight is None or name in kept, name
        assert type(sub) is not torch.nn.Identity, name
    assert not any(k.endswith((".mean", ".var", ".scale_factor")) for k in module.state_dict())


def test_patterns_fold_as_designed():
    net = patterns_net()
    folded, folding = fold(net)
    assert folding.folded == {
        "c1/bn": "c1", "c1/scale": "c1", "c4/scale": "c4", "cat/bn": "cat/bn", "cat/scale": "cat/bn",
        "c3/bn": "c3", "fc/bn": "fc", "fc/scale": "fc",
    }
    assert folding.removed_layers == {"drop": "Dropout: the identity at test time"}
    assert folding.aliases == {"pool@drop": "pool"}
    assert set(folding.removed_values) == {"c1", "c1@c1/bn", "c4", "cat@cat/bn", "c3", "fc", "fc@fc/bn"}
    assert [layer.name for layer in folded.layers] == [
        "c1", "c1/relu", "c2", "c2/relu2", "c2/scale", "c4", "cat", "cat/bn", "c3", "sum", "pool", "fc", "prob"
    ]
    assert folded.layer("sum").bottoms == ("cat@cat/scale", "c3@c3/bn", "c3@c3/bn")
    assert folded.layer("fc").bottoms == ("pool",)
    assert folding.removed_blobs[("c1/bn", 2)] == "folded into 'c1'"
    # folded weights, by hand: w * gamma * invstd, (b - mean) * gamma * invstd + beta
    c1, bn, sc = (net.layer(n) for n in ("c1", "c1/bn", "c1/scale"))
    sf = np.float64(np.float32(1) / np.float32(0.25))
    invstd = 1 / np.sqrt(bn.blobs[1].astype(np.float64) * sf + np.float64(np.float32(0.001)))
    a = sc.blobs[0] * invstd
    b = (0 - bn.blobs[0] * sf) * a + sc.blobs[1]
    new = folded.layer("c1")
    assert new.param.convolution_param.bias_term and new.tops == ("c1@c1/scale",)
    np.testing.assert_allclose(new.blobs[0], c1.blobs[0] * a[:, None, None, None], rtol=1e-6)
    np.testing.assert_allclose(new.blobs[1], b, rtol=1e-6)
    # scale factor 0: Caffe's sf = 0, so mean and var count as 0 and the BN divides by sqrt(eps)
    c3 = folded.layer("c3")
    np.testing.assert_allclose(c3.blobs[1], net.layer("c3").blobs[1] / np.sqrt(np.float64(np.float32(1e-5))), rtol=1e-6)
    module, folding = optimize(net)
    relus = {name: m.inplace for name, m in module.named_modules() if isinstance(m, torch.nn.ReLU)}
    assert relus == {"c1/relu": True, "c2/relu2": False}, "c2 is read twice: its ReLU must not overwrite it"
    keys = {"c1.weight", "c1.bias", "c2.weight", "c2.bias", "c2/scale.weight", "cat/bn.weight", "cat/bn.bias",
            "fc.weight", "fc.bias"}
    assert keys <= set(module.state_dict())


def test_requested_values_are_not_folded_away():
    net = load_net(FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel")
    after_bn = "conv1/3x3_s2@conv1/3x3_s2/bn"  # a value name: the BatchNorm's output, before Scale
    module, folding = optimize(net, outputs=[after_bn, "classifier"])
    assert folding.folded["conv1/3x3_s2/bn"] == "conv1/3x3_s2"
    assert "conv1/3x3_s2/bn/scale" not in folding.folded and after_bn not in folding.removed_values
    x = torch.from_numpy(random_inputs(net)["data"])
    exact = lower(net, outputs=[after_bn, "classifier"])(x)
    for got, want in zip(module(x), exact):
        assert torch.allclose(got, want, atol=1e-5 * want.abs().max().item())
    # a Caffe blob name means the blob's final value (after BN, Scale and ReLU), as in the exact graph
    final = optimize(net, outputs=["conv1/3x3_s2"]).module(x)
    assert torch.allclose(final, lower(net, outputs=["conv1/3x3_s2"])(x), atol=1e-5 * final.abs().max().item())


def test_fast_modules_and_in_place_relu_leave_inputs_alone():
    net = load_net(FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel")
    module, _ = optimize(net)
    kinds = {type(m) for m in module.modules()}
    assert FastPool2d in kinds and PointwiseConv2d in kinds
    assert any(isinstance(m, torch.nn.ReLU) and m.inplace for m in module.modules())
    x = torch.from_numpy(random_inputs(net)["data"])
    before = x.clone()
    first, second = module(x), module(x)
    assert torch.equal(x, before) and torch.equal(first, second)
    assert torch.allclose(first, lower(net)(x), atol=1e-6)


def test_channels_last_and_dynamo_fullgraph():
    # torch.compile's front end traces the whole graph without a break; the backend is left out (slow on CPU)
    net = load_net(FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel")
    module, _ = optimize(net, outputs=["classifier"])
    x = torch.from_numpy(random_inputs(net)["data"]).repeat(3, 1, 1, 1)
    want = module(x)
    got = module(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(got, want, atol=1e-5 * want.abs().max().item())
    torch._dynamo.reset()
    compiled = torch.compile(module, backend="eager", fullgraph=True)
    assert torch.allclose(compiled(x), want, atol=1e-6 * want.abs().max().item())


def test_torch_export_with_a_dynamic_batch():
    net = load_net(FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel")
    module, _ = optimize(net)
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(module, (torch.zeros(2, 3, 32, 32),), dynamic_shapes=({0: batch},))
    x = torch.from_numpy(random_inputs(net)["data"]).repeat(5, 1, 1, 1)
    assert torch.allclose(program.module()(x), module(x), atol=1e-6)


# ---- real Caffe: the three official nets with synthetic weights, at the logits ----


def official(model, goldens_dir, models_dir, synthetic):
    case = load_case(model, "full", goldens_dir, models_dir, synthetic)
    return case.net, case.input, case.golden["blob/classifier/data"].astype(np.float64)


@pytest.fixture(scope="module", params=GOLDEN_FULL)
def golden_case(request, goldens_dir, models_dir, synthetic):
    net, x, logits = official(request.param, goldens_dir, models_dir, synthetic)
    return net, x, logits, *optimize(net, outputs=["classifier"])


def _relative(got, want) -> float:
    return relative_error(np.asarray(got, np.float64), want)


def test_golden_logits_in_torch(golden_case):
    _, x, logits, module, _ = golden_case
    with torch.inference_mode():
        nchw = module(torch.from_numpy(x)).numpy()
        channels_last = module(torch.from_numpy(x).contiguous(memory_format=torch.channels_last)).numpy()
    assert _relative(nchw, logits) <= GOLDEN_TOLERANCE
    assert _relative(channels_last, logits) <= GOLDEN_TOLERANCE


def test_golden_logits_in_onnx_runtime(golden_case, tmp_path):
    import onnxruntime as ort

    from senet_convert.export import onnx as onnx_export

    net, x, logits, module, folding = golden_case
    path = tmp_path / "optimized.onnx"
    onnx_export.export_onnx(net, path, outputs=["classifier"], optimized=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    assert _relative(got, logits) <= GOLDEN_TOLERANCE


def test_verify_checks_the_optimized_onnx_at_every_value_it_names(tmp_path):
    # verify's ONNX backend reads an optimized file as it reads any senet-convert ONNX: the tensors are
    # named after the folded net's values, every value that still exists is compared with the oracle.
    from senet_convert import verify
    from senet_convert.export.onnx import export_onnx

    net = load_net(FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel")
    _, folding = optimize(net)
    export_onnx(net, tmp_path / "tiny.onnx", optimized=True)
    inputs = {"data": np.repeat(random_inputs(net)["data"], 2, axis=0)}
    report = verify.verify(net, inputs, onnx=tmp_path / "tiny.onnx", tolerance=ORACLE_TOLERANCE, info=False)
    (onnx_backend,) = [b for b in report.backends if b.name.startswith("onnxruntime")]
    assert onnx_backend.ok, report.render()
    compared = {c.value for c in onnx_backend.checks}
    assert set(net.outputs) <= compared and not compared & set(folding.removed_values)
    assert len(compared) > len(net.outputs) + 10, "intermediate values are compared too"
