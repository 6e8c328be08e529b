"""The numpy reference against real Caffe: every blob and every in-place snapshot of the six golden
nets (three reduced-width minis with their caffemodels, three official prototxts with synthetic
weights), within the tolerance ../shared/goldens/README.md derives: max|d| <= 2e-5 * max|golden|.
"""
from __future__ import annotations

import numpy as np
import pytest
from conftest import OFFICIAL
from goldens import BLOB_TOLERANCE, LOGITS_TOLERANCE, MODELS, Comparison, load_case, logits_error

from senet_convert import reference
from senet_convert.loader import load_net

CASES = [(m, "mini", np.float64) for m in MODELS] + [(m, "mini", np.float32) for m in MODELS]
CASES += [(m, "full", np.float64) for m in MODELS]


@pytest.fixture(
    scope="module",
    params=CASES,
    ids=[f"{m}.{v}-{np.dtype(d).name}" for m, v, d in CASES],
)
def compared(request, goldens_dir, models_dir, synthetic) -> Comparison:
    model, variant, dtype = request.param
    case = load_case(model, variant, goldens_dir, models_dir, synthetic)
    blob_value, _ = case.values()
    for blob, value in case.net.final.items():
        assert blob_value[blob] == value, f"net.final['{blob}'] is {value}, Caffe's blob holds {blob_value[blob]}"
    wanted = case.wanted()
    values = reference.run(case.net, {name: case.input for name in case.net.inputs}, dtype=dtype, outputs=sorted(set(wanted.values())))
    result = Comparison()
    for key, value in wanted.items():
        result.add(case.golden, key, values[value])
    result.logits = logits_error(case, values[wanted["blob/classifier"]])
    return result


def test_shapes_match_caffe(compared: Comparison):
    assert not compared.shape_mismatches, compared.shape_mismatches


def test_every_blob_matches_caffe(compared: Comparison):
    failures = compared.failures("blob/")
    assert not failures, f"{len(failures)} blobs off (tolerance {BLOB_TOLERANCE:g}):\n" + "\n".join(failures[:20])


def test_every_snapshot_matches_caffe(compared: Comparison):
    failures = compared.failures("layer/")
    assert not failures, f"{len(failures)} snapshots off (tolerance {BLOB_TOLERANCE:g}):\n" + "\n".join(failures[:20])


def test_logits_match_caffe(compared: Comparison):
    assert compared.logits <= LOGITS_TOLERANCE, f"classifier: max|d|/max|golden| = {compared.logits:.2e}"


def test_split_blobs_are_their_source(goldens_dir, models_dir, synthetic):
    # Caffe's auto-inserted Split tops hold their bottom's value: the walk maps them onto it
    case = load_case("SE-ResNet-50", "mini", goldens_dir, models_dir, synthetic)
    net, g = case.net, case.golden
    blob_value, _ = case.values()
    splits = [name for name in map(str, g["blob_names"]) if "_split_" in name]
    assert splits and all(name not in net.final for name in splits)
    assert blob_value["pool1/3x3_s2_pool1/3x3_s2_0_split_0"] == blob_value["pool1/3x3_s2"] == net.final["pool1/3x3_s2"]




@pytest.mark.parametrize("model", OFFICIAL)
def test_official_shapes_agree_with_the_loaders_inference(model, models_dir):
    # Two independent computations of every value's shape: the oracle's kernels and the loader's
    # shape inference (which the torch lowering relies on). Zero weights: only shapes matter here.
    from senet_convert.loader import fill_weights

    net = load_net(models_dir / f"{model}.prototxt")
    fill_weights(net, lambda name, type_, i, shape: np.zeros(shape, np.float32))
    inputs = {name: np.zeros(shape, np.float32) for name, shape in net.inputs.items()}
    values = reference.run(net, inputs, dtype=np.float32, intermediate=True)
    assert {name: value.shape for name, value in values.items()} == net.shapes
