"""SPP: spatial pyramid pooling, level l in 2^l bins per axis by Caffe's Pooling (the Pooling
emitter, Caffe's windows spelled out): kernel = stride = ceil(H / bins), pad = (kernel * bins - H + 1) // 2
per axis. One level: that pooling's N x C x 1 x 1; more: each level flattened, then Concat on axis 1.
"""
from __future__ import annotations

import dataclasses

from ..caffe import caffe_pb2
from ..graph import Layer
from .nodes import LayerNodes
from .pooling import _caffe_size, emit_pooling
from .registry import n_bottoms, register, require


def _level(layer: Layer, level: int, shape) -> Layer:
    param = caffe_pb2.LayerParameter(name=layer.name, type="Pooling")
    p = param.pooling_param
    p.pool = layer.param.spp_param.pool
    bins = 2**level
    for axis, size in zip("hw", shape[2:]):
        kernel = -(-size // bins)
        setattr(p, f"kernel_{axis}", kernel)
        setattr(p, f"stride_{axis}", kernel)
        setattr(p, f"pad_{axis}", (kernel * bins - size + 1) // 2)
    return dataclasses.replace(layer, type="Pooling", param=param)


@register("SPP")
def emit_spp(layer: Layer, g: LayerNodes) -> None:
    """SPP: the pyramid's poolings, flattened and concatenated."""
    n_bottoms(layer, 1)
    p = layer.param.spp_param
    require(p.HasField("pyramid_height") and p.pyramid_height >= 1, layer, "spp_param needs pyramid_height >= 1")
    shape = g.input_shapes[0]
    if p.pyramid_height == 1:
        emit_pooling(_level(layer, 0, shape), dataclasses.replace(g, layer=_level(layer, 0, shape)))
        return
    flat = []
    for level in range(p.pyramid_height):
        out = g.tensors.fresh(f"{layer.name}/level{level}")
        pooling = _level(layer, level, shape)
        p = pooling.param.pooling_param
        geometry = ((shape[2], p.kernel_h, p.pad_h), (shape[3], p.kernel_w, p.pad_w))
        padded = bool(p.pad_h or p.pad_w)
        size = tuple(_caffe_size(n, k, k, q, True, padded) for n, k, q in geometry)
        emit_pooling(pooling, dataclasses.replace(g, layer=pooling, outputs=(out,), output_shapes=((shape[0], shape[1], *size),)))
        flat.append(g.node("Flatten", [out], axis=1))
    g.node("Concat", flat, output=g.outputs[0], axis=1)
