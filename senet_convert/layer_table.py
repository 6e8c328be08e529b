"""The README's table of supported layers, generated from the registries (never written by hand).

    python -m senet_convert.layer_table          rewrite the table in README.md
"""
from __future__ import annotations

import sys
from pathlib import Path

START, END = "<!-- layer-table:start -->", "<!-- layer-table:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"


def table() -> str:
    from . import reference, to_onnx, to_torch
    from .loader import DATA_TYPES, SKIPPED_TYPES, supported_types
    from .reference.registry import KERNELS
    from .to_onnx.registry import EMITTERS
    from .to_torch.registry import BUILDERS

    def where(package: str, registry: dict, name: str) -> str:
        return f"`{package}/{registry[name].__module__.rsplit('.', 1)[-1]}.py`" if name in registry else "missing"

    rows = ["| Caffe type | numpy oracle | torch lowering | ONNX emitter |", "|---|---|---|---|"]
    rows.append("| `Input` | network input | graph placeholder | graph input |")
    for name in sorted(set(reference.SUPPORTED_TYPES) | set(to_torch.SUPPORTED_TYPES) | set(to_onnx.SUPPORTED_TYPES)):
        rows.append(f"| `{name}` | {where('reference', KERNELS, name)} | {where('to_torch', BUILDERS, name)} | {where('to_onnx', EMITTERS, name)} |")
    assert set(supported_types()) == {"Input", *reference.SUPPORTED_TYPES}
    rows.append("")
    rows.append("Skipped at test time (training only): " + ", ".join(f"`{t}`" for t in sorted(SKIPPED_TYPES)) + ".")
    rows.append("Data layers become inputs when their shape is stated (`DummyData`, `MemoryData`): " + ", ".join(f"`{t}`" for t in sorted(DATA_TYPES)) + ".")
    return "\n".join(rows)


def render(readme: str) -> str:
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


if __name__ == "__main__":
    README.write_text(render(README.read_text()))
    print(f"updated {README}", file=sys.stderr)
