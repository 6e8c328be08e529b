"""The ONNX emitters, keyed by Caffe's exact layer type string ("BatchNorm", "Axpy").

An emitter is `emit(layer, g) -> None`: it writes the layer as standard ONNX nodes (default domain
only) through `g`, a `LayerNodes` (nodes.py) that names every tensor and node and holds the layer's
initializers. `g.inputs` are the tensors of the layer's bottoms, `g.outputs` the names its tops must
get; the emitter's last nodes write them. It reads `layer.param` and `layer.blobs` and never changes
them. Its docstring opens with the Caffe semantics it reproduces.

    @register("ReLU")
    def emit_relu(layer, g):
        g.node("Relu", [g.inputs[0]], output=g.outputs[0])
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from ..errors import ConvertError
from ..graph import Layer

if TYPE_CHECKING:
    from .nodes import LayerNodes

Emitter = Callable[[Layer, "LayerNodes"], None]

EMITTERS: dict[str, Emitter] = {}


def register(caffe_type: str) -> Callable[[Emitter], Emitter]:
    def add(emit: Emitter) -> Emitter:
        if caffe_type in EMITTERS:
            raise ValueError(
                f"ONNX emitters: Caffe type '{caffe_type}' registered twice "
                f"({EMITTERS[caffe_type].__module__} and {emit.__module__})"
            )
        EMITTERS[caffe_type] = emit
        return emit

    return add


def emitter_for(layer: Layer) -> Emitter:
    emit = EMITTERS.get(layer.type)
    if emit is None:
        raise ConvertError(
            f"{layer.where()}: the ONNX backend has no emitter for Caffe type '{layer.type}' (yet); "
            f"supported types: {', '.join(sorted(EMITTERS))}"
        )
    return emit


# ---- parameter checks shared by the emitters: reading only, no arithmetic ----


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
