"""Reading an .onnx back and running it in ONNX Runtime, for verify."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx

from ..errors import ConvertError
from ..files import require_file


def load_model(path: str | Path, *, with_data: bool = False) -> onnx.ModelProto:
    path = require_file(path)
    try:
        return onnx.load(str(path), load_external_data=with_data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ConvertError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None


def uses_external_data(model: onnx.ModelProto) -> bool:
    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


def tensor_names(model: onnx.ModelProto) -> set[str]:
    return {out for node in model.graph.node for out in node.output if out}


def with_outputs(model: onnx.ModelProto, names: Sequence[str], *, copy: bool = True) -> onnx.ModelProto:
    """`model` (a copy, or itself with copy=False) that also returns the tensors `names` (float32)."""
    if copy:
        exposed = onnx.ModelProto()
        exposed.CopyFrom(model)
    else:
        exposed = model
    present = {o.name for o in exposed.graph.output}
    for name in names:
        if name not in present:
            exposed.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
            present.add(name)
    return exposed


def ort_session(model: onnx.ModelProto | bytes | str | Path, provider: str = "CPUExecutionProvider", *, arena: bool = True):
    """An ONNX Runtime session; a path lets ORT read the file (and its external data) itself.

    arena=False returns memory to the system after each run: for models with many outputs.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = arena
    providers = [(provider, {"use_tf32": 0})] if provider == "CUDAExecutionProvider" else [provider]
    if isinstance(model, onnx.ModelProto):
        model = model.SerializeToString()
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), options, providers=providers)


def run_onnx(session, inputs: dict[str, np.ndarray], names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    wanted = [o.name for o in session.get_outputs()] if names is None else list(names)
    results = session.run(wanted, {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in inputs.items()})
    return dict(zip(wanted, results))
