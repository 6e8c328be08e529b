"""The parity engine: it passes on the real-Caffe minis, and it catches real conversion bugs injected
into the torch module, naming the layer that introduced them.
"""
from __future__ import annotations

import math
import types

import numpy as np
import pytest
import torch
from torch import nn

from senet_convert import verify as parity
from senet_convert.errors import ConvertError
from senet_convert.loader import load_net, net_from_text
from senet_convert.to_torch import lower, module_name
from senet_convert.verify.inputs import make_inputs

MINIS = ["SE-ResNet-50", "SE-BN-Inception", "SE-ResNeXt-50"]


def golden_caffe_blobs(goldens_dir, stem: str, synthetic) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The blobs real Caffe computed that the golden file holds in full, and the input it ran on."""
    g = np.load(goldens_dir / f"{stem}.golden.npz")
    x = synthetic.synthetic_input(tuple(g["input_shape"]), seed=int(g["input_seed"]))
    blobs = {str(name): g[f"blob/{name}/data"] for name in g["full_blobs"]}
    return {"data": x, **blobs}, x


@pytest.mark.parametrize("model", MINIS)
def test_minis_pass_against_the_oracle_and_real_caffe(model, goldens_dir, synthetic):
    stem = f"{model}.mini"
    net = load_net(goldens_dir / f"{stem}.prototxt", goldens_dir / f"{stem}.caffemodel")
    caffe, x = golden_caffe_blobs(goldens_dir, stem, synthetic)
    report = parity.verify(net, {"data": x}, caffe_blobs=caffe, caffe_name=f"{stem}.golden.npz", info=False)
    assert report.ok, report.render()
    by_name = {(b.name, b.against.split(" ")[0]): b for b in report.backends}
    torch_cpu = by_name[("torch cpu", "oracle")]
    # every value of the IR, the ones in-place layers overwrite included
    assert len(torch_cpu.checks) == torch_cpu.total == len(parity.execution_order(net))
    assert any("@" in c.value for c in torch_cpu.checks)
    assert torch_cpu.worst_relative < 1e-5
    assert torch_cpu.top1 == (2, 2) and torch_cpu.top5 == (2, 2)
    for name in ("oracle float64", "torch cpu"):
        against_caffe = by_name[(name, "Caffe")]
        assert len(against_caffe.checks) >= 50  # every SE vector, the logits, the probabilities
        assert against_caffe.worst_relative < 1e-5
    assert any("Split" in note for note in report.notes)  # Caffe's split blobs are named, and ignored


@pytest.fixture(scope="module")
def resnet_mini(goldens_dir, synthetic):
    net = load_net(goldens_dir / "SE-ResNet-50.mini.prototxt", goldens_dir / "SE-ResNet-50.mini.caffemodel")
    return net, {"data": synthetic.synthetic_input((1, 3, 224, 224), seed=0)}


class DroppedGate(nn.Module):
    """Axpy without its SE gate: x + y instead of a * x + y."""

    def forward(self, a, x, y):
        return x + y


def _small_variance(net, layer_name):
    # A trained net has channels with tiny running variance; there eps matters. Both sides see it.
    layer = net.layer(layer_name)
    original = layer.blobs[1]
    layer.blobs[1] = original * np.float32(1e-3)
    return lambda: layer.blobs.__setitem__(1, original)


def _eps_zero(module, net):
    module.get_submodule(module_name("conv2_1_1x1_increase/bn")).eps = 0.0
    return "conv2_1_1x1_increase/bn"


def _floor_pooling(module, net):
    module.get_submodule(module_name("pool1/3x3_s2")).ceil = False
    return "pool1/3x3_s2"


def _transposed_inner_product(module, net):
    # the classic layout bug: Caffe's (num_output, K) weight read as (K, num_output)
    ip = module.get_submodule(module_name("classifier"))
    n, k = ip.weight.shape
    ip.weight.data = ip.weight.data.reshape(k, n).t().contiguous()
    return "classifier"


def _dropped_axpy_gate(module, net):
    name = [layer.name for layer in net.layers if layer.type == "Axpy"][3]
    module._modules[module_name(name)] = DroppedGate()
    return name


class DroppedProduct(nn.Module):
    """Axpy without its a * x term: the shortcut alone."""

    def forward(self, a, x, y):
        return y.clone()


def _dropped_axpy_product(module, net):
    name = [layer.name for layer in net.layers if layer.type == "Axpy"][-1]
    module._modules[module_name(name)] = DroppedProduct()
    return name


BUGS = {
    "bn-eps-0": _eps_zero,
    "floor-mode-pooling": _floor_pooling,
    "transposed-inner-product": _transposed_inner_product,
    "dropped-axpy-gate": _dropped_axpy_gate,
    "dropped-axpy-product": _dropped_axpy_product,
}


@pytest.mark.parametrize("bug", list(BUGS), ids=list(BUGS))
def test_injected_bug_fails_and_names_its_layer(bug, resnet_mini):
    net, inputs = resnet_mini
    restore = _small_variance(net, "conv2_1_1x1_increase/bn")
    try:
        clean = parity.verify(net, inputs, info=False) if bug == "bn-eps-0" else None
        module = lower(net, intermediate=True)
        layer = BUGS[bug](module, net)
        report = parity.verify(net, inputs, torch_module=module, info=False)
    finally:
        restore()
    if clean is not None:
        assert clean.ok, clean.render()  # eps 1e-5 vs a variance of ~5e-4: the clean lowering still passes
    assert not report.ok
    first = report.backends[0].first_failure
    assert first.layer == layer, report.render()
    assert f"made by layer '{layer}'" in report.render()
    assert "verify: FAILED" in report.render()


def test_a_bug_in_the_deployed_one_pass_batchnorm_fails(resnet_mini, monkeypatch):
    # The graph users run applies each BatchNorm and its Scale in one F.batch_norm call; verify's
    # per-layer graph does not, so only the "as deployed" row can catch a bug there.
    from senet_convert.to_torch import batchnorm

    def without_bias(x, mean, var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
        return torch.nn.functional.batch_norm(x, mean, var, weight, None, training, momentum, eps)

    net, inputs = resnet_mini
    monkeypatch.setattr(batchnorm, "F", types.SimpleNamespace(batch_norm=without_bias))
    report = parity.verify(net, inputs, info=False)
    rows = {b.name: b for b in report.backends}
    assert rows["torch cpu"].ok and not rows["torch cpu, as deployed"].ok and not report.ok
    assert rows["torch cpu, as deployed"].first_failure.value.startswith("conv1/7x7_s2@"), report.render()


def test_a_crashing_backend_is_a_failure_not_a_traceback(resnet_mini):
    net, inputs = resnet_mini

    class Broken(nn.Module):
        def forward(self, *xs):
            raise RuntimeError("boom")

    module = lower(net, intermediate=True)
    module._modules[module_name("conv1/7x7_s2")] = Broken()
    report = parity.verify(net, inputs, torch_module=module, info=False)
    assert not report.ok and "RuntimeError: boom" in report.backends[0].crashed
    assert "did not run" in report.render()


def test_report_json_and_info_rows(resnet_mini):
    net, inputs = resnet_mini
    report = parity.verify(net, inputs, info=True)
    data = report.to_dict()
    assert data["ok"] and data["format"] == "senet-convert/verify"
    (row,) = data["info"]
    assert row["name"] == "torch cpu, bf16 autocast" and row["checked"] is False
    assert row["max_relative_error"] > 1e-4  # bf16 is far from parity; it is shown, not checked
    assert "info, not checked" in report.render()
    values = data["backends"][0]["values"]
    assert [v["value"] for v in values] == parity.execution_order(net)
    assert {"oracle", "lower", "torch", "compare"} <= set(data["timings"])


def test_caffe_dump_with_another_input_is_refused(resnet_mini):
    net, inputs = resnet_mini
    with pytest.raises(ConvertError, match="differs from the input"):
        parity.verify(net, inputs, caffe_blobs={"data": inputs["data"] + 1, "prob": np.zeros((1, 10))}, info=False)
    with pytest.raises(ConvertError, match="none of its"):
        parity.verify(net, inputs, caffe_blobs={"nonsense": np.zeros(3)}, info=False)


# ---- the metric and its helpers ----


def test_max_error_handles_non_finite_values():
    a = np.array([1.0, np.inf, np.nan, -np.inf], np.float32)
    assert parity.max_error(a, a.astype(np.float64)) == 0.0
    assert parity.max_error(a, np.array([1.5, np.inf, np.nan, -np.inf])) == 0.5
    assert parity.max_error(a, np.array([1.0, 1.0, np.nan, -np.inf])) == math.inf
    assert parity.max_error(a, np.array([1.0, np.inf, 0.0, -np.inf])) == math.inf


def test_check_tolerance_is_relative_to_the_largest_reference_value():
    net = net_from_text(
        'name: "n" input: "x" input_shape { dim: 1 dim: 4 } layer { name: "r" type: "ReLU" bottom: "x" top: "y" }'
    )
    producer = net.producer()
    ref = np.array([[100.0, 0.0, 0.0, 0.0]])
    ok = parity.check("y", (ref + 1.9e-3).astype(np.float32), ref, 2e-5, net, producer)
    bad = parity.check("y", (ref + 2.1e-3).astype(np.float32), ref, 2e-5, net, producer)
    assert ok.ok and not bad.ok and bad.layer == "r" and bad.layer_type == "ReLU"
    zero = np.zeros((1, 4))
    assert parity.check("y", zero.astype(np.float32), zero, 2e-5, net, producer).ok
    assert not parity.check("y", np.full((1, 4), 1e-9, np.float32), zero, 2e-5, net, producer).ok
    assert parity.check("y", np.zeros((1, 3), np.float32), zero, 2e-5, net, producer).mismatch.startswith("shape")


def test_top_k_agreement_compares_class_sets():
    ref = np.array([[0.0, 1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1, 0]])
    swapped = ref.copy()
    swapped[0, [5, 6]] = swapped[0, [6, 5]]  # top-1 differs, top-5 set the same
    assert parity.top_k_agreement(swapped, ref, 1) == (1, 2)
    assert parity.top_k_agreement(swapped, ref, 5) == (2, 2)
    assert parity.top_k_agreement(ref[:, :3], ref[:, :3], 5) == (2, 2)  # fewer classes than k


@pytest.mark.skipif(not hasattr(torch.backends.cudnn.conv, "fp32_precision"), reason="torch before 2.9")
def test_precision_modes_are_restored():
    cuda, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn.conv
    before = (cuda.fp32_precision, cudnn.fp32_precision)
    with parity.precision("cuda", tf32=False):
        assert (cuda.fp32_precision, cudnn.fp32_precision) == ("ieee", "ieee")
    with parity.precision("cuda", tf32=True):
        assert (cuda.fp32_precision, cudnn.fp32_precision) == ("tf32", "tf32")
    with pytest.raises(ValueError), parity.precision("cuda"):
        raise ValueError
    assert (cuda.fp32_precision, cudnn.fp32_precision) == before


def test_synthetic_inputs_are_seeded(resnet_mini):
    net, _ = resnet_mini
    a, text = make_inputs(net, seed=3)
    b, _ = make_inputs(net, seed=3)
    c, _ = make_inputs(net, seed=4, batch=5)
    assert np.array_equal(a["data"], b["data"]) and a["data"].shape == (2, 3, 224, 224)
    assert c["data"].shape == (5, 3, 224, 224) and not np.array_equal(a["data"], c["data"][:2])
    assert a["data"].dtype == np.float32 and np.abs(a["data"]).max() <= 4 and "seed 3" in text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_parity_and_tf32_row(resnet_mini):
    net, inputs = resnet_mini
    report = parity.verify(net, inputs, devices=["cpu", "cuda"], info=True)
    assert report.ok, report.render()
    names = [b.name for b in report.backends]
    assert names == ["torch cpu", "torch cuda"]
    assert any(i.name == "torch cuda, TF32 on" for i in report.info)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_cuda_without_a_device_is_bad_input(resnet_mini):
    net, inputs = resnet_mini
    with pytest.raises(ConvertError, match="no CUDA device"):
        parity.verify(net, inputs, devices=["cuda"])
