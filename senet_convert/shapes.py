"""Shape-only registration, for plugins (senet_convert.plugins.register_layer) and the layer types not yet
read into typed parameters (more_shapes.py): `rule(type)(tops)` registers a Caffe type in the layer
registry (caffe/layers) whose Setup carries no parameters; its backends read `layer.param` themselves.
The names kept here (ShapeError, canonical_axis, conv_geometry, fmt) are the registry's.
"""
from __future__ import annotations

from .caffe.layers import SPECS, LayerError, set_up
from .caffe.layers.conv import per_axis, read_conv
from .caffe.layers.registry import canonical_axis, check_shape, fmt, layer_type

__all__ = ["RULES", "ShapeError", "blob_shapes", "canonical_axis", "check_shape", "conv_geometry", "fmt", "infer", "pool_geometry", "rule"]

RULES = SPECS
ShapeError = LayerError


def rule(type_name: str, bottoms: tuple[int, int | None] = (1, 1), blobs=None):
    """Register `tops(param, bottom shapes) -> top shapes` (and `blobs(param, shapes)`) for `type_name`."""

    def decorate(tops):
        def read(param, shapes):
            return None, tops(param, shapes), (blobs or (lambda param, shapes: []))(param, shapes)

        read.__module__ = tops.__module__
        layer_type(type_name, bottoms=bottoms, tops=(1, None))(read)
        return tops

    return decorate


def _same(param, shapes):
    return [shapes[0]]


def conv_geometry(p, n_spatial: int):
    """(kernel, stride, pad, dilation) of a ConvolutionParameter, one value per spatial axis."""
    return [list(per_axis(p, name, n_spatial, default)) for name, default in (("kernel", None), ("stride", 1), ("pad", 0), ("dilation", 1))]


def pool_geometry(p, height: int, width: int):
    """(kernel, stride, pad) of a PoolingParameter on an H x W input, as lists."""
    from .caffe.layers.pooling import read_pool

    pool = read_pool(p)
    return list(pool.kernel or (height, width)), list(pool.stride), list(pool.pad)


def _conv_checks(p, shape):
    read_conv(p, shape)  # Convolution's own checks: channel axis, group, num_output, kernel, stride, dilation


def infer(param, shapes):
    """(top shapes, learned blob shapes) of a layer."""
    setup = set_up(param.type, param, shapes, list(param.top) or ["top"])
    return list(setup.tops), list(setup.blobs)


def blob_shapes(net, layer):
    return list(layer.setup.blobs)
