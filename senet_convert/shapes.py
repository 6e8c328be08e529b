"""Shape-only registration, for plugins (senet_convert.plugins.register_layer): `rule(type)(tops)`
registers a Caffe type in the layer registry (caffe/layers) whose Setup carries no parameters; its
backends read `layer.param` themselves. Every built-in type is read into typed parameters instead.
RULES and ShapeError are the registry's SPECS and LayerError under the names plugins use.
"""
from __future__ import annotations

from .caffe.layers import SPECS, LayerError
from .caffe.layers.registry import layer_type

__all__ = ["RULES", "ShapeError", "rule"]

RULES = SPECS
ShapeError = LayerError


def rule(type_name: str, bottoms: tuple[int, int | None] = (1, 1), blobs=None):
    """Register `tops(param, bottom shapes) -> top shapes` (and `blobs(param, shapes)`) for `type_name`."""

    def decorate(tops):
        def read(param, shapes):
            return None, tops(param, shapes), (blobs or (lambda param, shapes: []))(param, shapes)

        read.__module__ = tops.__module__
        layer_type(type_name, bottoms=bottoms, tops=(1, None))(read)
        return tops

    return decorate
