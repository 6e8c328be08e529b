"""Registers se_bn_inception with timm when timm is imported, without importing timm (or torch) here.

`import senet_convert` must stay cheap and must work without timm, yet a converted SE-BN-Inception
folder should load with `timm.create_model("local-dir:...")` after it, whichever of the two was
imported first. So: if timm is already imported, register now; otherwise a finder on sys.meta_path
waits for `import timm`, lets timm's own loader run, then registers (a post-import hook). A failure
to register becomes a warning: it must never break `import timm`.
"""
from __future__ import annotations

import importlib.util
import sys
import warnings


def _register() -> None:
    try:
        from .se_bn_inception import register

        register()
    except Exception as exc:  # timm's import must survive whatever goes wrong here
        warnings.warn(f"senet_convert could not register se_bn_inception with timm: {exc}", stacklevel=2)


class _Loader:  # the loader protocol (importlib.abc costs more to import than this whole module)
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _register()

    def __getattr__(self, name):  # get_data, get_resource_reader, ...: timm's own loader answers
        return getattr(self._loader, name)


class _AfterTimm:  # the meta path finder protocol
    def find_spec(self, name, path=None, target=None):
        if name != "timm":
            return None
        sys.meta_path.remove(self)  # one import of timm per process: find the real spec without us
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def install() -> None:
    if sys.modules.get("timm") is not None:
        _register()
    elif not any(isinstance(finder, _AfterTimm) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterTimm())
