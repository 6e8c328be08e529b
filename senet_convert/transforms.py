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
  input-space   an exact input adapter layer in front (senet_convert.input_space)
  class-order   the classifier's rows permuted (senet_convert.class_order)
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from google.protobuf import text_format

from . import class_order as classes
from . import shapes as shape_rules
from .caffe import caffe_pb2
from .caffe.prototxt import layer_lines, parse_net
from .caffe.upgrade import upgrade_net
from .errors import ConvertError
from .graph import Layer, Net
from .loader import net_from_text

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
        upgrade_net(proto, net.prototxt_path or "<prototxt>")
    new_blobs = change(proto)
    text = "\n".join([*_header(net.prototxt_text, drop_comment), f"{MARK} {kind}: {what}", text_format.MessageToString(proto)])
    batch = next(iter(net.inputs.values()))[0]
    new = net_from_text(text, net.prototxt_path or "<prototxt>", batch=batch)
    old_blobs = {layer.name: layer.blobs for layer in net.layers}
    for layer in new.layers:
        layer.blobs = [np.asarray(b, dtype=np.float32) for b in new_blobs.get(layer.name, old_blobs.get(layer.name, []))]
        if layer.blobs:
            expected = shape_rules.blob_shapes(new, layer)
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


# ---- global pooling ----------------------------------------------------------------------


def global_pool(net: Net) -> Net:
    """The last Pooling layer (an AVE pool over the whole input at the prototxt's size) made global.

    A net whose last Pooling is already global comes back unchanged.
    """
    pools = [layer for layer in net.layers if layer.type == "Pooling"]
    if not pools:
        raise ConvertError(f"net '{net.name}' has no Pooling layer to make global")
    pool = pools[-1]
    p = pool.param.pooling_param
    if p.global_pooling:
        return net
    if p.pool != caffe_pb2.PoolingParameter.AVE:
        raise ConvertError(f"{pool.where()}: --global-pool replaces a final average pool, this one is {caffe_pb2.PoolingParameter.PoolMethod.Name(p.pool)}")
    height, width = net.shapes[pool.bottoms[0]][2:]
    kernel, _, pad = shape_rules.pool_geometry(p, height, width)
    if list(kernel) != [height, width] or any(pad):
        raise ConvertError(
            f"{pool.where()}: --global-pool needs the last pooling to cover its whole {height}x{width} input "
            f"(kernel {kernel[0]}x{kernel[1]}, pad {pad[0]}), so that making it global changes nothing at the prototxt's size"
        )

    def change(proto):
        q = proto_layer(proto, pool).pooling_param
        for field in ("kernel_size", "kernel_h", "kernel_w", "stride", "stride_h", "stride_w", "pad", "pad_h", "pad_w"):
            q.ClearField(field)
        q.global_pooling = True
        return {}

    size = "x".join(str(d) for d in next(iter(net.inputs.values()))[2:])
    what = (
        f"layer '{pool.name}' averages globally instead of over its fixed {height}x{width} kernel "
        f"(same result at the prototxt's {size} input; other input sizes have no Caffe reference)"
    )
    return edit(net, change, "global-pool", what)


# ---- class order -------------------------------------------------------------------------


def last_inner_product(net: Net) -> Layer:
    """The last InnerProduct: the SENets' classifier, whose output is the logits."""
    found = [layer for layer in net.layers if layer.type == "InnerProduct"]
    if not found:
        raise ConvertError(f"net '{net.name}' has no InnerProduct layer (no classifier)")
    return found[-1]


def classifier(net: Net) -> Layer:
    """The 1000-way ILSVRC classifier whose rows a class order permutes."""
    layer = last_inner_product(net)
    p = layer.param.inner_product_param
    if p.num_output != 1000 or p.transpose:
        raise ConvertError(f"{layer.where()}: a class order applies to a 1000-way classifier stored out x in; this one has {p.num_output} outputs" + (" (transpose)" if p.transpose else ""))
    return layer


def reorder_classes(net: Net, target: str) -> Net:
    """The classifier's rows (weight and bias) moved to `target` class order from the net's current one."""
    source = class_order_of(net)
    for order in (target, source):
        if order not in classes.ORDERS:
            raise ConvertError(f"class order must be one of {', '.join(classes.ORDERS)}, got '{order}'")
    if target == source:
        return net
    layer = classifier(net)
    if not layer.blobs:
        raise ConvertError(f"{layer.where()}: no weights loaded, nothing to reorder")
    blobs = [classes.reorder_rows(b, source, target) for b in layer.blobs]
    what = f"{target} ({_describe(target)}): the rows of '{layer.name}', permuted from {source} order"
    return edit(net, lambda proto: {layer.name: blobs}, "class-order", what)


def _describe(order: str) -> str:
    return "ILSVRC-2012 devkit order" if order == "caffe" else "sorted WordNet IDs, as timm and torchvision"


def class_order_of(net: Net) -> str:
    """The class order of the net's classifier rows: the last class-order note, else the caffemodel's."""
    orders = [what.split()[0] for kind, what in notes(net) if kind == "class-order"]
    return orders[-1] if orders else "caffe"
