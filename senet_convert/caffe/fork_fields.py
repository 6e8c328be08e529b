"""The error for a prototxt field BVLC Caffe's schema lacks: usually a Caffe fork's layer parameters.

protobuf says `Message type "senet_convert.caffe.LayerParameter" has no field named "norm_param"`.
Users need the layer, its line, that the file comes from a fork of Caffe, and what to do about it.
"""
from __future__ import annotations

import difflib
import re

from google.protobuf import text_format

from ..errors import ConvertError
from . import caffe_pb2

DOCS = "docs/plugins.md"
_NO_FIELD = re.compile(r'Message type "(?:[\w.]+\.)?(\w+)" has no field named "(\w+)"')
# Where well-known fork fields come from, so the message can say which fork (and plugin) it needs.
KNOWN = {
    "norm_param": "SSD (weiliu89/caffe), its Normalize layer",
    "prior_box_param": "SSD (weiliu89/caffe), its PriorBox layer",
    "detection_output_param": "SSD (weiliu89/caffe), its DetectionOutput layer",
    "permute_param": "SSD (weiliu89/caffe), its Permute layer",
    "shuffle_channel_param": "ShuffleNet forks, their ShuffleChannel layer",
    "interp_param": "PSPNet / DeepLab forks, their Interp layer",
    "upsample_param": "SegNet / YOLO forks, their Upsample layer",
    "bn_param": "SegNet's fork, its BN layer",
    "roi_pooling_param": "Fast/Faster R-CNN forks, their ROIPooling layer",
    "psroi_pooling_param": "R-FCN's fork, its PSROIPooling layer",
    "reorg_param": "YOLO forks, their Reorg layer",
    "region_param": "YOLO forks, their Region layer",
}


def _enclosing_layer(text: str, line: int) -> tuple[str, str] | None:
    """(name, type) of the top-level layer block that contains `line`, from a lenient parse."""
    from .prototxt import _pieces, layer_lines

    starts = layer_lines(text)
    index = max((i for i, start in enumerate(starts) if start <= line), default=None)
    if index is None:
        return None
    net = caffe_pb2.NetParameter()
    try:  # the pieces parse_net read: long whitespace runs cut out, as there
        text_format.ParseLines(_pieces(text)[0], net, allow_unknown_field=True)
    except text_format.ParseError:
        return None
    layers = net.layer if net.layer else net.layers
    if index >= len(layers):
        return None
    layer = layers[index]
    kind = layer.type if isinstance(layer, caffe_pb2.LayerParameter) else caffe_pb2.V1LayerParameter.LayerType.Name(layer.type)
    return layer.name, kind


def unknown_field_error(text: str, path, line: int, column: int, message: str) -> ConvertError | None:
    """A ConvertError for protobuf's 'has no field named' message, or None for any other parse error."""
    match = _NO_FIELD.search(message)
    if not match:
        return None
    owner, field = match.groups()
    where = f"{path}:{line}:{column}"
    layer = _enclosing_layer(text, line) if owner not in ("NetParameter",) else None
    subject = f"layer '{layer[0]}' ({layer[1]})" if layer else "the net" if owner == "NetParameter" else "a layer"
    origin = KNOWN.get(field)
    if owner in ("LayerParameter", "V1LayerParameter"):
        fork = f"this prototxt comes from a Caffe fork: {origin}" if origin else "this prototxt comes from a Caffe fork"
        return ConvertError(
            f"{where}: {subject} has a field '{field}' that BVLC Caffe's schema lacks: {fork}. A plugin that "
            f"declares '{field}' and the layer type makes it readable: --plugin FILE.py (see {DOCS})"
        )
    descriptor = caffe_pb2.DESCRIPTOR.message_types_by_name.get(owner)
    close = difflib.get_close_matches(field, [f.name for f in descriptor.fields], n=1) if descriptor else []
    hint = f"did you mean '{close[0]}'?" if close else "a typo, or a field only a Caffe fork has"
    return ConvertError(f"{where}: {subject}: {owner} has no field '{field}' in BVLC Caffe's schema ({hint})")
