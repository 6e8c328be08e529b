"""What an emitter writes into: one layer's ONNX nodes, the tensors they define and the constants they read.

Tensor and node names are unique across the graph (`Names`). A layer's tops get the names the
assembler chose (the IR value names, or the Caffe blob name for a graph output); a tensor an
emitter makes on the way is named `<layer>/<op>` (with `_2`, `_3`... where taken), its node the
same, so Netron and error messages read like the prototxt. Initializers are `<layer>.<role>`.

Shapes are the IR's (net.shapes, at the batch the net was loaded with); axis 0 is the batch, which
the file keeps dynamic, so an emitter never writes the batch extent into a constant: Reshape takes
0 (copy) or -1 (infer) there.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper

from ..graph import Layer, Shape


class Names:
    """Names taken in one graph; `fresh` returns an unused one."""

    def __init__(self, reserved: Iterable[str] = ()):
        self.taken: set[str] = set(reserved)

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name


@dataclass
class Initializer:
    """A constant tensor of the graph: `array` is float32 or int64, C-contiguous, and may share memory
    with the net's blobs (the file is written from it directly)."""

    name: str
    array: np.ndarray


@dataclass
class LayerNodes:
    layer: Layer
    inputs: tuple[str, ...]  # tensors of the layer's bottoms
    outputs: tuple[str, ...]  # names the layer's tops must get
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    opset: int
    optimized: bool  # the folded inference graph: an emitter may pick faster equivalent nodes
    tensors: Names = field(repr=False, default_factory=Names)
    node_names: Names = field(repr=False, default_factory=Names)
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[Initializer] = field(default_factory=list)

    def node(self, op: str, inputs: Sequence[str], *, output: str | None = None, **attributes) -> str:
        """Append an `op` node reading `inputs` ("" for an absent optional input); returns its output,
        `output` if given, else a fresh `<layer>/<op>`. None-valued attributes are left out."""
        out = output if output is not None else self.tensors.fresh(f"{self.layer.name}/{op}")
        attrs = {k: v for k, v in attributes.items() if v is not None}
        name = self.node_names.fresh(f"{self.layer.name}/{op}")
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=name, **attrs))
        return out

    def blob(self, index: int, role: str, shape: Sequence[int] | None = None) -> str:
        """Learned blob `index` as an initializer `<layer>.<role>`, reshaped to `shape` (a view: no copy)."""
        array = np.asarray(self.layer.blobs[index])
        if array.dtype != np.float32:
            array = array.astype(np.float32)
        if shape is not None:
            shape = tuple(int(d) for d in shape)
            if array.size != int(np.prod(shape)):
                from .registry import fail

                fail(self.layer, f"blob {index} has shape {array.shape}, expected {shape}")
            array = array.reshape(shape)
        return self.constant(role, array)

    def constant(self, role: str, array: np.ndarray) -> str:
        """A computed constant (float32 or int64) as an initializer `<layer>.<role>`."""
        array = np.asarray(array)
        if array.dtype not in (np.float32, np.int64):
            raise TypeError(f"ONNX constants are float32 or int64, not {array.dtype}")
        name = self.tensors.fresh(f"{self.layer.name}.{role}")
        self.initializers.append(Initializer(name, np.ascontiguousarray(array)))
        return name

    def ints(self, role: str, values: Sequence[int]) -> str:
        return self.constant(role, np.asarray(list(values), dtype=np.int64))

    def scalar(self, role: str, value: float) -> str:
        return self.constant(role, np.asarray(value, dtype=np.float32))

    def unsqueeze(self, x: str, axes: Sequence[int], *, output: str | None = None) -> str:
        return self.node("Unsqueeze", [x, self.ints("axes", axes)], output=output)

    def reduce(self, op: str, x: str, axes: Sequence[int], *, output: str | None = None) -> str:
        """A Reduce* op over `axes`, keeping them: the axes are an input since opset 18 (ReduceSum: 13), an
        attribute before."""
        if self.opset >= 18 or op == "ReduceSum":
            return self.node(op, [x, self.ints("axes", axes)], output=output, keepdims=1)
        return self.node(op, [x], output=output, axes=list(axes), keepdims=1)
