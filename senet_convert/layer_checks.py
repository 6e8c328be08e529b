"""The checks a backend makes on a layer whose parameters it reads itself (the shape-only types of
more_shapes.py and plugins): errors that name the layer, bottom and blob counts, Caffe's axis rule.
The typed types are checked once, by the layer registry (caffe/layers), and never reach these."""
from __future__ import annotations

from typing import NoReturn

from .errors import ConvertError
from .graph import Layer


def fail(layer: Layer, message: str) -> NoReturn:
    raise ConvertError(f"{layer.where()}: {message}")


def require(condition: bool, layer: Layer, message: str) -> None:
    if not condition:
        fail(layer, message)


def n_bottoms(layer: Layer, *allowed: int) -> int:
    n = len(layer.bottoms)
    if allowed and n not in allowed:
        fail(layer, f"takes {' or '.join(map(str, allowed))} bottoms, got {n}")
    return n


def n_blobs(layer: Layer, expected: int) -> None:
    require(
        len(layer.blobs) == expected, layer,
        f"needs {expected} learned blobs, has {len(layer.blobs)}" + ("" if layer.blobs else " (no weights loaded?)"),
    )


def axis_index(layer: Layer, axis: int, ndim: int) -> int:
    """Blob::CanonicalAxisIndex: -ndim <= axis < ndim, negative counts from the end."""
    require(-ndim <= axis < ndim, layer, f"axis {axis} is out of range for a {ndim}-axis input")
    return axis + ndim if axis < 0 else axis
