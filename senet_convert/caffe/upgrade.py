"""Upgrading V1 nets (`layers { type: CONVOLUTION }`) to the current form (`layer { type: "Convolution" }`).

Caffe's own upgrade (upgrade_proto.cpp) maps each V1LayerParameter.LayerType to the type
string of the layer class that replaced it and moves the *_param messages across unchanged;
the parameter messages kept their field numbers, so copying them is exact. The per-blob
learning settings (`param` names, `blob_share_mode`, `blobs_lr`, `weight_decay`) become
`param { name share_mode lr_mult decay_mult }`, one ParamSpec per blob, as Caffe's upgrade makes.
"""
from __future__ import annotations

from ..errors import ConvertError
from . import caffe_pb2

_V1 = caffe_pb2.V1LayerParameter

_TYPE_NAMES = {
    # Caffe's UpgradeV1LayerType maps NONE to the empty type, which no layer registers.
    _V1.NONE: "",
    _V1.ABSVAL: "AbsVal",
    _V1.ACCURACY: "Accuracy",
    _V1.ARGMAX: "ArgMax",
    _V1.BNLL: "BNLL",
    _V1.CONCAT: "Concat",
    _V1.CONTRASTIVE_LOSS: "ContrastiveLoss",
    _V1.CONVOLUTION: "Convolution",
    _V1.DATA: "Data",
    _V1.DECONVOLUTION: "Deconvolution",
    _V1.DROPOUT: "Dropout",
    _V1.DUMMY_DATA: "DummyData",
    _V1.EUCLIDEAN_LOSS: "EuclideanLoss",
    _V1.ELTWISE: "Eltwise",
    _V1.EXP: "Exp",
    _V1.FLATTEN: "Flatten",
    _V1.HDF5_DATA: "HDF5Data",
    _V1.HDF5_OUTPUT: "HDF5Output",
    _V1.HINGE_LOSS: "HingeLoss",
    _V1.IM2COL: "Im2col",
    _V1.IMAGE_DATA: "ImageData",
    _V1.INFOGAIN_LOSS: "InfogainLoss",
    _V1.INNER_PRODUCT: "InnerProduct",
    _V1.LRN: "LRN",
    _V1.MEMORY_DATA: "MemoryData",
    _V1.MULTINOMIAL_LOGISTIC_LOSS: "MultinomialLogisticLoss",
    _V1.MVN: "MVN",
    _V1.POOLING: "Pooling",
    _V1.POWER: "Power",
    _V1.RELU: "ReLU",
    _V1.SIGMOID: "Sigmoid",
    _V1.SIGMOID_CROSS_ENTROPY_LOSS: "SigmoidCrossEntropyLoss",
    _V1.SILENCE: "Silence",
    _V1.SOFTMAX: "Softmax",
    _V1.SOFTMAX_LOSS: "SoftmaxWithLoss",
    _V1.SPLIT: "Split",
    _V1.SLICE: "Slice",
    _V1.TANH: "TanH",
    _V1.WINDOW_DATA: "WindowData",
    _V1.THRESHOLD: "Threshold",
}

# The *_param fields that exist under the same name in both messages.
_SHARED_PARAMS = sorted(
    f.name
    for f in _V1.DESCRIPTOR.fields
    if f.name.endswith("_param") and f.name in caffe_pb2.LayerParameter.DESCRIPTOR.fields_by_name
)


def v1_type_name(v1_type: int, where: str = "a V1 layer") -> str:
    """Caffe's type string for a V1 LayerType enum; `where` names the file and layer in errors."""
    try:
        return _TYPE_NAMES[v1_type]
    except KeyError:
        raise ConvertError(f"{where}: unknown V1 layer type enum {v1_type}") from None


def upgrade_v1_layer(old: caffe_pb2.V1LayerParameter, where: str = "a V1 layer") -> caffe_pb2.LayerParameter:
    new = caffe_pb2.LayerParameter(name=old.name)
    new.type = v1_type_name(old.type, where) if old.HasField("type") else ""
    new.bottom.extend(old.bottom)
    new.top.extend(old.top)
    new.include.extend(old.include)
    new.exclude.extend(old.exclude)
    new.loss_weight.extend(old.loss_weight)
    new.blobs.extend(old.blobs)
    for name in _SHARED_PARAMS:
        if old.HasField(name):
            getattr(new, name).CopyFrom(getattr(old, name))
    _upgrade_param_specs(old, new)
    return new


def _upgrade_param_specs(old: caffe_pb2.V1LayerParameter, new: caffe_pb2.LayerParameter) -> None:
    # upgrade_proto.cpp: the i-th param name, blob_share_mode, blobs_lr and weight_decay all land in
    # the i-th ParamSpec, which is created when any of the four lists reaches that far. Unset
    # values keep ParamSpec's defaults (lr_mult and decay_mult 1).
    def spec(index: int) -> caffe_pb2.ParamSpec:
        while len(new.param) <= index:
            new.param.add()
        return new.param[index]

    for index, name in enumerate(old.param):
        spec(index).name = name
    for index, mode in enumerate(old.blob_share_mode):
        spec(index).share_mode = mode
    for index, rate in enumerate(old.blobs_lr):
        spec(index).lr_mult = rate
    for index, decay in enumerate(old.weight_decay):
        spec(index).decay_mult = decay


def upgrade_net(net: caffe_pb2.NetParameter, path: str | object = "<prototxt>") -> bool:
    """Replace V1 `layers` with `layer` in place; True when something was upgraded."""
    if not net.layers:
        return False
    if net.layer:
        raise ConvertError(f"{path}: the net mixes V1 'layers' and current 'layer' entries; Caffe refuses this too")
    upgraded = [upgrade_v1_layer(old, f"{path}: layer '{old.name}'") for old in net.layers]
    del net.layers[:]
    net.layer.extend(upgraded)
    return True
