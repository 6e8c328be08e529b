"""The numpy reference against real Caffe: every blob and every in-place snapshot of the six golden
nets (three reduced-width minis with their caffemodels, three official prototxts with synthetic
weights), within the tolerance ../shared/goldens/README.md derives: max|d| <= 2e-5 * max|golden|.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pytest

from senet_convert import reference
from senet_convert.graph import Net
from senet_convert.loader import load_net

MODELS = ["SE-ResNet-50", "SE-BN-Inception", "SE-ResNeXt-50"]
CASES = [(m, "mini", np.float64) for m in MODELS] + [(m, "mini", np.float32) for m in MODELS]
CASES += [(m, "full", np.float64) for m in MODELS]
BLOB_TOLERANCE = 2e-5  # times max|golden| of the blob
LOGITS_TOLERANCE = 1e-5  # times max|golden logits|
ZERO_FLOOR = 1e-12  # absolute, for blobs that are all zero


@dataclass
class Comparison:
    """Per golden key ("blob/<name>" or "layer/<name>"): (max|ours - golden|, max|golden|)."""

    errors: dict[str, tuple[float, float]] = field(default_factory=dict)
    shape_mismatches: list[str] = field(default_factory=list)
    logits: tuple[float, float] = (np.inf, 1.0)

    def failures(self, prefix: str) -> list[str]:
        bad = [
            (err / max(scale, 1e-30), key)
            for key, (err, scale) in self.errors.items()
            if key.startswith(prefix) and err > max(BLOB_TOLERANCE * scale, ZERO_FLOOR)
        ]
        return [f"{key}: max|d|/max|golden| = {ratio:.2e}" for ratio, key in sorted(bad, reverse=True)]

    def worst(self, prefix: str) -> float:
        return max(err / max(scale, 1e-30) for key, (err, scale) in self.errors.items() if key.startswith(prefix))


def caffe_blob_values(net: Net, golden_layers: list[dict]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Caffe blob -> our value after the whole forward pass, and layer -> {Caffe top: our value}.

    Walks Caffe's layer list (with its Input and auto-inserted Split layers) beside ours: a Split top
    holds its bottom's value at that point, every other top is our layer's top in the same slot.
    """
    ours = iter(net.layers)
    explicit = {layer.name for layer in net.layers}
    current: dict[str, str] = {}
    tops_of: dict[str, dict[str, str]] = {}
    for golden in golden_layers:
        if golden["type"] == "Input":
            current.update({top: top for top in golden["tops"]})
        elif golden["type"] == "Split" and golden["name"] not in explicit:
            current.update({top: current[golden["bottoms"][0]] for top in golden["tops"]})
        else:
            layer = next(ours)
            assert (layer.name, layer.type) == (golden["name"], golden["type"]), "our layer order differs from Caffe's"
            tops_of[layer.name] = dict(zip(golden["tops"], layer.tops))
            current.update(tops_of[layer.name])
    assert next(ours, None) is None, "we have layers Caffe did not run"
    return current, tops_of


def compare(values: dict[str, np.ndarray], g, key: str, value: str, result: Comparison) -> None:
    mine = values[value]
    if mine.shape != tuple(g[f"{key}/shape"]):
        result.shape_mismatches.append(f"{key}: ours {mine.shape}, Caffe {tuple(g[f'{key}/shape'])}")
        return
    flat = mine.ravel().astype(np.float64)
    stats = g[f"{key}/stats"]  # mean, std, l2, min, max
    sampled = np.abs(flat[g[f"{key}/idx"]] - g[f"{key}/vals"]).max()
    errors = [sampled, abs(flat.min() - stats[3]), abs(flat.max() - stats[4])]
    if f"{key}/data" in g:
        errors.append(np.abs(flat - g[f"{key}/data"].ravel()).max())
    result.errors[key] = (float(max(errors)), float(np.abs(stats[3:5]).max()))


def load_case(model: str, variant: str, goldens_dir, models_dir, synthetic) -> tuple[Net, dict, np.lib.npyio.NpzFile]:
    stem = f"{model}.mini" if variant == "mini" else model
    meta = json.loads((goldens_dir / f"{stem}.golden.json").read_text())
    golden = np.load(goldens_dir / f"{stem}.golden.npz")
    if variant == "mini":
        net = load_net(goldens_dir / f"{stem}.prototxt", goldens_dir / f"{stem}.caffemodel")
    else:
        net = load_net(models_dir / f"{model}.prototxt", batch=2)
        param_shapes = {layer["name"]: layer["param_shapes"] for layer in meta["layers"]}
        for layer in net.layers:
            shapes = param_shapes[layer.name]
            layer.blobs = [synthetic.synthetic_blob(layer.name, layer.type, i, s) for i, s in enumerate(shapes)]
    return net, meta, golden


@pytest.fixture(
    scope="module",
    params=CASES,
    ids=[f"{m}.{v}-{np.dtype(d).name}" for m, v, d in CASES],
)
def compared(request, goldens_dir, models_dir, synthetic) -> Comparison:
    model, variant, dtype = request.param
    net, meta, g = load_case(model, variant, goldens_dir, models_dir, synthetic)
    x = synthetic.synthetic_input(tuple(g["input_shape"]), seed=int(g["input_seed"]))
    assert hashlib.sha256(x.tobytes()).hexdigest() == str(g["input_sha256"]), "not the goldens' input"

    blob_value, tops_of = caffe_blob_values(net, meta["layers"])
    for blob, value in net.final.items():
        assert blob_value[blob] == value, f"net.final['{blob}'] is {value}, Caffe's blob holds {blob_value[blob]}"
    wanted = {str(name): blob_value[str(name)] for name in g["blob_names"]}
    snapshot_tops = zip(map(str, g["snapshot_layers"]), map(str, g["snapshot_tops"]))
    snapshots = {layer: tops_of[layer][top] for layer, top in snapshot_tops}
    needed = sorted(set(wanted.values()) | set(snapshots.values()))
    values = reference.run(net, {name: x for name in net.inputs}, dtype=dtype, outputs=needed)

    result = Comparison()
    for name, value in wanted.items():
        compare(values, g, f"blob/{name}", value, result)
    for layer, value in snapshots.items():
        compare(values, g, f"layer/{layer}", value, result)
    logits = g["blob/classifier/data"].astype(np.float64)
    result.logits = (float(np.abs(values[wanted["classifier"]] - logits).max()), float(np.abs(logits).max()))
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
    err, scale = compared.logits
    assert err <= LOGITS_TOLERANCE * scale, f"classifier: max|d|/max|golden| = {err / scale:.2e}"


def test_split_blobs_are_their_source(goldens_dir, models_dir, synthetic):
    # Caffe's auto-inserted Split tops hold their bottom's value: the walk maps them onto it
    net, meta, g = load_case("SE-ResNet-50", "mini", goldens_dir, models_dir, synthetic)
    blob_value, _ = caffe_blob_values(net, meta["layers"])
    splits = [name for name in map(str, g["blob_names"]) if "_split_" in name]
    assert splits and all(name not in net.final for name in splits)
    assert blob_value["pool1/3x3_s2_pool1/3x3_s2_0_split_0"] == blob_value["pool1/3x3_s2"] == net.final["pool1/3x3_s2"]


OFFICIAL = [
    "SE-BN-Inception", "SE-ResNet-50", "SE-ResNet-101", "SE-ResNet-152", "SE-ResNeXt-50", "SE-ResNeXt-101", "SENet-154"
]


@pytest.mark.parametrize("model", OFFICIAL)
def test_official_shapes_agree_with_the_loaders_inference(model, models_dir):
    # Two independent computations of every value's shape: the oracle's kernels and the loader's
    # shape inference (which the torch lowering relies on). Zero weights: only shapes matter here.
    from senet_convert import shapes

    net = load_net(models_dir / f"{model}.prototxt")
    for layer in net.layers:
        blob_shapes = shapes.infer(layer.param, [net.shapes[b] for b in layer.bottoms])[1]
        layer.blobs = [np.zeros(shape, np.float32) for shape in blob_shapes]
    inputs = {name: np.zeros(shape, np.float32) for name, shape in net.inputs.items()}
    values = reference.run(net, inputs, dtype=np.float32, intermediate=True)
    assert {name: value.shape for name, value in values.items()} == net.shapes
