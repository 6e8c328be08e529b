"""ONNX files: the net's ONNX graph (to_onnx, straight from the IR, no torch) checked, annotated and
written; and reading them back (verify).

What the file holds:
  * opset to_onnx.OPSET (the newest the pinned ONNX Runtime runs; 17 and later on request), the default
    ai.onnx domain only: no custom ops, no functions. Axpy is Mul + Add, Caffe's BatchNorm Sub + Div
    with Caffe's eps and scale factor already applied to the constants, pooling with explicit pads;
  * a dynamic batch: axis 0 of every input and output is the dim_param "batch";
  * inputs and outputs named after their Caffe blobs ("data", "prob"), every other value after the IR
    value it holds (`conv1/7x7_s2@conv1/relu_7x7_s2`, see graph.py), so Netron reads like the
    prototxt and `verify` can expose any of them as extra outputs (`with_outputs`); value_info
    gives every tensor's shape;
  * metadata_props: the tool's version, the net, the sources' sha256, the input contract (JSON), the
    class order, the outputs, and whether the graph is the optimized one;
  * models whose weights would overflow protobuf's 2 GB limit keep them beside the .onnx, in
    NAME.onnx.data.
Every file is checked before it appears (onnx.checker with full_check, strict shape inference, and
the inferred shapes against the IR's), and written from the Net's arrays without copying them
(onnx_files.py); a failure leaves no file behind.
"""
from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from .. import __version__
from ..errors import ConvertError
from ..files import atomic_path, check_replaceable, staged_outputs
from ..graph import Net
from ..to_onnx import MIN_OPSET, OPSET, OnnxGraph, assemble, optimized_graph, output_names
from .onnx_files import point_to_external, sparse_file, tensor_header, write_external_data, write_inline

__all__ = ["BATCH", "MIN_OPSET", "OPSET", "export_onnx", "output_names"]

BATCH = "batch"
# Protobuf refuses messages of 2 GiB; the graph itself is small, so leave a margin for it.
PROTO_LIMIT = 2**31 - 2**26
# Float constants up to this size stay in the model message (integer ones always: shape inference
# reads Reshape's shapes); larger ones are written from their arrays (onnx_files.py).
INLINE_BYTES = 4096


def export_onnx(
    net: Net,
    path: str | Path,
    *,
    outputs: Sequence[str] | None = None,
    opset: int = OPSET,
    external_data: bool | None = None,
    optimized: bool = False,
    hashes: dict | None = None,
) -> dict:
    """Write `net` as a checked ONNX file at `path`: the exact graph, or with optimized=True the folded one.

    `outputs` are Caffe blob or value names (default: the net's outputs). external_data None: only when
    the weights would not fit a 2 GB protobuf. `hashes` (source_hashes, or a callable giving them, called
    once the graph is built) saves reading the caffemodel again. Returns a summary (files written, opset, node count, timings).
    """
    start = time.perf_counter()
    check_replaceable(Path(path))  # a device or a pipe there is refused before the work, not after it
    if optimized:
        graph, folding = optimized_graph(net, outputs, opset=opset)
        shapes, note = folding.net.shapes, folding.summary()
    else:
        graph, shapes, note = assemble(net, outputs, opset=opset), net.shapes, None
    if external_data is None:
        external_data = graph.weight_bytes() > PROTO_LIMIT
    # With external data, only scalars and integer constants stay in the .onnx.
    model, weights = skeleton(graph, shapes, inline_bytes=8 if external_data else INLINE_BYTES)
    annotate(model, net, graph, optimized=optimized, folding=note, hashes=hashes)
    add_shapes(model, weights, graph, shapes)
    built = time.perf_counter()
    path = Path(path)
    files = _write_external(model, weights, path) if external_data else _write_inline(model, weights, path)
    return {
        "opset": opset,
        "exporter": f"senet-convert {__version__} (from the IR)",
        "inputs": list(graph.inputs),
        "outputs": [name for name, _ in graph.outputs],
        "nodes": len(model.graph.node),
        "values_exposed": len(graph.tensors) - len(graph.inputs),
        "files": files,
        "external_data": external_data,
        "export_seconds": built - start,
        "write_seconds": time.perf_counter() - built,
    }


def _dims(shape: Sequence[int]) -> list:
    return [BATCH, *shape[1:]] if shape else []


def skeleton(graph: OnnxGraph, shapes: dict, *, inline_bytes: int | None = None) -> tuple[onnx.ModelProto, list[tuple[onnx.TensorProto, np.ndarray]]]:
    """The model without its float weights above `inline_bytes` (default INLINE_BYTES), and those as
    (TensorProto header, array) pairs."""
    limit = INLINE_BYTES if inline_bytes is None else inline_bytes
    inputs = [helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, _dims(shape)) for name, shape in graph.inputs.items()]
    outputs = [helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, _dims(shapes[value])) for name, value in graph.outputs]
    small, large = [], []
    for init in graph.initializers:
        if init.array.dtype == np.int64 or init.array.nbytes <= limit:
            small.append(onnx.numpy_helper.from_array(init.array, init.name))
        else:
            large.append((tensor_header(init.name, init.array), init.array))
    body = helper.make_graph(graph.nodes, graph.name, inputs, outputs, initializer=small)
    opsets = [helper.make_opsetid("", graph.opset)]
    model = helper.make_model(body, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))
    return model, large


def annotate(model: onnx.ModelProto, net: Net, graph: OnnxGraph, *, optimized: bool, folding: str | None, hashes: dict | None) -> None:
    from .provenance import input_contract, source_hashes
    from ..edits.class_order import class_order_of

    hashes = hashes() if callable(hashes) else hashes or source_hashes(net)
    model.producer_name = "senet-convert"
    model.producer_version = __version__
    model.doc_string = f"Caffe net '{net.name}' converted by senet-convert {__version__}"
    meta = {
        "senet_convert.version": __version__,
        "caffe.net": net.name,
        "caffe.prototxt_sha256": hashes["prototxt"] or "",
        "caffe.caffemodel_sha256": hashes["caffemodel"] or "",
        "caffe.input": json.dumps(input_contract(net)),
        "caffe.class_order": class_order_of(net),
        "caffe.outputs": json.dumps(dict(graph.outputs)),
        "caffe.values_exposed": str(len(graph.tensors) - len(graph.inputs)),
        # The optimized graph's weights are not Caffe's blobs: say so where tools look.
        "senet_convert.optimized": "true" if optimized else "false",
    }
    if folding:
        meta["senet_convert.folding"] = folding
    helper.set_model_props(model, meta)


def add_shapes(model: onnx.ModelProto, weights, graph: OnnxGraph, shapes: dict) -> None:
    """Give `model` value_info from strict shape inference, which must agree with the IR's shapes."""
    probe = _with_placeholders(model, weights, "weights.data")
    try:
        inferred = onnx.shape_inference.infer_shapes(probe, check_type=True, strict_mode=True, data_prop=True)
    except onnx.shape_inference.InferenceError as exc:
        raise RuntimeError(f"ONNX export bug: shape inference fails: {exc}") from None
    by_name = {v.name: v for v in (*inferred.graph.value_info, *inferred.graph.output)}
    for value, name in graph.tensors.items():
        info = by_name.get(name)
        if name in graph.inputs:
            continue
        if info is None:
            raise RuntimeError(f"ONNX export bug: shape inference gives no shape for '{name}'")
        dims = [d.dim_value if d.HasField("dim_value") else None for d in info.type.tensor_type.shape.dim]
        want = shapes[value]
        if len(dims) != len(want) or any(d is not None and d != w for d, w in zip(dims[1:], want[1:])):
            raise RuntimeError(f"ONNX export bug: '{name}' is inferred as {dims}, the IR says {list(want)}")
    model.graph.value_info.extend(inferred.graph.value_info)


def _with_placeholders(model: onnx.ModelProto, weights, location: str) -> onnx.ModelProto:
    """A copy of `model` whose large initializers point into an external file `location`."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    placed = point_to_external([(_copy(h), a) for h, a in weights], location)
    probe.graph.initializer.extend(h for h, _, _ in placed)
    return probe


def _check(model: onnx.ModelProto, weights, folder: Path) -> None:
    """onnx.checker (full) on the model as written with external data, the data a sparse file."""
    probe = _with_placeholders(model, weights, "weights.data")
    size = max((int(h.external_data[1].value) + int(h.external_data[2].value) for h in probe.graph.initializer if h.external_data), default=0)
    sparse_file(folder / "weights.data", size)
    onnx.save(probe, str(folder / "model.onnx"))
    onnx.checker.check_model(str(folder / "model.onnx"), full_check=True)


def _copy(header: onnx.TensorProto) -> onnx.TensorProto:
    out = onnx.TensorProto()
    out.CopyFrom(header)
    return out


def _write_inline(model, weights, path: Path) -> list[Path]:
    with atomic_path(path) as tmp, tempfile.TemporaryDirectory(prefix="senet-convert-check.") as folder:
        _check(model, weights, Path(folder))
        with open(tmp, "wb") as out:
            write_inline(model, weights, out)
    return [path]


def _write_external(model, weights, path: Path) -> list[Path]:
    """NAME.onnx + NAME.onnx.data, written and checked in a staging folder, then moved: the data
    first, so that the .onnx appears only when complete."""
    data_name = f"{path.name}.data"
    with staged_outputs(path.parent, [data_name, path.name]) as folder:
        placed = point_to_external(weights, data_name)
        write_external_data(placed, folder / data_name)
        model.graph.initializer.extend(h for h, _, _ in placed)
        with open(folder / path.name, "wb") as out:
            out.write(model.SerializeToString())
        onnx.checker.check_model(str(folder / path.name), full_check=True)
    return [path, path.parent / data_name]
