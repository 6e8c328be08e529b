"""Plugins: layer types (and a fork's parameter fields) added from outside the package.

A plugin is a Python file (`--plugin FILE.py` on every command, `load_plugin(path)` in Python) or
an installed package that names a module in the `senet_convert.plugins` entry-point group. It
registers its types through the same registries the built-in layers use:

    register_layer(type, tops=..., blobs=..., bottoms=(1, 1))   shapes, checked by the loader
    register_oracle(type)(forward)                             the numpy oracle (float64, no torch)
    register_torch(type, blobs=(...))(build)                   the torch lowering
    register_onnx(type)(emit)                                  ONNX nodes (optional: without it caffe2onnx refuses the type)
    declare_parameter(message, field=..., number=..., fields=[Field(...)])   a fork's LayerParameter field

A type must have all three of shapes, oracle and torch lowering: the plugin is refused otherwise,
so `verify` checks a plugin layer exactly as it checks a built-in one. docs/plugins.md explains
each piece with the two plugins in examples/plugins/.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import sys
import traceback
import types
from pathlib import Path

from .caffe.extensions import Field, ParameterField, declare_parameter
from .errors import ConvertError
from .reference.registry import KERNELS
from .reference.registry import register as register_oracle
from .shapes import RULES, ShapeError
from .shapes import rule as _rule

GROUP = "senet_convert.plugins"
_loaded: dict[str, str] = {}  # resolved path or entry point -> module name

__all__ = [
    "Field", "GROUP", "ParameterField", "ShapeError", "declare_parameter", "load_installed", "load_plugin",
    "loaded", "register_layer", "register_onnx", "register_oracle", "register_torch",
]


def register_layer(caffe_type: str, *, tops, blobs=None, bottoms: tuple[int, int | None] = (1, 1)) -> None:
    """The shape rule of `caffe_type`: tops(param, bottom_shapes) -> top shapes and, for layers with
    learned blobs, blobs(param, bottom_shapes) -> the shapes Caffe allocates (raise ShapeError)."""
    _rule(caffe_type, bottoms=bottoms, blobs=blobs)(tops)


def register_torch(caffe_type: str, *, blobs=()):
    """Decorator: build(layer) -> nn.Module; `blobs` names the module attribute of each Caffe blob."""
    from .to_torch.registry import register

    return register(caffe_type, blobs=blobs)


def register_onnx(caffe_type: str):
    """Decorator: emit(layer, g) writes the layer as standard ONNX nodes through g (to_onnx/registry.py)."""
    from .to_onnx.registry import register

    return register(caffe_type)


def _builders() -> dict:
    if "torch" not in sys.modules:  # nothing can have registered a lowering without importing torch
        return {}
    from .to_torch.registry import BUILDERS

    return BUILDERS


def _incomplete(types: set[str]) -> list[str]:
    BUILDERS = _builders()
    halves = {"shape rule (register_layer)": RULES, "oracle (register_oracle)": KERNELS, "torch lowering (register_torch)": BUILDERS}
    return [f"'{t}' has no {what}" for t in sorted(types) for what, table in halves.items() if t not in table]


def _types() -> set[str]:
    return set(RULES) | set(KERNELS) | set(_builders())


def _run(what: str, load) -> None:
    before = _types()
    try:
        load()
    except ConvertError:
        raise
    except Exception as exc:  # a plugin's own bug: say where, in one line
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        raise ConvertError(f"{what}: the plugin failed while loading, at {Path(frame.filename).name}:{frame.lineno}: "
                           f"{type(exc).__name__}: {exc}") from None
    missing = _incomplete(_types() - before)
    if missing:
        raise ConvertError(f"{what}: {'; '.join(missing)}; a plugin layer needs all three")


def load_plugin(path: str | Path) -> None:
    """Run a plugin file (once: loading the same file again does nothing)."""
    path = Path(path)
    try:
        resolved = str(path.resolve(strict=True))
    except OSError:
        raise ConvertError(f"{path}: no such plugin file") from None
    if resolved in _loaded:
        return
    name = "senet_convert_plugin_" + hashlib.sha256(resolved.encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ConvertError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)

    def execute() -> None:
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise

    _run(str(path), execute)
    _loaded[resolved] = name


def load_installed() -> list[str]:
    """Import every module named in the `senet_convert.plugins` entry-point group; their names."""
    names = []
    for entry in importlib.metadata.entry_points(group=GROUP):
        key = f"entry point {entry.name} = {entry.value}"
        if key not in _loaded:
            _run(key, lambda: _call(entry.load()))
            _loaded[key] = entry.value
        names.append(entry.name)
    return names


def _call(target) -> None:
    # The entry point names a module (importing it registered its types) or a function to call.
    if callable(target) and not isinstance(target, types.ModuleType):
        target()


def loaded() -> list[str]:
    return list(_loaded)
