"""Class order: the packaged devkit WordNet IDs, the permutation to sorted order, and --class-order."""
from __future__ import annotations

import hashlib
import zlib
from importlib import resources

import numpy as np
import pytest
import torch
from conftest import FIXTURES
from helpers import cli

from senet_convert import load_checkpoint
from senet_convert.caffe.writer import write_net_weights
from senet_convert.edits import class_order as classes
from senet_convert.edits.class_order import class_order_of, reorder_classes
from senet_convert.edits.notes import notes
from senet_convert.errors import ConvertError
from senet_convert.loader import load_net
from senet_convert.to_torch import module_for

# (devkit row, sorted row, WordNet ID): public facts, written out independently of the data file.
KNOWN = [
    (489, 65, "n01751748"),  # sea snake: the label (ILSVRC2012_ID 490) of ILSVRC2012_val_00000001
    (0, 278, "n02119789"),  # kit fox, ILSVRC2012_ID 1
    (1, 212, "n02100735"),  # English setter, ILSVRC2012_ID 2
    (448, 0, "n01440764"),  # tench, first in sorted order
    (999, 543, "n03255030"),  # dumbbell, ILSVRC2012_ID 1000
]


def test_data_file_is_packaged_and_pinned():
    data = resources.files("senet_convert").joinpath("data", classes.DATA_FILE).read_bytes()
    assert hashlib.sha256(data).hexdigest() == "e85e4969a881deb8a8ba329357d033f7a664de8f1e099f593ad723bcf79bbfe5"
    assert len(classes.devkit_wnids()) == 1000 == len(set(classes.devkit_wnids()))


def test_sorted_order_is_derived_by_sorting():
    assert list(classes.sorted_wnids()) == sorted(classes.devkit_wnids())
    assert classes.wnids("caffe") == classes.devkit_wnids()


def test_permutation_is_a_permutation_and_inverts():
    to_sorted = classes.permutation("caffe", "sorted")
    to_caffe = classes.permutation("sorted", "caffe")
    assert sorted(to_sorted.tolist()) == list(range(1000))
    assert (to_sorted[to_caffe] == np.arange(1000)).all() and (to_caffe[to_sorted] == np.arange(1000)).all()
    assert (classes.permutation("caffe", "caffe") == np.arange(1000)).all()
    assert not (to_sorted == np.arange(1000)).all()


@pytest.mark.parametrize("devkit, sorted_row, wnid", KNOWN, ids=[k[2] for k in KNOWN])
def test_known_pairs(devkit, sorted_row, wnid):
    assert classes.devkit_wnids()[devkit] == wnid
    assert classes.sorted_wnids()[sorted_row] == wnid
    # Row `sorted_row` of a sorted classifier is row `devkit` of the caffemodel's.
    rows = classes.reorder_rows(np.arange(1000), "caffe", "sorted")
    assert rows[sorted_row] == devkit


def test_bad_order_and_size():
    with pytest.raises(ValueError, match="class order"):
        classes.wnids("alphabetical")
    with pytest.raises(ValueError, match="1000 classes"):
        classes.reorder_rows(np.zeros((10, 3)), "caffe", "sorted")


def _blob(name, type_, index, shape):
    rng = np.random.default_rng(zlib.crc32(f"{name}/{index}".encode()))
    scale = 0.3 if type_ in ("Convolution", "InnerProduct") and index == 0 else 0.1
    if type_ == "BatchNorm":
        return np.asarray([rng.normal(0, 0.1, shape), rng.uniform(0.5, 1.5, shape), np.ones(shape)][index], np.float32)
    return np.asarray(1 + rng.uniform(-0.5, 0.5, shape) if type_ == "Scale" and index == 0 else rng.normal(0, scale, shape), np.float32)


@pytest.fixture(scope="module")
def thousand(tmp_path_factory):
    """The tiny SENet fixture with a 1000-way classifier."""
    out = tmp_path_factory.mktemp("classes")
    text = (FIXTURES / "tiny-senet.prototxt").read_text()
    head, tail = text.split('name: "classifier"')
    proto = out / "tiny-1000.prototxt"
    proto.write_text(head + 'name: "classifier"' + tail.replace("num_output: 10", "num_output: 1000", 1))
    model = out / "tiny-1000.caffemodel"
    write_net_weights(load_net(proto), model, _blob)
    return proto, model


def test_reordered_net_permutes_the_logits(thousand):
    net = load_net(*thousand)
    sorted_net = reorder_classes(net, "sorted")
    assert class_order_of(net) == "caffe" and class_order_of(sorted_net) == "sorted"
    assert [k for k, _ in notes(sorted_net)] == ["class-order"]
    x = torch.from_numpy(np.random.default_rng(0).uniform(-50, 50, (2, 3, 32, 32)).astype(np.float32))
    with torch.no_grad():
        caffe = module_for(net, ["classifier"])(x)
        by_sorted = module_for(sorted_net, ["classifier"])(x)
    perm = torch.from_numpy(classes.permutation("caffe", "sorted"))
    assert torch.equal(by_sorted, caffe[:, perm])
    back = reorder_classes(sorted_net, "caffe")
    assert class_order_of(back) == "caffe"
    assert np.array_equal(back.layer("classifier").blobs[0], net.layer("classifier").blobs[0])
    assert reorder_classes(net, "caffe") is net


def test_only_a_1000_way_classifier_is_reordered():
    net = load_net(FIXTURES / "tiny-senet.prototxt", FIXTURES / "tiny-senet.caffemodel")
    with pytest.raises(ConvertError, match=r"layer 'classifier' \(InnerProduct\).*10 outputs"):
        reorder_classes(net, "sorted")


def test_cli_class_order_survives_the_checkpoint(thousand, tmp_path):
    proto, model = thousand
    result = cli("caffe2torch", str(proto), str(model), "-o", str(tmp_path), "--no-pt2", "--class-order", "sorted", "--outputs", "classifier")
    assert result.exit_code == 0, result.output
    assert "class-order: sorted" in result.stderr
    module = load_checkpoint(tmp_path / "tiny-1000.pt")
    x = torch.from_numpy(np.random.default_rng(1).uniform(-50, 50, (1, 3, 32, 32)).astype(np.float32))
    with torch.no_grad():
        expected = module_for(load_net(proto, model), ["classifier"])(x)[:, torch.from_numpy(classes.permutation("caffe", "sorted"))]
        assert torch.equal(module(x), expected)
