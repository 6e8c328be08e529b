"""Choosing the timm model a residual SENet is, and checking every layer against what it builds."""
from __future__ import annotations

import math

from ..caffe import caffe_pb2
from ..errors import ConvertError
from ..graph import Layer, Net
from .timm_structure import SE_REDUCTION, TIMM_BN_EPS, ConvSpec, Family, Structure, Unit, read_structure, refuse

# ---- choosing and checking the timm model --------------------------------------------------


def choose_family(s: Structure) -> Family:
    first = s.stages[0][0]
    sizes = {len(block.branch) for stage in s.stages for block in stage}
    if len(sizes) != 1 or sizes - {2, 3}:
        odd = next(b for stage in s.stages for b in stage if len(b.branch) != len(first.branch) or len(b.branch) not in (2, 3))
        refuse(odd.axpy, f"its branch has {len(odd.branch)} convolutions; timm's blocks have 3 (bottleneck) or 2, the same in every block")
    bottleneck = len(first.branch) == 3
    groups = first.branch[1].conv.param.convolution_param.group
    if len(s.stem) == 3:
        if not bottleneck:
            refuse(first.axpy, "a three-convolution stem comes with bottleneck blocks in timm's SENet-154")
        return Family("senet", True, groups)
    if len(s.stem) != 1:
        refuse(s.stem[0].conv, f"a stem of {len(s.stem)} convolutions; timm's have 1 (7x7) or 3 (3x3)")
    if bottleneck and groups > 1:
        width = first.branch[0].conv.param.convolution_param.num_output
        if width % groups:
            refuse(first.branch[0].conv, f"{width} outputs are not a multiple of the {groups} groups")
        return Family("seresnext", True, groups, width // groups)
    return Family("seresnet", bottleneck, groups)


def _conv_spec(layer: Layer) -> ConvSpec:
    p = layer.param.convolution_param
    c = layer.setup.params
    kernel, stride, pad, dilation = c.kernel, c.stride, c.pad, c.dilation
    if len(set(kernel)) != 1 or len(set(stride)) != 1 or len(set(pad)) != 1 or set(dilation) != {1}:
        refuse(layer, f"kernel {kernel}, stride {stride}, pad {pad}, dilation {dilation}: timm's convolutions are square and undilated")
    return ConvSpec(kernel[0], stride[0], pad[0], p.group, p.num_output, p.bias_term)


def _expect(layer: Layer, spec: ConvSpec, model: str, role: str) -> None:
    found = _conv_spec(layer)
    if found != spec:
        refuse(layer, f"as {role} of timm's {model} it must be {spec}; it is {found}")


def _check_unit(unit: Unit, spec: ConvSpec, model: str, role: str) -> None:
    _expect(unit.conv, spec, model, role)
    bn = unit.bn.param.batch_norm_param
    if bn.HasField("use_global_stats") and not bn.use_global_stats:
        refuse(unit.bn, "use_global_stats: false normalises with batch statistics; timm in eval mode uses the stored ones")
    if not math.isclose(bn.eps, TIMM_BN_EPS, rel_tol=1e-6):
        refuse(unit.bn, f"eps {bn.eps:g}; timm's BatchNorm2d uses {TIMM_BN_EPS:g}")
    sp = unit.scale.param.scale_param
    if len(unit.scale.bottoms) != 1 or not sp.bias_term or sp.axis != 1 or sp.num_axes != 1:
        refuse(unit.scale, "a BatchNorm's Scale must be per channel (axis 1, num_axes 1) with bias_term: true")
    if unit.relu is not None and unit.relu.param.relu_param.negative_slope != 0:
        refuse(unit.relu, "a leaky ReLU; timm's SENet uses plain ReLU")


def check_layers(s: Structure, family: Family, net: Net) -> tuple[str, int]:
    blocks = [len(stage) for stage in s.stages]
    if len(blocks) != 4:
        starts = [stage[0].axpy.name for stage in s.stages]
        raise ConvertError(f"net '{net.name}': {len(blocks)} stages (starting at {', '.join(starts)}); timm's SENet has 4 (layer1 to layer4)")
    depth = len(s.stem) + len(s.stages[0][0].branch) * sum(blocks) + 1
    model = family.model(depth)
    if net.shapes[s.stem[0].conv.bottoms[0]][1] != 3:
        refuse(s.stem[0].conv, "timm's SENet takes 3-channel images")
    for i, (unit, spec) in enumerate(zip(s.stem, family.stem), 1):
        _check_unit(unit, spec, model, f"layer0.conv{i}")
    pool = s.pool.param.pooling_param
    pooling = s.pool.setup.params
    kernel, stride, pad = pooling.kernel, pooling.stride, pooling.pad
    if pool.pool != caffe_pb2.PoolingParameter.MAX or kernel != (3, 3) or stride != (2, 2) or any(pad) or pool.round_mode != caffe_pb2.PoolingParameter.CEIL:
        refuse(s.pool, "timm's pool0 is MaxPool2d(3, stride=2, ceil_mode=True): MAX, kernel 3, stride 2, pad 0, rounding up")
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
                refuse(block.axpy, f"timm's {name} has {'a projection' if wants_projection else 'an identity'} shortcut, this block {'has none' if wants_projection else 'projects'}")
            if block.projection is not None:
                _check_unit(block.projection, family.projection(stage_index, planes, stride), model, f"{name}.downsample")
            _expect(block.down, ConvSpec(1, 1, 0, 1, channels // SE_REDUCTION, True), model, f"{name}.se_module.fc1")
            _expect(block.up, ConvSpec(1, 1, 0, 1, channels, True), model, f"{name}.se_module.fc2")
            squeeze = block.layers[0].param.pooling_param
            if squeeze.pool != caffe_pb2.PoolingParameter.AVE or not squeeze.global_pooling:
                refuse(block.layers[0], "the SE squeeze must be a global AVE pooling (timm: mean over H and W)")
            inplanes = channels
    head = s.head_pool.param.pooling_param
    height, width = net.shapes[s.head_pool.bottoms[0]][2:]
    kernel, pad = s.head_pool.setup.params.kernel or (height, width), s.head_pool.setup.params.pad
    if head.pool != caffe_pb2.PoolingParameter.AVE or tuple(kernel) != (height, width) or any(pad):
        refuse(s.head_pool, f"timm averages the whole {height}x{width} map; this pooling does not")
    ip = s.classifier.param.inner_product_param
    if not ip.bias_term or ip.transpose or ip.axis != 1:
        refuse(s.classifier, "timm's last_linear is Linear with a bias, weight stored out x in, over axis 1")
    return model, ip.num_output


def timm_model_name(net: Net) -> str:
    """The timm model that `net`'s structure is (weights not needed), or a ConvertError naming the misfit."""
    structure = read_structure(net)
    return check_layers(structure, choose_family(structure), net)[0]
