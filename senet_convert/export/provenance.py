"""Where a converted file comes from and what it expects: the sources' sha256 and the input contract.

Written into every output (checkpoint, ONNX metadata, timm config); numpy only, no torch.
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from ..files import reading, regular_size
from ..graph import Net


def sha256(path: Path | None, cancel: threading.Event | None = None) -> str | None:
    """The file's digest, read to the size it has now (a device, which never ends, is refused);
    None once `cancel` is set (a job that failed does not wait for its digest)."""
    if path is None:
        return None
    digest = hashlib.sha256()
    with reading(path, "caffemodel"):
        left = regular_size(path, "caffemodel")
        with open(path, "rb") as handle:
            while left > 0:
                if cancel is not None and cancel.is_set():
                    return None
                chunk = handle.read(min(1 << 22, left))
                if not chunk:
                    break
                digest.update(chunk)
                left -= len(chunk)
    return digest.hexdigest()


def input_contract(net: Net) -> dict:
    """What the first input expects, as the prototxt states it (or as an input adapter changed it)."""
    from ..edits.class_order import class_order_of
    from ..edits.input_space import convention
    from ..edits.notes import deviations, notes

    name, shape = next(iter(net.inputs.items()))
    contract = {"name": name, "shape": list(shape), "layout": "NCHW"}
    spaces = [what.split(":")[0] for kind, what in notes(net) if kind == "input-space"]
    if spaces and spaces[-1] == "torchvision":
        conv = convention("torchvision", None)
        contract.update({"color_order": conv.channel_order, "pixel_range": [0.0, 1.0], "mean": list(conv.mean), "std": list(conv.std)})
    elif net.mean_bgr is not None:
        # The official SENet prototxts say "# mean_value: 104, 117, 123": Caffe's BGR, 0-255 images.
        contract.update({"color_order": "BGR", "pixel_range": [0.0, 255.0], "mean": list(net.mean_bgr), "std": [1.0, 1.0, 1.0]})
    contract["class_order"] = class_order_of(net)
    contract["deviations"] = deviations(net)
    return contract


def source_hashes(net: Net, caffemodel_sha256: str | None = None) -> dict:
    """sha256 of the prototxt text and of the caffemodel (computed here unless already known)."""
    caffemodel = caffemodel_sha256 or sha256(net.caffemodel_path)
    return {"prototxt": hashlib.sha256(net.prototxt_text.encode()).hexdigest(), "caffemodel": caffemodel}
