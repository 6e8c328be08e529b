"""The timm folders against real Caffe: convert, load through timm's local-dir:, compare the logits.

    python benchmarks/timm_folder.py [--models SE-ResNet-50,SE-ResNeXt-50,SE-BN-Inception,SE-BN-Inception.mini]

For each golden net (../shared/goldens: the official prototxt with synthetic.py's weights, or a mini
variant with its real-Caffe-written caffemodel): `caffe2torch --to timm --input-space caffe
--class-order caffe` into a temporary folder, `timm.create_model("local-dir:...", pretrained=True)`,
the goldens' input, and max|timm - Caffe| / max|Caffe| over the logits; the conversion's own parity
figure (from the card) and its time beside it.
"""
from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from common import SHARED, caffemodel, synthetic

GOLDENS = SHARED / "goldens"
DEFAULT = ["SE-ResNet-50", "SE-ResNeXt-50", "SE-BN-Inception", "SE-BN-Inception.mini"]


def _files(model: str) -> tuple[Path, Path]:
    if model.endswith(".mini"):
        return GOLDENS / f"{model}.prototxt", GOLDENS / f"{model}.caffemodel"
    return caffemodel(model)


def measure(model: str, work: Path) -> dict:
    import timm
    import torch

    import senet_convert  # noqa: F401  (registers se_bn_inception)
    from senet_convert.export.hub_folder import convert_to_timm_folder

    prototxt, weights = _files(model)
    start = time.perf_counter()
    result = convert_to_timm_folder(prototxt, weights, work, input_space="caffe", class_order="caffe", quiet=True)
    seconds = time.perf_counter() - start
    golden = np.load(GOLDENS / f"{model}.golden.npz")
    x = synthetic().synthetic_input(tuple(golden["input_shape"]), seed=int(golden["input_seed"]))
    loaded = timm.create_model(f"local-dir:{result['folder']}", pretrained=True).eval()
    with torch.no_grad():
        logits = loaded(torch.from_numpy(x)).numpy().astype(np.float64)
    caffe = golden["blob/classifier/data"].astype(np.float64)
    card = (result["folder"] / "README.md").read_text()
    stated = re.search(r"^\| timm model, nothing folded[^|]* \| [^|]+ \| ([0-9.e+-]+) \|", card, re.M).group(1)
    config = json.loads((result["folder"] / "config.json").read_text())
    return {"model": model, "architecture": config["architecture"], "seconds": seconds, "card": float(stated),
            "caffe": float(np.abs(logits - caffe).max() / np.abs(caffe).max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(DEFAULT))
    args = parser.parse_args()
    print(f"{'golden':22} {'timm model':26} {'vs real Caffe':>14} {'card (vs oracle)':>17} {'convert':>8}")
    with tempfile.TemporaryDirectory(prefix="timm-folder.") as work:
        for model in args.models.split(","):
            row = measure(model, Path(work))
            print(f"{row['model']:22} {row['architecture']:26} {row['caffe']:14.2e} {row['card']:17.2e} {row['seconds']:7.1f}s")


if __name__ == "__main__":
    main()
