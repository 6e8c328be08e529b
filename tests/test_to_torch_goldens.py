"""The lowered torch graph (CPU, float32) against real Caffe: every blob and every in-place snapshot
of the three mini nets (with the caffemodels Caffe wrote) and of the three official prototxts (batch 2,
synthetic weights), within max|d| <= 2e-5 * max|golden| (../shared/goldens/README.md), and the
logits within 1e-5 of their max. Layer by layer, fed Caffe's own float32 inputs, the layers without
a reduction give Caffe's bits.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from senet_convert.graph import Net
from senet_convert.loader import load_net
from senet_convert.to_torch import build, lower

MODELS = ("SE-ResNet-50", "SE-BN-Inception", "SE-ResNeXt-50")
CASES = [(model, variant) for variant in ("mini", "full") for model in MODELS]
BLOB_TOLERANCE = 2e-5
LOGITS_TOLERANCE = 1e-5
ZERO_FLOOR = 1e-12  # absolute, for all-zero blobs
# Fed Caffe's inputs, these reproduce Caffe's float32 operations in Caffe's order.
BIT_EXACT = {"BatchNorm", "Scale", "Pooling", "ReLU", "Concat", "Reshape", "Split", "Dropout", "Flatten"}
LAYER_TOLERANCE = 2e-6  # the others (GEMM order, exp/tanh implementations): max|d| / max|golden|


@dataclass
class Result:
    errors: dict[str, tuple[float, float]] = field(default_factory=dict)  # golden key -> (max|d|, max|golden|)
    shapes: list[str] = field(default_factory=list)  # shape mismatches
    logits: tuple[float, float] = (np.inf, 1.0)

    def failures(self, prefix: str) -> list[str]:
        bad = sorted(
            ((err / max(scale, 1e-30), key) for key, (err, scale) in self.errors.items()
             if key.startswith(prefix) and err > max(BLOB_TOLERANCE * scale, ZERO_FLOOR)),
            reverse=True,
        )
        return [f"{key}: {ratio:.2e} of max|golden|" for ratio, key in bad]


def golden_values(net: Net, caffe_layers: list[dict]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Caffe blob -> our value when the forward pass ends, and layer -> {Caffe top -> our value}.

    Caffe's layer list holds the Input layer and the Split layers Caffe inserted; a Split top is the
    value its bottom holds at that point.
    """
    ours = {layer.name: layer for layer in net.layers}
    blob: dict[str, str] = {}
    tops: dict[str, dict[str, str]] = {}
    for caffe in caffe_layers:
        layer = ours.get(caffe["name"])
        if layer is not None:
            assert layer.type == caffe["type"] and list(layer.caffe_tops) == caffe["tops"], caffe["name"]
            tops[layer.name] = dict(zip(layer.caffe_tops, layer.tops))
            blob.update(tops[layer.name])
        elif caffe["type"] == "Split":
            blob.update((top, blob[caffe["bottoms"][0]]) for top in caffe["tops"])
        else:
            assert caffe["type"] == "Input", f"Caffe ran layer '{caffe['name']}' ({caffe['type']}), we do not"
            blob.update((top, top) for top in caffe["tops"])
    assert set(tops) == set(ours), "we have layers Caffe did not run"
    return blob, tops


def compare(result: Result, golden, key: str, mine: np.ndarray) -> None:
    if mine.shape != tuple(golden[f"{key}/shape"]):
        result.shapes.append(f"{key}: ours {mine.shape}, Caffe {tuple(golden[f'{key}/shape'])}")
        return
    flat = mine.ravel().astype(np.float64)
    stats = golden[f"{key}/stats"]  # mean, std, l2, min, max
    errors = [np.abs(flat[golden[f"{key}/idx"]] - golden[f"{key}/vals"]).max(), abs(flat.min() - stats[3]), abs(flat.max() - stats[4])]
    if f"{key}/data" in golden:
        errors.append(np.abs(flat - golden[f"{key}/data"].ravel()).max())
    result.errors[key] = (float(max(errors)), float(np.abs(stats[3:5]).max()))


def load(model: str, variant: str, goldens_dir, models_dir, synthetic):
    stem = model if variant == "full" else f"{model}.mini"
    meta = json.loads((goldens_dir / f"{stem}.golden.json").read_text())
    golden = np.load(goldens_dir / f"{stem}.golden.npz")
    if variant == "mini":
        net = load_net(goldens_dir / f"{stem}.prototxt", goldens_dir / f"{stem}.caffemodel")
    else:
        net = load_net(models_dir / f"{model}.prototxt", batch=2)
        blob_shapes = {layer["name"]: layer["param_shapes"] for layer in meta["layers"]}
        for layer in net.layers:
            layer.blobs = [synthetic.synthetic_blob(layer.name, layer.type, i, s) for i, s in enumerate(blob_shapes[layer.name])]
    return net, meta, golden


@pytest.fixture(scope="module", params=CASES, ids=[f"{m}.{v}" for m, v in CASES])
def result(request, goldens_dir, models_dir, synthetic) -> Result:
    net, meta, golden = load(*request.param, goldens_dir, models_dir, synthetic)
    x = synthetic.synthetic_input(tuple(golden["input_shape"]), seed=int(golden["input_seed"]))
    assert hashlib.sha256(x.tobytes()).hexdigest() == str(golden["input_sha256"])
    blob, tops = golden_values(net, meta["layers"])
    assert all(blob[name] == value for name, value in net.final.items())
    wanted = {f"blob/{name}": blob[str(name)] for name in golden["blob_names"]}
    snapshots = zip(map(str, golden["snapshot_layers"]), map(str, golden["snapshot_tops"]))
    wanted.update({f"layer/{layer}": tops[layer][top] for layer, top in snapshots})

    module = lower(net, intermediate=True)  # value names, not Caffe blob names (`outputs` takes those)
    with torch.inference_mode():
        mine = {value: tensor.numpy() for value, tensor in module(*[torch.from_numpy(x) for _ in net.inputs]).items()}
    result = Result()
    for key, value in wanted.items():
        compare(result, golden, key, mine[value])
    logits = golden["blob/classifier/data"].astype(np.float64)
    result.logits = (float(np.abs(mine[blob["classifier"]] - logits).max()), float(np.abs(logits).max()))
    return result


def test_shapes_match_caffe(result: Result):
    assert not result.shapes, result.shapes


def test_every_blob_matches_caffe(result: Result):
    assert not result.failures("blob/"), result.failures("blob/")


def test_every_in_place_snapshot_matches_caffe(result: Result):
    assert not result.failures("layer/"), result.failures("layer/")


def test_logits_match_caffe(result: Result):
    err, scale = result.logits
    assert err <= LOGITS_TOLERANCE * scale, f"classifier: {err / scale:.2e} of max|golden|"


def held_values(net: Net, meta: dict, golden) -> dict[str, np.ndarray]:
    """Our value name -> Caffe's full array, for the blobs and snapshots stored whole."""
    blob, tops = golden_values(net, meta["layers"])
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
    net, meta, golden = load(model, "mini", goldens_dir, models_dir, synthetic)
    held = held_values(net, meta, golden)
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
