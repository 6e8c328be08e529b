"""ONNX export: the lowered module through torch.onnx's dynamo exporter (torch.export -> ONNX).

What the file holds:
  * opset 18 (OPSET; 17 and later on request), the default ai.onnx domain only: no custom ops.
    The graph is what the lowering's torch code exports to: Axpy is Mul + Add, Caffe's BatchNorm
    Sub + Div with Caffe's eps and scale factor already applied to the constants;
  * a dynamic batch: axis 0 of every input and output is the dim_param "batch";
  * graph inputs and outputs named after their Caffe blobs ("data", "prob"); every other tensor
    that holds a Caffe value is renamed after that value (`conv1/7x7_s2@conv1/relu_7x7_s2`, see
    graph.py), so Netron reads like the prototxt and `verify` can expose those tensors as extra
    outputs (`with_outputs`). A value whose computation the optimiser fuses into the next node
    keeps no tensor, and is not named;
  * models whose weights would overflow protobuf's 2 GB limit keep them beside the .onnx, in
    NAME.onnx.data.

The TorchScript exporter (dynamo=False) is not used: it cannot trace a pooling kernel that is read
from the input's shape under a dynamic batch, which global pooling needs.
"""
from __future__ import annotations

import ast
import contextlib
import json
import logging
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import onnx
import torch

from .. import __version__
from ..errors import ConvertError
from ..graph import Net
from .onnx_files import save_model

OPSET = 18
MIN_OPSET = 17
BATCH = "batch"
STANDARD_DOMAINS = frozenset({"", "ai.onnx"})
_SCOPES = "pkg.torch.onnx.name_scopes"


def output_names(net: Net, outputs: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """(values, names): the IR values returned and the ONNX names they get (Caffe blob names).

    `outputs` are Caffe blob names (their last value) or value names, as in caffe2torch.
    """
    values, names = [], []
    for value in net.resolve(net.outputs if outputs is None else outputs):
        blob = net.blob_of[value]
        # A blob's final value takes the blob's name, except where an in-place layer overwrote a net
        # input: ONNX names are defined once, and the graph input already holds that name.
        label = blob if net.final.get(blob) == value and (value == blob or blob not in net.inputs) else value
        if label in names:
            raise ConvertError(f"output '{label}' is asked for twice")
        values.append(value)
        names.append(label)
    if not values:
        raise ConvertError(f"net '{net.name}' has no outputs to export")
    return values, names


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter logs optional-dependency notes (torchvision) and torch-internal FutureWarnings."""
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.setLevel(level)


def _scope(node) -> str | None:
    """The top-level submodule (module_name of a Caffe layer) that emitted `node`, if recorded."""
    text = node.metadata_props.get(_SCOPES)
    if not text:
        return None
    try:
        scopes = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return scopes[1] if len(scopes) > 1 and scopes[1] else None


def _matches(value, shape: tuple[int, ...]) -> bool:
    import onnx_ir as ir

    if value.dtype != ir.DataType.FLOAT or value.shape is None or len(value.shape) != len(shape):
        return False
    return all(not isinstance(d, int) or d == s for d, s in zip(list(value.shape)[1:], shape[1:]))


def name_values(model, net: Net) -> list[str]:
    """Rename the tensors that hold a Caffe value after that value; returns the values so named.

    A layer's value is the one float tensor of the right shape that the layer's nodes make and a
    node of another layer (or the graph's output) reads. The exporter records the emitting
    submodule of each node, and submodules are named after the Caffe layers.
    """
    from ..to_torch import module_name

    graph = model.graph
    owner = {node: _scope(node) for node in graph}
    layers = {module_name(layer.name): layer for layer in net.layers}
    taken: dict[str, object] = {}
    for value in (*graph.inputs, *graph.initializers.values()):
        taken[value.name] = value
    for node in graph:
        for out in node.outputs:
            taken[out.name] = out
    protected = {v.name for v in (*graph.inputs, *graph.outputs)}
    found: list[str] = []
    made: dict[str, list] = {}
    for node, scope in owner.items():
        if scope in layers:
            made.setdefault(scope, []).extend(node.outputs)
    for scope, values in made.items():
        layer = layers[scope]
        if len(layer.tops) != 1 or layer.tops[0] in net.inputs:
            continue
        top = layer.tops[0]
        leaving = [
            v for v in values
            if _matches(v, net.shapes[top])
            and (v.is_graph_output() or any(owner.get(use.node) != scope for use in v.uses()))
        ]
        if len(leaving) != 1 or leaving[0].name in protected:
            continue
        if top in protected:  # the name belongs to a graph input or output (a Caffe blob name)
            continue
        tensor = leaving[0]
        other = taken.get(top)
        if other is not None and other is not tensor:
            other.name = _fresh(f"{top}#", taken)
            taken[other.name] = other
        taken.pop(tensor.name, None)
        tensor.name = top
        taken[top] = tensor
        found.append(top)
    return found


def _fresh(prefix: str, taken) -> str:
    i = 0
    while f"{prefix}{i}" in taken:
        i += 1
    return f"{prefix}{i}"


def _tidy(model, net: Net) -> None:
    """Node names after their Caffe layer; drop torch's per-node metadata (stack traces hold local paths)."""
    from ..to_torch import caffe_name

    used: set[str] = set()
    for node in model.graph:
        scope = _scope(node)
        base = f"{caffe_name(scope) if scope else 'node'}/{node.op_type}"
        name, i = base, 1
        while name in used:
            i += 1
            name = f"{base}_{i}"
        used.add(name)
        node.name = name
        node.metadata_props.clear()
    for value in (*model.graph.inputs, *model.graph.outputs):
        value.metadata_props.clear()
    unused = set(model.opset_imports) - {node.domain for node in model.graph} - {""}
    for domain in unused:
        del model.opset_imports[domain]
    custom = sorted({f"{n.domain}::{n.op_type}" for n in model.graph if n.domain not in STANDARD_DOMAINS})
    if custom or model.functions:
        raise RuntimeError(f"ONNX export bug: custom-domain nodes or functions in the graph: {custom or list(model.functions)}")


def _annotate(model, net: Net, names: list[str], values: list[str], exposed: list[str]) -> None:
    from .checkpoint import input_contract, source_hashes

    model.producer_name = "senet-convert"
    model.producer_version = __version__
    model.graph.name = net.name or "CaffeNet"
    model.doc_string = f"Caffe net '{net.name}' converted by senet-convert {__version__}"
    hashes = source_hashes(net)
    meta = {
        "senet_convert.version": __version__,
        "caffe.net": net.name,
        "caffe.prototxt_sha256": hashes["prototxt"] or "",
        "caffe.caffemodel_sha256": hashes["caffemodel"] or "",
        "caffe.input": json.dumps(input_contract(net)),
        "caffe.outputs": json.dumps(dict(zip(names, values))),
        "caffe.values_exposed": str(len(exposed)),
        "torch.version": str(torch.__version__),
    }
    model.metadata_props.clear()
    model.metadata_props.update(meta)


def export_program(module: torch.nn.Module | None, net: Net, *, outputs: Sequence[str] | None = None, opset: int = OPSET):
    """The exported, optimised and renamed onnx_ir Model (in memory) and a summary of it."""
    if not isinstance(opset, int) or opset < MIN_OPSET:
        raise ConvertError(f"opset {opset} is not supported: use {MIN_OPSET} or later (default {OPSET})")
    newest = onnx.defs.onnx_opset_version()
    if opset > newest:
        raise ConvertError(f"opset {opset} is newer than this onnx package knows ({newest})")
    values, names = output_names(net, outputs)
    if module is None:
        from ..to_torch import module_for

        # BatchNorm and Scale apart: a BatchNormalization node would be folded into the Conv before
        # it by the exporter's optimizer, in float32, taking the Conv's value and Caffe's weights.
        module = module_for(net, values, one_pass_batchnorm=False)
    elif getattr(module, "absorbed", None):
        raise ValueError("export the exact graph with one_pass_batchnorm=False (or pass module=None)")
    module.eval()
    batch = torch.export.Dim(BATCH, min=1, max=65536)
    examples = tuple(torch.zeros((2, *shape[1:])) for shape in net.inputs.values())
    start = time.perf_counter()
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            module,
            examples,
            None,
            dynamo=True,
            opset_version=opset,
            input_names=list(net.inputs),
            output_names=names,
            dynamic_shapes=tuple({0: batch} for _ in examples),
            optimize=True,
            verbose=False,
        )
    model = program.model
    got = [v.name for v in model.graph.outputs]
    if got != names:
        raise RuntimeError(f"ONNX export bug: the graph returns {got}, expected {names}")
    exposed = name_values(model, net)
    _tidy(model, net)
    _annotate(model, net, names, values, exposed)
    for value in (*model.graph.inputs, *model.graph.outputs):
        dims = list(value.shape) if value.shape is not None else []
        if not dims or str(dims[0]) != BATCH:
            raise RuntimeError(f"ONNX export bug: '{value.name}' has shape {dims}, expected a '{BATCH}' axis first")
    info = {
        "opset": opset,
        "exporter": f"torch.onnx (dynamo) {torch.__version__}",
        "inputs": list(net.inputs),
        "outputs": names,
        "nodes": sum(1 for _ in model.graph),
        "values_exposed": len(exposed),
        "export_seconds": time.perf_counter() - start,
    }
    return model, info


def export_onnx(
    module: torch.nn.Module | None,
    net: Net,
    path: str | Path,
    *,
    outputs: Sequence[str] | None = None,
    opset: int = OPSET,
    external_data: bool | None = None,
    optimized: bool = False,
) -> dict:
    """Write `net` (lowered here when `module` is None) as an ONNX file at `path` and check it.

    `module`, when given, must be the lowering of `net` returning `outputs` (Caffe blob or value
    names; default the net's outputs). external_data None: only when the weights would not fit a
    2 GB protobuf. Returns a summary (files written, opset, node count, timings).
    """
    model, info = export_program(module, net, outputs=outputs, opset=opset)
    # The optimized graph's weights are not Caffe's blobs: say so where tools look.
    model.metadata_props["senet_convert.optimized"] = "true" if optimized else "false"
    start = time.perf_counter()
    files = save_model(model, path, external_data=external_data)
    info.update(files=files, external_data=len(files) > 1, write_seconds=time.perf_counter() - start)
    return info
