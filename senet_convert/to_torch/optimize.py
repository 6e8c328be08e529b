"""The optimized inference graph: the folded net (edits.fold_batchnorm) lowered, with faster equivalents swapped in.


`optimize(net)` lowers the folded net with the exact builders (module and state_dict names stay the
Caffe layer names: a folded conv is `conv1/7x7_s2.weight` and `.bias`) and then swaps in faster
equivalents that torch.compile, channels_last and ONNX all handle: global pooling as a mean, a 1x1
convolution over a 1x1 input (the SE block's two FCs) as one GEMM with its bias, ReLU in place where
nothing else reads its input. verify's optimized row checks it against the numpy oracle.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..edits.fold_batchnorm import Folding, fold
from ..graph import Net
from . import lower, module_name
from .conv import CaffeConv2d
from .pooling import CaffePool2d

# Layers whose top is a new tensor (never a view of another value), so a ReLU may overwrite it.
_FRESH = ("Convolution", "InnerProduct", "Axpy", "Eltwise", "Pooling", "Scale")


# ---- the fast torch modules ----


class FastPool2d(CaffePool2d):
    """Caffe pooling; a window covering the whole input (global pooling, SE's squeeze) as one reduction."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.global_pooling or (self.kernel == tuple(x.shape[-2:]) and not any(self.pad)):
            return x.mean((-2, -1), keepdim=True) if self.method == "ave" else x.amax((-2, -1), keepdim=True)
        return super().forward(x)


class PointwiseConv2d(CaffeConv2d):
    """A 1x1 convolution; on a 1x1 input (the SE block's FCs) one GEMM with the bias fused in."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4 and x.shape[-2:] == (1, 1):
            return F.linear(x.flatten(1), self.weight.flatten(1), self.bias)[:, :, None, None]
        return super().forward(x)


def _pointwise(conv: nn.Conv2d, input_shape: Sequence[int]) -> bool:
    return (
        conv.kernel_size == (1, 1) and conv.stride == (1, 1) and conv.padding == (0, 0) and conv.groups == 1
        and len(input_shape) == 4 and tuple(input_shape[2:]) == (1, 1)
    )


def _speed_up(module: torch.fx.GraphModule, net: Net, *, inplace: bool, kept: set[str]) -> None:
    producer = net.producer()
    readers: dict[str, int] = defaultdict(int)
    for layer in net.layers:
        for bottom in set(layer.bottoms):
            readers[bottom] += 1
    for layer in net.layers:
        target = module_name(layer.name)
        if not hasattr(module, target):  # not needed for the requested outputs (dead code removed)
            continue
        old = module.get_submodule(target)
        if isinstance(old, CaffePool2d):
            new = FastPool2d(old.method, old.kernel, old.stride, old.pad, old.ceil, old.global_pooling)
        elif isinstance(old, CaffeConv2d) and _pointwise(old, net.shapes[layer.bottoms[0]]):
            new = PointwiseConv2d(old.in_channels, old.out_channels, 1, bias=old.bias is not None, device="meta")
            new.weight, new.bias = old.weight, old.bias
        elif type(old) is nn.ReLU and inplace:
            (value,) = layer.bottoms
            source = producer.get(value)
            if readers[value] != 1 or value in kept or source is None or source.type not in _FRESH:
                continue
            new = nn.ReLU(inplace=True)
        else:
            continue
        module.add_submodule(target, new)


class Optimized(NamedTuple):
    module: torch.fx.GraphModule  # eval mode, called like to_torch.lower's
    folding: Folding  # what was folded into what; folding.net is the folded Net the module computes


def optimize(net: Net, *, outputs: Sequence[str] | None = None, intermediate: bool = False) -> Optimized:
    """The optimized net: (module, folding).

    `outputs` are Caffe blob names or value names (default: net.outputs). With intermediate=True the
    module returns every value that still exists (for checking; ReLUs are then not in place).
    """
    if intermediate and outputs is not None:
        raise TypeError("pass either intermediate=True or outputs, not both")
    wanted = net.resolve(net.outputs if outputs is None else outputs)
    folded, folding = fold(net, keep=wanted)
    wanted = [folding.aliases.get(v, v) for v in wanted]
    # What could fold has folded; a BatchNorm left (an output itself) runs on its own, as ONNX export needs.
    module = lower(folded, intermediate=True) if intermediate else lower(folded, outputs=wanted, one_pass_batchnorm=False)
    _speed_up(module, folded, inplace=not intermediate, kept=set(wanted))
    rewritten = set(folding.rewritten)
    for layer in folded.layers:  # one copy of the folded weights: the module's
        if layer.name in rewritten:
            sub = module.get_submodule(module_name(layer.name))
            layer.blobs = [sub.weight.detach().numpy().reshape(layer.blobs[0].shape), sub.bias.detach().numpy()]
    module.eval()
    module.requires_grad_(False)
    return Optimized(module, folding)
