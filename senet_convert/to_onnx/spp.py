"""SPP: spatial pyramid pooling, level l in 2^l bins per axis by Caffe's Pooling (the Pooling
emitter, Caffe's windows spelled out): kernel = stride = ceil(H / bins), pad = (kernel * bins - H + 1) // 2
per axis. One level: that pooling's N x C x 1 x 1; more: each level flattened, then Concat on axis 1.
"""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

from ..graph import Layer
from .nodes import LayerNodes
from .pooling import _caffe_size, emit_pooling
from .registry import register


def _level(method: str, level: int, shape) -> SimpleNamespace:
    """Level `level`'s pooling, as the Pooling emitter reads its parameters: 2^level bins per axis."""
    bins = 2**level
    kernel = tuple(-(-size // bins) for size in shape[2:])
    pad = tuple((k * bins - size + 1) // 2 for k, size in zip(kernel, shape[2:]))
    return SimpleNamespace(method=method, kernel=kernel, stride=kernel, pad=pad, ceil=True, global_pooling=False)


@register("SPP")
def emit_spp(layer: Layer, p, g: LayerNodes) -> None:
    """SPP: the pyramid's poolings, flattened and concatenated."""
    shape = g.input_shapes[0]
    if p.levels == 1:
        emit_pooling(layer, _level(p.method, 0, shape), g)
        return
    flat = []
    for level in range(p.levels):
        out = g.tensors.fresh(f"{layer.name}/level{level}")
        pooling = _level(p.method, level, shape)
        size = tuple(_caffe_size(n, k, k, q, True, any(pooling.pad)) for n, k, q in zip(shape[2:], pooling.kernel, pooling.pad))
        emit_pooling(layer, pooling, dataclasses.replace(g, outputs=(out,), output_shapes=((shape[0], shape[1], *size),)))
        flat.append(g.node("Flatten", [out], axis=1))
    g.node("Concat", flat, output=g.outputs[0], axis=1)
