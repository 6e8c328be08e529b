"""Writing an ONNX model: inline, or with its weights in NAME.onnx.data past protobuf's 2 GB limit."""
from __future__ import annotations

from pathlib import Path

import onnx

from ..files import atomic_path, staged_outputs

# Protobuf refuses messages of 2 GiB; the graph itself is small, so leave a margin for it.
PROTO_LIMIT = 2**31 - 2**26


def weight_bytes(model) -> int:
    return sum(v.const_value.nbytes for v in model.graph.initializers.values() if v.const_value is not None)


def save_model(model, path: str | Path, *, external_data: bool | None = None) -> list[Path]:
    """Check `model` (onnx.checker, full) and write it; a failure leaves no file behind.

    external_data None: only when the weights would not fit a 2 GB protobuf.
    """
    import onnx_ir as ir

    path = Path(path)
    if external_data is None:
        external_data = weight_bytes(model) > PROTO_LIMIT
    if external_data:
        return _save_external(model, path)
    proto = ir.serde.serialize_model(model)
    onnx.checker.check_model(proto, full_check=True)
    with atomic_path(path) as tmp:
        tmp.write_bytes(proto.SerializeToString())
    return [path]


def _save_external(model, path: Path) -> list[Path]:
    """NAME.onnx + NAME.onnx.data, written and checked in a staging folder, then moved: the data
    first, so that the .onnx appears only when complete."""
    import onnx_ir as ir

    data_name = f"{path.name}.data"
    with staged_outputs(path.parent, [data_name, path.name]) as folder:
        ir.save(model, folder / path.name, external_data=data_name)
        onnx.checker.check_model(str(folder / path.name), full_check=True)
    return [path, path.parent / data_name]
