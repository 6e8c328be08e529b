"""The lowering of a Net to a torch.fx.GraphModule: one call_module node per Caffe layer.

One exception, for speed: where nothing can read a BatchNorm's value but the Scale after it, the
BatchNorm's node applies both (CaffeBatchNorm's one-pass path) and the Scale's module, which keeps
its parameters, is not called. With intermediate=True every layer runs on its own.

Submodules are named after the Caffe layers (`module_name`), so state_dict keys read like the
prototxt: `conv1/7x7_s2.weight`, `conv1/7x7_s2/bn.mean`. torch allows '/' in module names but not
'.', so a layer name is percent-encoded where it must be: '%' -> '%25', '.' -> '%2E', quotes and
backslashes and characters outside printable ASCII likewise (UTF-8 bytes), and a name that is a
Python keyword or an attribute of GraphModule ("forward", "eval", "training") has its first
character encoded ("%66orward"). `caffe_name` inverts it. `parameter_map` gives, for every
state_dict key, the Caffe layer and blob index it holds.

This package is the only code that touches torch.fx.
"""
from __future__ import annotations

import functools
import keyword
import operator
import re
import string
import urllib.parse
from typing import Sequence

import torch
from torch import fx

from ..caffe.layers import setup_of
from ..errors import ConvertError
from ..graph import Layer, Net
# Importing a family registers its builders.
from . import activation, batchnorm, conv, eltwise, inner_product, lrn, pooling, scale, softmax, tensor
from . import deconv, embed, neuron, normalization, parameter, reduction, slicing, spp
from .registry import BUILDERS, SHARE_WEIGHTS, blob_names, build, register

SUPPORTED_TYPES: tuple[str, ...] = BUILDERS.types()

__all__ = [
    "SUPPORTED_TYPES", "build", "caffe_name", "lower", "module_for", "module_name", "one_pass_pairs", "parameter_map",
    "register",
]

_SAFE = frozenset(string.printable) - set("%.\"'\\\t\n\r\x0b\x0c")


@functools.cache
def _reserved() -> frozenset[str]:
    return frozenset(dir(fx.GraphModule(torch.nn.Module(), fx.Graph())))


def module_name(layer_name: str) -> str:
    """The submodule name (state_dict prefix) of a Caffe layer."""
    name = "".join(c if c in _SAFE else "".join(f"%{b:02X}" for b in c.encode()) for c in layer_name)
    if not name or keyword.iskeyword(name) or name in _reserved():
        name = f"%{ord(name[0]):02X}{name[1:]}" if name else "%"
    return name


def caffe_name(module: str) -> str:
    """The Caffe layer name of a submodule name: the inverse of module_name."""
    return "" if module == "%" else urllib.parse.unquote(module, errors="strict")


def parameter_map(net: Net) -> dict[str, tuple[str, int]]:
    """state_dict key -> (Caffe layer name, blob index), in layer and blob order."""
    return {
        f"{module_name(layer.name)}.{attribute}": (layer.name, index)
        for layer in net.layers
        for index, attribute in enumerate(blob_names(layer))
    }


def _identifier(name: str) -> str:
    name = re.sub(r"\W", "_", name) or "_"
    if name[0].isdigit():
        name = "_" + name
    return name + "_" if keyword.iskeyword(name) else name




def _scale_absorbed_by(net: Net, exposed: set[str]) -> dict[str, Layer]:
    """BatchNorm layer name -> the Scale layer it may apply in the same call.

    That is a per-channel Scale (blob factor over axis 1) that is the only reader of a
    global-statistics BatchNorm's value, where that value is not exposed: nothing but the Scale can
    tell the pair from one batch_norm call, which passes over the activations once where Caffe's
    arithmetic passes four times (mean, std, factor, bias).
    """
    readers = net.readers()
    pairs = {}
    for bn in net.layers:
        if bn.type != "BatchNorm" or len(bn.tops) != 1 or bn.tops[0] in exposed or len(bn.blobs) != 3:
            continue
        p = bn.param.batch_norm_param
        if p.HasField("use_global_stats") and not p.use_global_stats:
            continue
        (value,) = bn.tops
        after = readers.get(value, [])
        if len(after) != 1 or after[0].type != "Scale" or tuple(after[0].bottoms) != (value,):
            continue
        scale_layer = after[0]
        shape = net.shapes.get(value, ())
        blobs = scale_layer.blobs
        channels = bn.blobs[0].size
        if len(shape) < 2 or shape[1] != channels or not blobs or any(b.shape != (channels,) for b in blobs):
            continue
        axis = scale_layer.param.scale_param.axis
        if axis not in (1, 1 - len(shape)) or len(blobs) != (2 if scale_layer.param.scale_param.bias_term else 1):
            continue
        pairs[bn.name] = scale_layer
    return pairs


def _wanted(net: Net, outputs: Sequence[str] | None) -> list[str]:
    return net.resolve(net.outputs if outputs is None else outputs)


def one_pass_pairs(net: Net, outputs: Sequence[str] | None = None) -> dict[str, str]:
    """BatchNorm layer -> Scale layer, the pairs `lower(net, outputs=outputs)` runs in one call."""
    return {name: scale_layer.name for name, scale_layer in _scale_absorbed_by(net, set(_wanted(net, outputs))).items()}


def lower(
    net: Net,
    *,
    outputs: Sequence[str] | None = None,
    intermediate: bool = False,
    share_weights: bool = False,
    one_pass_batchnorm: bool = True,
) -> fx.GraphModule:
    """The net as a GraphModule taking its inputs positionally (in net.inputs order).

    It returns the `outputs` (Caffe blob names, resolved to their final value, or value names;
    default net.outputs): one tensor, or a tuple for several. With intermediate=True it returns a
    dict of every value instead, inputs and values later overwritten in place included.
    With one_pass_batchnorm, a BatchNorm whose value is not among the outputs applies the Scale that
    is its only reader in the same call (see _scale_absorbed_by; one_pass_pairs(net, outputs) names
    them). With share_weights=True the module's parameters use the
    memory of the Net's blobs (no copy): for callers that own the Net and will not change either side.
    """
    if intermediate and outputs is not None:
        raise TypeError("pass either intermediate=True or outputs, not both")
    graph = fx.Graph()
    nodes: dict[str, fx.Node] = {name: graph.placeholder(_identifier(name)) for name in net.inputs}
    wanted = None if intermediate else _wanted(net, outputs)
    absorbed = _scale_absorbed_by(net, set(wanted)) if one_pass_batchnorm and not intermediate else {}
    skipped = {scale_layer.name for scale_layer in absorbed.values()}
    modules = _modules(net, share_weights)
    for layer in net.layers:
        if layer.name not in skipped:
            _add_node(graph, nodes, layer, absorbed.get(layer.name))
    if intermediate:
        graph.output(dict(nodes))
    else:
        if not wanted:
            raise ConvertError(f"net '{net.name}' has no outputs to compute")
        graph.output(nodes[wanted[0]] if len(wanted) == 1 else tuple(nodes[v] for v in wanted))
    attributes = {node.target: _attribute(modules, node.target) for node in graph.nodes if node.op == "get_attr"}
    module = fx.GraphModule({**modules, **attributes}, graph, class_name=_identifier(net.name or "CaffeNet"))
    # Every layer's module, in layer order, whether the graph calls it or not (an absorbed Scale, or
    # a layer the outputs do not need): state_dict and parameter_map always cover the whole net.
    for name in list(module._modules):
        delattr(module, name)
    for name, submodule in modules.items():
        module.add_module(name, submodule)
    if module.graph.eliminate_dead_code():
        module.recompile()
    return module


def _modules(net: Net, share_weights: bool) -> dict[str, torch.nn.Module]:
    """Every layer's module, by submodule name, in layer order."""
    token = SHARE_WEIGHTS.set(share_weights)
    try:
        return {module_name(layer.name): build(layer, setup_of(layer, [net.shapes[b] for b in layer.bottoms])) for layer in net.layers}
    finally:
        SHARE_WEIGHTS.reset(token)


def _add_node(graph: fx.Graph, nodes: dict[str, fx.Node], layer: Layer, scale_layer: Layer | None) -> None:
    """The call of `layer`'s module; with `scale_layer`, a BatchNorm's call that also applies that Scale."""
    target = module_name(layer.name)
    try:
        args = tuple(nodes[value] for value in layer.bottoms)
    except KeyError as exc:
        raise ConvertError(f"{layer.where()}: reads '{exc.args[0]}', which no earlier layer defines") from None
    if scale_layer is not None:  # BatchNorm and its Scale in one call: the node yields the Scale's top
        owner = module_name(scale_layer.name)
        params = tuple(
            graph.create_node("get_attr", f"{owner}.{name}", name=_identifier(f"{scale_layer.name}.{name}"))
            for name in blob_names(scale_layer)
        )
        nodes[scale_layer.tops[0]] = graph.create_node("call_module", target, args + params, name=_identifier(layer.name))
        return
    node = graph.create_node("call_module", target, args, name=_identifier(layer.name))
    if len(layer.tops) == 1:
        nodes[layer.tops[0]] = node
    else:
        for i, top in enumerate(layer.tops):
            nodes[top] = graph.create_node("call_function", operator.getitem, (node, i), name=_identifier(top))


def _attribute(modules: dict[str, torch.nn.Module], target: str) -> torch.Tensor:
    owner, name = target.rsplit(".", 1)
    return getattr(modules[owner], name)


def module_for(net: Net, outputs: Sequence[str] | None = None, *, one_pass_batchnorm: bool = True) -> fx.GraphModule:
    """The module for a Net the caller hands over, in eval mode: parameters share the Net's blob memory."""
    module = lower(net, outputs=outputs, share_weights=True, one_pass_batchnorm=one_pass_batchnorm)
    module.eval()
    module.requires_grad_(False)
    return module
