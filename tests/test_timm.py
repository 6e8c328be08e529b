"""timm weights (--to timm): the structural mapping, its refusals, and, where timm is installed, strict
loading and outputs for the six residual SENets at full size with synthetic weights.

Tests that need timm skip without it, except under CI=true, where CI installs it and a missing timm fails.
"""
from __future__ import annotations

import gc
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import FIXTURES, MODELS, need_shared, synthetic_net

from senet_convert import pipelines
from senet_convert.cli import main
from senet_convert.edits import class_order as classes
from senet_convert.edits import input_space as spaces
from senet_convert.errors import ConvertError
from senet_convert.to_timm import timm_model, timm_model_name, timm_weights
from senet_convert.loader import load_net, net_from_text
from senet_convert.to_torch import module_for
from senet_convert.verify.compare import relative_error

RESIDUAL = {
    "SE-ResNet-50": "legacy_seresnet50",
    "SE-ResNet-101": "legacy_seresnet101",
    "SE-ResNet-152": "legacy_seresnet152",
    "SE-ResNeXt-50": "legacy_seresnext50_32x4d",
    "SE-ResNeXt-101": "legacy_seresnext101_32x4d",
    "SENet-154": "legacy_senet154",
}
# What scripts/measure_fold_error.py measured and the README reports: max|logit error| / max|logit| of
# the folded torchvision convention on natural_image(), synthetic weights with conv1 x INPUT_SCALE.
REPORTED_FOLD_ERROR = {
    "SE-ResNet-50": 1.94e-4,
    "SE-ResNet-101": 9.82e-5,
    "SE-ResNet-152": 8.13e-5,
    "SE-ResNeXt-50": 1.75e-4,
    "SE-ResNeXt-101": 1.05e-4,
    "SENet-154": 1.27e-5,
}
TV = spaces.convention("torchvision", None)


def _rel(reference, other) -> float:
    return relative_error(np.asarray(other, np.float64), np.asarray(reference, np.float64))


def _synthetic_net(model: str, synthetic, scale_first_conv: bool = False):
    """The official net with synthetic.py's weights, in memory (no caffemodel round trip)."""
    net = synthetic_net(model, synthetic)
    if scale_first_conv:  # as scripts/measure_fold_error.py: a 0-255 image in the generator's regime
        conv = spaces.first_convolution(net)
        conv.blobs[0] = conv.blobs[0] * np.float32(synthetic.INPUT_SCALE)
    return net


# ---- the mapping, without timm -------------------------------------------------------------


@pytest.mark.parametrize("model", list(RESIDUAL))
def test_timm_model_follows_from_the_structure(model):
    assert timm_model_name(load_net(need_shared(MODELS / f"{model}.prototxt"))) == RESIDUAL[model]


def _edit(text: str, layer: str, old: str, new: str) -> str:
    start = text.index(f'name: "{layer}"')
    end = text.index("\nlayer", start)
    assert old in text[start:end]
    return text[:start] + text[start:end].replace(old, new, 1) + text[end:]


def _extra_relu(text: str) -> str:
    anchor = 'layer {\n  name: "conv4_2_3x3"'
    extra = 'layer {\n  name: "extra"\n  type: "ReLU"\n  bottom: "conv4_2_1x1_reduce"\n  top: "conv4_2_1x1_reduce"\n}\n'
    return text.replace(anchor, extra + anchor, 1)


MISFITS = {
    "stride-moved": (
        lambda t: _edit(_edit(t, "conv3_1_1x1_reduce", "stride: 2", "stride: 1"), "conv3_1_3x3", "stride: 1", "stride: 2"),
        r"layer 'conv3_1_1x1_reduce' \(Convolution\).*as layer2.0.conv1 of timm's legacy_seresnet50 it must be 1x1/2",
    ),
    "bn-eps": (
        lambda t: _edit(t, "conv2_2_3x3/bn", "use_global_stats: true", "use_global_stats: true\n    eps: 0.001"),
        r"layer 'conv2_2_3x3/bn' \(BatchNorm\).*eps 0.001; timm's BatchNorm2d uses 1e-05",
    ),
    "se-reduction": (
        lambda t: _edit(t, "conv4_3_1x1_down", "num_output: 64", "num_output: 32"),
        r"layer 'conv4_3_1x1_down' \(Convolution\).*layer3.2.se_module.fc1",
    ),
    "extra-layer": (_extra_relu, r"layer 'extra' \(ReLU\)"),
    "classifier-without-bias": (
        lambda t: _edit(t, "classifier", "num_output: 1000", "num_output: 1000\n    bias_term: false"),
        r"layer 'classifier' \(InnerProduct\).*last_linear",
    ),
    "floor-pooling": (
        lambda t: _edit(t, "pool1/3x3_s2", "stride: 2", "stride: 2\n    round_mode: FLOOR"),
        r"layer 'pool1/3x3_s2' \(Pooling\).*ceil_mode=True",
    ),
}


def assert_refused(model: str, change, message: str) -> None:
    """The official prototxt of `model`, edited by `change`, is refused with `message` (a regex)."""
    text = need_shared(MODELS / f"{model}.prototxt").read_text()
    with pytest.raises(ConvertError, match=message):
        timm_model_name(net_from_text(change(text), f"{model}.prototxt"))


@pytest.mark.parametrize("misfit", list(MISFITS))
def test_a_prototxt_that_does_not_fit_is_refused_by_layer(misfit):
    assert_refused("SE-ResNet-50", *MISFITS[misfit])


def test_keys_roles_and_bn_arithmetic(synthetic):
    net = _synthetic_net("SE-ResNet-50", synthetic)
    weights = timm_weights(net, class_order="caffe")
    keys = list(weights.state_dict)
    assert keys[:6] == ["layer0.conv1.weight", "layer0.bn1.weight", "layer0.bn1.bias", "layer0.bn1.running_mean", "layer0.bn1.running_var", "layer0.bn1.num_batches_tracked"]
    assert keys[-2:] == ["last_linear.weight", "last_linear.bias"]
    assert weights.sources["layer2.0.conv1.weight"] == "'conv3_1_1x1_reduce'[0]"
    assert weights.sources["layer2.0.downsample.0.weight"] == "'conv3_1_1x1_proj'[0]"
    assert weights.sources["layer4.2.se_module.fc2.bias"] == "'conv5_3_1x1_up'[1]"
    assert weights.sources["layer1.1.bn3.running_var"].startswith("'conv2_2_1x1_increase/bn'[1]")
    bn = net.layer("conv3_1_1x1_proj/bn").blobs
    sf = np.float32(1) / bn[2].reshape(-1)[0]
    assert np.array_equal(weights.state_dict["layer2.0.downsample.1.running_mean"].numpy(), bn[0] * sf)
    assert np.array_equal(weights.state_dict["layer2.0.downsample.1.running_var"].numpy(), bn[1] * sf)
    in_sorted = timm_weights(net).state_dict  # timm's default: sorted WordNet IDs
    perm = torch.from_numpy(classes.permutation("caffe", "sorted"))
    assert torch.equal(in_sorted["last_linear.weight"], weights.state_dict["last_linear.weight"][perm])
    assert torch.equal(in_sorted["last_linear.bias"][65], weights.state_dict["last_linear.bias"][489])


# ---- against timm, full size ----------------------------------------------------------------


@pytest.mark.parametrize("model", list(RESIDUAL))
def test_timm_equals_the_converted_graph(timm, synthetic, model):
    """Strict loading; timm on a Caffe-convention input equals the graph (nothing folded, so the mapping
    itself is exact); the graph with the torchvision adapter equals the graph."""
    net = _synthetic_net(model, synthetic)
    weights = timm_weights(net, class_order="caffe", input_space="caffe")
    assert weights.model == RESIDUAL[model]
    reference_keys = timm.create_model(weights.model, pretrained=False, num_classes=1000).state_dict().keys() if model == "SE-ResNet-50" else None
    timm_net = timm_model(weights)  # load_state_dict(strict=True) and BatchNorm eps checked inside
    if reference_keys is not None:
        assert list(weights.state_dict) == list(reference_keys)
    caffe = synthetic.synthetic_input((1, 3, 224, 224))
    a, b = spaces.affine(TV, spaces.convention("caffe", net.mean_bgr))
    tv = np.einsum("kj,njhw->nkhw", np.linalg.inv(a), caffe.astype(np.float64) - b[None, :, None, None]).astype(np.float32)
    with torch.no_grad():
        graph = module_for(net, ["classifier"])(torch.from_numpy(caffe)).numpy()
        assert _rel(graph, timm_net(torch.from_numpy(caffe)).numpy()) <= 2e-5
        del timm_net
        adapted = module_for(spaces.add_adapter(net, "torchvision"), ["classifier"])(torch.from_numpy(tv)).numpy()
        assert _rel(graph, adapted) <= 1e-5
    gc.collect()


@pytest.mark.parametrize("model", list(RESIDUAL))
def test_folded_timm_weights_stay_within_the_reported_error(timm, synthetic, model):
    net = _synthetic_net(model, synthetic, scale_first_conv=True)
    image = spaces.natural_image()
    timm_net = timm_model(timm_weights(net, class_order="caffe", input_space="torchvision"))
    with torch.no_grad():
        exact = module_for(net, ["classifier"])(torch.from_numpy(spaces.to_input(image, spaces.convention("caffe", net.mean_bgr)))).numpy()
        folded = timm_net(torch.from_numpy(spaces.to_input(image, TV))).numpy()
    error = spaces.compare(exact, folded)
    assert error["top1_same"]
    # Float32 rounding (about 3e-7 of the largest logit, see the adapter column) on top of the measurement.
    assert error["relative"] <= REPORTED_FOLD_ERROR[model] * 1.05 + 1e-6
    assert error["relative"] > 1e-6  # folding is not exact: the padding error is there
    del timm_net
    gc.collect()


# ---- the CLI and the one-call API -----------------------------------------------------------


def test_cli_to_timm(timm, synthetic_caffemodel, models_dir, tmp_path):
    proto = models_dir / "SE-ResNet-50.prototxt"
    result = CliRunner().invoke(main, ["caffe2torch", str(proto), str(synthetic_caffemodel("SE-ResNet-50")), "--to", "timm", "--input-space", "torchvision", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "timm legacy_seresnet50" in result.stdout and "class order sorted" in result.stdout
    assert "exact except where it reads its zero padding" in result.stdout and f"loads strictly into timm {timm.__version__}" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SE-ResNet-50", "SE-ResNet-50.timm.pth"]
    assert "written for this release only" in result.stderr
    legacy = torch.load(tmp_path / "SE-ResNet-50.timm.pth", weights_only=True)
    from safetensors.torch import load_file

    assert legacy.keys() == load_file(tmp_path / "SE-ResNet-50" / "model.safetensors").keys()
    config = json.loads((tmp_path / "SE-ResNet-50" / "config.json").read_text())
    cfg = config["pretrained_cfg"]
    assert config["architecture"] == "legacy_seresnet50" and cfg["mean"] == list(spaces.IMAGENET_MEAN)
    assert config["label_names"][65] == "n01751748"
    model = timm.create_model(f"local-dir:{tmp_path / 'SE-ResNet-50'}", pretrained=True)
    assert model.pretrained_cfg["first_conv"] == "layer0.conv1"


def test_cli_to_timm_takes_no_graph_options(tmp_path):
    proto, model = FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel"
    result = CliRunner().invoke(main, ["caffe2torch", str(proto), str(model), "--to", "timm", "--outputs", "classifier", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "--outputs and --onnx apply to --to graph" in result.stderr


def test_one_call_api(timm, synthetic_caffemodel, models_dir):
    from PIL import Image

    proto, weights = models_dir / "SE-ResNeXt-50.prototxt", synthetic_caffemodel("SE-ResNeXt-50")
    model, config = pipelines.load(proto, weights, target="timm", input_space="torchvision")
    assert config["architecture"] == "legacy_seresnext50_32x4d" and config["input_size"] == (3, 224, 224)
    assert (config["interpolation"], config["crop_pct"], config["num_classes"]) == ("bilinear", 0.875, 1000)
    assert timm.data.resolve_data_config({}, pretrained_cfg=config)["mean"] == spaces.IMAGENET_MEAN
    graph, caffe_config = pipelines.load(proto, weights, target="graph", outputs=["classifier"])
    assert caffe_config["channel_order"] == "BGR" and caffe_config["class_order"] == "caffe"
    photo = Image.fromarray(spaces.natural_image(300, seed=5)).resize((300, 260))
    x_tv = pipelines.make_transform(config)(photo)[None]
    x_caffe = pipelines.make_transform(caffe_config)(photo)[None]
    # The two transforms describe the same pixels: the adapter maps one onto the other.
    a, b = spaces.affine(TV, spaces.convention("caffe", (104.0, 117.0, 123.0)))
    mapped = torch.einsum("kj,njhw->nkhw", torch.from_numpy(a).float(), x_tv) + torch.from_numpy(b).float()[None, :, None, None]
    torch.testing.assert_close(mapped, x_caffe, rtol=0, atol=1e-3)
    with torch.no_grad():
        logits_timm = model(x_tv).numpy()
        logits_graph = graph(x_caffe).numpy()[:, classes.permutation("caffe", "sorted")]
    assert np.argmax(logits_timm) == np.argmax(logits_graph)
