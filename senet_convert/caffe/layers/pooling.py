"""Pooling over the two spatial axes of an N x C x H x W bottom: MAX and AVE.

kernel_size or kernel_h + kernel_w (required unless global_pooling), pad or pad_h + pad_w (default
0), stride or stride_h + stride_w (default 1): one form each, and a pair always together. With
global_pooling the kernel is H x W, must not be given, and pad must be 0 and stride 1. Every pad
must be smaller than its kernel. STOCHASTIC pooling is refused: Caffe computes it only on the GPU
(at test time a window's sum(x^2) / sum(x)) and its CPU forward pass aborts.
Top: ceil((H + 2*pad - kernel) / stride) + 1 (round_mode CEIL, the default; FLOOR floors), then,
if any pad is non-zero, one less when (out - 1) * stride >= H + pad: the last window must start
inside the input or its leading padding (the test runs on both axes as soon as either pad is set).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..caffe_pb2 import PoolingParameter as P
from .registry import fmt, layer_type, refuse, require


@dataclass(frozen=True)
class PoolParams:
    method: str  # "max" or "ave"
    kernel: tuple[int, int] | None  # None: global pooling (the whole H x W)
    stride: tuple[int, int]
    pad: tuple[int, int]
    ceil: bool  # round_mode CEIL

    @property
    def global_pooling(self) -> bool:
        return self.kernel is None


def _pair(p, name: str, default: int | None) -> tuple[int, int]:
    single = "kernel_size" if name == "kernel" else name
    has_h, has_w = p.HasField(f"{name}_h"), p.HasField(f"{name}_w")
    if p.HasField(single):
        require(not (has_h or has_w), f"give {single} or {name}_h and {name}_w, not both")
        return getattr(p, single), getattr(p, single)
    if has_h or has_w:
        require(has_h and has_w, f"{name}_h and {name}_w must be given together")
        return getattr(p, f"{name}_h"), getattr(p, f"{name}_w")
    if default is None:
        refuse("kernel_size (or kernel_h and kernel_w) is required unless global_pooling is set")
    return default, default


def read_pool(p) -> PoolParams:
    if p.pool == P.STOCHASTIC:
        refuse("STOCHASTIC pooling is not supported: Caffe computes it only on the GPU and has no CPU forward pass for it")
    require(p.pool in (P.MAX, P.AVE), f"unknown pooling method {p.pool}")
    if p.global_pooling:
        require(
            not (p.HasField("kernel_size") or p.HasField("kernel_h") or p.HasField("kernel_w")),
            "with global_pooling the kernel size cannot be specified",
        )
        kernel = None
    else:
        kernel = _pair(p, "kernel", None)
    pad, stride = _pair(p, "pad", 0), _pair(p, "stride", 1)
    if kernel is None:
        require(pad == (0, 0) and stride == (1, 1), "with global_pooling only pad 0 and stride 1 are allowed")
    else:
        require(min(kernel) > 0, f"kernel {list(kernel)} must be positive")
        require(min(stride) > 0, f"stride {list(stride)} must be positive")
        require(all(q < k for q, k in zip(pad, kernel)), f"pad {list(pad)} must be smaller than kernel {list(kernel)}")
    return PoolParams("max" if p.pool == P.MAX else "ave", kernel, stride, pad, p.round_mode == P.CEIL)


@layer_type("Pooling")
def pooling(param, shapes):
    shape = shapes[0]
    require(len(shape) == 4, f"pooling needs a 4-D bottom (N, C, H, W), got {fmt(shape)}")
    pool = read_pool(param.pooling_param)
    kernel = pool.kernel or shape[2:]
    out = []
    for size, k, s, q in zip(shape[2:], kernel, pool.stride, pool.pad):
        span = size + 2 * q - k
        require(span >= 0, f"kernel {k} is larger than the padded input {size + 2 * q}")
        o = -(-span // s) + 1 if pool.ceil else span // s + 1
        if any(pool.pad) and (o - 1) * s >= size + q:
            o -= 1
        out.append(o)
    return pool, [(shape[0], shape[1], *out)], []
