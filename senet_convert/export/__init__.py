"""The files a conversion writes: the checkpoint, the .pt2 and safetensors (checkpoint.py), ONNX (onnx.py,
onnx_files.py), where they come from (provenance.py); timm folders: hub_folder.py (the folder), hub_config.py
(its config.json), model_card.py (its README.md); the weights are to_timm's.

The names below load their module on first use: caffe2onnx and the provenance helpers never import torch.
"""
from __future__ import annotations

import importlib

_HOMES = {
    "input_contract": "provenance", "sha256": "provenance", "source_hashes": "provenance",
    "load_checkpoint": "checkpoint", "save_checkpoint": "checkpoint", "save_pt2": "checkpoint",
    "save_safetensors": "checkpoint", "versions": "checkpoint",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
