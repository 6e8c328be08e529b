"""Shape inference by Caffe's rules, one small function per supported layer type.

Each entry maps (layer parameters, bottom shapes) to the top shapes and to the shapes of
the learned blobs Caffe would allocate, so a caffemodel can be checked before anything is
computed. This is the loader's own arithmetic: the numpy oracle and the torch lowering
compute sizes independently, so a mistake here cannot hide a mistake there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from .caffe import caffe_pb2

Shape = tuple[int, ...]
# Caffe counts blob elements in an int; a larger blob cannot have come from Caffe.
MAX_COUNT = 2**31 - 1


class ShapeError(Exception):
    pass


@dataclass(frozen=True)
class ShapeRule:
    tops: Callable[[caffe_pb2.LayerParameter, list[Shape]], list[Shape]]
    blobs: Callable[[caffe_pb2.LayerParameter, list[Shape]], list[Shape]]
    bottoms: tuple[int, int | None] = (1, 1)  # (min, max) number of bottoms; None: any


RULES: dict[str, ShapeRule] = {}


def rule(type_name: str, bottoms: tuple[int, int | None] = (1, 1), blobs=None):
    def decorate(fn):
        if type_name in RULES:
            raise ValueError(f"shape rule for {type_name!r} registered twice")
        RULES[type_name] = ShapeRule(fn, blobs or (lambda param, shapes: []), bottoms)
        return fn

    return decorate


def check_shape(shape: Shape, what: str) -> Shape:
    if any(d < 1 for d in shape):
        raise ShapeError(f"{what} has a non-positive dimension: {fmt(shape)}")
    if math.prod(shape) > MAX_COUNT:
        raise ShapeError(f"{what} {fmt(shape)} has {math.prod(shape)} elements, more than Caffe's limit of 2^31-1")
    return shape


def fmt(shape: Shape) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


def canonical_axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ShapeError(f"axis {axis} is out of range for a {ndim}-D blob")
    return axis % ndim


# ---- element-wise and identity layers ------------------------------------------------


def _same(param, shapes):
    return [shapes[0]]


for _name in ("ReLU", "Sigmoid", "TanH", "Dropout", "Softmax"):
    rule(_name)(_same)


@rule("Split", bottoms=(1, 1))
def _split(param, shapes):
    return [shapes[0]] * max(1, len(param.top))


@rule("Eltwise", bottoms=(2, None))
def _eltwise(param, shapes):
    if any(s != shapes[0] for s in shapes):
        raise ShapeError("bottoms differ in shape: " + ", ".join(fmt(s) for s in shapes))
    p = param.eltwise_param
    if p.coeff and len(p.coeff) != len(shapes):
        raise ShapeError(f"{len(p.coeff)} coeffs for {len(shapes)} bottoms")
    if p.coeff and p.operation != caffe_pb2.EltwiseParameter.SUM:
        raise ShapeError("coeff is only allowed for SUM")
    return [shapes[0]]


@rule("Axpy", bottoms=(3, 3))
def _axpy(param, shapes):
    a, x, y = shapes
    if x != y or len(x) < 2:
        raise ShapeError(f"x {fmt(x)} and y {fmt(y)} must have the same shape, N x C x ...")
    if a[:2] != x[:2] or any(d != 1 for d in a[2:]):
        raise ShapeError(f"a {fmt(a)} must be N x C (x 1 x 1) for x {fmt(x)}")
    return [x]


# ---- learned layers ------------------------------------------------------------------


def _spatial(param_repeated, h, w, n_spatial, default, name):
    """Caffe's kernel/stride/pad/dilation reading: the _h/_w pair or 0, 1 or n repeated values."""
    if h is not None or w is not None:
        if list(param_repeated):
            raise ShapeError(f"give {name} or {name}_h and {name}_w, not both")
        if n_spatial != 2:
            raise ShapeError(f"{name}_h/{name}_w need 2 spatial axes, the blob has {n_spatial}")
        if h is None or w is None:
            raise ShapeError(f"{name}_h and {name}_w must be given together")
        return [h, w]
    values = list(param_repeated)
    if not values:
        if default is None:
            raise ShapeError(f"{name} is not given")
        return [default] * n_spatial
    if len(values) == 1:
        return values * n_spatial
    if len(values) != n_spatial:
        raise ShapeError(f"{len(values)} values of {name} for {n_spatial} spatial axes")
    return values


def conv_geometry(p: caffe_pb2.ConvolutionParameter, n_spatial: int):
    opt = lambda field: getattr(p, field) if p.HasField(field) else None  # noqa: E731
    kernel = _spatial(p.kernel_size, opt("kernel_h"), opt("kernel_w"), n_spatial, None, "kernel")
    stride = _spatial(p.stride, opt("stride_h"), opt("stride_w"), n_spatial, 1, "stride")
    pad = _spatial(p.pad, opt("pad_h"), opt("pad_w"), n_spatial, 0, "pad")
    dilation = _spatial(p.dilation, None, None, n_spatial, 1, "dilation")
    if any(k < 1 for k in kernel) or any(s < 1 for s in stride) or any(d < 1 for d in dilation):
        raise ShapeError("kernel, stride and dilation must be positive")
    return kernel, stride, pad, dilation


def _conv_checks(p, shape):
    if p.axis not in (1, -len(shape) + 1):
        raise ShapeError(f"convolution axis {p.axis} is not supported (only 1)")
    if len(shape) < 3:
        raise ShapeError(f"convolution needs an N x C x spatial blob, got {fmt(shape)}")
    if p.num_output < 1:
        raise ShapeError("num_output must be positive")
    channels, group = shape[1], p.group
    if group < 1 or channels % group or p.num_output % group:
        raise ShapeError(f"group {group} must divide the {channels} input channels and num_output {p.num_output}")


@rule("Convolution", blobs=lambda param, shapes: _conv_blobs(param, shapes))
def _convolution(param, shapes):
    p, shape = param.convolution_param, shapes[0]
    _conv_checks(p, shape)
    kernel, stride, pad, dilation = conv_geometry(p, len(shape) - 2)
    out = []
    for size, k, s, q, d in zip(shape[2:], kernel, stride, pad, dilation):
        extent = d * (k - 1) + 1
        o = (size + 2 * q - extent) // s + 1
        if o < 1:
            raise ShapeError(f"kernel extent {extent} does not fit input size {size} with pad {q}")
        out.append(o)
    return [(shape[0], p.num_output, *out)]


def _conv_blobs(param, shapes):
    p, shape = param.convolution_param, shapes[0]
    kernel, _, _, _ = conv_geometry(p, len(shape) - 2)
    blobs = [(p.num_output, shape[1] // p.group, *kernel)]
    return blobs + [(p.num_output,)] if p.bias_term else blobs


def _ip_blobs(param, shapes):
    p, shape = param.inner_product_param, shapes[0]
    axis = canonical_axis(p.axis, len(shape))
    k = math.prod(shape[axis:])
    weight = (k, p.num_output) if p.transpose else (p.num_output, k)
    return [weight, (p.num_output,)] if p.bias_term else [weight]


@rule("InnerProduct", blobs=_ip_blobs)
def _inner_product(param, shapes):
    p, shape = param.inner_product_param, shapes[0]
    if p.num_output < 1:
        raise ShapeError("num_output must be positive")
    axis = canonical_axis(p.axis, len(shape))
    return [(*shape[:axis], p.num_output)]


def _bn_blobs(param, shapes):
    shape = shapes[0]
    channels = shape[1] if len(shape) > 1 else 1
    return [(channels,), (channels,), (1,)]


@rule("BatchNorm", blobs=_bn_blobs)
def _batch_norm(param, shapes):
    return [shapes[0]]


def _scale_shape(shape: Shape, axis: int, num_axes: int) -> Shape:
    axis = canonical_axis(axis, len(shape)) if shape else 0
    if num_axes < -1:
        raise ShapeError(f"num_axes {num_axes} must be -1 or non-negative")
    end = len(shape) if num_axes == -1 else axis + num_axes
    if end > len(shape):
        raise ShapeError(f"axis {axis} + num_axes {num_axes} exceed the {len(shape)}-D bottom {fmt(shape)}")
    return tuple(shape[axis:end])


def _two_bottom_check(shape: Shape, other: Shape, axis: int):
    axis = canonical_axis(axis, len(shape))
    if tuple(shape[axis : axis + len(other)]) != tuple(other):
        raise ShapeError(f"second bottom {fmt(other)} does not match {fmt(shape)} from axis {axis}")


def _scale_blobs(param, shapes):
    p = param.scale_param
    if len(shapes) == 2:
        return [shapes[1]] if p.bias_term else []
    scale = _scale_shape(shapes[0], p.axis, p.num_axes)
    return [scale, scale] if p.bias_term else [scale]


@rule("Scale", bottoms=(1, 2), blobs=_scale_blobs)
def _scale(param, shapes):
    if len(shapes) == 2:
        _two_bottom_check(shapes[0], shapes[1], param.scale_param.axis)
    return [shapes[0]]


def _bias_blobs(param, shapes):
    p = param.bias_param
    return [] if len(shapes) == 2 else [_scale_shape(shapes[0], p.axis, p.num_axes)]


@rule("Bias", bottoms=(1, 2), blobs=_bias_blobs)
def _bias(param, shapes):
    if len(shapes) == 2:
        _two_bottom_check(shapes[0], shapes[1], param.bias_param.axis)
    return [shapes[0]]


# ---- pooling -------------------------------------------------------------------------


def pool_geometry(p: caffe_pb2.PoolingParameter, height: int, width: int):
    has = p.HasField
    if p.global_pooling:
        if has("kernel_size") or has("kernel_h") or has("kernel_w"):
            raise ShapeError("global_pooling takes no kernel size")
        kernel = [height, width]
    elif has("kernel_h") or has("kernel_w"):
        if has("kernel_size"):
            raise ShapeError("give kernel_size or kernel_h and kernel_w, not both")
        if not (has("kernel_h") and has("kernel_w")):
            raise ShapeError("kernel_h and kernel_w must be given together")
        kernel = [p.kernel_h, p.kernel_w]
    elif has("kernel_size"):
        kernel = [p.kernel_size] * 2
    else:
        raise ShapeError("pooling needs kernel_size or kernel_h/kernel_w")
    for name in ("pad", "stride"):
        if has(name) and (has(f"{name}_h") or has(f"{name}_w")):
            raise ShapeError(f"give {name} or {name}_h and {name}_w, not both")
    pad = [p.pad_h, p.pad_w] if has("pad_h") or has("pad_w") else [p.pad] * 2
    stride = [p.stride_h, p.stride_w] if has("stride_h") or has("stride_w") else [p.stride] * 2
    if p.global_pooling:
        pad, stride = [0, 0], [1, 1]
    if any(k < 1 for k in kernel) or any(s < 1 for s in stride):
        raise ShapeError("kernel and stride must be positive")
    if any(q >= k for q, k in zip(pad, kernel)):
        raise ShapeError(f"pad {pad} must be smaller than kernel {kernel}")
    return kernel, stride, pad


@rule("Pooling")
def _pooling(param, shapes):
    shape = shapes[0]
    if len(shape) != 4:
        raise ShapeError(f"pooling needs a 4-D blob, got {fmt(shape)}")
    p = param.pooling_param
    kernel, stride, pad = pool_geometry(p, shape[2], shape[3])
    out = []
    for size, k, s, q in zip(shape[2:], kernel, stride, pad):
        span = size + 2 * q - k
        if span < 0:
            raise ShapeError(f"kernel {k} is larger than the padded input {size + 2 * q}")
        if p.round_mode == caffe_pb2.PoolingParameter.FLOOR:
            o = span // s + 1
        else:
            o = -(-span // s) + 1
        # Caffe: the last window must start inside the input or its leading padding; the test
        # runs on both axes as soon as either pad is non-zero.
        if any(pad) and (o - 1) * s >= size + q:
            o -= 1
        out.append(o)
    return [(shape[0], shape[1], *out)]


# ---- tensor plumbing -----------------------------------------------------------------


@rule("Concat", bottoms=(1, None))
def _concat(param, shapes):
    p = param.concat_param
    axis = p.concat_dim if p.HasField("concat_dim") else p.axis
    axis = canonical_axis(axis, len(shapes[0]))
    for s in shapes[1:]:
        if len(s) != len(shapes[0]) or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != axis):
            raise ShapeError(f"bottoms {', '.join(fmt(s) for s in shapes)} differ outside axis {axis}")
    top = list(shapes[0])
    top[axis] = sum(s[axis] for s in shapes)
    return [tuple(top)]


@rule("Flatten")
def _flatten(param, shapes):
    shape, p = shapes[0], param.flatten_param
    start = canonical_axis(p.axis, len(shape))
    end = canonical_axis(p.end_axis, len(shape))
    return [(*shape[:start], math.prod(shape[start : end + 1]), *shape[end + 1 :])]


@rule("Reshape")
def _reshape(param, shapes):
    shape, p = shapes[0], param.reshape_param
    dims = list(p.shape.dim)
    start = p.axis if p.axis >= 0 else len(shape) + p.axis + 1
    if not 0 <= start <= len(shape):
        raise ShapeError(f"reshape axis {p.axis} is out of range for {fmt(shape)}")
    end = len(shape) if p.num_axes == -1 else start + p.num_axes
    if p.num_axes < -1 or end > len(shape):
        raise ShapeError(f"reshape num_axes {p.num_axes} is out of range for {fmt(shape)}")
    if sum(d == -1 for d in dims) > 1:
        raise ShapeError("at most one reshape dim may be -1")
    new = []
    for i, d in enumerate(dims):
        if d == 0:
            if start + i >= len(shape):
                raise ShapeError(f"reshape dim {i} is 0 but the bottom has no axis {start + i}")
            new.append(shape[start + i])
        elif d < -1:
            raise ShapeError(f"reshape dim {d} is invalid")
        else:
            new.append(d)
    replaced = math.prod(shape[start:end])
    if -1 in new:
        known = math.prod(d for d in new if d != -1)
        if known == 0 or replaced % known:
            raise ShapeError(f"cannot infer the -1 dim: {replaced} elements into {new}")
        new[new.index(-1)] = replaced // known
    elif math.prod(new) != replaced:
        raise ShapeError(f"reshape to {new} changes the element count of {fmt(shape)}")
    return [(*shape[:start], *new, *shape[end:])]


def blob_shapes(net, layer) -> list[Shape]:
    """The learned blob shapes Caffe allocates for `layer` (a graph.Layer) of `net` (a graph.Net)."""
    return infer(layer.param, [net.shapes[b] for b in layer.bottoms])[1]


def infer(param: caffe_pb2.LayerParameter, shapes: list[Shape]) -> tuple[list[Shape], list[Shape]]:
    """(top shapes, learned blob shapes) of a layer of a supported type."""
    entry = RULES[param.type]
    low, high = entry.bottoms
    if len(shapes) < low or (high is not None and len(shapes) > high):
        wanted = f"{low}" if low == high else f"{low} or more" if high is None else f"{low} to {high}"
        raise ShapeError(f"takes {wanted} bottoms, got {len(shapes)}")
    tops = entry.tops(param, shapes)
    return tops, entry.blobs(param, shapes)


# The rules of the remaining layer types live beside these; importing them registers them.
from . import more_shapes  # noqa: E402,F401
