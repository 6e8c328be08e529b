"""SE-BN-Inception as timm's `se_bn_inception`: the module equals the converted graph, the mapping is read
off the graph and refuses what does not fit, features_only works for all seven official nets, and
importing senet_convert registers the model without importing timm.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import FIXTURES, MODELS, OFFICIAL, REPO, need_shared, synthetic_net
from senet_convert.to_torch import module_for
from senet_convert.errors import ConvertError
from senet_convert.loader import load_net
from senet_convert.to_timm import timm_model, timm_model_name, timm_weights
from test_timm import RESIDUAL, _edit, assert_refused

ARCHITECTURES = {**RESIDUAL, "SE-BN-Inception": "se_bn_inception"}
# timm's feature taps: (module, stride); the stem's tap is before its max pooling.
FEATURES = {
    "residual": [("layer0", 2), ("layer1", 4), ("layer2", 8), ("layer3", 16), ("layer4", 32)],
    "SE-BN-Inception": [("conv1", 2), ("conv2", 4), ("inception_3b", 8), ("inception_4d", 16), ("inception_5b", 32)],
}


def test_module_equals_the_converted_graph(timm, synthetic):
    """Nothing folded (Caffe's convention, devkit order): within 1e-6 of the largest logit, strict loading."""
    net = synthetic_net("SE-BN-Inception", synthetic)
    weights = timm_weights(net, class_order="caffe", input_space="caffe")
    assert weights.model == "se_bn_inception" and weights.model_args == {}
    model = timm_model(weights)  # load_state_dict(strict=True) inside
    assert list(weights.state_dict) == list(timm.create_model("se_bn_inception").state_dict())
    assert weights.sources["inception_4e.double3x3b.bn.running_var"].startswith("'inception_4e/double3x3b/bn'[1]")
    assert weights.sources["inception_3a.se.fc1.weight"] == "'inception_3a_1x1_down'[0]"
    x = torch.from_numpy(synthetic.synthetic_input((2, 3, 224, 224)))
    with torch.no_grad():
        graph = module_for(net, ["classifier"])(x).numpy()
        ours = model(x).numpy()
    assert np.abs(ours - graph).max() <= 1e-6 * np.abs(graph).max()
    assert model.num_features == 1024 and model.get_classifier() is model.last_linear
    from timm.models._manipulate import group_parameters

    assert len(group_parameters(model, model.group_matcher())) == 1 + 10 + 1  # stem, the blocks, the head
    assert len(group_parameters(model, model.group_matcher(coarse=True))) == 1 + 3 + 1  # stem, stages 3-5, head
    model.reset_classifier(7)
    assert model(x).shape == (2, 7) and model.forward_head(model.forward_features(x), pre_logits=True).shape == (2, 1024)


def test_mapping_follows_from_the_structure():
    assert timm_model_name(load_net(need_shared(MODELS / "SE-BN-Inception.prototxt"))) == "se_bn_inception"


def _swap_concat(text: str) -> str:
    return _edit(text, "inception_3a/concat", 'bottom: "inception_3a/1x1"\n  bottom: "inception_3a/3x3"', 'bottom: "inception_3a/3x3"\n  bottom: "inception_3a/1x1"')


MISFITS = {
    "pool-kernel": (lambda t: _edit(_edit(t, "inception_3a/pool", "kernel_size: 3", "kernel_size: 5"), "inception_3a/pool", "pad: 1", "pad: 2"),
                    r"layer 'inception_3a/pool' \(Pooling\).*inception_3a.pool"),
    "se-bias": (lambda t: _edit(t, "inception_4b_1x1_up", "num_output: 576", "num_output: 576\n    bias_term: false"), r"layer 'inception_4b_1x1_up'.*inception_4b.se.fc2"),
    "concat-order": (_swap_concat, r"inception_3a/concat.*neither an A block"),
    "bn-eps": (lambda t: _edit(t, "conv2/3x3/bn", "use_global_stats: true", "use_global_stats: true\n    eps: 0.001"), r"layer 'conv2/3x3/bn'.*eps 0.001"),
}


@pytest.mark.parametrize("misfit", list(MISFITS))
def test_a_prototxt_that_does_not_fit_is_refused_by_layer(misfit):
    assert_refused("SE-BN-Inception", *MISFITS[misfit])


def test_a_net_of_neither_kind_is_refused():
    with pytest.raises(ConvertError, match="has no SE blocks.*se_bn_inception"):
        timm_model_name(load_net(FIXTURES / "tiny-plain-v2.prototxt"))


def test_widths_must_have_the_official_shape(timm):
    from senet_convert.to_timm.se_bn_inception import OFFICIAL_WIDTHS

    bad = {**OFFICIAL_WIDTHS, "inception_3a": OFFICIAL_WIDTHS["inception_3a"][:-1]}
    with pytest.raises(ValueError, match="inception_3a"):
        timm.create_model("se_bn_inception", widths=bad)


# ---- features_only ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", OFFICIAL)
def test_features_only_strides(timm, model):
    """timm's feature extraction at a non-224 size (shapes only: meta tensors, no arithmetic)."""
    height, width = 288, 256
    with torch.device("meta"):
        features = timm.create_model(ARCHITECTURES[model], features_only=True)
        maps = features(torch.empty(1, 3, height, width))
    taps = FEATURES.get(model, FEATURES["residual"])
    assert features.feature_info.module_name() == [m for m, _ in taps]
    assert features.feature_info.reduction() == [s for _, s in taps]
    assert [tuple(m.shape[2:]) for m in maps] == [(height // s, width // s) for _, s in taps]
    assert [m.shape[1] for m in maps] == features.feature_info.channels()


# ---- registration -----------------------------------------------------------------------------


def _python(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_senet_convert_registers_the_model_and_stays_cheap(timm):
    first = _python(
        "import json, sys, senet_convert; cheap = 'torch' not in sys.modules and 'timm' not in sys.modules; import timm; "
        "print(json.dumps({'cheap': cheap, 'registered': timm.is_model('se_bn_inception')}))"
    )
    assert first == {"cheap": True, "registered": True}
    after = _python("import json, timm, senet_convert; print(json.dumps({'registered': timm.is_model('se_bn_inception')}))")
    assert after == {"registered": True}


def test_senet_convert_imports_without_timm():
    code = (
        "import json, sys\n"
        "class NoTimm:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'timm' or name.startswith('timm.'): raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, NoTimm())\n"
        "import senet_convert\n"
        "try:\n    import timm\nexcept ImportError:\n    failed = True\n"
        "print(json.dumps({'version': senet_convert.__version__, 'timm_import_fails': failed}))"
    )
    out = _python(code)
    assert out["timm_import_fails"] and out["version"]
