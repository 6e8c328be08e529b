"""ONNX's own reference evaluator (onnx.reference, plain numpy) as a second runtime for an .onnx file.

It shares no code with ONNX Runtime, so a file both compute alike is not merely agreeing with one
runtime's kernels. It is slow (a mini SE-ResNet-50 at 224 x 224, batch 2: about 2 s; the full-size
nets: minutes), so verify runs it only where that is cheap: at most REFERENCE_MACS multiply-adds in
the net's convolutions and inner products for the batch, weights inline. onnx 1.23's evaluator sums an
LRN window over the batch axis instead of the channels: a file with an LRN node is left to ONNX Runtime.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ..graph import Net
from .caffe_blobs import add_caffe_row
from .compare import compare
from .report import Backend
from .torch_rows import crash

REFERENCE_MACS = 10**9


def multiply_adds(net: Net, batch: int) -> int:
    """Multiply-adds of the net's Convolution, Deconvolution and InnerProduct layers at `batch`."""
    total = 0
    for layer in net.layers:
        if layer.type not in ("Convolution", "Deconvolution", "InnerProduct") or not layer.blobs:
            continue
        weight = layer.blobs[0].shape
        if layer.type == "Deconvolution":  # every input value meets out/group x kernel weights
            total += math.prod(net.shapes[layer.bottoms[0]][1:]) * math.prod(weight[1:])
        else:  # every output value is a dot product over the rest of its weight row
            total += math.prod(net.shapes[layer.tops[0]][1:]) * (math.prod(weight) // weight[0])
    return total * batch


def why_not(onnx_file, net: Net, batch: int) -> str | None:
    """Why the reference evaluator is not run on this file, or None when it is."""
    if onnx_file.external:
        return "weights in external data"
    macs = multiply_adds(net, batch)
    if macs > REFERENCE_MACS:
        return f"{macs:.2g} multiply-adds, more than the {REFERENCE_MACS:.0g} it runs in seconds"
    if "LRN" in onnx_file.op_types:
        return "an LRN node (onnx's evaluator sums its window over the batch axis)"
    return None


def reference_backend(onnx_file, exposed, net, inputs, oracle, order, tolerance, caffe, report, log) -> None:
    """The file in onnx.reference at its outputs and at every value `exposed` names, against the oracle."""
    from onnx.reference import ReferenceEvaluator

    from . import onnxruntime as ox

    batch = next(iter(inputs.values())).shape[0] if inputs else 1
    reason = why_not(onnx_file, net, batch)
    label = f"onnx.reference cpu ({onnx_file.path.name})"
    if reason is not None:
        report.notes.append(f"onnx.reference not run on {onnx_file.path.name}: {reason}")
        return
    log(f"{label} ...")
    start = time.perf_counter()
    try:
        model = ox.with_outputs(ox.load_model(onnx_file.path, with_data=True), exposed, copy=False)
        names = list(onnx_file.outputs) + [v for v in exposed if v not in onnx_file.outputs]
        feed = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in inputs.items()}
        got = dict(zip(names, ReferenceEvaluator(model).run(names, feed)))
        del model
    except Exception as exc:
        report.backends.append(Backend(label, "oracle float64", total=len(order), crashed=crash(exc)))
        return
    values = {onnx_file.outputs.get(k, k): np.asarray(v) for k, v in got.items()}
    backend = compare(label, "oracle float64", values, oracle, order, net, tolerance, missing_ok=True)
    backend.seconds = time.perf_counter() - start
    backend.note = f"ONNX's own evaluator, a second runtime; {len(values)} of {len(order)} values exposed"
    report.backends.append(backend)
    if caffe is not None:
        add_caffe_row(report, label, values, caffe, net, tolerance)
