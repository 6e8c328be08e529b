"""ONNX straight from the IR: one small emitter per Caffe type writes standard ONNX nodes (default
domain only), the assembler joins them into one graph over the IR's value names.

Every value the net computes (for the requested outputs) is a tensor named after it, in-place
writes included (`conv1@relu1`, graph.py); graph outputs are named after their Caffe blob
(`prob`), inputs likewise. Weights become initializers named `<layer>.<role>` that share memory
with the Net's blobs: nothing is copied until the file is written (export/onnx.py). No torch here.

`assemble(net)` is the exact graph, `assemble(net, optimized=True)` expects a folded net
(edits.fold_batchnorm) and lets emitters choose faster nodes of the same semantics; `optimized_graph`
does both steps.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import ConvertError
from ..graph import Net, Shape
# Importing a family registers its emitters.
from . import activation, batchnorm, conv, eltwise, inner_product, lrn, pooling, scale, softmax, tensor
from . import deconv, embed, neuron, normalization, parameter, reduction, slicing, spp
from .nodes import Initializer, LayerNodes, Names
from .registry import EMITTERS, emit, register

SUPPORTED_TYPES: tuple[str, ...] = EMITTERS.types()
# The newest opset the pinned ONNX Runtime runs; 17 is the oldest the emitters write.
OPSET = 28
MIN_OPSET = 17

__all__ = ["EMITTERS", "MIN_OPSET", "OPSET", "SUPPORTED_TYPES", "OnnxGraph", "assemble", "optimized_graph", "output_names", "register"]


@dataclass
class OnnxGraph:
    """The graph as the file will hold it, weights still the Net's arrays."""

    name: str
    inputs: dict[str, Shape]  # graph input -> its shape (axis 0 the batch)
    outputs: list[tuple[str, str]]  # (graph output name, IR value)
    nodes: list = field(default_factory=list)  # onnx.NodeProto, in execution order
    initializers: list[Initializer] = field(default_factory=list)
    tensors: dict[str, str] = field(default_factory=dict)  # IR value -> tensor name
    opset: int = OPSET

    def weight_bytes(self) -> int:
        return sum(init.array.nbytes for init in self.initializers)


def output_names(net: Net, outputs: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """(values, names): the IR values returned and the names they get in the file.

    `outputs` are Caffe blob names (their last value) or value names, as in caffe2torch. A value
    that is its blob's last one is named after the blob, unless that name is a graph input's (a
    layer writing in place into the net's input): then it keeps its own value name.
    """
    values, names = [], []
    for value in net.resolve(net.outputs if outputs is None else outputs):
        label = net.blob_of[value] if net.final.get(net.blob_of[value]) == value else value
        if label in net.inputs and label != value:
            label = value
        if label in names:
            raise ConvertError(f"output '{label}' is asked for twice")
        values.append(value)
        names.append(label)
    if not values:
        raise ConvertError(f"net '{net.name}' has no outputs to export")
    return values, names


def check_opset(opset: int) -> None:
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or isinstance(opset, bool) or not MIN_OPSET <= opset <= newest:
        raise ConvertError(f"opset {opset} is not supported: use {MIN_OPSET} to {newest} (default {OPSET})")


def _needed(net: Net, values: Sequence[str]) -> list:
    """The layers that the values depend on, in execution order."""
    producer = net.producer()
    wanted, stack = set(), list(values)
    while stack:
        layer = producer.get(stack.pop())
        if layer is not None and id(layer) not in wanted:
            wanted.add(id(layer))
            stack.extend(layer.bottoms)
    return [layer for layer in net.layers if id(layer) in wanted]


def assemble(net: Net, outputs: Sequence[str] | None = None, *, opset: int = OPSET, optimized: bool = False) -> OnnxGraph:
    """The net as ONNX nodes returning `outputs` (Caffe blob or value names; default the net's outputs)."""
    check_opset(opset)
    values, labels = output_names(net, outputs)
    layers = _needed(net, values)
    tensors = {v: v for v in net.inputs}
    for layer in layers:
        tensors.update((top, top) for top in layer.tops)
    tensors.update(zip(values, labels))
    taken = Names({*net.inputs, *net.shapes, *tensors.values()})
    graph = OnnxGraph(net.name or "CaffeNet", dict(net.inputs), list(zip(labels, values)), tensors=tensors, opset=opset)
    node_names = Names()
    for layer in layers:
        try:
            inputs = tuple(tensors[b] for b in layer.bottoms)
        except KeyError as exc:
            raise ConvertError(f"{layer.where()}: reads '{exc.args[0]}', which no earlier layer defines") from None
        g = LayerNodes(
            layer, inputs, tuple(tensors[t] for t in layer.tops),
            tuple(net.shapes[b] for b in layer.bottoms), tuple(net.shapes[t] for t in layer.tops),
            opset, optimized, taken, node_names,
        )
        emit(layer, g)
        made = {out for node in g.nodes for out in node.output}
        missing = [t for t in g.outputs if t not in made]
        if missing:
            raise RuntimeError(f"ONNX emitter bug: {layer.where()} did not define {missing}")
        graph.nodes.extend(g.nodes)
        graph.initializers.extend(g.initializers)
    return graph


def optimized_graph(net: Net, outputs: Sequence[str] | None = None, *, opset: int = OPSET):
    """(graph, folding): the folded inference net (edits.fold_batchnorm) as ONNX, and what was folded."""
    from ..edits.fold_batchnorm import fold

    wanted = net.resolve(net.outputs if outputs is None else outputs)
    folded, folding = fold(net, keep=wanted)
    return assemble(folded, [folding.aliases.get(v, v) for v in wanted], opset=opset, optimized=True), folding
