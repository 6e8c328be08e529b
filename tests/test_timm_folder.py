"""The timm / Hugging Face folder (--to timm): loaded back through timm's `local-dir:` it matches real
Caffe (goldens) and the converted graph; its config.json is what timm's save_for_hf writes; its card
states what timm's own transforms then measure; the folder is whole or absent.

Tests that need timm skip without it, except under CI=true (conftest's timm fixture).
"""
from __future__ import annotations

import importlib.util
import json
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import GOLDEN_FULL, MODELS, REPO, SHARED, need_shared, synthetic_net
from goldens import load_case, logits_error
from senet_convert.edits import class_order as classes
from senet_convert.edits import input_space as spaces
from senet_convert.to_timm import parity as timm_parity
from senet_convert.cli import main
from senet_convert.to_torch import module_for
from senet_convert.export.hub_folder import FILES, write_timm_folder

SOURCES = {"prototxt": {"name": "net.prototxt", "sha256": "0" * 64}, "caffemodel": {"name": "net.caffemodel", "sha256": "1" * 64}}
GOLDEN_LOGITS_TOLERANCE = 2e-5  # times max|golden logits|


def _convert(args) -> object:
    result = CliRunner().invoke(main, ["caffe2torch", *map(str, args), "--to", "timm"])
    assert result.exit_code == 0, result.output
    return result


def _load(timm, folder, **kwargs):
    return timm.create_model(f"local-dir:{folder}", pretrained=True, **kwargs).eval()


def _logits(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(x))).numpy()


def _card_row(folder, what: str) -> float:
    text = (folder / "README.md").read_text()
    match = re.search(rf"^\| {re.escape(what)}[^|]* \| [^|]+ \| ([0-9.e+-]+) \|", text, re.M)
    assert match, f"no '{what}' row in the card"
    return float(match.group(1))


# ---- against real Caffe ---------------------------------------------------------------------


@pytest.mark.parametrize("model,variant", [(m, "full") for m in GOLDEN_FULL] + [("SE-BN-Inception", "mini")])
def test_local_dir_folder_matches_real_caffe(timm, synthetic, synthetic_caffemodel, goldens_dir, models_dir, tmp_path, model, variant):
    """Caffe's input convention and devkit order: timm's local-dir model gives real Caffe's logits."""
    case = load_case(model, variant, goldens_dir, models_dir, synthetic)
    if variant == "mini":
        proto, weights = goldens_dir / f"{model}.mini.prototxt", goldens_dir / f"{model}.mini.caffemodel"
    else:
        proto, weights = models_dir / f"{model}.prototxt", synthetic_caffemodel(model)
    _convert([proto, weights, "--input-space", "caffe", "--class-order", "caffe", "-o", tmp_path])
    folder = tmp_path / proto.stem
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    logits = _logits(_load(timm, folder), case.input)
    assert logits_error(case, logits) <= GOLDEN_LOGITS_TOLERANCE
    # the card's own parity figure is the one measured, and it is small
    assert _card_row(folder, "timm model, nothing folded") <= GOLDEN_LOGITS_TOLERANCE


# Of the four without goldens: SENet-154 (three-conv stem, 3x3 projections, group 64) and SE-ResNeXt-101;
# SE-ResNet-101/152 are deeper SE-ResNet-50s (test_timm.py maps all six against the graph).
@pytest.mark.parametrize("model", ["SENet-154", "SE-ResNeXt-101"])
def test_other_official_folders_match_the_graph(timm, synthetic, tmp_path, model):
    net = synthetic_net(model, synthetic)
    write_timm_folder(net, tmp_path, model, sources=SOURCES, command="-", input_space="caffe", class_order="caffe")
    x = synthetic.synthetic_input((1, 3, 224, 224))
    graph = module_for(net, ["classifier"])(torch.from_numpy(x)).detach().numpy()
    loaded = _logits(_load(timm, tmp_path / model), x)
    assert np.abs(loaded - graph).max() <= GOLDEN_LOGITS_TOLERANCE * np.abs(graph).max()


# ---- the folded convention: what the card states, timm's transforms give -----------------------


def _example_script():
    spec = importlib.util.spec_from_file_location("model_card_example", REPO / "scripts" / "model_card_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def folded_folders(tmp_path_factory, synthetic):
    """model -> (folder, caffemodel) of a conversion with --input-space torchvision --class-order sorted,
    on synthetic weights with conv1 scaled into the generator's regime; SE-ResNet-50's is the docs example's."""
    script, made = _example_script(), {}

    def make(model: str):
        if model not in made:
            work = tmp_path_factory.mktemp("folded")
            if model == script.MODEL:
                script.render(work, need_shared(SHARED))
            else:
                proto = need_shared(MODELS / f"{model}.prototxt")
                weights = script.write_scaled_caffemodel(proto, work / f"{model}.caffemodel", synthetic)
                _convert([proto, weights, *script.ARGS[2:], "-o", work / "out"])
            made[model] = (work / "out" / model, work / f"{model}.caffemodel")
        return made[model]

    return make


@pytest.mark.parametrize("model", ["SE-ResNet-50", "SE-BN-Inception"])
def test_card_states_the_fold_error_timm_transforms_give(timm, folded_folders, model):
    from PIL import Image

    from senet_convert.loader import load_net

    folder, caffemodel = folded_folders(model)
    stated = _card_row(folder, "these weights (torchvision input)")
    loaded = _load(timm, folder)
    transform = timm.data.create_transform(**timm.data.resolve_data_config(model=loaded))
    x = transform(Image.fromarray(spaces.natural_image(timm_parity.RESIZE)))[None]
    net = load_net(MODELS / f"{model}.prototxt", caffemodel)
    caffe = spaces.to_input(timm_parity.fold_image(), spaces.convention("caffe", net.mean_bgr))
    exact = _logits(module_for(net, ["classifier"]), caffe)[:, classes.permutation("caffe", "sorted")]
    measured = spaces.compare(exact, loaded(x).detach().numpy())
    assert measured["top1_same"]
    # the same pixels through timm's own transform: the card's figure, up to float32 rounding
    assert abs(measured["relative"] - stated) <= 0.02 * stated + 1e-6
    assert stated > 1e-6  # folding is not exact: the padding error is there
    config = json.loads((folder / "config.json").read_text())
    assert config["pretrained_cfg"]["mean"] == list(spaces.IMAGENET_MEAN)
    assert config["label_names"][65] == "n01751748" and config["label_descriptions"]["n01751748"].startswith("sea snake")


_FIGURE = re.compile(r"\d\.\d\de[-+]\d\d|[0-9.e+-]+ of the largest logit \(max \|difference\| [0-9.e+-]+\)")
_VERSIONS = re.compile(r"senet-convert \S+, timm \S+, torch \S+\. ")


def test_docs_card_is_what_the_tool_writes(folded_folders):
    """docs/model-card-example.md is scripts/model_card_example.py's output; the measured figures may differ
    in their last digits between machines (float32 kernels), and the versions with the installation."""
    docs = (REPO / "docs" / "model-card-example.md").read_text()
    fresh = (folded_folders("SE-ResNet-50")[0] / "README.md").read_text()
    mask = lambda text: _FIGURE.sub("N", _VERSIONS.sub("VERSIONS. ", text))  # noqa: E731
    assert mask(fresh) == mask(docs), "docs/model-card-example.md is stale: python scripts/model_card_example.py"
    ours, theirs = (np.array([float(m) for m in re.findall(r"\d\.\d\de[-+]\d\d", t)]) for t in (fresh, docs))
    np.testing.assert_allclose(ours, theirs, rtol=0.05, atol=1e-6)


# ---- the layout timm writes ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini_folder(tmp_path_factory, goldens_dir):
    out = tmp_path_factory.mktemp("folders")
    _convert([goldens_dir / "SE-BN-Inception.mini.prototxt", goldens_dir / "SE-BN-Inception.mini.caffemodel", "-o", out])
    return out / "SE-BN-Inception.mini"


@pytest.fixture(scope="module")
def resnet_folder(tmp_path_factory, synthetic):
    out = tmp_path_factory.mktemp("folders")
    write_timm_folder(synthetic_net("SE-ResNet-50", synthetic), out, "SE-ResNet-50", sources=SOURCES, command="-", input_space="torchvision", class_order="sorted")
    return out / "SE-ResNet-50"


def _timm_writes(timm, model, tmp_path, labels: dict | None):
    from timm.models._hub import save_for_hf

    save_for_hf(model, tmp_path, model_config=labels, safe_serialization=True)
    return json.loads((tmp_path / "config.json").read_text()), sorted(p.name for p in tmp_path.iterdir())


def test_config_json_has_the_keys_timm_writes(timm, resnet_folder, tmp_path):
    ours = json.loads((resnet_folder / "config.json").read_text())
    labels = {"label_names": ours["label_names"], "label_descriptions": ours["label_descriptions"]}
    theirs, files = _timm_writes(timm, timm.create_model("legacy_seresnet50"), tmp_path, labels)
    assert list(ours) == list(theirs)
    assert set(theirs["pretrained_cfg"]) <= set(ours["pretrained_cfg"])
    assert set(ours["model_args"]) == set(theirs["model_args"])
    # a Hub folder: timm's two files plus the model card, nothing else to add or rename
    assert sorted(p.name for p in resnet_folder.iterdir()) == sorted([*files, "README.md"])
    from timm.models._pretrained import PretrainedCfg

    assert set(ours["pretrained_cfg"]) <= set(PretrainedCfg.__dataclass_fields__)


@pytest.mark.parametrize("folder", ["resnet_folder", "mini_folder"])
def test_timm_writes_the_same_config_back(timm, request, tmp_path, folder):
    """Loaded through local-dir and saved by timm's save_for_hf, the folder's config.json comes back unchanged."""
    path = request.getfixturevalue(folder)
    ours = json.loads((path / "config.json").read_text())
    loaded = _load(timm, path)
    labels = {k: loaded.pretrained_cfg[k] for k in ("label_names", "label_descriptions") if loaded.pretrained_cfg.get(k)}
    theirs, _ = _timm_writes(timm, loaded, tmp_path, labels)
    # timm's loader also copies the labels into the model's pretrained_cfg, so its re-save repeats them there
    for key in labels:
        assert theirs["pretrained_cfg"].pop(key) == ours[key]
    assert theirs == ours


def test_card_front_matter_is_what_the_hub_reads(resnet_folder):
    from huggingface_hub import ModelCard

    card = ModelCard.load(resnet_folder / "README.md")
    data = card.data.to_dict()
    assert data["library_name"] == "timm" and data["license"] == "apache-2.0" and data["datasets"] == ["imagenet-1k"]
    assert {"image-classification", "timm"} <= set(data["tags"]) and data["pipeline_tag"] == "image-classification"
    text = card.text
    assert "22.37 % top-1 and 6.36 % top-5 error" in text and "`net.caffemodel` | `" + "1" * 64 in text


def test_safetensors_metadata_names_every_blob(resnet_folder):
    from safetensors import safe_open

    with safe_open(resnet_folder / "model.safetensors", "pt") as f:
        metadata, keys = f.metadata(), set(f.keys())
    sources = json.loads(metadata["senet_convert.sources"])
    assert set(sources) == keys and metadata["format"] == "pt"
    assert sources["layer0.conv1.weight"] == "'conv1/7x7_s2'[0] @ A (torchvision -> caffe)"
    assert json.loads(metadata["senet_convert.files"]) == SOURCES


# ---- all or nothing -----------------------------------------------------------------------------


def test_a_refused_net_writes_no_folder(tmp_path):
    from conftest import FIXTURES

    result = CliRunner().invoke(main, ["caffe2torch", str(FIXTURES / "tiny-plain-v2.prototxt"), str(FIXTURES / "tiny-plain-v2.caffemodel"), "--to", "timm", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "has no SE blocks" in result.stderr and "se_bn_inception" in result.stderr
    assert not list(tmp_path.iterdir())


def test_a_new_conversion_replaces_the_folder(timm, goldens_dir, mini_folder, tmp_path):
    import shutil

    shutil.copytree(mini_folder, tmp_path / "SE-BN-Inception.mini")
    (tmp_path / "SE-BN-Inception.mini" / "stale.txt").write_text("from an earlier run")
    _convert([goldens_dir / "SE-BN-Inception.mini.prototxt", goldens_dir / "SE-BN-Inception.mini.caffemodel", "-o", tmp_path, "--input-space", "torchvision"])
    folder = tmp_path / "SE-BN-Inception.mini"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert json.loads((folder / "config.json").read_text())["pretrained_cfg"]["mean"] == list(spaces.IMAGENET_MEAN)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SE-BN-Inception.mini", "SE-BN-Inception.mini.timm.pth"]


def test_a_failed_move_puts_the_earlier_folder_back(tmp_path, monkeypatch):
    import os

    from senet_convert.errors import ConvertError
    from senet_convert.files import staged_outputs

    (tmp_path / "NET").mkdir()
    (tmp_path / "NET" / "config.json").write_text("earlier")
    real_replace = os.replace

    def failing(src, dst):
        if os.path.basename(src) == "NET" and ".senet-convert." in str(src):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(ConvertError, match="No space left"):
        with staged_outputs(tmp_path, ["NET"]) as staging:
            (staging / "NET").mkdir()
            (staging / "NET" / "config.json").write_text("new")
            (staging / "a.txt").write_text("moves first")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["NET"]
    assert (tmp_path / "NET" / "config.json").read_text() == "earlier"


def test_caffe_convention_folder_takes_timm_transforms_then_reversed_channels(timm, mini_folder):
    """A BGR folder states mean and std in R, G, B order, as timm's transforms apply them: normalising
    and then reversing the channels gives exactly Caffe's input (BGR, 0-255, minus the mean)."""
    from PIL import Image

    loaded = _load(timm, mini_folder)
    config = json.loads((mini_folder / "config.json").read_text())
    assert config["pretrained_cfg"]["mean"] == [123 / 255, 117 / 255, 104 / 255]
    assert any("reverse the channels" in note for note in config["pretrained_cfg"]["notes"])
    transform = timm.data.create_transform(**timm.data.resolve_data_config(model=loaded))
    x = transform(Image.fromarray(spaces.natural_image(timm_parity.RESIZE))).flip(-3).numpy()
    caffe = spaces.to_input(timm_parity.fold_image(), spaces.convention("caffe", (104.0, 117.0, 123.0)))[0]
    np.testing.assert_allclose(x, caffe, rtol=0, atol=1e-4)  # float32 rounding of values up to 255


@pytest.mark.parametrize("folder", ["resnet_folder", "mini_folder"])
def test_features_only_from_a_folder_at_another_size(timm, request, folder):
    """A converted folder as a backbone: five maps at strides 2 to 32 for a 288 x 256 input, the last
    one the classifier model's forward_features."""
    path = request.getfixturevalue(folder)
    features = _load(timm, path, features_only=True)
    x = torch.from_numpy(spaces.to_input(spaces.natural_image(288)[:, :256], spaces.convention("caffe", (104.0, 117.0, 123.0))))
    with torch.no_grad():
        maps = features(x)
        last = _load(timm, path).forward_features(x)
    assert [tuple(m.shape[2:]) for m in maps] == [(288 // s, 256 // s) for s in (2, 4, 8, 16, 32)]
    torch.testing.assert_close(maps[-1], last, rtol=0, atol=0)


@pytest.mark.parametrize("problem", ["no-timm", "name-with-slash"])
def test_bad_requests_are_one_line_and_write_nothing(monkeypatch, tmp_path, problem):
    import sys

    from conftest import FIXTURES

    args = ["caffe2torch", str(FIXTURES / "tiny-senet.prototxt"), str(FIXTURES / "tiny-senet.caffemodel"), "--to", "timm", "-o", str(tmp_path / "out")]
    if problem == "no-timm":
        monkeypatch.setitem(sys.modules, "timm", None)  # import timm raises ImportError
        expected = "--to timm needs timm"
    else:
        args += ["--name", "../elsewhere"]
        expected = "the folder's name, without '/'"
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())
