"""Reading the real-Caffe goldens (../shared/goldens, format in its README) and comparing with them.

Shared by the oracle, torch, ONNX and optimized-graph golden tests: one way to load a golden case,
to map Caffe's blob and snapshot names onto our values, and to measure max|d| / max|golden|.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from senet_convert.graph import Net
from senet_convert.loader import load_net
from senet_convert.verify.compare import relative_error

MODELS = ("SE-ResNet-50", "SE-BN-Inception", "SE-ResNeXt-50")
BLOB_TOLERANCE = 2e-5  # times max|golden| of the blob (the goldens README derives it)
LOGITS_TOLERANCE = 1e-5  # times max|golden logits|
ZERO_FLOOR = 1e-12  # absolute, for blobs that are all zero


@dataclass
class Case:
    net: Net
    meta: dict  # the golden JSON
    golden: np.lib.npyio.NpzFile
    input: np.ndarray  # synthetic.py's input, checked against the golden's sha256

    def values(self) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        return caffe_values(self.net, self.meta["layers"])

    def wanted(self) -> dict[str, str]:
        """Golden key ("blob/<name>", "layer/<name>") -> our value name."""
        blob, tops = self.values()
        wanted = {f"blob/{name}": blob[name] for name in map(str, self.golden["blob_names"])}
        for layer, top in zip(map(str, self.golden["snapshot_layers"]), map(str, self.golden["snapshot_tops"])):
            wanted[f"layer/{layer}"] = tops[layer][top]
        return wanted


def load_case(model: str, variant: str, goldens_dir, models_dir, synthetic) -> Case:
    """`variant` "mini": the reduced prototxt and real-Caffe-written caffemodel; "full": the official
    prototxt at batch 2 with synthetic.py's weights in the shapes Caffe allocated (param_shapes)."""
    stem = f"{model}.mini" if variant == "mini" else model
    meta = json.loads((goldens_dir / f"{stem}.golden.json").read_text())
    golden = np.load(goldens_dir / f"{stem}.golden.npz")
    if variant == "mini":
        net = load_net(goldens_dir / f"{stem}.prototxt", goldens_dir / f"{stem}.caffemodel")
    else:
        net = load_net(models_dir / f"{model}.prototxt", batch=2)
        param_shapes = {layer["name"]: layer["param_shapes"] for layer in meta["layers"]}
        for layer in net.layers:
            layer.blobs = [synthetic.synthetic_blob(layer.name, layer.type, i, s) for i, s in enumerate(param_shapes[layer.name])]
    x = synthetic.synthetic_input(tuple(golden["input_shape"]), seed=int(golden["input_seed"]))
    assert hashlib.sha256(x.tobytes()).hexdigest() == str(golden["input_sha256"]), "not the goldens' input"
    return Case(net, meta, golden, x)


def caffe_values(net: Net, caffe_layers: list[dict]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Caffe blob -> our value when the forward pass ends, and layer -> {Caffe top: our value}.

    Walks Caffe's layer list (with its Input and auto-inserted Split layers) beside ours: a Split top
    holds its bottom's value at that point, every other top is our layer's top in the same slot.
    """
    ours = iter(net.layers)
    explicit = {layer.name for layer in net.layers}
    current: dict[str, str] = {}
    tops_of: dict[str, dict[str, str]] = {}
    for caffe in caffe_layers:
        if caffe["type"] == "Input":
            current.update({top: top for top in caffe["tops"]})
        elif caffe["type"] == "Split" and caffe["name"] not in explicit:
            current.update({top: current[caffe["bottoms"][0]] for top in caffe["tops"]})
        else:
            layer = next(ours)
            assert (layer.name, layer.type) == (caffe["name"], caffe["type"]), "our layer order differs from Caffe's"
            assert list(layer.caffe_tops) == caffe["tops"], layer.name
            tops_of[layer.name] = dict(zip(caffe["tops"], layer.tops))
            current.update(tops_of[layer.name])
    assert next(ours, None) is None, "we have layers Caffe did not run"
    return current, tops_of


@dataclass
class Comparison:
    """Per golden key: (max|ours - golden|, max|golden|), over the sampled values, the min and max,
    and the full array where the golden holds it."""

    errors: dict[str, tuple[float, float]] = field(default_factory=dict)
    shape_mismatches: list[str] = field(default_factory=list)
    logits: float = float("inf")  # logits_error, where measured

    def add(self, golden, key: str, mine: np.ndarray) -> None:
        if mine.shape != tuple(golden[f"{key}/shape"]):
            self.shape_mismatches.append(f"{key}: ours {mine.shape}, Caffe {tuple(golden[f'{key}/shape'])}")
            return
        flat = mine.ravel().astype(np.float64)
        stats = golden[f"{key}/stats"]  # mean, std, l2, min, max
        errors = [np.abs(flat[golden[f"{key}/idx"]] - golden[f"{key}/vals"]).max(), abs(flat.min() - stats[3]), abs(flat.max() - stats[4])]
        if f"{key}/data" in golden:
            errors.append(np.abs(flat - golden[f"{key}/data"].ravel()).max())
        self.errors[key] = (float(max(errors)), float(np.abs(stats[3:5]).max()))

    def failures(self, prefix: str, tolerance: float = BLOB_TOLERANCE) -> list[str]:
        bad = sorted(
            ((err / max(scale, 1e-30), key) for key, (err, scale) in self.errors.items()
             if key.startswith(prefix) and err > max(tolerance * scale, ZERO_FLOOR)),
            reverse=True,
        )
        return [f"{key}: max|d|/max|golden| = {ratio:.2e}" for ratio, key in bad]

    def worst(self, prefix: str) -> float:
        return max(err / max(scale, 1e-30) for key, (err, scale) in self.errors.items() if key.startswith(prefix))


def logits_error(case: Case, mine: np.ndarray) -> float:
    """max|ours - Caffe| / max|Caffe| over the whole `classifier` blob (stored in full)."""
    logits = case.golden["blob/classifier/data"].astype(np.float64)
    return relative_error(mine.astype(np.float64), logits)
