"""Which timm model a residual SENet's structure is, and that it is exactly that model.

The family follows from the stem (one 7x7 or three 3x3) and the branch (where the stride sits, the
widths, the groups), the depth from the weighted layers on the main path (stem + branch units +
classifier: 1 + 3*16 + 1 = 50). Every convolution and pooling is then checked against what that timm
model builds, and the first layer that differs is named. The geometry is the layer registry's reading
(each layer's Setup), not a reading of its own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..caffe import caffe_pb2
from ..errors import ConvertError
from ..graph import Layer, Net
from .structure import Structure, Unit, fail, read_structure

TIMM_BN_EPS = 1e-5  # nn.BatchNorm2d's default, which timm's legacy SENet keeps
SE_REDUCTION = 16  # every legacy_* SENet


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



def family_of(s: Structure) -> Family:
    first = s.stages[0][0]
    sizes = {len(block.branch) for stage in s.stages for block in stage}
    if len(sizes) != 1 or sizes - {2, 3}:
        odd = next(b for stage in s.stages for b in stage if len(b.branch) != len(first.branch) or len(b.branch) not in (2, 3))
        fail(odd.axpy, f"its branch has {len(odd.branch)} convolutions; timm's blocks have 3 (bottleneck) or 2, the same in every block")
    bottleneck = len(first.branch) == 3
    groups = first.branch[1].conv.param.convolution_param.group
    if len(s.stem) == 3:
        if not bottleneck:
            fail(first.axpy, "a three-convolution stem comes with bottleneck blocks in timm's SENet-154")
        return Family("senet", True, groups)
    if len(s.stem) != 1:
        fail(s.stem[0].conv, f"a stem of {len(s.stem)} convolutions; timm's have 1 (7x7) or 3 (3x3)")
    if bottleneck and groups > 1:
        width = first.branch[0].conv.param.convolution_param.num_output
        if width % groups:
            fail(first.branch[0].conv, f"{width} outputs are not a multiple of the {groups} groups")
        return Family("seresnext", True, groups, width // groups)
    return Family("seresnet", bottleneck, groups)


def _conv_spec(layer: Layer) -> ConvSpec:
    p = layer.setup.params
    kernel, stride, pad, dilation = (list(v) for v in (p.kernel, p.stride, p.pad, p.dilation))
    if len(kernel) != 2 or len(set(kernel)) != 1 or len(set(stride)) != 1 or len(set(pad)) != 1 or set(dilation) != {1}:
        fail(layer, f"kernel {kernel}, stride {stride}, pad {pad}, dilation {dilation}: timm's convolutions are 2-D, square and undilated")
    return ConvSpec(kernel[0], stride[0], pad[0], p.group, p.num_output, p.bias_term)


def pool_window(layer: Layer, net: Net) -> tuple[list[int], list[int], list[int]]:
    """(kernel, stride, pad) of a Pooling layer as the registry read them, a global one over its whole input."""
    p = layer.setup.params
    return list(p.kernel or net.shapes[layer.bottoms[0]][2:]), list(p.stride), list(p.pad)


def expect(layer: Layer, spec: ConvSpec, model: str, role: str) -> None:
    found = _conv_spec(layer)
    if found != spec:
        fail(layer, f"as {role} of timm's {model} it must be {spec}; it is {found}")


def check_unit(unit: Unit, spec: ConvSpec, model: str, role: str) -> None:
    expect(unit.conv, spec, model, role)
    bn = unit.bn.param.batch_norm_param
    if bn.HasField("use_global_stats") and not bn.use_global_stats:
        fail(unit.bn, "use_global_stats: false normalises with batch statistics; timm in eval mode uses the stored ones")
    if not math.isclose(bn.eps, TIMM_BN_EPS, rel_tol=1e-6):
        fail(unit.bn, f"eps {bn.eps:g}; timm's BatchNorm2d uses {TIMM_BN_EPS:g}")
    sp = unit.scale.param.scale_param
    if len(unit.scale.bottoms) != 1 or not sp.bias_term or sp.axis != 1 or sp.num_axes != 1:
        fail(unit.scale, "a BatchNorm's Scale must be per channel (axis 1, num_axes 1) with bias_term: true")
    if unit.relu is not None and unit.relu.param.relu_param.negative_slope != 0:
        fail(unit.relu, "a leaky ReLU; timm's SENet uses plain ReLU")


def check(s: Structure, family: Family, net: Net) -> tuple[str, int]:
    blocks = [len(stage) for stage in s.stages]
    if len(blocks) != 4:
        starts = [stage[0].axpy.name for stage in s.stages]
        raise ConvertError(f"net '{net.name}': {len(blocks)} stages (starting at {', '.join(starts)}); timm's SENet has 4 (layer1 to layer4)")
    depth = len(s.stem) + len(s.stages[0][0].branch) * sum(blocks) + 1
    model = family.model(depth)
    if net.shapes[s.stem[0].conv.bottoms[0]][1] != 3:
        fail(s.stem[0].conv, "timm's SENet takes 3-channel images")
    for i, (unit, spec) in enumerate(zip(s.stem, family.stem), 1):
        check_unit(unit, spec, model, f"layer0.conv{i}")
    pool = s.pool.param.pooling_param
    kernel, stride, pad = pool_window(s.pool, net)
    if pool.pool != caffe_pb2.PoolingParameter.MAX or kernel != [3, 3] or stride != [2, 2] or any(pad) or pool.round_mode != caffe_pb2.PoolingParameter.CEIL:
        fail(s.pool, "timm's pool0 is MaxPool2d(3, stride=2, ceil_mode=True): MAX, kernel 3, stride 2, pad 0, rounding up")
    inplanes = family.stem[-1].out
    for stage_index, stage in enumerate(s.stages, 1):
        planes = 64 * 2 ** (stage_index - 1)
        for b, block in enumerate(stage):
            stride = 2 if stage_index > 1 and b == 0 else 1
            name = f"layer{stage_index}.{b}"
            for i, (unit, spec) in enumerate(zip(block.branch, family.branch(planes, stride)), 1):
                check_unit(unit, spec, model, f"{name}.conv{i}")
            channels = family.expansion * planes
            wants_projection = b == 0 and (stride != 1 or inplanes != channels)
            if wants_projection != (block.projection is not None):
                fail(block.axpy, f"timm's {name} has {'a projection' if wants_projection else 'an identity'} shortcut, this block {'has none' if wants_projection else 'projects'}")
            if block.projection is not None:
                check_unit(block.projection, family.projection(stage_index, planes, stride), model, f"{name}.downsample")
            expect(block.down, ConvSpec(1, 1, 0, 1, channels // SE_REDUCTION, True), model, f"{name}.se_module.fc1")
            expect(block.up, ConvSpec(1, 1, 0, 1, channels, True), model, f"{name}.se_module.fc2")
            squeeze = block.layers[0].param.pooling_param
            if squeeze.pool != caffe_pb2.PoolingParameter.AVE or not squeeze.global_pooling:
                fail(block.layers[0], "the SE squeeze must be a global AVE pooling (timm: mean over H and W)")
            inplanes = channels
    return model, check_head(s.head_pool, s.classifier, net)


def check_head(pool: Layer, classifier: Layer, net: Net) -> int:
    """The head must be timm's: the average of the whole map, then Linear with a bias. Returns the classes."""
    head = pool.param.pooling_param
    height, width = net.shapes[pool.bottoms[0]][2:]
    kernel, _, pad = pool_window(pool, net)
    if head.pool != caffe_pb2.PoolingParameter.AVE or kernel != [height, width] or any(pad):
        fail(pool, f"timm averages the whole {height}x{width} map; this pooling does not")
    ip = classifier.param.inner_product_param
    if not ip.bias_term or ip.transpose or ip.axis != 1:
        fail(classifier, "timm's last_linear is Linear with a bias, weight stored out x in, over axis 1")
    return ip.num_output


def timm_model_name(net: Net) -> str:
    """The timm model that `net`'s structure is (weights not needed), or a ConvertError naming the misfit."""
    if not residual(net):
        from .inception import MODEL, inception_model

        inception_model(net)
        return MODEL
    structure = read_structure(net)
    return check(structure, family_of(structure), net)[0]


def residual(net: Net) -> bool:
    return any(layer.type == "Axpy" for layer in net.layers)

