"""The inference graph: the exact net with Caffe's test-time redundancy folded away, verified, never trusted.

`fold(net)` rewrites the IR (numpy only) into another valid Caffe net:
  Convolution/InnerProduct -> BatchNorm -> Scale (an in-place chain whose intermediate values nothing
  else reads) becomes one Convolution/InnerProduct with a bias. Each BatchNorm and Scale is a
  per-channel affine y = a*x + b; they compose in float64 and enter the weights once:
    BatchNorm  sf = 0 if s == 0 else 1/s (float32 reciprocal, as Caffe), invstd = 1/sqrt(var*sf + eps)
               (eps as the float32 Caffe stores), a = invstd, b = -mean*sf * invstd
    Scale      a = gamma, b = beta (0 without bias_term)
    conv       w' = w * a (per output channel), b' = bias * a + b, then cast to float32
  A BatchNorm/Scale chain with nothing to fold into becomes one Scale layer with a bias (the same affine).
  Dropout (the identity at test time) and Split layers disappear: readers of their tops read the bottom.
Values a fold removes (the conv output before BatchNorm, the BatchNorm output before Scale) no longer
exist; every other value keeps its name and, up to float32 re-association, its numbers. `Folding`
records what was folded into what, which values and which Caffe blobs are gone.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..caffe import caffe_pb2
from ..caffe.layers import set_up
from ..graph import Layer, Net

_PRODUCERS = ("Convolution", "InnerProduct")  # what a BatchNorm/Scale chain folds into
_IDENTITIES = ("Dropout", "Split")  # test-time identities: removed, their tops alias their bottom


@dataclass
class Folding:
    """What `fold` changed, by name. The folded net's other layers and values are the original's."""

    # BatchNorm/Scale layer -> the layer it now lives in (a Convolution/InnerProduct, or the Scale
    # layer that a standalone chain became, named after the chain's first layer)
    folded: dict[str, str] = field(default_factory=dict)
    removed_layers: dict[str, str] = field(default_factory=dict)  # Dropout/Split layer -> why
    # top of a removed identity -> the value holding the same numbers (its bottom)
    aliases: dict[str, str] = field(default_factory=dict)
    removed_values: dict[str, str] = field(default_factory=dict)  # value that no longer exists -> why
    # Caffe blobs that no longer exist as such: (layer, blob index) -> where their effect now lives
    removed_blobs: dict[tuple[str, int], str] = field(default_factory=dict)
    # layers whose weights now differ from Caffe's blobs (folded), with their new bias
    rewritten: list[str] = field(default_factory=list)
    # The folded net (what `optimize` lowered): name ONNX tensors, resolve outputs, run the oracle on it.
    # After `optimize`, its rewritten layers' blobs share memory with the module's parameters.
    net: Net | None = field(default=None, repr=False)

    def exact_values(self, values: Mapping[str, object]) -> dict[str, object]:
        """`values` of the optimized graph under the exact graph's value names (aliases added)."""
        found = dict(values)
        found.update({value: values[source] for value, source in self.aliases.items() if source in values})
        return found

    def summary(self) -> str:
        return (
            f"{len(self.folded)} BatchNorm/Scale layers folded into {len(set(self.folded.values()))} layers, "
            f"{len(self.removed_layers)} identity layers removed, {len(self.removed_values)} intermediate values gone"
        )


def _axis(axis: int, ndim: int) -> int:
    return axis + ndim if axis < 0 else axis


def _affine(layer: Layer, shape: Sequence[int]) -> tuple[np.ndarray, np.ndarray] | None:
    """The layer as a float64 per-channel (a, b) with top = a*x + b over axis 1, or None if it is not one."""
    if len(layer.bottoms) != 1 or len(layer.tops) != 1 or len(shape) < 2:
        return None
    channels = shape[1]
    if layer.type == "BatchNorm":
        p = layer.param.batch_norm_param
        if (p.HasField("use_global_stats") and not p.use_global_stats) or len(layer.blobs) != 3:
            return None
        if layer.blobs[0].size != channels or layer.blobs[1].size != channels or layer.blobs[2].size != 1:
            return None
        s = np.float32(np.asarray(layer.blobs[2]).ravel()[0])
        sf = np.float64(np.float32(0) if s == 0 else np.float32(1) / s)
        mean = np.asarray(layer.blobs[0], np.float64).ravel() * sf
        var = np.asarray(layer.blobs[1], np.float64).ravel() * sf
        invstd = 1.0 / np.sqrt(var + np.float64(np.float32(p.eps)))
        return invstd, -mean * invstd
    if layer.type == "Scale":
        p = layer.param.scale_param
        if not layer.blobs or _axis(p.axis, len(shape)) != 1 or layer.blobs[0].shape != (channels,):
            return None
        if len(layer.blobs) != (2 if p.bias_term else 1):
            return None
        gamma = np.asarray(layer.blobs[0], np.float64)
        beta = np.asarray(layer.blobs[1], np.float64) if p.bias_term else np.zeros(channels)
        return gamma, beta
    return None


def _foldable_producer(layer: Layer, shapes: Mapping[str, tuple[int, ...]]) -> bool:
    if len(layer.tops) != 1 or not layer.blobs:
        return False
    if layer.type == "Convolution":
        return len(layer.blobs) == (2 if layer.param.convolution_param.bias_term else 1)
    if layer.type == "InnerProduct":  # only when its output is N x num_output, so axis 1 is its channels
        p = layer.param.inner_product_param
        return len(shapes[layer.tops[0]]) == 2 and len(layer.blobs) == (2 if p.bias_term else 1)
    return False


def _fold_weights(layer: Layer, a: np.ndarray, b: np.ndarray) -> tuple[caffe_pb2.LayerParameter, list[np.ndarray]]:
    param = caffe_pb2.LayerParameter()
    param.CopyFrom(layer.param)
    weight = np.asarray(layer.blobs[0], np.float64)
    if layer.type == "Convolution":
        p = param.convolution_param
        out = p.num_output
        weight = weight * a.reshape((out,) + (1,) * (weight.ndim - 1))
    else:
        p = param.inner_product_param
        out = p.num_output
        # (num_output, K), or (K, num_output) with transpose, whatever the blob's stored shape
        w2 = weight.reshape((-1, out) if p.transpose else (out, -1))
        weight = (w2 * (a[None, :] if p.transpose else a[:, None])).reshape(weight.shape)
    bias = np.asarray(layer.blobs[1], np.float64).reshape(-1) if p.bias_term else np.zeros(out)
    p.bias_term = True
    return param, [weight.astype(np.float32), (bias * a + b).astype(np.float32)]


def _affine_layer(first: Layer, top: str, a: np.ndarray, b: np.ndarray) -> Layer:
    param = caffe_pb2.LayerParameter(name=first.name, type="Scale")
    param.scale_param.axis = 1
    param.scale_param.bias_term = True
    return Layer(
        name=first.name, type="Scale", bottoms=first.bottoms, tops=(top,), param=param,
        caffe_bottoms=first.caffe_bottoms, caffe_tops=first.caffe_tops,
        blobs=[a.astype(np.float32), b.astype(np.float32)], top_shapes=first.top_shapes, line=first.line,
    )


def _fold_chain(head: Layer | None, chain, net: Net, folding: Folding, absorbed: set[int]) -> Layer:
    """One layer for `head` (a Convolution/InnerProduct, or None) and the BatchNorm/Scale chain after it:
    the composed affine y = a*x + b folded into head's weights, or a Scale with a bias."""
    a, b = np.ones(chain[0][1][0].shape), np.zeros(chain[0][1][0].shape)
    for _, (scale, shift) in chain:
        a, b = a * scale, b * scale + shift
    top = chain[-1][0].tops[0]
    if head is not None:
        param, blobs = _fold_weights(head, a, b)
        new = dataclasses.replace(head, tops=(top,), param=param, blobs=blobs)
        folding.rewritten.append(head.name)
        gone = [head.tops[0]] + [l.tops[0] for l, _ in chain[:-1]]
    else:
        new = _affine_layer(chain[0][0], top, a, b)
        folding.rewritten.append(new.name)
        gone = [l.tops[0] for l, _ in chain[:-1]]
    # a new Caffe layer (a conv now with a bias, or a Scale): set up again, as the loader would
    new.setup = set_up(new.type, new.param, [net.shapes[v] for v in new.bottoms], new.tops)
    for folded, _ in chain:
        absorbed.add(id(folded))
        folding.folded[folded.name] = new.name
        for index in range(len(folded.blobs)):
            folding.removed_blobs[(folded.name, index)] = f"folded into '{new.name}'"
    for value in gone:
        folding.removed_values[value] = f"folded: '{new.name}' computes {top} directly"
    return new


def _folded_net(net: Net, layers: list[Layer], real) -> Net:
    """The Net of the folded layers: outputs and final values through the aliases, shapes of what is left."""
    values = set(net.inputs) | {top for layer in layers for top in layer.tops}
    return dataclasses.replace(
        net,
        layers=layers,
        outputs=[real(v) for v in net.outputs],
        shapes={v: s for v, s in net.shapes.items() if v in values},
        blob_of={v: blob for v, blob in net.blob_of.items() if v in values},
        final={blob: real(v) for blob, v in net.final.items() if real(v) in values},
        unused_weights=list(net.unused_weights),
    )


def _without_identities(net: Net, folding: Folding):
    """(layers, alias, real): the layers without Dropout and Split (their readers read the bottom), each
    removed top's alias, and `real(value)`, the value that holds a name's numbers."""
    alias: dict[str, str] = {}

    def real(value: str) -> str:
        while value in alias:
            value = alias[value]
        return value

    layers: list[Layer] = []
    for layer in net.layers:
        if layer.type in _IDENTITIES and len(layer.bottoms) == 1:
            for top in layer.tops:
                alias[top] = real(layer.bottoms[0])
            folding.removed_layers[layer.name] = f"{layer.type}: the identity at test time"
            continue
        bottoms = tuple(real(b) for b in layer.bottoms)
        layers.append(layer if bottoms == layer.bottoms else dataclasses.replace(layer, bottoms=bottoms))
    return layers, alias, real


def fold(net: Net, keep: Iterable[str] = ()) -> tuple[Net, Folding]:
    """The folded net (a new Net sharing the untouched layers) and what was folded.

    `keep` are value names that must survive (requested outputs): no chain folds across them.
    """
    folding = Folding()
    layers, alias, real = _without_identities(net, folding)
    keep = {real(v) for v in keep} | {real(v) for v in net.outputs}
    readers: dict[str, list[Layer]] = defaultdict(list, dataclasses.replace(net, layers=layers).readers())

    def chain_after(value: str) -> list[tuple[Layer, tuple[np.ndarray, np.ndarray]]]:
        chain = []
        while value not in keep and len(readers[value]) == 1:
            (reader,) = readers[value]
            affine = _affine(reader, net.shapes[value]) if reader.type in ("BatchNorm", "Scale") else None
            if affine is None:
                break
            chain.append((reader, affine))
            value = reader.tops[0]
        return chain

    absorbed: set[int] = set()
    out: list[Layer] = []
    for layer in layers:
        if id(layer) in absorbed:
            continue
        chain: list[tuple[Layer, tuple[np.ndarray, np.ndarray]]] = []
        if layer.type in _PRODUCERS and _foldable_producer(layer, net.shapes):
            head: Layer | None = layer
            chain = chain_after(layer.tops[0])
        elif layer.type in ("BatchNorm", "Scale") and len(layer.bottoms) == 1 and (
            own := _affine(layer, net.shapes[layer.bottoms[0]])
        ) is not None:
            head = None
            chain = [(layer, own)] + chain_after(layer.tops[0])
            if len(chain) == 1 and layer.type == "Scale":
                chain = []  # a lone Scale with a per-channel blob is already what a chain would become
        out.append(_fold_chain(head, chain, net, folding, absorbed) if chain else layer)

    for value in alias:
        folding.aliases[value] = real(value)
    folding.net = _folded_net(net, out, real)
    return folding.net, folding
