"""The lowering of a Net to a torch.fx.GraphModule: one call_module node per Caffe layer.

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

from ..errors import ConvertError
from ..graph import Net
from . import activation, batchnorm, conv, eltwise, inner_product, pooling, scale, softmax, tensor
from .registry import BUILDERS, SHARE_WEIGHTS, blob_names, build, register

# Importing a family registers its builders.
FAMILIES = (activation, batchnorm, conv, eltwise, inner_product, pooling, scale, softmax, tensor)
SUPPORTED_TYPES: tuple[str, ...] = tuple(sorted(BUILDERS))

__all__ = ["SUPPORTED_TYPES", "build", "caffe_name", "lower", "module_name", "parameter_map", "register"]

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


def _resolve(net: Net, names: Sequence[str], values: set[str]) -> list[str]:
    resolved = []
    for name in names:
        if name in net.final:
            resolved.append(net.final[name])  # a Caffe blob: its last value, what Caffe reports
        elif name in values:
            resolved.append(name)
        else:
            raise ConvertError(f"net '{net.name}' has no blob or value named '{name}'")
    return resolved


def lower(
    net: Net, *, outputs: Sequence[str] | None = None, intermediate: bool = False, share_weights: bool = False
) -> fx.GraphModule:
    """The net as a GraphModule taking its inputs positionally (in net.inputs order).

    It returns the `outputs` (Caffe blob names, resolved to their final value, or value names;
    default net.outputs): one tensor, or a tuple for several. With intermediate=True it returns a
    dict of every value instead, inputs and values later overwritten in place included.
    With share_weights=True the module's parameters use the memory of the Net's blobs (no copy):
    for callers that own the Net and will not change either side.
    """
    if intermediate and outputs is not None:
        raise TypeError("pass either intermediate=True or outputs, not both")
    graph = fx.Graph()
    nodes: dict[str, fx.Node] = {name: graph.placeholder(_identifier(name)) for name in net.inputs}
    modules: dict[str, torch.nn.Module] = {}
    token = SHARE_WEIGHTS.set(share_weights)
    try:
        for layer in net.layers:
            modules[module_name(layer.name)] = build(layer)
    finally:
        SHARE_WEIGHTS.reset(token)
    for layer in net.layers:
        target = module_name(layer.name)
        try:
            args = tuple(nodes[value] for value in layer.bottoms)
        except KeyError as exc:
            raise ConvertError(f"{layer.where()}: reads '{exc.args[0]}', which no earlier layer defines") from None
        node = graph.create_node("call_module", target, args, name=_identifier(layer.name))
        if len(layer.tops) == 1:
            nodes[layer.tops[0]] = node
        else:
            for i, top in enumerate(layer.tops):
                nodes[top] = graph.create_node("call_function", operator.getitem, (node, i), name=_identifier(top))
    if intermediate:
        graph.output(dict(nodes))
    else:
        wanted = _resolve(net, net.outputs if outputs is None else outputs, set(nodes))
        if not wanted:
            raise ConvertError(f"net '{net.name}' has no outputs to compute")
        graph.output(nodes[wanted[0]] if len(wanted) == 1 else tuple(nodes[v] for v in wanted))
    module = fx.GraphModule(modules, graph, class_name=_identifier(net.name or "CaffeNet"))
    # Layers the outputs do not need are not run; their weights stay, so that state_dict and
    # parameter_map always cover the whole net.
    if module.graph.eliminate_dead_code():
        module.recompile()
    return module
