"""Shape rules (Caffe's LayerSetUp + Reshape checks) for the layers beyond the SENets': the loader's
own arithmetic, independent of the oracle and the lowering like the rules in shapes.py.
"""
from __future__ import annotations

import math

from .caffe import caffe_pb2
from .caffe.layers.registry import set_up
from .shapes import ShapeError, _same, canonical_axis, fmt, rule


def _checked_same(check):
    def tops(param, shapes):
        check(param)
        return _same(param, shapes)

    return tops


def _clip(param):
    if not (param.clip_param.HasField("min") and param.clip_param.HasField("max")):
        raise ShapeError("clip_param needs both min and max")


def _base(base: float, what: str, allow_one: bool = True):
    if base != -1 and (not base > 0 or (not allow_one and base == 1)):  # NaN is refused too, as Caffe's CHECK_GT
        raise ShapeError(f"{what} base {base:g} must be positive{'' if allow_one else ' and not 1'} (or -1 for e)")


for _name in ("AbsVal", "BNLL", "ELU", "Power", "Swish", "Threshold"):
    rule(_name)(_same)
rule("Clip")(_checked_same(_clip))
rule("Exp")(_checked_same(lambda param: _base(param.exp_param.base, "Exp")))
rule("Log")(_checked_same(lambda param: _base(param.log_param.base, "Log", allow_one=False)))


def _prelu_blobs(param, shapes):
    return [()] if param.prelu_param.channel_shared else [(shapes[0][1],)]


@rule("PReLU", blobs=_prelu_blobs)
def _prelu(param, shapes):
    if len(shapes[0]) < 2:
        raise ShapeError(f"PReLU needs a channel axis, got {fmt(shapes[0])}")
    return [shapes[0]]


@rule("Crop", bottoms=(2, 2))
def _crop(param, shapes):
    x, like = shapes
    if len(x) != len(like):
        raise ShapeError(f"bottoms {fmt(x)} and {fmt(like)} differ in their number of axes")
    start = canonical_axis(param.crop_param.axis, len(x))
    offsets = list(param.crop_param.offset)
    if len(offsets) not in (0, 1, len(x) - start):
        raise ShapeError(f"{len(offsets)} offsets for {len(x) - start} cropped axes (none, one, or one per axis)")
    top = list(x)
    for i in range(start, len(x)):
        offset = offsets[0] if len(offsets) == 1 else offsets[i - start] if offsets else 0
        if x[i] - offset < like[i]:
            raise ShapeError(f"axis {i}: offset {offset} + size {like[i]} exceeds {x[i]}")
        top[i] = like[i]
    return [tuple(top)]


@rule("Slice")
def _slice(param, shapes):
    shape, p, n = shapes[0], param.slice_param, max(1, len(param.top))
    if p.HasField("slice_dim") and p.HasField("axis"):
        raise ShapeError("give axis or slice_dim, not both")
    axis = p.slice_dim if p.HasField("slice_dim") else p.axis
    axis = canonical_axis(axis, len(shape))
    extent, points = shape[axis], list(p.slice_point)
    if points:
        if len(points) != n - 1:
            raise ShapeError(f"{len(points)} slice points for {n} tops (one fewer than the tops)")
        bounds = [0, *points, extent]
        if any(b <= a for a, b in zip(bounds, bounds[1:])):
            raise ShapeError(f"slice points {points} must increase strictly inside the extent {extent}")
        sizes = [b - a for a, b in zip(bounds, bounds[1:])]
    elif extent % n:
        raise ShapeError(f"axis {axis} of extent {extent} does not split into {n} equal parts")
    else:
        sizes = [extent // n] * n
    return [(*shape[:axis], size, *shape[axis + 1 :]) for size in sizes]


@rule("Tile")
def _tile(param, shapes):
    shape, p = shapes[0], param.tile_param
    if not p.HasField("tiles") or p.tiles < 1:
        raise ShapeError("tile_param needs tiles > 0")
    axis = canonical_axis(p.axis, len(shape))
    return [(*shape[:axis], shape[axis] * p.tiles, *shape[axis + 1 :])]


@rule("Reduction")
def _reduction(param, shapes):
    p = param.reduction_param
    if p.operation not in caffe_pb2.ReductionParameter.ReductionOp.values():
        raise ShapeError(f"unknown Reduction operation {p.operation}")
    return [tuple(shapes[0][: canonical_axis(p.axis, len(shapes[0]))])]


@rule("ArgMax")
def _argmax(param, shapes):
    shape, p = shapes[0], param.argmax_param
    if p.top_k < 1:
        raise ShapeError("top_k must be at least 1")
    if p.HasField("axis"):
        axis = canonical_axis(p.axis, len(shape))
        if p.top_k > shape[axis]:
            raise ShapeError(f"top_k {p.top_k} exceeds axis {axis}'s extent {shape[axis]}")
        return [(*shape[:axis], p.top_k, *shape[axis + 1 :])]
    if p.top_k > math.prod(shape[1:]):
        raise ShapeError(f"top_k {p.top_k} exceeds the {math.prod(shape[1:])} values per sample")
    return [(shape[0], 2 if p.out_max_val else 1, p.top_k, *([1] * (len(shape) - 3)))]


@rule("MVN")
def _mvn(param, shapes):
    shape = shapes[0]
    if not 1 <= len(shape) <= 4:
        raise ShapeError(f"MVN takes 1 to 4 axes, got {fmt(shape)}")
    return [tuple(shape) + (1,) * (4 - len(shape))]


def _embed_blobs(param, shapes):
    p = param.embed_param
    return [(p.input_dim, p.num_output), (p.num_output,)] if p.bias_term else [(p.input_dim, p.num_output)]


@rule("Embed", blobs=_embed_blobs)
def _embed(param, shapes):
    p = param.embed_param
    if p.num_output < 1 or p.input_dim < 1:
        raise ShapeError("embed_param needs positive num_output and input_dim")
    return [(*shapes[0], p.num_output)]


@rule("SPP")
def _spp(param, shapes):
    shape, p = shapes[0], param.spp_param
    if len(shape) != 4:
        raise ShapeError(f"SPP needs a 4-D blob, got {fmt(shape)}")
    if not p.HasField("pyramid_height") or p.pyramid_height < 1:
        raise ShapeError("spp_param needs pyramid_height >= 1")
    if p.pool == caffe_pb2.PoolingParameter.STOCHASTIC:
        raise ShapeError("STOCHASTIC pooling has no CPU forward pass in Caffe")
    levels = []
    for level in range(p.pyramid_height):
        pooling = caffe_pb2.LayerParameter(type="Pooling")
        bins = 2**level
        for axis, size in zip("hw", shape[2:]):
            kernel = -(-size // bins)
            setattr(pooling.pooling_param, f"kernel_{axis}", kernel)
            setattr(pooling.pooling_param, f"stride_{axis}", kernel)
            setattr(pooling.pooling_param, f"pad_{axis}", (kernel * bins - size + 1) // 2)
        try:
            (top,) = set_up("Pooling", pooling, [shape], ["level"]).tops
        except ShapeError as exc:
            raise ShapeError(f"pyramid level {level}: {exc}") from None
        levels.append(top)
    if p.pyramid_height == 1:
        return levels
    return [(shape[0], sum(math.prod(top[1:]) for top in levels))]


def _parameter_blobs(param, shapes):
    return [tuple(param.parameter_param.shape.dim)]


@rule("Parameter", bottoms=(0, 0), blobs=_parameter_blobs)
def _parameter(param, shapes):
    return [tuple(param.parameter_param.shape.dim)]

