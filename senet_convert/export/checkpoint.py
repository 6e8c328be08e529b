"""Writing what caffe2torch produces: a weights-only checkpoint, a torch.export program, safetensors.

The checkpoint holds only tensors, strings and numbers, so `torch.load(path, weights_only=True)`
reads it without unpickling code. It carries the prototxt text, so `load_checkpoint` rebuilds
the exact module; the .pt2 needs nothing of senet_convert at all.
"""
from __future__ import annotations

import platform
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .. import __version__
from ..errors import ConvertError
from ..files import atomic_path, no_such_file, write_torch
from ..graph import Net
from ..loader import net_from_text
from ..to_torch import lower, parameter_map
from .provenance import input_contract, sha256, source_hashes  # noqa: F401  (re-exported)

CHECKPOINT_FORMAT = "senet-convert/checkpoint"
CHECKPOINT_VERSION = 1
# Room a .pt2 needs beyond its weights: the serialized program and the zip headers
# (measured: 2.1 MiB for SE-ResNet-50, 4.1 MiB for SENet-154; tests/test_files.py checks it).
PT2_OVERHEAD_BYTES = 32 * 2**20


def versions() -> dict:
    return {"senet_convert": __version__, "torch": str(torch.__version__), "numpy": str(np.__version__), "python": platform.python_version()}


def checkpoint(module: torch.nn.Module, net: Net, outputs: Sequence[str] | None, hashes: dict | None = None) -> dict:
    hashes = hashes or {}
    return {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "name": net.name,
        "prototxt": net.prototxt_text,
        "outputs": [net.blob_of.get(o, o) for o in (outputs or net.outputs)],
        "input": input_contract(net),
        "state_dict": dict(module.state_dict()),
        "caffe_blobs": {key: [layer, index] for key, (layer, index) in parameter_map(net).items()},
        "sources": {
            "prototxt": {"name": net.prototxt_path.name if net.prototxt_path else None, "sha256": hashes.get("prototxt")},
            "caffemodel": {"name": net.caffemodel_path.name if net.caffemodel_path else None, "sha256": hashes.get("caffemodel")},
        },
        "versions": versions(),
    }


def save_checkpoint(module, net: Net, path: Path, outputs=None, hashes=None) -> None:
    with atomic_path(path) as tmp:
        write_torch(checkpoint(module, net, outputs, hashes), tmp)


def load_checkpoint(path: str | Path, *, with_info: bool = False):
    """Rebuild the exact module from a checkpoint written by caffe2torch (no code is unpickled)."""
    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise no_such_file(path) from None
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise ConvertError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise ConvertError(f"{path}: not a senet-convert checkpoint")
    if data["format_version"] > CHECKPOINT_VERSION:
        raise ConvertError(f"{path}: checkpoint format {data['format_version']} is newer than this senet-convert reads")
    net = net_from_text(data["prototxt"], f"{path}:prototxt", batch=data["input"]["shape"][0])
    layers = {layer.name: layer for layer in net.layers}
    blobs: dict[str, dict[int, np.ndarray]] = {}
    for key, (layer, index) in data["caffe_blobs"].items():
        blobs.setdefault(layer, {})[index] = data["state_dict"][key].numpy()
    for name, by_index in blobs.items():
        layers[name].blobs = [by_index[i] for i in range(len(by_index))]
    module = lower(net, outputs=data["outputs"])
    module.load_state_dict(data["state_dict"], strict=True)
    module.eval()
    module.requires_grad_(False)
    return (module, data) if with_info else module


def save_pt2(module: torch.nn.Module, net: Net, path: Path, max_batch: int = 4096) -> None:
    """A torch.export program with a dynamic batch dimension on every input."""
    batch = torch.export.Dim("batch", min=1, max=max_batch)
    # One zero expanded to each input's shape: export traces shapes, not values, so the example
    # (which the .pt2 embeds as its sample input) takes 4 bytes whatever the declared size; the
    # program keeps the declared spatial size (tests/test_huge_input.py runs it at that size).
    examples = tuple(torch.zeros(()).expand(2, *shape[1:]) for shape in net.inputs.values())
    dynamic = tuple({0: batch} for _ in examples)
    with torch.no_grad():
        program = torch.export.export(module, examples, dynamic_shapes=dynamic)
    # torch.export.save cannot fail cleanly: on a full disk its zip writer's destructor aborts
    # the process. So the space is checked first: the weights plus room for the program text.
    weights = sum(t.numel() * t.element_size() for t in (*program.state_dict.values(), *program.constants.values()))
    with atomic_path(path, needs_bytes=weights + PT2_OVERHEAD_BYTES) as tmp, open(tmp, "wb") as f:
        torch.export.save(program, f)


def save_safetensors(module: torch.nn.Module, net: Net, path: Path) -> None:
    try:
        from safetensors.torch import save  # bytes we write ourselves: save_file ignores a full disk
    except ImportError:
        raise ConvertError("--safetensors needs the safetensors package: pip install safetensors") from None
    tensors = {k: v.contiguous() for k, v in module.state_dict().items()}
    metadata = {"format": "senet-convert/state_dict", "name": net.name, "caffe_names": "state_dict keys are Caffe layer names"}
    with atomic_path(path) as tmp:
        tmp.write_bytes(save(tensors, metadata=metadata))
