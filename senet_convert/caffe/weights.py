"""A caffemodel's blobs matched to the prototxt's layers, checked against the shapes Caffe allocates.

Caffe copies blobs by layer name; a layer with weights in the prototxt but none in the caffemodel, a
blob of another shape, or a count that differs is refused naming the layer.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ConvertError
from ..graph import Net, Shape
from .caffemodel import CaffeModel, StoredBlob
from .layers.registry import fmt


def _fmt(shape) -> str:
    return f"{fmt(tuple(shape))} ({math.prod(shape)})"


def _blob_array(stored: StoredBlob, expected: Shape, where: str, index: int) -> np.ndarray:
    if stored.shape is not None:
        found = stored.shape
        matches = tuple(found) == tuple(expected)
    elif stored.legacy is not None:
        found = stored.legacy
        # Caffe's legacy rule: the expected shape, padded on the left with 1s to 4 axes.
        matches = len(expected) <= 4 and (1,) * (4 - len(expected)) + tuple(expected) == tuple(found)
    else:
        found, matches = (stored.data.size,), stored.data.size == math.prod(expected)
    if not matches:
        raise ConvertError(f"{where}: blob {index} shape mismatch: the prototxt implies {_fmt(expected)}, the caffemodel holds {_fmt(found)}")
    if any(d < 0 for d in found) or stored.data.size != math.prod(found):
        raise ConvertError(f"{where}: blob {index} holds {stored.data.size} values but its shape {fmt(tuple(found))} needs {math.prod(found)}")
    return stored.data.reshape(expected)


def attach_weights(net: Net, model: CaffeModel) -> None:
    by_name = {}
    for stored in model.layers:
        by_name.setdefault(stored.name, stored)
    names = {layer.name for layer in net.layers}
    net.unused_weights = [s.name for s in model.layers if s.blobs and s.name not in names]
    net.caffemodel_path = model.path
    expected = {layer.name: list(layer.setup.blobs) for layer in net.layers}
    # Missing weights first: a caffemodel of another net is best explained by what is absent.
    missing = [l for l in net.layers if expected[l.name] and not (l.name in by_name and by_name[l.name].blobs)]
    if missing:
        first = missing[0]
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        hint = ""
        if net.unused_weights:
            hint = f"; it holds weights for {len(net.unused_weights)} layers the prototxt lacks (e.g. '{net.unused_weights[0]}'): does it belong to another prototxt?"
        raise ConvertError(f"{model.path}: no weights for layer '{first.name}' ({first.type}){more}{hint}")
    for layer in net.layers:
        stored = by_name.get(layer.name)
        if stored is None or not stored.blobs:
            continue
        where = f"{model.path}: layer '{layer.name}' ({layer.type})"
        if stored.type and stored.type != layer.type:
            raise ConvertError(f"{where} is a {stored.type} layer in the caffemodel")
        shapes = expected[layer.name]
        if len(stored.blobs) != len(shapes):
            raise ConvertError(f"{where}: the caffemodel has {len(stored.blobs)} blobs, the prototxt implies {len(shapes)}")
        layer.blobs = [_blob_array(b, shape, where, i) for i, (b, shape) in enumerate(zip(stored.blobs, shapes))]


def fill_weights(net: Net, blob_for) -> Net:
    """Give every layer the blobs `blob_for(name, type, index, shape)` makes, in the shapes Caffe
    allocates: weights without a caffemodel (synthetic weights for tests and benchmarks)."""
    for layer in net.layers:
        layer.blobs = [blob_for(layer.name, layer.type, i, s) for i, s in enumerate(layer.setup.blobs)]
    return net
