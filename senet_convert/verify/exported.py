"""The rows for exported files: a .pt2 (torch.export) and an .onnx in ONNX Runtime."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConvertError
from ..graph import Net
from .caffe_blobs import add_caffe_row
from .compare import compare, execution_order
from .devices import precision
from .report import Backend
from .torch_rows import crash, to_numpy


def pt2_backend(path, program, net, inputs, oracle, devices, outputs, tolerance, caffe, report, log) -> None:
    import torch

    from ..to_onnx import output_names

    path = Path(path)
    values_out, names = output_names(net, outputs)
    for device in devices:
        label = f"pt2 {device} ({path.name})"
        log(f"{label} ...")
        start = time.perf_counter()
        try:
            if device == "cpu":
                module = program.module()
            else:  # moves the program's parameters, buffers and constants, and device arguments in its graph
                from torch.export.passes import move_to_device_pass

                module = move_to_device_pass(program, device).module()
            args = [torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in inputs.values()]
            with torch.no_grad(), precision(device):
                out = module(*args)
        except Exception as exc:
            report.backends.append(Backend(label, "oracle float64", total=len(values_out), crashed=crash(exc)))
            continue
        seconds = time.perf_counter() - start
        out = list(out) if isinstance(out, (tuple, list)) else [out]
        shapes = [tuple(t.shape) for t in out]
        expected = [oracle[v].shape for v in values_out]
        if shapes != expected:
            raise ConvertError(
                f"{path}: returns tensors of shapes {shapes}, but outputs {names} have shapes {expected}; "
                "pass --outputs as given to caffe2torch"
            )
        values = {v: to_numpy(t) for v, t in zip(values_out, out)}
        backend = compare(label, "oracle float64", values, oracle, values_out, net, tolerance)
        backend.seconds = seconds
        report.backends.append(backend)
        if caffe is not None:
            add_caffe_row(report, label, values, caffe, net, tolerance)


@dataclass
class OnnxFile:
    """What verify needs to know of an .onnx file; the weights are not kept in memory."""

    path: Path
    outputs: dict[str, str]  # graph output name -> IR value
    tensors: set[str]  # names of every node output
    ours: bool  # written by senet-convert: tensors named after Caffe values
    external: bool  # weights in external data files
    op_types: frozenset[str] = frozenset()


def load_onnx(path, net: Net) -> OnnxFile:
    """Read an .onnx file and check it against the net's inputs and values (bad input: ConvertError)."""
    from . import onnxruntime as ox

    path = Path(path)
    model = ox.load_model(path)
    names_in = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    if sorted(names_in) != sorted(net.inputs):
        raise ConvertError(f"{path}: takes inputs {names_in}, the net takes {list(net.inputs)}")
    for i in model.graph.input:
        if i.name in net.inputs:
            dims = [d.dim_value if d.HasField("dim_value") else None for d in i.type.tensor_type.shape.dim]
            shape = net.inputs[i.name]
            if len(dims) != len(shape) or any(d is not None and d != s for d, s in zip(dims[1:], shape[1:])):
                raise ConvertError(f"{path}: input '{i.name}' has shape {dims}, the net's is {list(shape)}")
    defined = set(execution_order(net))
    outputs = {}
    for o in model.graph.output:
        value = net.final.get(o.name, o.name)  # Caffe blob names; a value name for an earlier value
        if value in defined:
            outputs[o.name] = value
    if not outputs:
        raise ConvertError(f"{path}: none of its outputs {[o.name for o in model.graph.output]} is a blob of net '{net.name}'")
    return OnnxFile(
        path, outputs, ox.tensor_names(model), any(p.key == "senet_convert.version" for p in model.metadata_props),
        ox.uses_external_data(model), frozenset(node.op_type for node in model.graph.node),
    )


def onnx_backend(onnx_file: OnnxFile, net, inputs, oracle, order, devices, tolerance, caffe, intermediates, report, log) -> None:
    from . import onnxruntime as ox

    path = onnx_file.path
    exposed: list[str] = []
    note: list[str] = []
    if not intermediates:
        note.append("compared at its outputs only, as asked")
    elif not onnx_file.ours:
        note.append("not written by senet-convert: compared at its outputs only")
    elif onnx_file.external:
        note.append("weights in external data: compared at its outputs only")
    else:
        # senet-convert names every tensor holding a value after that value (to_onnx).
        taken = set(onnx_file.outputs) | set(onnx_file.outputs.values())
        exposed = [v for v in order if v in onnx_file.tensors and v not in taken]
    providers = ["CPUExecutionProvider"]
    if any(d.startswith("cuda") for d in devices):
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            providers.append("CUDAExecutionProvider")
        else:
            report.notes.append("onnxruntime has no CUDAExecutionProvider here: ONNX checked on the CPU only")
    for provider in providers:
        label = f"onnxruntime {'cuda' if provider.startswith('CUDA') else 'cpu'} ({path.name})"
        log(f"{label} ...")
        start = time.perf_counter()
        try:
            # The file as it ships, at its outputs; then a copy returning every named value too.
            session = ox.ort_session(path, provider)
            got = ox.run_onnx(session, inputs)
            del session
            values = {onnx_file.outputs[k]: v for k, v in got.items() if k in onnx_file.outputs}
            if exposed:
                model = ox.with_outputs(ox.load_model(path), exposed, copy=False)
                data = model.SerializeToString()
                del model
                session = ox.ort_session(data, provider, arena=False)
                del data
                values.update(ox.run_onnx(session, inputs, exposed))
                del session
        except Exception as exc:
            report.backends.append(Backend(label, "oracle float64", total=len(order), crashed=crash(exc)))
            continue
        seconds = time.perf_counter() - start
        backend = compare(label, "oracle float64", values, oracle, order, net, tolerance, missing_ok=True)
        backend.seconds = seconds
        backend.note = "; ".join(note + [f"{len(values)} of {len(order)} values exposed"])
        report.backends.append(backend)
        if caffe is not None:
            add_caffe_row(report, label, values, caffe, net, tolerance)
        del values
    from .onnx_reference import reference_backend

    reference_backend(onnx_file, exposed, net, inputs, oracle, order, tolerance, caffe, report, log)
