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

import numpy as np

from .caffe import caffe_pb2
from .errors import ConvertError
from .graph import Layer, Net
from .shapes import conv_geometry, pool_geometry
from .transforms import class_order_of, notes

TIMM_BN_EPS = 1e-5  # nn.BatchNorm2d's default, which timm's legacy SENet keeps
SE_REDUCTION = 16  # every legacy_* SENet
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
    input_space: str  # "caffe" (nothing folded) or "torchvision" (folded into the first convolution)
    structure: object  # Structure, or inception_weights.InceptionStructure
    first_conv: str = "layer0.conv1"  # timm's module names, as its pretrained_cfg states them
    model_args: dict = field(default_factory=dict)  # timm.create_model arguments beyond the name (other widths)


# ---- reading the structure ---------------------------------------------------------------


def _fail(layer: Layer, message: str):
    raise ConvertError(f"{layer.where()}: {message}")


class _Graph:
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
            _fail(context, f"expected '{self.net.blob_of.get(value, value)}' to come from a {caffe_type} layer, it comes from {found}")
        return layer

    def only_reader(self, value: str, caffe_type: str | None, context: Layer) -> Layer | None:
        """The single layer reading `value` if it has type `caffe_type`; None if caffe_type is None and no single reader."""
        readers = self.readers.get(value, [])
        if len(readers) == 1 and (caffe_type is None or readers[0].type == caffe_type):
            return readers[0]
        if caffe_type is None:
            return None
        found = ", ".join(f"{r.type} '{r.name}'" for r in readers) or "nothing"
        _fail(context, f"expected its output to feed one {caffe_type} layer, it feeds {found}")

    def unit_ending_at(self, value: str, context: Layer) -> Unit:
        scale = self.made_by(value, "Scale", context)
        bn = self.made_by(scale.bottoms[0], "BatchNorm", scale)
        conv = self.made_by(bn.bottoms[0], "Convolution", bn)
        for layer, nxt in ((conv, bn), (bn, scale)):
            if self.readers.get(layer.tops[0], []) != [nxt]:
                _fail(layer, f"its output must feed only '{nxt.name}'")
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
                _fail(axpy, "its residual branch does not lead back to the block input")
        return units


def read_structure(net: Net) -> Structure:
    """The residual SENet in `net`, or a ConvertError naming the first layer that does not fit."""
    axpys = [layer for layer in net.layers if layer.type == "Axpy"]
    if not axpys:
        raise ConvertError(no_timm_model(net))
    if len(net.inputs) != 1:
        raise ConvertError(f"net '{net.name}' has {len(net.inputs)} inputs; timm's SENet takes one image")
    g = _Graph(net)
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
            _fail(where, "the stem must be Convolution-BatchNorm-Scale-ReLU units followed by one Pooling")
    blocks: list[Block] = []
    for axpy in axpys:
        if len(axpy.bottoms) != 3:
            _fail(axpy, "an Axpy takes three bottoms (a, X, Y)")
        gate, x, y = axpy.bottoms
        branch = g.branch(x, value, axpy)
        sigmoid = g.made_by(gate, "Sigmoid", axpy)
        up = g.made_by(sigmoid.bottoms[0], "Convolution", sigmoid)
        relu = g.made_by(up.bottoms[0], "ReLU", up)
        down = g.made_by(relu.bottoms[0], "Convolution", relu)
        squeeze = g.made_by(down.bottoms[0], "Pooling", down)
        if squeeze.bottoms[0] != x:
            _fail(squeeze, f"the SE gate must squeeze the residual branch's output '{net.blob_of[x]}'")
        projection = None
        if y != value:
            projection = g.unit_ending_at(y, axpy)
            if projection.conv.bottoms[0] != value:
                _fail(projection.conv, "the shortcut projection must read the block input")
        closing = g.only_reader(axpy.tops[0], "ReLU", axpy)
        blocks.append(Block(branch, down, up, projection, axpy, [squeeze, relu, sigmoid, closing]))
        value = closing.tops[0]
    head_pool = g.only_reader(value, "Pooling", blocks[-1].layers[-1])
    value, extra = head_pool.tops[0], []
    reader = g.only_reader(value, None, head_pool)
    if reader is not None and reader.type == "Dropout":
        extra.append(reader)
        value = reader.tops[0]
        reader = g.only_reader(value, None, reader)
    if reader is None or reader.type != "InnerProduct":
        _fail(head_pool, "the head must be Pooling, optional Dropout, InnerProduct")
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
    claim_all(net, _layers(structure), "timm's SENet (stem, SE blocks, head)")
    return structure


def claim_all(net: Net, claimed: list[Layer], what: str) -> None:
    """Every layer of `net` must have its place in the structure read off it."""
    names = {layer.name for layer in claimed}
    for layer in net.layers:
        if layer.name not in names:
            _fail(layer, f"has no place in {what}")


def _unit_layers(unit: Unit) -> list[Layer]:
    return [unit.conv, unit.bn, unit.scale] + ([unit.relu] if unit.relu else [])


def _layers(s: Structure) -> list[Layer]:
    out = [layer for unit in s.stem for layer in _unit_layers(unit)] + [s.pool]
    for block in (b for stage in s.stages for b in stage):
        out += [layer for unit in block.branch for layer in _unit_layers(unit)]
        out += ([] if block.projection is None else _unit_layers(block.projection))
        out += [block.down, block.up, block.axpy, *block.layers]
    return out + [s.head_pool, s.classifier, *s.extra]


# ---- choosing and checking the timm model --------------------------------------------------


def _family(s: Structure) -> Family:
    first = s.stages[0][0]
    sizes = {len(block.branch) for stage in s.stages for block in stage}
    if len(sizes) != 1 or sizes - {2, 3}:
        odd = next(b for stage in s.stages for b in stage if len(b.branch) != len(first.branch) or len(b.branch) not in (2, 3))
        _fail(odd.axpy, f"its branch has {len(odd.branch)} convolutions; timm's blocks have 3 (bottleneck) or 2, the same in every block")
    bottleneck = len(first.branch) == 3
    groups = first.branch[1].conv.param.convolution_param.group
    if len(s.stem) == 3:
        if not bottleneck:
            _fail(first.axpy, "a three-convolution stem comes with bottleneck blocks in timm's SENet-154")
        return Family("senet", True, groups)
    if len(s.stem) != 1:
        _fail(s.stem[0].conv, f"a stem of {len(s.stem)} convolutions; timm's have 1 (7x7) or 3 (3x3)")
    if bottleneck and groups > 1:
        width = first.branch[0].conv.param.convolution_param.num_output
        if width % groups:
            _fail(first.branch[0].conv, f"{width} outputs are not a multiple of the {groups} groups")
        return Family("seresnext", True, groups, width // groups)
    return Family("seresnet", bottleneck, groups)


def _conv_spec(layer: Layer) -> ConvSpec:
    p = layer.param.convolution_param
    kernel, stride, pad, dilation = conv_geometry(p, 2)
    if len(set(kernel)) != 1 or len(set(stride)) != 1 or len(set(pad)) != 1 or set(dilation) != {1}:
        _fail(layer, f"kernel {kernel}, stride {stride}, pad {pad}, dilation {dilation}: timm's convolutions are square and undilated")
    return ConvSpec(kernel[0], stride[0], pad[0], p.group, p.num_output, p.bias_term)


def _expect(layer: Layer, spec: ConvSpec, model: str, role: str) -> None:
    found = _conv_spec(layer)
    if found != spec:
        _fail(layer, f"as {role} of timm's {model} it must be {spec}; it is {found}")


def _check_unit(unit: Unit, spec: ConvSpec, model: str, role: str) -> None:
    _expect(unit.conv, spec, model, role)
    bn = unit.bn.param.batch_norm_param
    if bn.HasField("use_global_stats") and not bn.use_global_stats:
        _fail(unit.bn, "use_global_stats: false normalises with batch statistics; timm in eval mode uses the stored ones")
    if not math.isclose(bn.eps, TIMM_BN_EPS, rel_tol=1e-6):
        _fail(unit.bn, f"eps {bn.eps:g}; timm's BatchNorm2d uses {TIMM_BN_EPS:g}")
    sp = unit.scale.param.scale_param
    if len(unit.scale.bottoms) != 1 or not sp.bias_term or sp.axis != 1 or sp.num_axes != 1:
        _fail(unit.scale, "a BatchNorm's Scale must be per channel (axis 1, num_axes 1) with bias_term: true")
    if unit.relu is not None and unit.relu.param.relu_param.negative_slope != 0:
        _fail(unit.relu, "a leaky ReLU; timm's SENet uses plain ReLU")


def _check(s: Structure, family: Family, net: Net) -> tuple[str, int]:
    blocks = [len(stage) for stage in s.stages]
    if len(blocks) != 4:
        starts = [stage[0].axpy.name for stage in s.stages]
        raise ConvertError(f"net '{net.name}': {len(blocks)} stages (starting at {', '.join(starts)}); timm's SENet has 4 (layer1 to layer4)")
    depth = len(s.stem) + len(s.stages[0][0].branch) * sum(blocks) + 1
    model = family.model(depth)
    if net.shapes[s.stem[0].conv.bottoms[0]][1] != 3:
        _fail(s.stem[0].conv, "timm's SENet takes 3-channel images")
    for i, (unit, spec) in enumerate(zip(s.stem, family.stem), 1):
        _check_unit(unit, spec, model, f"layer0.conv{i}")
    pool = s.pool.param.pooling_param
    kernel, stride, pad = pool_geometry(pool, *net.shapes[s.pool.bottoms[0]][2:])
    if pool.pool != caffe_pb2.PoolingParameter.MAX or kernel != [3, 3] or stride != [2, 2] or any(pad) or pool.round_mode != caffe_pb2.PoolingParameter.CEIL:
        _fail(s.pool, "timm's pool0 is MaxPool2d(3, stride=2, ceil_mode=True): MAX, kernel 3, stride 2, pad 0, rounding up")
    inplanes = family.stem[-1].out
    for stage_index, stage in enumerate(s.stages, 1):
        planes = 64 * 2 ** (stage_index - 1)
        for b, block in enumerate(stage):
            stride = 2 if stage_index > 1 and b == 0 else 1
            name = f"layer{stage_index}.{b}"
            for i, (unit, spec) in enumerate(zip(block.branch, family.branch(planes, stride)), 1):
                _check_unit(unit, spec, model, f"{name}.conv{i}")
            channels = family.expansion * planes
            wants_projection = b == 0 and (stride != 1 or inplanes != channels)
            if wants_projection != (block.projection is not None):
                _fail(block.axpy, f"timm's {name} has {'a projection' if wants_projection else 'an identity'} shortcut, this block {'has none' if wants_projection else 'projects'}")
            if block.projection is not None:
                _check_unit(block.projection, family.projection(stage_index, planes, stride), model, f"{name}.downsample")
            _expect(block.down, ConvSpec(1, 1, 0, 1, channels // SE_REDUCTION, True), model, f"{name}.se_module.fc1")
            _expect(block.up, ConvSpec(1, 1, 0, 1, channels, True), model, f"{name}.se_module.fc2")
            squeeze = block.layers[0].param.pooling_param
            if squeeze.pool != caffe_pb2.PoolingParameter.AVE or not squeeze.global_pooling:
                _fail(block.layers[0], "the SE squeeze must be a global AVE pooling (timm: mean over H and W)")
            inplanes = channels
    return model, check_head(s.head_pool, s.classifier, net)


def check_head(pool: Layer, classifier: Layer, net: Net) -> int:
    """The head must be timm's: the average of the whole map, then Linear with a bias. Returns the classes."""
    head = pool.param.pooling_param
    height, width = net.shapes[pool.bottoms[0]][2:]
    kernel, _, pad = pool_geometry(head, height, width)
    if head.pool != caffe_pb2.PoolingParameter.AVE or kernel != [height, width] or any(pad):
        _fail(pool, f"timm averages the whole {height}x{width} map; this pooling does not")
    ip = classifier.param.inner_product_param
    if not ip.bias_term or ip.transpose or ip.axis != 1:
        _fail(classifier, "timm's last_linear is Linear with a bias, weight stored out x in, over axis 1")
    return ip.num_output


def timm_model_name(net: Net) -> str:
    """The timm model that `net`'s structure is (weights not needed), or a ConvertError naming the misfit."""
    if not _residual(net):
        from .inception_weights import MODEL, inception_model

        inception_model(net)
        return MODEL
    structure = read_structure(net)
    return _check(structure, _family(structure), net)[0]


def _residual(net: Net) -> bool:
    return any(layer.type == "Axpy" for layer in net.layers)


# ---- the state_dict ----------------------------------------------------------------------


def _blobs(layer: Layer, n: int) -> list[np.ndarray]:
    if len(layer.blobs) != n:
        _fail(layer, f"needs {n} learned blobs, has {len(layer.blobs)}" + ("" if layer.blobs else " (no weights loaded?)"))
    return [np.asarray(b, dtype=np.float32) for b in layer.blobs]


def _bn(prefix: str, unit: Unit) -> dict[str, tuple[np.ndarray, str]]:
    mean, var, s = _blobs(unit.bn, 3)
    gamma, beta = _blobs(unit.scale, 2)
    s = np.float32(s.reshape(-1)[0])
    sf = np.float32(0) if s == 0 else np.float32(1) / s  # Caffe: a float32 reciprocal
    bn = f"'{unit.bn.name}'"
    return {
        f"{prefix}.weight": (gamma.reshape(-1), f"'{unit.scale.name}'[0] (gamma)"),
        f"{prefix}.bias": (beta.reshape(-1), f"'{unit.scale.name}'[1] (beta)"),
        f"{prefix}.running_mean": (mean.reshape(-1) * sf, f"{bn}[0] * sf, sf = 1/{bn}[2]"),
        f"{prefix}.running_var": (var.reshape(-1) * sf, f"{bn}[1] * sf"),
        f"{prefix}.num_batches_tracked": (np.zeros((), np.int64), "0"),
    }


def _conv(prefix: str, layer: Layer, bias: bool = False) -> dict[str, tuple[np.ndarray, str]]:
    blobs = _blobs(layer, 2 if bias else 1)
    out = {f"{prefix}.weight": (blobs[0], f"'{layer.name}'[0]")}
    if bias:
        out[f"{prefix}.bias"] = (blobs[1].reshape(-1), f"'{layer.name}'[1]")
    return out


def _entries(s: Structure) -> dict[str, tuple[np.ndarray, str]]:
    entries: dict[str, tuple[np.ndarray, str]] = {}
    for i, unit in enumerate(s.stem, 1):
        entries |= _conv(f"layer0.conv{i}", unit.conv) | _bn(f"layer0.bn{i}", unit)
    for stage_index, stage in enumerate(s.stages, 1):
        for b, block in enumerate(stage):
            name = f"layer{stage_index}.{b}"
            for i, unit in enumerate(block.branch, 1):
                entries |= _conv(f"{name}.conv{i}", unit.conv) | _bn(f"{name}.bn{i}", unit)
            entries |= _conv(f"{name}.se_module.fc1", block.down, bias=True)
            entries |= _conv(f"{name}.se_module.fc2", block.up, bias=True)
            if block.projection is not None:
                entries |= _conv(f"{name}.downsample.0", block.projection.conv) | _bn(f"{name}.downsample.1", block.projection)
    weight, bias = _blobs(s.classifier, 2)
    entries["last_linear.weight"] = (weight.reshape(weight.shape[0], -1), f"'{s.classifier.name}'[0]")
    entries["last_linear.bias"] = (bias.reshape(-1), f"'{s.classifier.name}'[1]")
    return entries


def timm_weights(net: Net, *, class_order: str = "sorted", input_space: str = "caffe") -> TimmWeights:
    """`net` (with weights) as a state_dict for timm.create_model(model, pretrained=False).

    class_order: the order of last_linear's rows ("sorted", timm's, by default). input_space:
    "caffe" keeps Caffe's input convention exactly; "torchvision" folds the RGB/ImageNet
    normalisation into the first convolution and its BatchNorm, exact except where it reads its padding.
    A net without Axpy layers is mapped as SE-BN-Inception (inception_weights.py).
    """
    import torch

    if any(kind == "input-space" for kind, _ in notes(net)):
        raise ConvertError(f"net '{net.name}' already has an input adapter; make timm weights from the plain net with input_space=...")
    if _residual(net):
        structure = read_structure(net)
        model, num_classes = _check(structure, _family(structure), net)
        entries, first, model_args = _entries(structure), ("layer0.conv1", "layer0.bn1"), {}
    else:
        from .inception_weights import MODEL, inception_entries, inception_model

        structure, model_args = inception_model(net)
        model, num_classes = MODEL, structure.classifier.param.inner_product_param.num_output
        entries, first = inception_entries(structure), ("conv1.conv", "conv1.bn")
    _reorder(entries, net, structure.classifier, num_classes, class_order)
    if input_space != "caffe":
        _fold(entries, net, input_space, *first)
    state_dict = {key: torch.from_numpy(np.ascontiguousarray(array)) for key, (array, _) in entries.items()}
    sources = {key: source for key, (_, source) in entries.items()}
    return TimmWeights(model, state_dict, sources, num_classes, class_order, input_space, structure, first[0], model_args)


def _reorder(entries: dict, net: Net, classifier: Layer, num_classes: int, class_order: str) -> None:
    from . import class_order as classes

    current = class_order_of(net)
    if class_order == current:
        return
    if num_classes != 1000:
        _fail(classifier, f"{num_classes} classes: a class order applies to the 1000 ILSVRC-2012 classes")
    for key in ("last_linear.weight", "last_linear.bias"):
        array, source = entries[key]
        entries[key] = (classes.reorder_rows(array, current, class_order), f"{source}, rows in {class_order} order")


def _fold(entries: dict, net: Net, input_space: str, conv: str, bn: str) -> None:
    """The input convention folded into the first convolution: its weight mixes the channels, the offset
    it adds to every output (exact where it reads no padding) is taken off the following BatchNorm's mean."""
    from . import input_space as spaces

    a, b = spaces.affine(spaces.convention(input_space, None), spaces.convention("caffe", net.mean_bgr))
    weight, offset = spaces.fold_weights(entries[f"{conv}.weight"][0], a, b)
    mean = (entries[f"{bn}.running_mean"][0].astype(np.float64) - offset).astype(np.float32)
    entries[f"{conv}.weight"] = (weight, entries[f"{conv}.weight"][1] + f" @ A ({input_space} -> caffe)")
    entries[f"{bn}.running_mean"] = (mean, entries[f"{bn}.running_mean"][1] + f" - {conv}(b)")


def timm_model(weights: TimmWeights):
    """timm.create_model(weights.model) with the weights loaded strictly, in eval mode."""
    try:
        import timm
    except ImportError:
        raise ConvertError("timm is not installed: pip install timm (the weights themselves need no timm)") from None
    import torch

    from .se_bn_inception import register

    register()  # normally done on importing timm; timm may have been imported before senet_convert
    if weights.model not in timm.list_models(weights.model):
        raise ConvertError(f"timm {timm.__version__} has no model '{weights.model}'")
    with torch.device("meta"):  # no random initialisation: every tensor comes from the state_dict
        model = timm.create_model(weights.model, pretrained=False, num_classes=weights.num_classes, **weights.model_args)
    try:
        model.load_state_dict({k: v.clone() for k, v in weights.state_dict.items()}, strict=True, assign=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ConvertError(f"the weights do not load into timm {timm.__version__}'s {weights.model}: " + " ".join(first[:3])) from None
    odd = [name for name, m in model.named_modules() if hasattr(m, "running_var") and m.eps != TIMM_BN_EPS]
    if odd:
        raise ConvertError(f"timm {timm.__version__}'s {weights.model} has BatchNorm eps other than {TIMM_BN_EPS:g} ({odd[0]})")
    return model.eval()
