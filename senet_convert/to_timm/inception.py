"""SE-BN-Inception's Caffe weights as a state_dict for timm's `se_bn_inception` (se_bn_inception.py).

The mapping is read off the graph, as for the residual SENets (structure.py):
  stem    two Convolution-BatchNorm-Scale-ReLU units around a Pooling (conv1, pool1), two more
          units (conv2_reduce, conv2) and a Pooling (pool2)
  blocks  one per Concat: every chain from the block input to the Concat is a branch, either units
          only or a Pooling followed by at most one unit. Four branches (1 unit, 2, 3, pool + 1) make
          an A block, three (2 units, 3, pool) a B block, in that order in the Concat. The SE gate
          reads the Concat: global AVE Pooling, Convolution, ReLU, Convolution, Sigmoid, Reshape, and
          a two-bottom Scale (axis 0, no bias) multiplies the Concat by it: the block output.
  head    AVE Pooling over the whole map, InnerProduct, optional Softmax
A unit's timm name is its role: inception_4a.double3x3b.conv / .bn, inception_4a.se.fc1, last_linear.
The widths come from the net; a net whose widths differ from the official ones (a reduced variant)
gets them as the model argument `widths`. Every convolution and pooling is checked against what the
module builds, and the first layer that differs is named.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..caffe import caffe_pb2
from ..errors import ConvertError
from ..graph import Layer, Net
from .residual import ConvSpec, check_head, check_unit, expect, pool_window
from .structure import Graph, Unit, claim_all, fail, no_timm_model, se_gated, unit_layers
from .weights import blobs_of, bn_entries, conv_entries

MODEL = "se_bn_inception"
BRANCHES = {  # branch shape (units, or "pool" + units) -> the module names of its units, per block kind
    "A": [((1,), ["conv1x1"]), ((2,), ["conv3x3_reduce", "conv3x3"]), ((3,), ["double3x3_reduce", "double3x3a", "double3x3b"]), (("pool", 1), ["pool_proj"])],
    "B": [((2,), ["conv3x3_reduce", "conv3x3"]), ((3,), ["double3x3_reduce", "double3x3a", "double3x3b"]), (("pool", 0), [])],
}
BLOCK_NAMES = ["inception_3a", "inception_3b", "inception_3c", "inception_4a", "inception_4b", "inception_4c",
               "inception_4d", "inception_4e", "inception_5a", "inception_5b"]


@dataclass
class Branch:
    units: list[Unit]
    pool: Layer | None = None


@dataclass
class InceptionBlock:
    kind: str  # "A" or "B"
    branches: list[Branch]
    concat: Layer
    down: Layer
    up: Layer
    layers: list[Layer]  # squeeze Pooling, ReLU, Sigmoid, Reshape, the gating Scale


@dataclass
class InceptionStructure:
    stem: list[Unit]
    pools: list[Layer]
    blocks: list[InceptionBlock]
    head_pool: Layer
    classifier: Layer
    extra: list[Layer] = field(default_factory=list)


def _units_until(g: Graph, value: str, context: Layer) -> tuple[list[Unit], str]:
    """Units from `value` while its single reader is a Convolution; (units, value after them)."""
    units = []
    while True:
        reader = g.only_reader(value, None, context)
        if reader is None or reader.type != "Convolution":
            return units, value
        units.append(g.unit_from(reader))
        value, context = units[-1].relu.tops[0], units[-1].relu


def _stem(g: Graph, net: Net) -> tuple[list[Unit], list[Layer], str]:
    value, units, pools = next(iter(net.inputs)), [], []
    for expected in (1, 2):
        found, value = _units_until(g, value, units[-1].relu if units else net.layers[0])
        pool = g.only_reader(value, "Pooling", found[-1].relu if found else net.layers[0])
        if len(found) != expected:
            fail(pool, f"SE-BN-Inception's stem has {expected} convolution(s) before this pooling, found {len(found)}")
        units += found
        pools.append(pool)
        value = pool.tops[0]
    return units, pools, value


def _branch(g: Graph, first: Layer, concat_of: dict) -> tuple[Branch, str]:
    if first.type == "Pooling":
        pool, units, value = first, [], first.tops[0]
    elif first.type == "Convolution":
        pool, units = None, [g.unit_from(first)]
        value = units[0].relu.tops[0]
    else:
        fail(first, "an inception branch starts with a Convolution or a Pooling")
    more, value = _units_until(g, value, first)
    units += more
    reader = g.only_reader(value, "Concat", (units[-1].relu if units else first))
    concat_of[id(reader)] = reader
    return Branch(units, pool), value


def _block(g: Graph, x: str, context: Layer) -> tuple[InceptionBlock, str]:
    concats: dict = {}
    found = [_branch(g, reader, concats) for reader in g.readers.get(x, [])]
    if len(concats) != 1:
        fail(context, "the branches reading its output must all end in one Concat")
    concat = next(iter(concats.values()))
    by_value = {value: branch for branch, value in found}
    if sorted(by_value) != sorted(concat.bottoms):
        fail(concat, "its bottoms must be exactly the branches of one inception block")
    branches = [by_value[b] for b in concat.bottoms]
    shapes = [(("pool", len(b.units)) if b.pool else (len(b.units),)) for b in branches]
    kind = next((k for k, spec in BRANCHES.items() if [s for s, _ in spec] == shapes), None)
    if kind is None:
        fail(concat, f"branches {shapes} are neither an A block (1x1, 3x3, double 3x3, pool + proj) nor a B block (3x3, double 3x3, pool), in that order")
    gate = next((r for r in g.readers.get(concat.tops[0], []) if r.type == "Scale"), None)
    if gate is None or len(gate.bottoms) != 2 or gate.bottoms[0] != concat.tops[0]:
        fail(concat, "an SE-BN-Inception block ends in a two-bottom Scale of the Concat by its SE gate")
    reshape = g.made_by(gate.bottoms[1], "Reshape", gate)
    sigmoid = g.made_by(reshape.bottoms[0], "Sigmoid", reshape)
    up = g.made_by(sigmoid.bottoms[0], "Convolution", sigmoid)
    relu = g.made_by(up.bottoms[0], "ReLU", up)
    down = g.made_by(relu.bottoms[0], "Convolution", relu)
    squeeze = g.made_by(down.bottoms[0], "Pooling", down)
    if squeeze.bottoms[0] != concat.tops[0]:
        fail(squeeze, f"the SE gate must squeeze the Concat '{g.net.blob_of[concat.tops[0]]}'")
    if sorted(r.name for r in g.readers[concat.tops[0]]) != sorted([gate.name, squeeze.name]):
        fail(concat, "its output must feed only the SE squeeze and the gating Scale")
    return InceptionBlock(kind, branches, concat, down, up, [squeeze, relu, sigmoid, reshape, gate]), gate.tops[0]


def read_inception(net: Net) -> InceptionStructure:
    """The SE-BN-Inception in `net`, or a ConvertError naming the first layer that does not fit."""
    if len(net.inputs) != 1:
        raise ConvertError(f"net '{net.name}' has {len(net.inputs)} inputs; timm's models take one image")
    g = Graph(net)
    stem, pools, value = _stem(g, net)
    blocks, context = [], pools[-1]
    while any(r.type in ("Convolution", "Pooling") for r in g.readers.get(value, [])) and len(g.readers[value]) > 1:
        block, value = _block(g, value, context)
        blocks.append(block)
        context = block.layers[-1]
    head_pool = g.only_reader(value, "Pooling", context)
    classifier = g.only_reader(head_pool.tops[0], "InnerProduct", head_pool)
    extra = [r for r in g.readers.get(classifier.tops[0], []) if r.type == "Softmax"]
    structure = InceptionStructure(stem, pools, blocks, head_pool, classifier, extra)
    claim_all(net, _layers(structure), "SE-BN-Inception (stem, inception blocks with SE gates, head)")
    return structure


def _layers(s: InceptionStructure) -> list[Layer]:
    out = [layer for u in s.stem for layer in unit_layers(u)] + s.pools
    for block in s.blocks:
        for branch in block.branches:
            out += ([branch.pool] if branch.pool else []) + [layer for u in branch.units for layer in unit_layers(u)]
        out += [block.concat, block.down, block.up, *block.layers]
    return out + [s.head_pool, s.classifier, *s.extra]


# ---- checking against the module and the state_dict ------------------------------------------


def _check_pool(layer: Layer, net: Net, kinds: tuple[int, ...], kernel: int, stride: int, pad: int, role: str) -> None:
    p = layer.param.pooling_param
    found = pool_window(layer, net)
    if p.pool not in kinds or p.global_pooling or found != ([kernel] * 2, [stride] * 2, [pad] * 2) or p.round_mode != caffe_pb2.PoolingParameter.CEIL:
        fail(layer, f"as {role} of {MODEL} it must pool {kernel}x{kernel}/{stride} pad {pad}, rounding up")


def _check_gate(block: InceptionBlock, net: Net, channels: int, squeeze: int, name: str) -> None:
    expect(block.down, ConvSpec(1, 1, 0, 1, squeeze, True), MODEL, f"{name}.se.fc1")
    expect(block.up, ConvSpec(1, 1, 0, 1, channels, True), MODEL, f"{name}.se.fc2")
    pool, _, _, reshape, gate = block.layers
    p = pool.param.pooling_param
    height, width = net.shapes[pool.bottoms[0]][2:]
    kernel, _, pad = pool_window(pool, net)
    if p.pool != caffe_pb2.PoolingParameter.AVE or kernel != [height, width] or any(pad):
        fail(pool, "the SE squeeze must average the whole map")
    n = net.shapes[block.concat.tops[0]][0]
    if tuple(net.shapes[reshape.tops[0]]) != (n, channels):
        fail(reshape, f"the SE gate must be reshaped to N x {channels}")
    sp = gate.param.scale_param
    if sp.axis != 0 or sp.bias_term:
        fail(gate, "the SE Scale must multiply per (sample, channel): axis 0, no bias")


def _widths(s: InceptionStructure) -> dict:
    out = lambda unit: unit.conv.param.convolution_param.num_output  # noqa: E731
    widths = {"stem": [out(u) for u in s.stem]}
    for name, block in zip(BLOCK_NAMES, s.blocks):
        units = [out(u) for b in block.branches for u in b.units]
        squeeze = block.down.param.convolution_param.num_output
        if block.kind == "A":
            pool = "avg" if block.branches[3].pool.param.pooling_param.pool == caffe_pb2.PoolingParameter.AVE else "max"
            widths[name] = units[:5] + units[6:] + [squeeze, pool]
        else:
            widths[name] = units[:4] + [squeeze]
    return widths


def _check(s: InceptionStructure, net: Net, widths: dict) -> None:
    kinds = ["B" if name in ("inception_3c", "inception_4e") else "A" for name in BLOCK_NAMES]
    if [b.kind for b in s.blocks] != kinds:
        raise ConvertError(f"net '{net.name}': inception blocks {''.join(b.kind for b in s.blocks)}; SE-BN-Inception's are {''.join(kinds)}")
    if net.shapes[s.stem[0].conv.bottoms[0]][1] != 3:
        fail(s.stem[0].conv, f"{MODEL} takes 3-channel images")
    c1, c2r, c2 = widths["stem"]
    for unit, spec, role in zip(s.stem, [ConvSpec(7, 2, 3, 1, c1), ConvSpec(1, 1, 0, 1, c2r), ConvSpec(3, 1, 1, 1, c2)], ["conv1", "conv2_reduce", "conv2"]):
        check_unit(unit, spec, MODEL, role)
    for pool, role in zip(s.pools, ["pool1", "pool2"]):
        _check_pool(pool, net, (caffe_pb2.PoolingParameter.MAX,), 3, 2, 0, role)
    for name, block in zip(BLOCK_NAMES, s.blocks):
        w = widths[name]
        if block.kind == "A":
            specs = [(1, 1, 0, w[0]), (1, 1, 0, w[1]), (3, 1, 1, w[2]), (1, 1, 0, w[3]), (3, 1, 1, w[4]), (3, 1, 1, w[4]), (1, 1, 0, w[5])]
            channels, squeeze = w[0] + w[2] + w[4] + w[5], w[6]
            _check_pool(block.branches[3].pool, net, (caffe_pb2.PoolingParameter.AVE, caffe_pb2.PoolingParameter.MAX), 3, 1, 1, f"{name}.pool")
        else:
            specs = [(1, 1, 0, w[0]), (3, 2, 1, w[1]), (1, 1, 0, w[2]), (3, 1, 1, w[3]), (3, 2, 1, w[3])]
            channels, squeeze = w[1] + w[3] + net.shapes[block.branches[2].pool.bottoms[0]][1], w[4]
            _check_pool(block.branches[2].pool, net, (caffe_pb2.PoolingParameter.MAX,), 3, 2, 0, f"{name}.pool")
        units = [(u, n) for b, (_, names) in zip(block.branches, BRANCHES[block.kind]) for u, n in zip(b.units, names)]
        for (unit, role), (k, stride, pad, width) in zip(units, specs):
            check_unit(unit, ConvSpec(k, stride, pad, 1, width), MODEL, f"{name}.{role}")
        _check_gate(block, net, channels, squeeze, name)
    check_head(s.head_pool, s.classifier, net)


def inception_model(net: Net) -> tuple[InceptionStructure, dict]:
    """(structure, model_args) of the SE-BN-Inception in `net`; model_args holds the widths when they are not the official ones."""
    from .se_bn_inception import OFFICIAL_WIDTHS

    if not se_gated(net):
        raise ConvertError(no_timm_model(net))
    try:
        structure = read_inception(net)
        if len(structure.blocks) != len(BLOCK_NAMES):
            raise ConvertError(f"net '{net.name}': {len(structure.blocks)} inception blocks; SE-BN-Inception has {len(BLOCK_NAMES)}")
        widths = _widths(structure)
        _check(structure, net, widths)
    except ConvertError as exc:
        raise ConvertError(f"{exc} (read as SE-BN-Inception, timm's {MODEL}: the net has no Axpy layers, so it is not a residual SENet)") from None
    return structure, ({} if widths == OFFICIAL_WIDTHS else {"widths": widths})


def inception_entries(s: InceptionStructure) -> dict:
    entries: dict = {}
    for name, unit in zip(["conv1", "conv2_reduce", "conv2"], s.stem):
        entries |= conv_entries(f"{name}.conv", unit.conv) | bn_entries(f"{name}.bn", unit)
    for name, block in zip(BLOCK_NAMES, s.blocks):
        for branch, (_, roles) in zip(block.branches, BRANCHES[block.kind]):
            for unit, role in zip(branch.units, roles):
                entries |= conv_entries(f"{name}.{role}.conv", unit.conv) | bn_entries(f"{name}.{role}.bn", unit)
        entries |= conv_entries(f"{name}.se.fc1", block.down, bias=True) | conv_entries(f"{name}.se.fc2", block.up, bias=True)
    weight, bias = blobs_of(s.classifier, 2)
    entries["last_linear.weight"] = (weight.reshape(weight.shape[0], -1), f"'{s.classifier.name}'[0]")
    entries["last_linear.bias"] = (bias.reshape(-1), f"'{s.classifier.name}'[1]")
    return entries
