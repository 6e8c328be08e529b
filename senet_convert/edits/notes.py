"""Deliberate edits of a Net, each one still a Caffe net and each recorded in its prototxt text.

A transform edits Caffe's own NetParameter (parsed from `net.prototxt_text`) and builds a new Net
from the edited text, so the result is an ordinary Caffe net: the numpy oracle runs it, the torch
lowering lowers it, and a checkpoint, which carries the text, rebuilds it. Each transform writes one
comment line at the top of the text,

    # senet-convert: <kind>: <what changed>

and `notes(net)` reads them back. Kinds in DEVIATIONS change what the original prototxt computes
(verify reports them as deliberate deviations); the others only relabel or re-express it:

  global-pool   the final fixed-size AVE Pooling becomes `global_pooling: true`: identical at the
                prototxt's input size, and it lets other sizes through (a deviation)
  input-space   an exact input adapter layer in front (edits/input_space.py)
  class-order   the classifier's rows permuted (edits/class_order.py)
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from google.protobuf import text_format

from ..caffe import caffe_pb2
from ..caffe.prototxt import layer_lines, parse_net
from ..caffe.upgrade import upgrade_net
from ..errors import ConvertError
from ..graph import Layer, Net
from ..loader import net_from_text

MARK = "# senet-convert:"
DEVIATIONS = frozenset({"global-pool"})



# An edit changes the NetParameter in place and returns the blobs of the layers it added or changed.
Edit = Callable[[caffe_pb2.NetParameter], dict[str, list[np.ndarray]]]


def notes(net: Net) -> list[tuple[str, str]]:
    """(kind, text) of every transform applied to `net`, oldest first."""
    found = []
    for line in net.prototxt_text.splitlines():
        line = line.strip()
        if line.startswith(MARK):
            kind, _, what = line[len(MARK):].strip().partition(":")
            found.append((kind.strip(), what.strip()))
    return found


def deviations(net: Net) -> list[str]:
    """The transforms that change what the original prototxt computes, as 'kind: text'."""
    return [f"{kind}: {what}" for kind, what in notes(net) if kind in DEVIATIONS]


def _header(text: str, drop: Callable[[str], bool]) -> list[str]:
    """The comment lines above the first layer (the SENet prototxts keep their mean there)."""
    starts = layer_lines(text)
    lines = text.splitlines()[: starts[0] - 1 if starts else None]
    return [line.strip() for line in lines if line.strip().startswith("#") and not drop(line)]


def edit(net: Net, change: Edit, kind: str, what: str, *, drop_comment: Callable[[str], bool] = lambda line: False) -> Net:
    """A new Net: `net`'s prototxt changed by `change`, stamped with a note, weights carried over.

    Layers keep their blobs by name; `change` returns the blobs of layers it adds or alters.
    `drop_comment` removes header comments that no longer hold (e.g. the mean after an input adapter).
    """
    if "\n" in what:
        raise ValueError("a transform note is one line")
    proto = parse_net(net.prototxt_text, net.prototxt_path or "<prototxt>")
    if proto.layers:
        upgrade_net(proto)
    new_blobs = change(proto)
    text = "\n".join([*_header(net.prototxt_text, drop_comment), f"{MARK} {kind}: {what}", text_format.MessageToString(proto)])
    batch = next(iter(net.inputs.values()))[0]
    new = net_from_text(text, net.prototxt_path or "<prototxt>", batch=batch)
    old_blobs = {layer.name: layer.blobs for layer in net.layers}
    for layer in new.layers:
        layer.blobs = [np.asarray(b, dtype=np.float32) for b in new_blobs.get(layer.name, old_blobs.get(layer.name, []))]
        if layer.blobs:
            expected = list(layer.setup.blobs)
            found = [tuple(b.shape) for b in layer.blobs]
            if found != [tuple(s) for s in expected]:
                raise ConvertError(f"{layer.where()}: after {kind}, blobs {found} do not fit the expected {expected}")
    new.caffemodel_path = net.caffemodel_path
    new.unused_weights = list(net.unused_weights)
    return new


def proto_layer(proto: caffe_pb2.NetParameter, layer: Layer) -> caffe_pb2.LayerParameter:
    """The LayerParameter in `proto` behind a layer of the Net (names are unique among included layers)."""
    found = [p for p in proto.layer if p.name == layer.name and p.type == layer.type]
    if len(found) != 1:
        raise ConvertError(f"{layer.where()}: {len(found)} layers of this name and type in the prototxt; cannot edit it")
    return found[0]
