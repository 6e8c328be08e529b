"""evaluate's parts on their own: protocols against timm's transform, intervals, ranks, loaders' refusals."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch

from senet_convert.edits import input_space as spaces
from senet_convert.errors import ConvertError
from senet_convert.evaluate import metrics, official, protocol as protocols
from senet_convert.evaluate.images import decode
from senet_convert.verify.pt2_file import load_pt2 as load_program

PIL = pytest.importorskip("PIL.Image")
CAFFE = spaces.convention("caffe", (104.0, 117.0, 123.0))
TORCHVISION = spaces.convention("torchvision", None)


def _photo(width, height, seed=0):
    rng = np.random.default_rng(seed)
    return PIL.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


@pytest.mark.parametrize("width, height", [(500, 375), (375, 500), (257, 999), (224, 224), (101, 77), (640, 641)])
def test_timm_protocol_is_timms_transform(tmp_path, width, height):
    timm_data = pytest.importorskip("timm.data")
    path = tmp_path / "photo.png"
    _photo(width, height).save(path)
    ours = decode(path, protocols.make_protocol("timm", TORCHVISION, (224, 224)))
    transform = timm_data.create_transform(input_size=(3, 224, 224), interpolation="bilinear", crop_pct=0.875,
                                           mean=spaces.IMAGENET_MEAN, std=spaces.IMAGENET_STD)
    with PIL.open(path) as image:
        theirs = transform(image.convert("RGB")).numpy()
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("width, height, resized, box", [
    (500, 375, (341, 256), (58, 16, 282, 240)),   # 500 * 256 / 375 = 341.33; (341 - 224) // 2 = 58
    (375, 500, (256, 341), (16, 58, 240, 282)),
    (333, 250, (341, 256), (58, 16, 282, 240)),   # 340.99 rounds to 341
    (200, 100, (512, 256), (144, 16, 368, 240)),
])
def test_official_geometry(width, height, resized, box):
    official_protocol = protocols.make_protocol("official", CAFFE, (224, 224))
    assert official_protocol.resize == 256
    assert protocols.resized_size(official_protocol, width, height) == resized
    assert protocols.crop_box(official_protocol, *resized) == box


def test_official_pixels_are_bgr_minus_the_mean(tmp_path):
    path = tmp_path / "flat.png"
    PIL.new("RGB", (300, 260), (200, 100, 50)).save(path)
    x = decode(path, protocols.make_protocol("official", CAFFE, (224, 224)))
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    assert np.array_equal(x[:, 0, 0], np.array([50 - 104, 100 - 117, 200 - 123], dtype=np.float32))


def test_protocol_options():
    assert protocols.make_protocol("timm", TORCHVISION, (224, 224), crop_pct=1.0).resize == 224
    assert protocols.make_protocol("official", CAFFE, (320, 320)).resize == round(320 * 256 / 224)
    with pytest.raises(ConvertError, match="too little"):
        protocols.make_protocol("official", CAFFE, (224, 224), resize=200)


def test_wilson_interval():
    lo, hi = metrics.wilson(0, 10)
    assert lo == 0 and hi == pytest.approx(metrics.Z95 ** 2 / (10 + metrics.Z95 ** 2))
    lo, hi = metrics.wilson(5, 10)
    assert (lo, hi) == (pytest.approx(0.236593, abs=1e-6), pytest.approx(0.763407, abs=1e-6))
    lo, hi = metrics.wilson(2237, 10000)  # around Table 1's SE-ResNet-50 error
    assert lo < 0.2237 < hi and hi - lo == pytest.approx(2 * metrics.Z95 * (0.2237 * 0.7763 / 10000) ** 0.5, rel=1e-3)


def test_ranks_count_ties_against_and_nan_as_wrong():
    scores = torch.tensor([[3.0, 1.0, 3.0, 0.0], [0.0, 1.0, 2.0, 3.0], [float("nan"), 1.0, 0.0, 0.0]])
    assert metrics.ranks(scores, torch.tensor([0, 3, 0])).tolist() == [1, 0, 4]


def test_fingerprint_ignores_names_but_not_structure(models_dir):
    from senet_convert.loader import load_net, net_from_text

    text = (models_dir / "SE-ResNet-50.prototxt").read_text()
    renamed = text.replace('name: "conv1/7x7_s2"', 'name: "stem"').replace('"conv1/7x7_s2"', '"stem"')
    assert official.recognise_net(net_from_text(renamed)) == "SE-ResNet-50"
    assert official.recognise_net(net_from_text(text.replace("num_output: 1000", "num_output: 999"))) is None
    for name in official.RELEASE:
        assert official.recognise_net(load_net(models_dir / f"{name}.prototxt")) == name


def _pt2(tmp_path):
    from senet_convert.export import save_pt2
    from senet_convert.to_torch import module_for
    from senet_convert.loader import load_net
    from conftest import FIXTURES

    net = load_net(FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel")
    path = tmp_path / "tiny.pt2"
    save_pt2(module_for(net, ["classifier"]), net, path)
    return path


def _rewrite(source, target, change):
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info.filename))
            if data is not None:
                new.writestr(info, data)


def test_pt2_loads_and_pickled_payloads_are_refused(tmp_path):
    path = _pt2(tmp_path)
    program = load_program(path)
    assert program.module()(torch.zeros(2, 3, 32, 32)).shape == (2, 10)

    def pickled(name, data):
        if name.endswith("model_weights_config.json"):
            config = json.loads(data)
            first = next(iter(config["config"].values()))
            first["use_pickle"] = True
            return json.dumps(config).encode()
        if name.endswith("weights/weight_0"):
            buffer = io.BytesIO()
            torch.save({"not": print}, buffer)  # a global weights_only refuses
            return buffer.getvalue()
        return data

    bad = tmp_path / "pickled.pt2"
    _rewrite(path, bad, pickled)
    with pytest.raises(ConvertError, match="refused"):
        load_program(bad)
    aoti = tmp_path / "aoti.pt2"
    _rewrite(path, aoti, lambda name, data: data)
    with zipfile.ZipFile(aoti, "a") as archive:
        archive.writestr(f"{zipfile.ZipFile(path).namelist()[0].split('/')[0]}/data/aotinductor/model/x.so", b"\x7fELF")
    with pytest.raises(ConvertError, match="AOTInductor"):
        load_program(aoti)
    (tmp_path / "junk.pt2").write_bytes(b"junk")
    with pytest.raises(ConvertError, match="not a torch.export program"):
        load_program(tmp_path / "junk.pt2")


def test_timm_folder_never_names_a_hub_model(tmp_path):
    pytest.importorskip("timm")
    safetensors = pytest.importorskip("safetensors.torch")
    from senet_convert.evaluate.models import load_model

    (tmp_path / "config.json").write_text(json.dumps({"architecture": "hf-hub:someone/model", "num_classes": 10}))
    (tmp_path / "model.safetensors").write_bytes(safetensors.save({"w": torch.zeros(1)}))
    with pytest.raises(ConvertError, match="has no model 'hf-hub:someone/model'"):
        load_model(tmp_path, None)


@pytest.mark.parametrize("mode", ["I;16", "I"])
def test_sixteen_bit_grey_is_scaled_not_clipped(mode):
    from senet_convert.evaluate.images import as_rgb

    values = np.array([[0, 257 * 10, 257 * 128, 65535]], dtype=np.uint16 if mode == "I;16" else np.int32)
    image = PIL.fromarray(values) if mode == "I;16" else PIL.fromarray(values, mode="I")
    rgb = np.asarray(as_rgb(image))
    assert rgb.shape == (1, 4, 3) and rgb[0, :, 0].tolist() == [0, 10, 128, 255] and (rgb == rgb[..., :1]).all()


def test_alpha_is_dropped_not_composited():
    from senet_convert.evaluate.images import as_rgb

    rgba = PIL.new("RGBA", (2, 2), (10, 20, 30, 0))
    assert np.asarray(as_rgb(rgba))[0, 0].tolist() == [10, 20, 30]
    la = PIL.new("LA", (2, 2), (77, 0))
    assert np.asarray(as_rgb(la))[0, 0].tolist() == [77, 77, 77]
