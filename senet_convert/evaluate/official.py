"""Recognising the official SENets, and the accuracy published for them.

A net is recognised by its structure, never by its file name: the geometry of its weighted layers
in order (Convolution: outputs, kernel, stride, pad, dilation, group; InnerProduct: outputs) hashed
with sha256. Names, comments, an input adapter that senet-convert put in front and a final pool made
global do not change it; a different width, depth, stride or number of classes does. The hashes below
are those of the seven prototxts of hujie-frank/SENet (a test recomputes them).

Published single-crop ImageNet validation results, top-1 / top-5 error in %:
  release  the SENet paper's Table 1 / the release's README (Caffe, shorter side 256, centre 224 crop)
  timm     timm's results for its legacy_* ports (crop 0.875, bilinear), published as accuracy
"""
from __future__ import annotations

import hashlib
import json

from ..graph import Net
from ..edits.input_space import ADAPTER_SUFFIX
from ..export.model_card import PUBLISHED
from ..caffe.layers.conv import per_axis

# (field, default) of a ConvolutionParameter's geometry, one value per spatial axis each
_GEOMETRY = (("kernel", None), ("stride", 1), ("pad", 0), ("dilation", 1))

FINGERPRINTS = {
    "0847fa0b81f2c07c398db58d2dd51e1afd0578fe23e117743b1f8f4038068c9d": "SE-BN-Inception",
    "76bd8fc9074e341ee5a8025dffffc43c9cef0cbae9581b95a0bec35633dc18fc": "SE-ResNet-50",
    "480afe680f434c2cc005f92b7218495f84be1b0d172d608bc480d0eea795753c": "SE-ResNet-101",
    "4efee65f32d7a5a9148948dd33a050f643e6fe33c532c97ec29a305b7503ef3d": "SE-ResNet-152",
    "1a81a8103fb242bdcf62d462cc37271aefe1fa165086de294cdd5905883e07e7": "SE-ResNeXt-50",
    "d820f728ff37f06d90803bb94a1a43d0bbcd74da2ba1349190f339310369abbc": "SE-ResNeXt-101",
    "e0b736229b6dd75629a689f6fee0d500865f15121d30df051ba6f48569632e02": "SENet-154",
}

TIMM_MODEL = {  # the timm model of each official SENet (se_bn_inception: senet-convert's own)
    "SE-BN-Inception": "se_bn_inception",
    "SE-ResNet-50": "legacy_seresnet50",
    "SE-ResNet-101": "legacy_seresnet101",
    "SE-ResNet-152": "legacy_seresnet152",
    "SE-ResNeXt-50": "legacy_seresnext50_32x4d",
    "SE-ResNeXt-101": "legacy_seresnext101_32x4d",
    "SENet-154": "legacy_senet154",
}
RELEASE = {name: PUBLISHED[model][1:] for name, model in TIMM_MODEL.items()}  # top-1, top-5 error %
TIMM = {  # timm's results for its legacy ports: top-1 accuracy %, top-5 accuracy %
    "SE-ResNet-50": (77.650, 93.732),
    "SE-ResNet-101": (78.370, 94.264),
    "SE-ResNet-152": (78.662, 94.370),
    "SE-ResNeXt-50": (79.080, 94.428),
    "SE-ResNeXt-101": (80.274, 95.032),
    "SENet-154": (81.320, 95.502),
}


def fingerprint(net: Net) -> str:
    rows = []
    for layer in net.layers:
        if layer.name.endswith(ADAPTER_SUFFIX):
            continue
        if layer.type == "Convolution":
            p = layer.param.convolution_param
            kernel, stride, pad, dilation = (per_axis(p, name, 2, default) for name, default in _GEOMETRY)
            rows.append(["conv", p.num_output, list(kernel), list(stride), list(pad), list(dilation), p.group])
        elif layer.type == "InnerProduct":
            rows.append(["fc", layer.param.inner_product_param.num_output])
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def recognise_net(net: Net) -> str | None:
    """The official SENet that `net` is by structure, or None."""
    try:
        return FINGERPRINTS.get(fingerprint(net))
    except Exception:  # a geometry the shape rules reject is no official SENet
        return None


def recognise_timm(model: str) -> str | None:
    return next((name for name, timm_name in TIMM_MODEL.items() if timm_name == model), None)


def published(name: str | None) -> dict | None:
    """The release's and timm's numbers for an official SENet, as error fractions."""
    if name is None:
        return None
    top1, top5 = RELEASE[name]
    out = {"model": name, "release": {"top1_error": round(top1 / 100, 6), "top5_error": round(top5 / 100, 6),
                                      "protocol": "Caffe, shorter side 256, centre 224 crop (Table 1)"}}
    if name in TIMM:
        acc1, acc5 = TIMM[name]
        out["timm"] = {"model": TIMM_MODEL[name], "top1_error": round(1 - acc1 / 100, 6), "top5_error": round(1 - acc5 / 100, 6),
                       "protocol": "timm, crop 0.875, bilinear"}
    return out
