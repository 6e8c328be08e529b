"""SPP: pyramid_height (required, at least 1) levels over an N x C x H x W bottom, pool MAX (default)
or AVE (STOCHASTIC has no CPU forward pass in Caffe). Level l pools into 2^l bins per axis with
Caffe's Pooling: kernel = stride = ceil(H / bins), pad = (kernel * bins - H + 1) // 2 (likewise for
W); each level must be a Pooling Caffe accepts (pad smaller than kernel). Top: one level, that
pooling's N x C x 1 x 1; more, N x (C * the bins of all levels). The backends derive each level's
geometry from the bottom themselves.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..caffe_pb2 import LayerParameter
from ..caffe_pb2 import PoolingParameter as P
from .pooling import pooling
from .registry import LayerError, fmt, layer_type, require


@dataclass(frozen=True)
class SPPParams:
    method: str  # "max" or "ave"
    levels: int  # pyramid_height


def _level(pool: int, level: int, shape) -> LayerParameter:
    """Level `level` as the Pooling layer Caffe's SPPLayer builds for it."""
    param = LayerParameter(type="Pooling")
    param.pooling_param.pool = pool
    bins = 2**level
    for axis, size in zip("hw", shape[2:]):
        kernel = -(-size // bins)
        setattr(param.pooling_param, f"kernel_{axis}", kernel)
        setattr(param.pooling_param, f"stride_{axis}", kernel)
        setattr(param.pooling_param, f"pad_{axis}", (kernel * bins - size + 1) // 2)
    return param


@layer_type("SPP")
def spp(param, shapes):
    shape, p = shapes[0], param.spp_param
    require(len(shape) == 4, f"SPP needs a 4-D blob, got {fmt(shape)}")
    require(p.HasField("pyramid_height") and p.pyramid_height >= 1, "spp_param needs pyramid_height >= 1")
    require(p.pool != P.STOCHASTIC, "STOCHASTIC pooling has no CPU forward pass in Caffe")
    tops = []
    for level in range(p.pyramid_height):
        try:
            _, (top,), _ = pooling(_level(p.pool, level, shape), [shape])
        except LayerError as exc:
            raise LayerError(f"pyramid level {level}: {exc}") from None
        tops.append(top)
    params = SPPParams("max" if p.pool == P.MAX else "ave", p.pyramid_height)
    if p.pyramid_height == 1:
        return params, tops, []
    return params, [(shape[0], sum(math.prod(top[1:]) for top in tops))], []
