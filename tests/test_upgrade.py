"""The V1 upgrade follows Caffe's upgrade_proto.cpp, down to the per-blob learning settings."""
from __future__ import annotations

from google.protobuf import text_format

from senet_convert.caffe import caffe_pb2
from senet_convert.caffe.prototxt import parse_net
from senet_convert.caffe.upgrade import upgrade_net

V1 = """
layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv"
         blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0
         convolution_param { num_output: 4 kernel_size: 3 } }
layers { name: "ip" type: INNER_PRODUCT bottom: "conv" top: "ip"
         param: "shared_w" blob_share_mode: PERMISSIVE blobs_lr: 3 weight_decay: 0.5 weight_decay: 2
         inner_product_param { num_output: 2 } }
layers { name: "relu" type: RELU bottom: "ip" top: "ip" }
"""


def _upgraded() -> list[caffe_pb2.LayerParameter]:
    net = parse_net(V1)
    assert upgrade_net(net)
    return list(net.layer)


def test_blobs_lr_and_weight_decay_become_param_specs():
    conv, ip, relu = _upgraded()
    as_text = [text_format.MessageToString(spec, as_one_line=True) for spec in conv.param]
    assert as_text == ["lr_mult: 1.0 decay_mult: 1.0", "lr_mult: 2.0 decay_mult: 0.0"]
    # the name, share mode, lr and decay of blob i all land in ParamSpec i; what is unset keeps its default
    assert [text_format.MessageToString(spec, as_one_line=True) for spec in ip.param] == [
        'name: "shared_w" share_mode: PERMISSIVE lr_mult: 3.0 decay_mult: 0.5',
        "decay_mult: 2.0",
    ]
    assert ip.param[1].lr_mult == 1
    assert not relu.param


def test_upgraded_layer_reads_as_the_v2_twin():
    v2 = parse_net("""
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
        convolution_param { num_output: 4 kernel_size: 3 } }
""")
    assert _upgraded()[0] == v2.layer[0]
