"""senet-convert: the Caffe SENet models in PyTorch and ONNX, exactly.

    net = senet_convert.load_net("SE-ResNet-50.prototxt", "SE-ResNet-50.caffemodel")
    module = senet_convert.convert("SE-ResNet-50.prototxt", "SE-ResNet-50.caffemodel")

Imports are lazy so that the numpy-only parts (loader, reference) never pull in torch.
"""
from __future__ import annotations

import importlib

from .to_timm import hook as timm_hook

__version__ = "0.1.0"

_LAZY = {
    "ConvertError": "errors",
    "load_net": "loader",
    "convert": "jobs",
    "load_checkpoint": "export.checkpoint",
}

__all__ = sorted(_LAZY)

# SE-BN-Inception joins timm's registry as soon as timm is imported (timm itself is not imported here).
timm_hook.install()


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'senet_convert' has no attribute {name!r}")
