"""Parity: the numpy oracle (float64) against everything that claims to compute the same net.

Backends, each compared value by value with the oracle:
  * the torch lowering on each device, float32 in parity mode (TF32 off for CUDA matmuls and
    cuDNN convolutions, full float32 for oneDNN on the CPU; the settings are restored afterwards).
    Every value of the IR is compared: each Caffe blob's final value and the values that in-place
    layers later overwrite (`conv1/7x7_s2` raw conv output, `conv1/7x7_s2@conv1/7x7_s2/bn`, ...);
  * a .pt2 (torch.export program) at its outputs;
  * an .onnx file in ONNX Runtime at its outputs, and, for files senet-convert wrote (which name
    their tensors after the Caffe values), at every value the optimiser left as a tensor;
  * blobs dumped by real Caffe (`caffe_blobs`: Caffe blob name -> array of its final value), which
    the oracle and every backend are compared with as well.

The metric per value is max|x - ref| / max|ref| <= tolerance, 2e-5 by default: about 5x the worst
float32 noise measured against real Caffe, and small enough to catch BatchNorm's eps set to 0 (see
../shared/goldens/README.md). An all-zero reference allows only max|x| <= 1e-12. Element-wise
relative errors mean nothing here: ReLU outputs hold many exact zeros. The first value out of
tolerance in execution order names the layer that introduced the error: every value it read
was still within tolerance.

Informational rows (not checked) show what TF32 (CUDA) and bf16 autocast (CPU, CUDA) do to the
outputs: the largest relative error and the top-1 agreement with the oracle.
"""
from __future__ import annotations

from .caffe_blobs import read_caffe_blobs
from .compare import check, compare, execution_order, max_abs, max_error, top_k_agreement
from .devices import precision
from .report import TOLERANCE, Backend, Check, Info, Report, render
from .run import verify

__all__ = [
    "TOLERANCE", "Backend", "Check", "Info", "Report", "check", "compare", "execution_order", "max_abs", "max_error",
    "precision", "read_caffe_blobs", "render", "top_k_agreement", "verify",
]
