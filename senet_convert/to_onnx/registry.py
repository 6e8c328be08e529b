"""The ONNX emitters, registered per Caffe type string ("BatchNorm", "Axpy") of the layer registry.

An emitter is `emit(layer, params, g) -> None`: from the layer, its validated parameters
(caffe.layers: the same reading as the oracle's and the lowering's) and its blobs, it writes standard
ONNX nodes (default domain only) through `g`, a `LayerNodes` (nodes.py) that names every tensor and
node and holds the layer's initializers. `g.inputs` are the tensors of the layer's bottoms,
`g.outputs` the names its tops must get, `g.input_shapes`/`g.output_shapes` the IR's shapes; the
emitter's last nodes write the outputs. It never changes the layer. Its docstring opens with the Caffe
semantics it reproduces. A type a plugin registers shape-only (shapes.rule) has no typed
parameters: its emitter is `emit(layer, g)` and reads `layer.param` itself.

    @register("ReLU")
    def emit_relu(layer, p, g):
        \"\"\"ReLU: y = x for x > 0, negative_slope * x otherwise.\"\"\"
        g.node("LeakyRelu" if p.negative_slope else "Relu", g.inputs, output=g.outputs[0], ...)
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..caffe.layers import Backend, check_blobs, setup_of
from ..graph import Layer
from ..layer_checks import fail, require  # noqa: F401  (the emitters' run-time refusals)

if TYPE_CHECKING:
    from .nodes import LayerNodes

Emitter = Callable[..., None]

EMITTERS = Backend("ONNX backend", "emitter", arity=3)


def register(caffe_type: str) -> Callable[[Emitter], Emitter]:
    return EMITTERS.register(caffe_type)


def emit(layer: Layer, g: "LayerNodes") -> None:
    """Write one layer through `g`, from the loader's validated parameters."""
    emitter = EMITTERS.lookup(layer)
    setup = setup_of(layer)
    check_blobs(layer, setup)
    if EMITTERS.reads_layer(layer.type):
        emitter(layer, g)
    else:
        emitter(layer, setup.params, g)
