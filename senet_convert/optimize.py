"""The torch inference graph: the folded net (folding.py), verified, never trusted.

`optimize(net)` lowers the folded net with the exact builders (module and state_dict names stay the
Caffe layer names: a folded conv is `conv1/7x7_s2.weight` and `.bias`) and then swaps in faster
equivalents that torch.compile, channels_last and ONNX all handle: global pooling as a mean, a 1x1
convolution over a 1x1 input (the SE block's two FCs) as one GEMM with its bias, ReLU in place where
nothing else reads its input. `check(net, inputs)` runs it against the numpy oracle.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .folding import Folding, fold, resolve
from .graph import Net
from .to_torch import lower, module_name
from .to_torch.conv import CaffeConv2d
from .to_torch.pooling import CaffePool2d

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


def optimize(net: Net, *, outputs: Sequence[str] | None = None, intermediate: bool = False) -> torch.fx.GraphModule:
    """The optimized net as a GraphModule in eval mode, like `to_torch.lower` (same calling convention).

    `outputs` are Caffe blob names or value names (default: net.outputs). With intermediate=True it
    returns every value that still exists (for checking; ReLUs are then not in place). The record of
    what was folded is `module.folding` (a Folding).
    """
    if intermediate and outputs is not None:
        raise TypeError("pass either intermediate=True or outputs, not both")
    wanted = resolve(net, net.outputs if outputs is None else outputs)
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
    module.folding = folding
    return module


# ---- verification against the oracle ----


@dataclass
class Parity:
    """Per value of the exact graph that the optimized graph still computes: (max|d|, max|oracle|)."""

    errors: dict[str, tuple[float, float]]
    outputs: list[str]
    rtol: float
    skipped: list[str]  # values folded away

    def failures(self, values: Iterable[str] | None = None) -> list[str]:
        out = []
        for v in self.errors if values is None else values:
            err, scale = self.errors[v]
            if err > max(self.rtol * scale, 1e-12):
                out.append(f"{v}: max|d| = {err:.3g}, {err / max(scale, 1e-30):.2e} of max|oracle|")
        return out

    @property
    def ok(self) -> bool:
        return not self.failures()

    def worst(self, values: Iterable[str] | None = None) -> float:
        names = list(self.errors if values is None else values)
        return max((self.errors[v][0] / max(self.errors[v][1], 1e-30) for v in names), default=0.0)


def check(
    net: Net, inputs: Mapping[str, np.ndarray], *, rtol: float = 1e-5, module: torch.nn.Module | None = None
) -> Parity:
    """The optimized graph (float32, CPU) against the float64 oracle on the exact net, value by value.

    Every value both graphs hold is compared (aliases included): max|d| <= rtol * max|oracle|.
    `module`, if given, must be `optimize(net, intermediate=True)`.
    """
    from . import reference

    module = optimize(net, intermediate=True) if module is None else module
    folding: Folding = module.folding
    expected = reference.run(net, inputs, intermediate=True)
    with torch.inference_mode():
        got = module(*[torch.as_tensor(np.asarray(inputs[name], np.float32)) for name in net.inputs])
    got = folding.exact_values(got)
    errors: dict[str, tuple[float, float]] = {}
    skipped = []
    for value, want in expected.items():
        mine = got.get(value)
        if mine is None:
            skipped.append(value)
            continue
        mine = mine.double().numpy()
        if mine.shape != want.shape:
            raise AssertionError(f"{value}: optimized shape {mine.shape}, oracle {want.shape}")
        errors[value] = (float(np.abs(mine - want).max(initial=0.0)), float(np.abs(want).max(initial=0.0)))
    return Parity(errors, list(net.outputs), rtol, skipped)
