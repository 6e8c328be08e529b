"""ShuffleChannel, the channel shuffle of ShuffleNet's Caffe forks (farmingyard/ShuffleNet and others).

  top[n, j * group + i] = x[n, i * (C / group) + j]   for i < group, j < C / group
i.e. the channel axis read as a group x (C / group) matrix, transposed. The fork's schema adds
  message ShuffleChannelParameter { optional uint32 group = 1 [default = 1]; }
  optional ShuffleChannelParameter shuffle_channel_param = 164;   (in LayerParameter)
The layer has no learned blobs; C must be a multiple of group.

    senet-convert caffe2torch --plugin examples/plugins/shuffle_channel.py net.prototxt net.caffemodel
"""
from __future__ import annotations

import torch
from torch import nn

from senet_convert import plugins

SHUFFLE = plugins.declare_parameter(
    "ShuffleChannelParameter", field="shuffle_channel_param", number=164,
    fields=[plugins.Field("group", "uint32", 1, default=1)],
)


def shapes(param, bottoms):
    (shape,) = bottoms
    group = SHUFFLE.of(param).group
    if len(shape) < 2 or group < 1 or shape[1] % group:
        raise plugins.ShapeError(f"group {group} must divide the channels of the bottom {shape}")
    return [shape]


plugins.register_layer("ShuffleChannel", tops=shapes)


@plugins.register_oracle("ShuffleChannel")
def oracle(layer, inputs):
    (x,) = inputs
    group = SHUFFLE.of(layer).group
    n, c = x.shape[:2]
    return [x.reshape(n, group, c // group, *x.shape[2:]).swapaxes(1, 2).reshape(x.shape)]


class ShuffleChannel(nn.Module):
    def __init__(self, group: int):
        super().__init__()
        self.group = group

    def extra_repr(self) -> str:
        return f"group={self.group}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        return x.reshape(n, self.group, c // self.group, *x.shape[2:]).transpose(1, 2).reshape(x.shape)


@plugins.register_torch("ShuffleChannel")
def build(layer):
    return ShuffleChannel(SHUFFLE.of(layer).group)


@plugins.register_onnx("ShuffleChannel")
def emit(layer, g):
    """ShuffleChannel: the channel axis as a group x (C / group) matrix, transposed (Reshape, Transpose, Reshape)."""
    group = SHUFFLE.of(layer).group
    shape = g.input_shapes[0]
    split = g.node("Reshape", [g.inputs[0], g.ints("groups", [0, group, shape[1] // group, *shape[2:]])])
    order = [0, 2, 1, *range(3, len(shape) + 1)]
    g.node("Reshape", [g.node("Transpose", [split], perm=order), g.ints("shape", [0, *shape[1:]])], output=g.outputs[0])
