"""The IR: a Caffe net as a list of layers over uniquely named values.

Caffe lets a layer write its result into the blob it reads ("in place": BatchNorm, Scale,
ReLU, Sigmoid and Dropout do so throughout SENet). A blob name therefore denotes several
values over time. Here every value is defined once: the first write to Caffe blob `B`
keeps the name `B`, each later write by layer `L` is named `B@L`. `Net.blob_of` maps a
value back to its Caffe blob, `Net.final` maps a Caffe blob to its last value (what
`net.blobs[B]` holds after a Caffe forward pass), and `Layer.tops` of an in-place layer is
what Caffe's blob held right after that layer ran.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .caffe import caffe_pb2
from .errors import ConvertError

Shape = tuple[int, ...]


@dataclass(eq=False)
class Layer:
    name: str
    type: str  # Caffe's type string, e.g. "BatchNorm"
    bottoms: tuple[str, ...]  # value names read
    tops: tuple[str, ...]  # value names defined (unique within the net)
    # Caffe's typed parameters with their defaults; `blobs` is cleared (weights live below).
    param: caffe_pb2.LayerParameter
    caffe_bottoms: tuple[str, ...] = ()
    caffe_tops: tuple[str, ...] = ()
    # Learned blobs in Caffe's order (Convolution: weight, bias; BatchNorm: mean*s, var*s,
    # [s]; Scale: gamma, beta), float32, shaped as Caffe's BlobShape says.
    blobs: list[np.ndarray] = field(default_factory=list)
    top_shapes: tuple[Shape, ...] = ()
    line: int | None = None  # line of the layer in the prototxt, for messages
    # The loader's caffe.layers.Setup: validated typed parameters, top and blob shapes (None: built by hand).
    setup: Any = None

    @property
    def in_place(self) -> bool:
        return bool(set(self.caffe_tops) & set(self.caffe_bottoms))

    def where(self) -> str:
        return f"layer '{self.name}' ({self.type})" + (f" at line {self.line}" if self.line else "")


@dataclass(eq=False)
class Net:
    name: str
    inputs: dict[str, Shape]  # input value -> shape (batch as requested)
    layers: list[Layer]  # execution order; Input layers are folded into `inputs`
    outputs: list[str]  # values Caffe reports as the net's outputs (blobs nobody reads)
    shapes: dict[str, Shape]  # every value's shape
    blob_of: dict[str, str]  # value -> Caffe blob name
    final: dict[str, str]  # Caffe blob name -> its last value
    prototxt_text: str = ""
    prototxt_path: Path | None = None
    caffemodel_path: Path | None = None
    # Weight matching: caffemodel layers with blobs that no prototxt layer takes.
    unused_weights: list[str] = field(default_factory=list)
    # Weights that are not finite numbers (NaN, infinity), one line per layer, for the commands to warn.
    warnings: list[str] = field(default_factory=list)
    # Mean values found in the prototxt's comments or transform_param (BGR), if any.
    mean_bgr: tuple[float, ...] | None = None

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def producer(self) -> dict[str, Layer]:
        """value -> the layer that defines it (inputs are absent)."""
        return {top: layer for layer in self.layers for top in layer.tops}

    def readers(self) -> dict[str, list[Layer]]:
        """value -> the layers that read it, in execution order (values nothing reads are absent)."""
        readers: dict[str, list[Layer]] = {}
        for layer in self.layers:
            for value in dict.fromkeys(layer.bottoms):
                readers.setdefault(value, []).append(layer)
        return readers

    def values(self) -> list[str]:
        """Every value: the inputs, then each layer's tops in execution order."""
        return [*self.inputs, *(top for layer in self.layers for top in layer.tops)]

    def resolve(self, names) -> list[str]:
        """The values `names` denote: a Caffe blob name its final value (what Caffe reports), a value name itself."""
        values = set(self.values())
        resolved = []
        for name in names:
            if name in self.final:
                resolved.append(self.final[name])
            elif name in values:
                resolved.append(name)
            else:
                raise ConvertError(f"net '{self.name}' has no blob or value named '{name}'")
        return resolved

    def num_params(self) -> int:
        return sum(int(b.size) for layer in self.layers for b in layer.blobs)
