"""Embed: num_output and input_dim (both positive), bias_term (default true).
Blobs: weight (input_dim, num_output), bias (num_output,). Top: the bottom's shape + (num_output,).
Whether the bottom's values are indices in [0, input_dim) only the data shows (the oracle checks).
"""
from __future__ import annotations

from dataclasses import dataclass

from .registry import layer_type, require


@dataclass(frozen=True)
class EmbedParams:
    num_output: int
    input_dim: int
    bias_term: bool


@layer_type("Embed")
def embed(param, shapes):
    p = param.embed_param
    require(p.num_output > 0 and p.input_dim > 0, "embed_param needs positive num_output and input_dim")
    blobs = [(p.input_dim, p.num_output)] + ([(p.num_output,)] if p.bias_term else [])
    return EmbedParams(p.num_output, p.input_dim, p.bias_term), [(*shapes[0], p.num_output)], blobs
