"""The caffemodel's blobs given to the prototxt's layers, by Caffe's own rules.

Caffe's Net::CopyTrainedLayersFrom walks the caffemodel's layers in order and copies each into
the net's layer of the same name: a name the net lacks is ignored, a layer stored twice is copied
twice (the last copy wins, and every copy must fit), and each copy must hold exactly the blobs the
layer allocated (CHECK_EQ on their number). Blob::FromProto then checks each blob:
  * shape: when any of the legacy num/channels/height/width is present it decides, compared with
    the layer's shape padded on the left with 1s to 4 axes (ShapeEquals); otherwise BlobShape must
    equal the layer's shape exactly (no shape at all matches only a 0-axis blob);
  * values: double_data when it holds any value, else data, in exactly the blob's count; a diff,
    when present, must have that count too.
senet-convert is stricter in two ways that only turn silent surprises into errors: a layer with
blobs that the caffemodel lacks is refused (Caffe would keep its random initialisation), and a
stored layer of another type is refused.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ConvertError
from ..graph import Layer, Net, Shape
from .layers.registry import fmt
from .caffemodel import CaffeModel, StoredBlob, StoredLayer


def _fmt(shape) -> str:
    return f"{fmt(tuple(shape))} ({math.prod(shape)})"


def _shape_matches(stored: StoredBlob, expected: Shape) -> tuple[tuple[int, ...], bool]:
    if stored.legacy is not None:
        padded = (1,) * (4 - len(expected)) + tuple(expected)
        return stored.legacy, len(expected) <= 4 and padded == tuple(stored.legacy)
    found = stored.shape if stored.shape is not None else ()
    return found, tuple(found) == tuple(expected)


def blob_array(stored: StoredBlob, expected: Shape, where: str, index: int) -> np.ndarray:
    found, matches = _shape_matches(stored, expected)
    if not matches:
        if stored.legacy is None and stored.shape is None:
            raise ConvertError(f"{where}: blob {index} has no shape (neither BlobShape nor num/channels/height/width); "
                               f"the prototxt implies {_fmt(expected)}")
        raise ConvertError(f"{where}: blob {index} shape mismatch: the prototxt implies {_fmt(expected)}, the caffemodel holds {_fmt(found)}")
    count = math.prod(expected)
    field = "double_data" if stored.from_doubles else "data"
    if stored.data.size != count:
        raise ConvertError(f"{where}: blob {index} holds {stored.data.size} values in {field} but its shape {fmt(tuple(expected))} needs {count}")
    if stored.diff_count and stored.diff_count != count:
        raise ConvertError(f"{where}: blob {index} holds {stored.diff_count} diff values but its shape {fmt(tuple(expected))} needs {count} (Caffe checks them too)")
    return stored.data.reshape(expected)


def _copy(layer: Layer, stored: StoredLayer, shapes: list[Shape], where: str) -> list[np.ndarray]:
    if stored.type and stored.type != layer.type:
        raise ConvertError(f"{where} is a {stored.type} layer in the caffemodel")
    if len(stored.blobs) != len(shapes):
        raise ConvertError(f"{where}: the caffemodel has {len(stored.blobs)} blobs, the prototxt implies {len(shapes)}")
    return [blob_array(b, shape, where, i) for i, (b, shape) in enumerate(zip(stored.blobs, shapes))]


def _missing_error(net: Net, model: CaffeModel, missing: list[Layer]) -> ConvertError:
    first = missing[0]
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    hint = ""
    if net.unused_weights:
        hint = (f"; it holds weights for {len(net.unused_weights)} layers the prototxt lacks "
                f"(e.g. '{net.unused_weights[0]}'): does it belong to another prototxt?")
    return ConvertError(f"{model.path}: no weights for layer '{first.name}' ({first.type}){more}{hint}")


def attach_weights(net: Net, model: CaffeModel) -> None:
    copies: dict[str, list[StoredLayer]] = {}
    for stored in model.layers:
        copies.setdefault(stored.name, []).append(stored)
    names = {layer.name for layer in net.layers}
    net.unused_weights = list(dict.fromkeys(s.name for s in model.layers if s.blobs and s.name not in names))
    net.caffemodel_path = model.path
    expected = {layer.name: list(layer.setup.blobs) for layer in net.layers}
    # Missing weights first: a caffemodel of another net is best explained by what is absent.
    missing = [l for l in net.layers if expected[l.name] and not any(s.blobs for s in copies.get(l.name, ()))]
    if missing:
        raise _missing_error(net, model, missing)
    for layer in net.layers:
        stored = copies.get(layer.name, [])
        if not expected[layer.name] and not any(s.blobs for s in stored):
            continue
        for number, copy in enumerate(stored, 1):
            where = f"{model.path}: layer '{layer.name}' ({layer.type})"
            if len(stored) > 1:
                where += f", copy {number} of {len(stored)} in the caffemodel"
            layer.blobs = _copy(layer, copy, expected[layer.name], where)
    net.warnings = weight_warnings(net, model)


def _nonfinite(blob: np.ndarray) -> tuple[int, int]:
    """(NaN count, infinity count) of a float32 array, in one pass for the usual all-finite case."""
    with np.errstate(invalid="ignore", over="ignore"):
        if np.isfinite(blob.sum(dtype=np.float64)):
            return 0, 0
    nan = int(np.count_nonzero(np.isnan(blob)))
    return nan, int(np.count_nonzero(np.isinf(blob)))


def weight_warnings(net: Net, model: CaffeModel) -> list[str]:
    """One line per layer whose weights are not all finite numbers, or lost range on the way to float32."""
    overflow: dict[str, list[int]] = {}
    for stored in model.layers:
        overflow[stored.name] = [b.overflow for b in stored.blobs]  # the last copy is the one used
    lines = []
    for layer in net.layers:
        found = []
        for index, blob in enumerate(layer.blobs):
            nan, inf = _nonfinite(blob)
            lost = overflow.get(layer.name, [])[index] if index < len(overflow.get(layer.name, [])) else 0
            parts = [f"{nan:,} NaN"] * bool(nan) + [f"{inf:,} infinite"] * bool(inf)
            if parts:
                found.append(f"blob {index} holds {' and '.join(parts)} of {blob.size:,} values"
                             + (f" ({lost:,} from double_data too large for float32)" if lost else ""))
        if found:
            lines.append(f"{model.path}: layer '{layer.name}' ({layer.type}): " + "; ".join(found))
    return lines


def fill_weights(net: Net, blob_for) -> Net:
    """Give every layer the blobs `blob_for(name, type, index, shape)` makes, in the shapes Caffe
    allocates: weights without a caffemodel (synthetic weights for tests and benchmarks)."""
    for layer in net.layers:
        layer.blobs = [blob_for(layer.name, layer.type, i, s) for i, s in enumerate(list(layer.setup.blobs))]
    return net
