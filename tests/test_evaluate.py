"""evaluate on generated folders whose top-1/top-5 errors are computed in advance (tests/evaluate_data.py)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from senet_convert.edits import class_order as ilsvrc
from senet_convert.cli import main

import evaluate_data as data

pytest.importorskip("PIL")


def run(*args, code=0):
    result = CliRunner().invoke(main, ["evaluate", *map(str, args)])
    assert result.exit_code == code, result.output
    return result


def report_of(tmp_path, *args, name="r.json"):
    out = tmp_path / name
    run(*args, "--json", out, "--workers", "0", "--device", "cpu")
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A 12-class colour net (rows are the labels) and 40 images in every mode."""
    root = tmp_path_factory.mktemp("small")
    case = data.make_case(0, 40)
    net = data.write_colour_net(root, case)
    paths = data.write_images(root / "images", case)
    labels = root / "labels.txt"
    labels.write_text("".join(f"{p.name} {case.truth[i]}\n" for i, p in enumerate(paths)))
    return case, net, root / "images", labels


def test_known_errors_any_classifier(small, tmp_path):
    case, (prototxt, caffemodel), images, labels = small
    report = report_of(tmp_path, prototxt, caffemodel, "--images", images, "--labels", labels)
    top1, top5 = data.errors(data.ranks(case))
    assert 0.2 < top1 < 0.8 and 0.05 < top5 < top1  # the case mixes right, top-5-only and wrong
    assert report["images"] == 40 and report["skipped_count"] == 0
    assert report["top1_error"] == pytest.approx(top1, abs=1e-12)
    assert report["top5_error"] == pytest.approx(top5, abs=1e-12)
    assert report["model"]["num_classes"] == 12 and report["published"] is None
    expected = data.ranks(case)
    got = {p["image"]: p["rank"] for p in report["predictions"]}
    assert [got[p] for p in sorted(got)] == [int(r) for r in expected]


def test_the_test_has_power(small):
    """A swapped channel order, a missing mean or keeping the border would each change the result."""
    case = small[0]
    right = data.ranks(case)
    as_rgb = data.ranks(case, space=lambda rgb: np.asarray(rgb, dtype=np.float64) - data.MEAN_BGR)
    no_mean = data.ranks(case, space=lambda rgb: np.asarray(rgb, dtype=np.float64)[..., ::-1] - 0 * data.MEAN_BGR)
    kept = 1 - (1 - 2 * data.BORDER) ** 2
    with_border = data.ranks(case, colours=(1 - kept) * case.centre + kept * case.border)
    for wrong in (as_rgb, no_mean):
        assert (wrong != right).mean() > 0.25
    assert (with_border != right).sum() >= 3


def test_wrong_crop_changes_the_result(small, tmp_path):
    case, (prototxt, caffemodel), images, labels = small
    full = report_of(tmp_path, prototxt, caffemodel, "--images", images, "--labels", labels, "--crop-pct", "1.0")
    assert [p["rank"] for p in full["predictions"]] != [int(r) for r in data.ranks(case)]


# ---- 1000 ILSVRC classes: the class orders ---------------------------------------------------


@pytest.fixture(scope="module")
def ilsvrc_case(tmp_path_factory):
    """A 1000-way colour net whose 12 live rows sit at devkit rows, and 24 images named as ILSVRC's."""
    root = tmp_path_factory.mktemp("ilsvrc")
    case = data.make_case(1, 24, num_output=1000, rows=data.devkit_rows(12))
    net = data.write_colour_net(root, case)
    names = [f"ILSVRC2012_val_{i + 1:08d}" for i in range(24)]
    paths = data.write_images(root / "flat", case, names=names)
    devkit = [int(case.rows[t]) for t in case.truth]
    (root / "val.txt").write_text("".join(f"{p.name} {row}\n" for p, row in zip(paths, devkit)))
    (root / "ground_truth.txt").write_text("".join(f"{row + 1}\n" for row in devkit))
    sorted_index = {w: i for i, w in enumerate(ilsvrc.sorted_wnids())}
    (root / "val_sorted.txt").write_text("".join(f"{p.name} {sorted_index[data.wnid_of(case, i)]}\n" for i, p in enumerate(paths)))
    data.write_images(root / "classes", case, subfolders=[data.wnid_of(case, i) for i in range(24)])
    return case, net, root


def _ranks(report):
    return [p["rank"] for p in sorted(report["predictions"], key=lambda p: p["image"].rsplit("/", 1)[-1])]


@pytest.mark.parametrize("labels", ["val.txt", "ground_truth.txt", "val_sorted.txt", None], ids=["devkit-index", "devkit-ground-truth", "sorted-index", "wnid-folders"])
def test_caffe_rows_are_devkit_order(ilsvrc_case, tmp_path, labels):
    case, (prototxt, caffemodel), root = ilsvrc_case
    args = ["--images", root / ("classes" if labels is None else "flat")]
    if labels is not None:
        args += ["--labels", root / labels] + (["--label-order", "sorted"] if labels == "val_sorted.txt" else [])
    report = report_of(tmp_path, prototxt, caffemodel, *args)
    assert _ranks(report) == [int(r) for r in data.ranks(case)]
    assert report["top1_error"] == pytest.approx(data.errors(data.ranks(case))[0], abs=1e-12)
    assert "devkit" in report["class_orders"]["model"]
    assert report["class_orders"]["rule"].startswith("by WordNet ID")


def test_sorted_checkpoint_against_devkit_labels(ilsvrc_case, tmp_path):
    """A .pt converted to sorted order and to torchvision's input: same results, timm's protocol."""
    case, (prototxt, caffemodel), root = ilsvrc_case
    CliRunner().invoke(main, ["caffe2torch", str(prototxt), str(caffemodel), "-o", str(tmp_path), "--no-pt2",
                              "--class-order", "sorted", "--input-space", "torchvision"], catch_exceptions=False)
    report = report_of(tmp_path, tmp_path / "colour.pt", "--images", root / "flat", "--labels", root / "val.txt")
    assert _ranks(report) == [int(r) for r in data.ranks(case)]
    assert "sorted WordNet IDs" in report["class_orders"]["model"] and "devkit" in report["class_orders"]["labels"]
    assert report["preprocessing"]["protocol"] == "timm" and report["preprocessing"]["channel_order"] == "RGB"


def test_labels_in_the_wrong_order_are_not_silently_matched(ilsvrc_case, tmp_path):
    """Devkit labels read as sorted ones: the report says which order it assumed (and scores badly)."""
    case, (prototxt, caffemodel), root = ilsvrc_case
    report = report_of(tmp_path, prototxt, caffemodel, "--images", root / "flat", "--labels", root / "val.txt", "--label-order", "sorted")
    assert report["top5_error"] > 0.9 and "sorted WordNet-ID order" in report["class_orders"]["labels"]


def test_pt2_needs_its_convention_and_order(ilsvrc_case, tmp_path):
    case, (prototxt, caffemodel), root = ilsvrc_case
    CliRunner().invoke(main, ["caffe2torch", str(prototxt), str(caffemodel), "-o", str(tmp_path)], catch_exceptions=False)
    pt2, flat, val = tmp_path / "colour.pt2", root / "flat", root / "val.txt"
    assert "--input-space" in run(pt2, "--images", flat, "--labels", val, code=2).output
    assert "--model-class-order" in run(pt2, "--images", flat, "--labels", val, "--input-space", "caffe", code=2).output
    report = report_of(tmp_path, pt2, "--images", flat, "--labels", val, "--input-space", "caffe", "--model-class-order", "caffe")
    assert _ranks(report) == [int(r) for r in data.ranks(case)]


def test_onnx_records_its_contract(ilsvrc_case, tmp_path):
    case, (prototxt, caffemodel), root = ilsvrc_case
    CliRunner().invoke(main, ["caffe2onnx", str(prototxt), str(caffemodel), "-o", str(tmp_path / "colour.onnx"), "--outputs", "classifier"], catch_exceptions=False)
    report = report_of(tmp_path, tmp_path / "colour.onnx", "--images", root / "flat", "--labels", root / "val.txt")
    assert _ranks(report) == [int(r) for r in data.ranks(case)]
    assert report["model"]["kind"] == "onnx"


def test_contradicting_class_order_is_an_error(ilsvrc_case):
    case, (prototxt, caffemodel), root = ilsvrc_case
    result = run(prototxt, caffemodel, "--images", root / "flat", "--labels", root / "val.txt", "--model-class-order", "sorted", code=2)
    assert "contradicts" in result.output


def test_ilsvrc_labels_for_a_model_without_ilsvrc_rows(small, ilsvrc_case):
    _, (prototxt, caffemodel), _, _ = small
    root = ilsvrc_case[2]
    result = run(prototxt, caffemodel, "--images", root / "flat", "--labels", root / "ground_truth.txt", code=2)
    assert "WordNet IDs" in result.output and "Traceback" not in result.output


# ---- messy folders -----------------------------------------------------------------------


def test_unreadable_images_are_skipped_by_name(small, tmp_path):
    case, (prototxt, caffemodel), images, labels = small
    folder = tmp_path / "images"
    folder.mkdir()
    for p in images.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    jpeg = sorted(folder.glob("*.jpg"))[0]
    (folder / "truncated.jpg").write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size // 2])
    (folder / "garbage.png").write_bytes(b"\x89PNG not really")
    text = labels.read_text() + "truncated.jpg 0\ngarbage.png 1\n"
    (tmp_path / "labels.txt").write_text(text)
    report = report_of(tmp_path, prototxt, caffemodel, "--images", folder, "--labels", tmp_path / "labels.txt")
    assert report["images"] == 40 and report["skipped_count"] == 2
    assert sorted(name for name, _ in report["skipped"]) == ["garbage.png", "truncated.jpg"]
    assert report["top1_error"] == pytest.approx(data.errors(data.ranks(case))[0], abs=1e-12)


@pytest.mark.parametrize("change", ["missing", "extra"])
def test_mismatched_label_file(small, tmp_path, change):
    _, (prototxt, caffemodel), images, labels = small
    lines = labels.read_text().splitlines()
    lines = lines[3:] if change == "extra" else lines + ["nowhere_1.jpg 0", "nowhere_2.jpg 1"]
    (tmp_path / "labels.txt").write_text("\n".join(lines) + "\n")
    result = run(prototxt, caffemodel, "--images", images, "--labels", tmp_path / "labels.txt", code=2)
    message = result.output.strip()
    assert len(message.splitlines()) == 1
    if change == "missing":
        assert "2 image(s)" in message and "nowhere_1.jpg" in message
    else:
        assert "3 image(s)" in message and "img000.png" in message


@pytest.mark.parametrize("line, needle", [("img000.png x", "not a class number"), ("img000.png 12", "not a row"),
                                          ("img000.png 1 2", "expected 'NAME LABEL'")])
def test_bad_label_lines(small, tmp_path, line, needle):
    _, (prototxt, caffemodel), images, labels = small
    lines = [line] + labels.read_text().splitlines()[1:]
    (tmp_path / "labels.txt").write_text("\n".join(lines) + "\n")
    assert needle in run(prototxt, caffemodel, "--images", images, "--labels", tmp_path / "labels.txt", code=2).output


def test_quiet_when_piped(small):
    _, (prototxt, caffemodel), images, labels = small
    result = run(prototxt, caffemodel, "--images", images, "--labels", labels, "--workers", "0")
    assert "\r" not in result.output and "top-1 error" in result.output and "Wilson" in result.output


def test_per_class_and_prediction_tables(small, tmp_path):
    import csv

    case, (prototxt, caffemodel), images, labels = small
    run(prototxt, caffemodel, "--images", images, "--labels", labels, "--workers", "0",
        "--per-class", tmp_path / "classes.csv", "--predictions", tmp_path / "predictions.csv")
    rank = data.ranks(case)
    rows = {int(r["row"]): r for r in csv.DictReader((tmp_path / "classes.csv").open())}
    for k in range(12):
        mine = case.truth == k
        if not mine.any():
            assert k not in rows
            continue
        assert int(rows[k]["images"]) == mine.sum()
        assert float(rows[k]["top1_accuracy"]) == pytest.approx((rank[mine] == 0).mean())
        assert float(rows[k]["top5_accuracy"]) == pytest.approx((rank[mine] < 5).mean())
    predictions = list(csv.DictReader((tmp_path / "predictions.csv").open()))
    assert [int(p["rank"]) for p in predictions] == [int(r) for r in rank]
    assert [int(p["true_row"]) for p in predictions] == [int(t) for t in case.truth]
    assert all(len(p["top5_rows"].split()) == 5 for p in predictions)


def test_nothing_readable_is_an_error(small, tmp_path):
    _, (prototxt, caffemodel), _, _ = small
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"junk")
    (tmp_path / "labels.txt").write_text("a.jpg 0\n")
    result = run(prototxt, caffemodel, "--images", folder, "--labels", tmp_path / "labels.txt", "--workers", "0", code=2)
    assert "none of its 1 images could be read (first: a.jpg" in result.output


def test_mean_contradicting_the_prototxt(small):
    _, (prototxt, caffemodel), images, labels = small
    result = run(prototxt, caffemodel, "--images", images, "--labels", labels, "--mean", "1,2,3", code=2)
    assert "contradicts the model" in result.output


def test_input_size_needs_a_global_pool(small, tmp_path):
    case, (prototxt, caffemodel), images, labels = small
    assert "needs a global final pool" in run(prototxt, caffemodel, "--images", images, "--labels", labels, "--input-size", "160", code=2).output
    report = report_of(tmp_path, prototxt, caffemodel, "--images", images, "--labels", labels, "--input-size", "160", "--global-pool")
    assert report["preprocessing"]["crop"] == [160, 160] and report["preprocessing"]["resize_shorter_side"] == 183
    assert [p["rank"] for p in report["predictions"]] == [int(r) for r in data.ranks(case)]
