"""Work per forward pass, counted instead of timed: the kernels each graph launches and the bytes they touch.

    python benchmarks/traffic.py [--models SE-ResNet-50,SE-ResNeXt-50,SENet-154] [--batch 128]

A GPU at batch 128 spends much of an eager SENet forward pass streaming activations through
element-wise kernels (BatchNorm, Scale, ReLU, the SE gate, the residual add), and every kernel
launch costs host time. Both can be counted without a GPU: each graph runs on PyTorch's meta device
(shapes only, no arithmetic, so SENet-154 at batch 128 takes seconds) under a dispatch hook that
sees every ATen operator the eager forward pass calls, as it would call them on CUDA.

Per graph (exact, optimized, and timm's legacy model when timm is installed):
  kernels     operators that launch work (views and reshapes excluded), in a second, steady-state
              call (the first one fills the exact graph's BatchNorm statistics cache)
  big         those that touch more than 1 MiB: the passes over activations
  GB conv     bytes read and written by convolutions and GEMMs (inputs, weights, outputs)
  GB other    bytes read and written by everything else
  bias        + GB for cuDNN's separate bias pass: eager CUDA convolutions add a bias in a pass
              of their own (read and write of the output), which the meta device does not show
  x timm      total bytes (with the bias pass) over timm's

This is a model of memory traffic (each operator reads its inputs and writes its outputs once;
caches ignored), not a measurement of speed: benchmarks/gpu.py measures that on a GPU.
"""
from __future__ import annotations

import argparse
import collections

import torch
from common import synthetic_net
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

TIMM = {
    "SE-ResNet-50": "legacy_seresnet50",
    "SE-ResNeXt-50": "legacy_seresnext50_32x4d",
    "SENet-154": "legacy_senet154",
}
GEMMS = {"convolution", "conv2d", "addmm", "mm", "linear", "matmul", "bmm"}
BIG = 1 << 20  # bytes touched by one kernel above which it counts as a pass over activations


class Counter(TorchDispatchMode):
    """Counts the ATen operators dispatched below it and the bytes each reads and writes."""

    def __init__(self):
        super().__init__()
        self.kernels = 0
        self.big = 0
        self.bytes = collections.Counter()  # "gemm" / "other" / "bias"

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.is_view or func.overloadpacket.__name__ == "_unsafe_view":  # no kernel, no bytes
            return out
        tensors = [t for t in tree_leaves((args, kwargs or {}, out)) if isinstance(t, torch.Tensor)]
        touched = sum(t.numel() * t.element_size() for t in tensors)
        name = func.overloadpacket.__name__
        self.kernels += 1
        self.big += touched > BIG
        self.bytes["gemm" if name in GEMMS else "other"] += touched
        if name in ("convolution", "conv2d") and len(args) > 2 and args[2] is not None:
            self.bytes["bias"] += 2 * out.numel() * out.element_size()
        return out


def count(module: torch.nn.Module, x: torch.Tensor) -> Counter:
    with torch.inference_mode():
        module(x)  # warm-up: caches filled as in a steady-state run
        counter = Counter()
        with counter:
            module(x)
    return counter


def graphs(model: str, timm) -> dict[str, torch.nn.Module]:
    from senet_convert.to_torch import module_for
    from senet_convert.to_torch.optimize import optimize

    net = synthetic_net(model)  # synthetic.py's weights, in memory: no caffemodel to write first
    found = {"exact": module_for(net, ["classifier"]), "optimized": optimize(net, outputs=["classifier"]).module}
    if timm is not None:
        found["timm"] = timm.create_model(TIMM[model], pretrained=False).eval()
    return {name: module.to("meta") for name, module in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(TIMM))
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    try:
        import timm
    except ImportError:
        timm = None
    print(f"one forward pass, batch {args.batch}, 224 x 224, float32, NCHW; torch {torch.__version__}, "
          f"timm {getattr(timm, '__version__', 'not installed')}")
    x = torch.empty(args.batch, 3, 224, 224, device="meta")
    for model in (m for m in args.models.split(",") if m):
        print(f"\n{model}")
        print(f"  {'graph':<10} {'kernels':>8} {'big':>6} {'GB conv':>9} {'GB other':>9} {'bias':>7} {'x timm':>7}")
        rows = {name: count(module, x) for name, module in graphs(model, timm).items()}
        base = sum(rows["timm"].bytes.values()) if "timm" in rows else None
        for name, c in rows.items():
            total = sum(c.bytes.values())
            ratio = f"{total / base:.2f}x" if base else "-"
            print(f"  {name:<10} {c.kernels:>8} {c.big:>6} {c.bytes['gemm'] / 1e9:>9.1f} "
                  f"{c.bytes['other'] / 1e9:>9.1f} {'+' + format(c.bytes['bias'] / 1e9, '.1f'):>7} {ratio:>7}")


if __name__ == "__main__":
    main()
