"""evaluate on an official SENet (synthetic weights): recognised by structure, the published numbers
beside the measured ones, and timm weights and timm folders scoring what the Caffe files score."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from senet_convert.edits import class_order as ilsvrc
from senet_convert.cli import main
from senet_convert.edits.input_space import natural_image

PIL = pytest.importorskip("PIL.Image")


def _evaluate(tmp_path, *args, name):
    out = tmp_path / f"{name}.json"
    result = CliRunner().invoke(main, ["evaluate", *map(str, args), "--json", str(out), "--workers", "0", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), result.output


@pytest.fixture(scope="module")
def senet50(synthetic_caffemodel, models_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("senet50")
    wnids = ilsvrc.devkit_wnids()
    for i in range(4):
        folder = root / "images" / wnids[10 * i]
        folder.mkdir(parents=True)
        PIL.fromarray(natural_image(256 + 40 * i, seed=i)).save(folder / f"photo{i}.jpg", quality=90)
    return models_dir / "SE-ResNet-50.prototxt", synthetic_caffemodel("SE-ResNet-50"), root


def _top1(report):
    return [p["top5_rows"].split()[0] for p in report["predictions"]]


def test_official_senet_gets_the_published_numbers(senet50, tmp_path):
    prototxt, caffemodel, root = senet50
    copy = tmp_path / "renamed.prototxt"  # recognised by structure, not by file name
    copy.write_text(prototxt.read_text())
    report, text = _evaluate(tmp_path, copy, caffemodel, "--images", root / "images", name="caffe")
    known = report["published"]
    assert known["model"] == "SE-ResNet-50"
    assert known["release"]["top1_error"] == pytest.approx(0.2237) and known["release"]["top5_error"] == pytest.approx(0.0636)
    assert known["timm"]["top1_error"] == pytest.approx(1 - 0.7765) and known["timm"]["model"] == "legacy_seresnet50"
    assert "release 22.37%" in text and "timm 22.35%" in text
    assert report["images"] == 4 and report["model"]["scored"].startswith("'classifier'")


def test_timm_weights_and_folder_score_what_caffe_scores(senet50, tmp_path):
    pytest.importorskip("timm")
    pytest.importorskip("safetensors")

    prototxt, caffemodel, root = senet50
    caffe, _ = _evaluate(tmp_path, prototxt, caffemodel, "--images", root / "images", name="caffe")
    result = CliRunner().invoke(main, ["caffe2torch", str(prototxt), str(caffemodel), "-o", str(tmp_path), "--to", "timm", "--input-space", "caffe"])
    assert result.exit_code == 0, result.output
    weights, _ = _evaluate(tmp_path, tmp_path / "SE-ResNet-50.timm.pth", "--images", root / "images", name="timm")
    assert weights["published"]["model"] == "SE-ResNet-50"
    assert "sorted" in weights["class_orders"]["model"] and weights["preprocessing"]["protocol"] == "official"
    # rows differ (sorted vs devkit order); the classes they name must not
    devkit, by_sorted = ilsvrc.devkit_wnids(), ilsvrc.sorted_wnids()
    assert [devkit[int(r)] for r in _top1(caffe)] == [by_sorted[int(r)] for r in _top1(weights)]

    folder = tmp_path / "SE-ResNet-50"  # config.json + model.safetensors, as timm's local-dir: reads them
    hub, _ = _evaluate(tmp_path, folder, "--images", root / "images", name="hub")
    assert hub["predictions"] == weights["predictions"] and hub["model"]["kind"] == "timm-folder"
    assert hub["preprocessing"]["mean"] == [104, 117, 123] and hub["preprocessing"]["channel_order"] == "BGR"
