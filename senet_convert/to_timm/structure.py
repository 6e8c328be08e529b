"""A residual SENet's structure, read off the graph: the stem, the SE blocks, the head.

Nothing is typed per model: each layer is found from the one before it, and the first layer that does
not fit is named. SE-BN-Inception (inception.py) is read with the same graph queries.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..errors import ConvertError
from ..graph import Layer, Net
from ..layer_checks import fail

TIMM_SENETS = (
    "legacy_seresnet50/101/152, legacy_seresnext50_32x4d/101_32x4d and legacy_senet154, the residual SENets "
    "of hujie-frank/SENet (SE-ResNet, SE-ResNeXt, SENet-154), and this project's se_bn_inception"
)


def se_gated(net: Net) -> bool:
    """SE gates applied by a two-bottom Scale after a Sigmoid: SE-BN-Inception's form (it has no Axpy)."""
    return any(layer.type == "Sigmoid" for layer in net.layers) and any(layer.type == "Scale" and len(layer.bottoms) == 2 for layer in net.layers)


def no_timm_model(net: Net) -> str:
    """Why a net without SE blocks has no timm model: what it has, and what would fit."""
    counts = Counter(layer.type for layer in net.layers)
    found = ", ".join(f"{n} {kind}" for kind, n in counts.most_common(5))
    return (
        f"net '{net.name}' has no SE blocks (no Axpy layer) (its layers: {found}{', ...' if len(counts) > 5 else ''}); --to timm makes weights "
        f"for timm's {TIMM_SENETS} only; convert without --to timm to get the exact module with Caffe's layer names"
    )


@dataclass
class Unit:
    conv: Layer
    bn: Layer
    scale: Layer
    relu: Layer | None = None


@dataclass
class Block:
    branch: list[Unit]
    down: Layer
    up: Layer
    projection: Unit | None
    axpy: Layer
    layers: list[Layer]  # the gate's pooling, ReLU and Sigmoid and the block's closing ReLU


@dataclass
class Structure:
    stem: list[Unit]
    pool: Layer
    stages: list[list[Block]]
    head_pool: Layer
    classifier: Layer
    extra: list[Layer] = field(default_factory=list)  # Dropout, Softmax


class Graph:
    """The net's producers and readers, with the questions the structure asks of them."""

    def __init__(self, net: Net):
        self.net = net
        self.producer = net.producer()
        self.readers = net.readers()

    def made_by(self, value: str, caffe_type: str, context: Layer) -> Layer:
        layer = self.producer.get(value)
        if layer is None or layer.type != caffe_type:
            found = "the net's input" if layer is None else f"{layer.type} layer '{layer.name}'"
            fail(context, f"expected '{self.net.blob_of.get(value, value)}' to come from a {caffe_type} layer, it comes from {found}")
        return layer

    def only_reader(self, value: str, caffe_type: str | None, context: Layer) -> Layer | None:
        """The single layer reading `value` if it has type `caffe_type`; None if caffe_type is None and no single reader."""
        readers = self.readers.get(value, [])
        if len(readers) == 1 and (caffe_type is None or readers[0].type == caffe_type):
            return readers[0]
        if caffe_type is None:
            return None
        found = ", ".join(f"{r.type} '{r.name}'" for r in readers) or "nothing"
        fail(context, f"expected its output to feed one {caffe_type} layer, it feeds {found}")

    def unit_ending_at(self, value: str, context: Layer) -> Unit:
        scale = self.made_by(value, "Scale", context)
        bn = self.made_by(scale.bottoms[0], "BatchNorm", scale)
        conv = self.made_by(bn.bottoms[0], "Convolution", bn)
        for layer, nxt in ((conv, bn), (bn, scale)):
            if self.readers.get(layer.tops[0], []) != [nxt]:
                fail(layer, f"its output must feed only '{nxt.name}'")
        return Unit(conv, bn, scale)

    def unit_from(self, conv: Layer) -> Unit:
        bn = self.only_reader(conv.tops[0], "BatchNorm", conv)
        scale = self.only_reader(bn.tops[0], "Scale", bn)
        relu = self.only_reader(scale.tops[0], "ReLU", scale)
        return Unit(conv, bn, scale, relu)

    def branch(self, end: str, start: str, axpy: Layer) -> list[Unit]:
        """The chain of units from value `start` to value `end`, the last one without ReLU."""
        units = [self.unit_ending_at(end, axpy)]
        while units[0].conv.bottoms[0] != start:
            relu = self.made_by(units[0].conv.bottoms[0], "ReLU", units[0].conv)
            units.insert(0, self.unit_ending_at(relu.bottoms[0], relu))
            units[0].relu = relu
            if len(units) > 8:
                fail(axpy, "its residual branch does not lead back to the block input")
        return units


def _stem(g: Graph, net: Net) -> tuple[list[Unit], Layer]:
    """The stem's Convolution-BatchNorm-Scale-ReLU units and the Pooling after them."""
    value = next(iter(net.inputs))
    stem: list[Unit] = []
    while True:
        reader = g.only_reader(value, None, net.layers[0])
        if reader is not None and reader.type == "Convolution":
            stem.append(g.unit_from(reader))
            value = stem[-1].relu.tops[0]
        elif reader is not None and reader.type == "Pooling" and stem:
            return stem, reader
        else:
            where = reader or (stem[-1].relu if stem else net.layers[0])
            fail(where, "the stem must be Convolution-BatchNorm-Scale-ReLU units followed by one Pooling")


def _block(g: Graph, net: Net, axpy: Layer, value: str) -> Block:
    """The SE block that `axpy` closes, its input being `value`."""
    if len(axpy.bottoms) != 3:
        fail(axpy, "an Axpy takes three bottoms (a, X, Y)")
    gate, x, y = axpy.bottoms
    branch = g.branch(x, value, axpy)
    sigmoid = g.made_by(gate, "Sigmoid", axpy)
    up = g.made_by(sigmoid.bottoms[0], "Convolution", sigmoid)
    relu = g.made_by(up.bottoms[0], "ReLU", up)
    down = g.made_by(relu.bottoms[0], "Convolution", relu)
    squeeze = g.made_by(down.bottoms[0], "Pooling", down)
    if squeeze.bottoms[0] != x:
        fail(squeeze, f"the SE gate must squeeze the residual branch's output '{net.blob_of[x]}'")
    projection = None
    if y != value:
        projection = g.unit_ending_at(y, axpy)
        if projection.conv.bottoms[0] != value:
            fail(projection.conv, "the shortcut projection must read the block input")
    closing = g.only_reader(axpy.tops[0], "ReLU", axpy)
    return Block(branch, down, up, projection, axpy, [squeeze, relu, sigmoid, closing])


def _head(g: Graph, value: str, after: Layer) -> tuple[Layer, Layer, list[Layer]]:
    """(pooling, classifier, [Dropout, Softmax] where present): Pooling, optional Dropout, InnerProduct, optional Softmax."""
    head_pool = g.only_reader(value, "Pooling", after)
    value, extra = head_pool.tops[0], []
    reader = g.only_reader(value, None, head_pool)
    if reader is not None and reader.type == "Dropout":
        extra.append(reader)
        value = reader.tops[0]
        reader = g.only_reader(value, None, reader)
    if reader is None or reader.type != "InnerProduct":
        fail(head_pool, "the head must be Pooling, optional Dropout, InnerProduct")
    softmax = g.only_reader(reader.tops[0], None, reader)
    if softmax is not None and softmax.type == "Softmax":
        extra.append(softmax)
    return head_pool, reader, extra


def read_structure(net: Net) -> Structure:
    """The residual SENet in `net`, or a ConvertError naming the first layer that does not fit."""
    axpys = [layer for layer in net.layers if layer.type == "Axpy"]
    if not axpys:
        raise ConvertError(no_timm_model(net))
    if len(net.inputs) != 1:
        raise ConvertError(f"net '{net.name}' has {len(net.inputs)} inputs; timm's SENet takes one image")
    g = Graph(net)
    stem, pool = _stem(g, net)
    value, blocks = pool.tops[0], []
    for axpy in axpys:
        blocks.append(_block(g, net, axpy, value))
        value = blocks[-1].layers[-1].tops[0]
    head_pool, classifier, extra = _head(g, value, blocks[-1].layers[-1])
    stages: list[list[Block]] = []
    for block in blocks:  # a block with a projection shortcut starts a stage (timm's downsample)
        if block.projection is not None or not stages:
            stages.append([])
        stages[-1].append(block)
    structure = Structure(stem, pool, stages, head_pool, classifier, extra)
    claim_all(net, _layers(structure), "timm's SENet (stem, SE blocks, head)")
    return structure


def claim_all(net: Net, claimed: list[Layer], what: str) -> None:
    """Every layer of `net` must have its place in the structure read off it."""
    names = {layer.name for layer in claimed}
    for layer in net.layers:
        if layer.name not in names:
            fail(layer, f"has no place in {what}")


def unit_layers(unit: Unit) -> list[Layer]:
    return [unit.conv, unit.bn, unit.scale] + ([unit.relu] if unit.relu else [])


def _layers(s: Structure) -> list[Layer]:
    out = [layer for unit in s.stem for layer in unit_layers(unit)] + [s.pool]
    for block in (b for stage in s.stages for b in stage):
        out += [layer for unit in block.branch for layer in unit_layers(unit)]
        out += ([] if block.projection is None else unit_layers(block.projection))
        out += [block.down, block.up, block.axpy, *block.layers]
    return out + [s.head_pool, s.classifier, *s.extra]
