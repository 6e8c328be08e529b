"""The official residual SENets as timm state_dicts (timm/models/senet.py, the legacy_* models).

The mapping is read off the graph, never typed per model. A residual SENet is
  stem    1 or 3 units (Convolution -> BatchNorm -> Scale -> ReLU), then a 3x3/2 MAX Pooling
  blocks  one per Axpy(a, X, Y) = a*X + Y, then ReLU: the branch X is a chain of units from the
          block input; the SE gate a = Sigmoid(up(ReLU(down(global AVE Pooling(X))))); the
          shortcut Y is the block input itself or a projection unit reading it
  stages  a block with a projection shortcut starts a stage (timm's downsample)
  head    AVE Pooling over the whole map, optional Dropout, InnerProduct, optional Softmax
and a layer's timm name is its role there:
  stem unit i                      layer0.conv{i}, layer0.bn{i}
  stage s, block b, branch unit i  layer{s}.{b}.conv{i}, layer{s}.{b}.bn{i}
  projection unit                  layer{s}.{b}.downsample.0, .downsample.1
  SE down / up                     layer{s}.{b}.se_module.fc1, .fc2
  InnerProduct                     last_linear
The timm model follows from the structure: the family from the stem (7x7 or three 3x3) and the
branch (where the stride sits, the widths, the groups), the depth from the weighted layers on the main
path (stem + branch units + classifier: 1 + 3*16 + 1 = 50). Every convolution and pooling is then
checked against what that timm model builds, and the first layer that differs is named.

Caffe's BatchNorm + Scale become one BatchNorm2d: running_mean = blob0*sf, running_var = blob1*sf,
sf = 0 if blob2 == 0 else 1/blob2 (float32, as Caffe computes it), weight = gamma, bias = beta; the
eps must be timm's (torch's default 1e-5). timm returns logits, the InnerProduct's output (Caffe's
`classifier` blob), not the Softmax.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from ..errors import ConvertError
from ..graph import Layer, Net

TIMM_BN_EPS = 1e-5  # nn.BatchNorm2d's default, which timm's legacy SENet keeps
SE_REDUCTION = 16  # every legacy_* SENet
TIMM_SENETS = (
    "legacy_seresnet50/101/152, legacy_seresnext50_32x4d/101_32x4d and legacy_senet154, the residual SENets "
    "of hujie-frank/SENet (SE-ResNet, SE-ResNeXt, SENet-154)"
)


def no_timm_model(net: Net) -> str:
    """Why a net without residual SE blocks (Axpy) has no timm model: what it has, and what would fit."""
    counts = Counter(layer.type for layer in net.layers)
    found = ", ".join(f"{n} {kind}" for kind, n in counts.most_common(5))
    se_gates = "Sigmoid" in counts and any(layer.type == "Scale" and len(layer.bottoms) == 2 for layer in net.layers)
    if se_gates:  # SE gates applied by a two-bottom Scale, no residual blocks: SE-BN-Inception's form
        what = "SE gates but no residual SE blocks (Axpy): that is SE-BN-Inception's structure, and timm has no such model"
    else:
        what = "no SE blocks (no Axpy layer)"
    return (
        f"net '{net.name}' has {what} (its layers: {found}{', ...' if len(counts) > 5 else ''}); --to timm makes weights "
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


@dataclass(frozen=True)
class ConvSpec:
    kernel: int
    stride: int
    pad: int
    groups: int
    out: int
    bias: bool = False

    def __str__(self) -> str:
        return f"{self.kernel}x{self.kernel}/{self.stride} pad {self.pad}, group {self.groups}, {self.out} outputs, bias {str(self.bias).lower()}"


@dataclass
class Family:
    """One of timm's legacy SENet constructions (SENet(block=..., input_3x3=..., ...))."""

    name: str  # "seresnet", "seresnext" or "senet"
    bottleneck: bool
    groups: int
    base_width: int = 4  # SE-ResNeXt: the d of 32x4d

    @property
    def expansion(self) -> int:
        return 4 if self.bottleneck else 1

    @property
    def stem(self) -> list[ConvSpec]:
        if self.name == "senet":
            return [ConvSpec(3, 2, 1, 1, 64), ConvSpec(3, 1, 1, 1, 64), ConvSpec(3, 1, 1, 1, 128)]
        return [ConvSpec(7, 2, 3, 1, 64)]

    def branch(self, planes: int, stride: int) -> list[ConvSpec]:
        g, p = self.groups, planes
        if not self.bottleneck:  # SEResNetBlock
            return [ConvSpec(3, stride, 1, 1, p), ConvSpec(3, 1, 1, g, p)]
        if self.name == "seresnet":  # SEResNetBottleneck: the stride on the first 1x1, as Caffe
            return [ConvSpec(1, stride, 0, 1, p), ConvSpec(3, 1, 1, g, p), ConvSpec(1, 1, 0, 1, 4 * p)]
        if self.name == "seresnext":  # SEResNeXtBottleneck
            width = math.floor(p * self.base_width / 64) * g
            return [ConvSpec(1, 1, 0, 1, width), ConvSpec(3, stride, 1, g, width), ConvSpec(1, 1, 0, 1, 4 * p)]
        return [ConvSpec(1, 1, 0, 1, 2 * p), ConvSpec(3, stride, 1, g, 4 * p), ConvSpec(1, 1, 0, 1, 4 * p)]  # SEBottleneck

    def projection(self, stage: int, planes: int, stride: int) -> ConvSpec:
        kernel = 3 if self.name == "senet" and stage > 1 else 1  # downsample_kernel_size, padding 1
        return ConvSpec(kernel, stride, kernel // 2, 1, self.expansion * planes)

    def model(self, depth: int) -> str:
        if self.name == "seresnext":
            return f"legacy_seresnext{depth}_{self.groups}x{self.base_width}d"
        return f"legacy_{self.name}{depth}"


@dataclass
class TimmWeights:
    model: str  # the timm model name, e.g. "legacy_seresnet50"
    state_dict: dict  # str -> torch.Tensor, timm's keys in timm's order
    sources: dict[str, str]  # key -> the Caffe blobs it comes from
    num_classes: int
    class_order: str  # "caffe" or "sorted"
    input_space: str  # "caffe" (nothing folded) or "torchvision" (folded into layer0.conv1)
    structure: Structure



# ---- reading the structure ---------------------------------------------------------------


def refuse(layer: Layer, message: str):
    raise ConvertError(f"{layer.where()}: {message}")


class Graph:
    def __init__(self, net: Net):
        self.net = net
        self.producer = net.producer()
        self.readers: dict[str, list[Layer]] = {}
        for layer in net.layers:
            for value in layer.bottoms:
                self.readers.setdefault(value, []).append(layer)

    def made_by(self, value: str, caffe_type: str, context: Layer) -> Layer:
        layer = self.producer.get(value)
        if layer is None or layer.type != caffe_type:
            found = "the net's input" if layer is None else f"{layer.type} layer '{layer.name}'"
            refuse(context, f"expected '{self.net.blob_of.get(value, value)}' to come from a {caffe_type} layer, it comes from {found}")
        return layer

    def only_reader(self, value: str, caffe_type: str | None, context: Layer) -> Layer | None:
        """The single layer reading `value` if it has type `caffe_type`; None if caffe_type is None and no single reader."""
        readers = self.readers.get(value, [])
        if len(readers) == 1 and (caffe_type is None or readers[0].type == caffe_type):
            return readers[0]
        if caffe_type is None:
            return None
        found = ", ".join(f"{r.type} '{r.name}'" for r in readers) or "nothing"
        refuse(context, f"expected its output to feed one {caffe_type} layer, it feeds {found}")

    def unit_ending_at(self, value: str, context: Layer) -> Unit:
        scale = self.made_by(value, "Scale", context)
        bn = self.made_by(scale.bottoms[0], "BatchNorm", scale)
        conv = self.made_by(bn.bottoms[0], "Convolution", bn)
        for layer, nxt in ((conv, bn), (bn, scale)):
            if self.readers.get(layer.tops[0], []) != [nxt]:
                refuse(layer, f"its output must feed only '{nxt.name}'")
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
                refuse(axpy, "its residual branch does not lead back to the block input")
        return units


def _read_block(g: Graph, net: Net, axpy: Layer, value: str) -> Block:
    """The SE block that `axpy` closes, on the block input `value`: branch, SE gate, shortcut, closing ReLU."""
    if len(axpy.bottoms) != 3:
        refuse(axpy, "an Axpy takes three bottoms (a, X, Y)")
    gate, x, y = axpy.bottoms
    branch = g.branch(x, value, axpy)
    sigmoid = g.made_by(gate, "Sigmoid", axpy)
    up = g.made_by(sigmoid.bottoms[0], "Convolution", sigmoid)
    relu = g.made_by(up.bottoms[0], "ReLU", up)
    down = g.made_by(relu.bottoms[0], "Convolution", relu)
    squeeze = g.made_by(down.bottoms[0], "Pooling", down)
    if squeeze.bottoms[0] != x:
        refuse(squeeze, f"the SE gate must squeeze the residual branch's output '{net.blob_of[x]}'")
    projection = None
    if y != value:
        projection = g.unit_ending_at(y, axpy)
        if projection.conv.bottoms[0] != value:
            refuse(projection.conv, "the shortcut projection must read the block input")
    closing = g.only_reader(axpy.tops[0], "ReLU", axpy)
    return Block(branch, down, up, projection, axpy, [squeeze, relu, sigmoid, closing])


def read_structure(net: Net) -> Structure:
    """The residual SENet in `net`, or a ConvertError naming the first layer that does not fit."""
    axpys = [layer for layer in net.layers if layer.type == "Axpy"]
    if not axpys:
        raise ConvertError(no_timm_model(net))
    if len(net.inputs) != 1:
        raise ConvertError(f"net '{net.name}' has {len(net.inputs)} inputs; timm's SENet takes one image")
    g = Graph(net)
    value = next(iter(net.inputs))
    stem: list[Unit] = []
    while True:
        reader = g.only_reader(value, None, net.layers[0])
        if reader is not None and reader.type == "Convolution":
            stem.append(g.unit_from(reader))
            value = stem[-1].relu.tops[0]
        elif reader is not None and reader.type == "Pooling" and stem:
            pool = reader
            value = pool.tops[0]
            break
        else:
            where = reader or (stem[-1].relu if stem else net.layers[0])
            refuse(where, "the stem must be Convolution-BatchNorm-Scale-ReLU units followed by one Pooling")
    blocks: list[Block] = []
    for axpy in axpys:
        blocks.append(_read_block(g, net, axpy, value))
        closing = blocks[-1].layers[-1]
        value = closing.tops[0]
    head_pool = g.only_reader(value, "Pooling", blocks[-1].layers[-1])
    value, extra = head_pool.tops[0], []
    reader = g.only_reader(value, None, head_pool)
    if reader is not None and reader.type == "Dropout":
        extra.append(reader)
        value = reader.tops[0]
        reader = g.only_reader(value, None, reader)
    if reader is None or reader.type != "InnerProduct":
        refuse(head_pool, "the head must be Pooling, optional Dropout, InnerProduct")
    classifier = reader
    softmax = g.only_reader(classifier.tops[0], None, classifier)
    if softmax is not None and softmax.type == "Softmax":
        extra.append(softmax)
    stages: list[list[Block]] = []
    for block in blocks:
        if block.projection is not None or not stages:
            stages.append([])
        stages[-1].append(block)
    structure = Structure(stem, pool, stages, head_pool, classifier, extra)
    claimed = {layer.name for layer in all_layers(structure)}
    for layer in net.layers:
        if layer.name not in claimed:
            refuse(layer, "has no place in timm's SENet (stem, SE blocks, head)")
    return structure


def unit_layers(unit: Unit) -> list[Layer]:
    return [unit.conv, unit.bn, unit.scale] + ([unit.relu] if unit.relu else [])


def all_layers(s: Structure) -> list[Layer]:
    out = [layer for unit in s.stem for layer in unit_layers(unit)] + [s.pool]
    for block in (b for stage in s.stages for b in stage):
        out += [layer for unit in block.branch for layer in unit_layers(unit)]
        out += ([] if block.projection is None else unit_layers(block.projection))
        out += [block.down, block.up, block.axpy, *block.layers]
    return out + [s.head_pool, s.classifier, *s.extra]
