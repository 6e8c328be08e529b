"""The lowered torch graph (CPU, float32) against real Caffe: every blob and every in-place snapshot
of the three mini nets (with the caffemodels Caffe wrote) and of the three official prototxts (batch 2,
synthetic weights), within max|d| <= 2e-5 * max|golden| (../shared/goldens/README.md), and the
logits within 1e-5 of their max. Layer by layer, fed Caffe's own float32 inputs, the layers without
a reduction give Caffe's bits. The graph users run (outputs only: each BatchNorm applies its Scale
in the same pass) is held to the same bounds at every Caffe blob.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from goldens import LOGITS_TOLERANCE, MODELS, Comparison, load_case, logits_error
from helpers import one_pass

from senet_convert.to_torch import build, lower

CASES = [(model, variant) for variant in ("mini", "full") for model in MODELS]
# Fed Caffe's inputs, these reproduce Caffe's float32 operations in Caffe's order.
BIT_EXACT = {"BatchNorm", "Scale", "Pooling", "ReLU", "Concat", "Reshape", "Split", "Dropout", "Flatten"}
LAYER_TOLERANCE = 2e-6  # the others (GEMM order, exp/tanh implementations): max|d| / max|golden|


@pytest.fixture(scope="module", params=CASES, ids=[f"{m}.{v}" for m, v in CASES])
def result(request, goldens_dir, models_dir, synthetic) -> Comparison:
    case = load_case(*request.param, goldens_dir, models_dir, synthetic)
    wanted = case.wanted()
    module = lower(case.net, intermediate=True)  # value names, not Caffe blob names (`outputs` takes those)
    with torch.inference_mode():
        mine = {value: t.numpy() for value, t in module(*[torch.from_numpy(case.input) for _ in case.net.inputs]).items()}
    result = Comparison()
    for key, value in wanted.items():
        result.add(case.golden, key, mine[value])
    result.logits = logits_error(case, mine[wanted["blob/classifier"]])
    return result


def test_shapes_match_caffe(result: Comparison):
    assert not result.shape_mismatches, result.shape_mismatches


def test_every_blob_matches_caffe(result: Comparison):
    assert not result.failures("blob/"), result.failures("blob/")


def test_every_in_place_snapshot_matches_caffe(result: Comparison):
    assert not result.failures("layer/"), result.failures("layer/")


def test_logits_match_caffe(result: Comparison):
    assert result.logits <= LOGITS_TOLERANCE, f"classifier: {result.logits:.2e} of max|golden|"


@pytest.mark.parametrize("model, variant", CASES, ids=[f"{m}.{v}" for m, v in CASES])
def test_the_graph_users_run_matches_caffe_at_every_blob(model, variant, goldens_dir, models_dir, synthetic):
    case = load_case(model, variant, goldens_dir, models_dir, synthetic)
    blobs = {key: value for key, value in case.wanted().items() if key.startswith("blob/")}
    values = list(dict.fromkeys(blobs.values()))
    module = lower(case.net, outputs=values)
    # every BatchNorm of these nets is followed by its Scale, and Caffe overwrites its value in place
    assert len(one_pass(module)) == sum(layer.type == "BatchNorm" for layer in case.net.layers) > 0
    with torch.inference_mode():
        got = module(*[torch.from_numpy(case.input) for _ in case.net.inputs])
    mine = {value: t.numpy() for value, t in zip(values, got)}
    result = Comparison()
    for key, value in blobs.items():
        result.add(case.golden, key, mine[value])
    assert not result.shape_mismatches and not result.failures("blob/"), result.failures("blob/")
    logits = logits_error(case, mine[blobs["blob/classifier"]])
    assert logits <= LOGITS_TOLERANCE, f"classifier: {logits:.2e} of max|golden|"


def held_values(case) -> dict[str, np.ndarray]:
    """Our value name -> Caffe's full array, for the blobs and snapshots stored whole."""
    golden = case.golden
    blob, tops = case.values()
    held = {}
    for name in map(str, golden["blob_names"]):
        if f"blob/{name}/data" in golden:
            held.setdefault(blob[name], golden[f"blob/{name}/data"])
    for layer, top in zip(map(str, golden["snapshot_layers"]), map(str, golden["snapshot_tops"])):
        if f"layer/{layer}/data" in golden:
            held.setdefault(tops[layer][top], golden[f"layer/{layer}/data"])
    return held


@pytest.mark.parametrize("model", MODELS)
def test_each_layer_on_caffes_own_inputs(model, goldens_dir, models_dir, synthetic):
    case = load_case(model, "mini", goldens_dir, models_dir, synthetic)
    net, held = case.net, held_values(case)
    checked, failures = Counter(), []
    for layer in net.layers:
        if not all(value in held for value in (*layer.bottoms, *layer.tops)):
            continue
        with torch.inference_mode():
            out = build(layer)(*[torch.from_numpy(held[value]) for value in layer.bottoms])
        for value, mine in zip(layer.tops, out if isinstance(out, tuple) else (out,)):
            caffe, mine = held[value], mine.numpy()
            checked[layer.type] += 1
            if layer.type in BIT_EXACT:
                if not np.array_equal(mine, caffe):
                    failures.append(f"{layer.name} ({layer.type}): not Caffe's bits, max|d| {np.abs(mine - caffe).max():.1e}")
            elif np.abs(mine - caffe.astype(np.float64)).max() > LAYER_TOLERANCE * np.abs(caffe).max():
                failures.append(f"{layer.name} ({layer.type}): {np.abs(mine - caffe).max() / np.abs(caffe).max():.1e}")
    assert not failures, failures
    expected = {"Convolution", "Pooling", "ReLU", "Sigmoid", "InnerProduct", "Softmax"}
    if model == "SE-BN-Inception":
        expected |= {"BatchNorm", "Scale", "Concat", "Reshape"}
    assert expected <= set(checked), checked
