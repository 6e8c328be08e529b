"""Errors that name the layer, for what a backend refuses at run time beyond the loader's checks of
Caffe's rules (a blob that does not fit its reshape, the batch axis of an ONNX file with a dynamic
batch). Caffe's rules themselves are checked once, by the layer registry (caffe/layers)."""
from __future__ import annotations

from typing import NoReturn

from .errors import ConvertError
from .graph import Layer


def fail(layer: Layer, message: str) -> NoReturn:
    raise ConvertError(f"{layer.where()}: {message}")


def require(condition: bool, layer: Layer, message: str) -> None:
    if not condition:
        fail(layer, message)
