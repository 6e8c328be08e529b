"""Parameter: no bottom; one top, its learned blob, of shape parameter_param.shape."""
from __future__ import annotations

from dataclasses import dataclass

from .registry import layer_type


@dataclass(frozen=True)
class ParameterParams:
    shape: tuple[int, ...]


@layer_type("Parameter", bottoms=0)
def parameter(param, shapes):
    shape = tuple(int(d) for d in param.parameter_param.shape.dim)
    return ParameterParams(shape), [shape], [shape]
