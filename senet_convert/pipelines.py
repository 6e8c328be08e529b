"""One call from the Caffe files to a ready module plus what it takes, in the shape timm uses.

    from senet_convert.pipelines import load, make_transform
    model, config = load("SE-ResNet-50.prototxt", "SE-ResNet-50.caffemodel",
                         target="timm", input_space="torchvision")
    transform = make_transform(config)            # PIL image -> 3 x 224 x 224 tensor
    logits = model(transform(image)[None])        # rows in config["class_order"] order

`config` holds timm's pretrained_cfg keys (input_size, interpolation, crop_pct, crop_mode, mean,
std, num_classes, first_conv, classifier), so `timm.data.resolve_data_config({}, pretrained_cfg=
config)` reads it too, plus what the conversion decided: input_space, channel_order (a BGR
convention needs the image's channels reversed, which timm's transforms do not do; make_transform
does), class_order with the WordNet ID of every row, deviations, and for a folded convention the
measured folding error.

The preprocessing is the usual ImageNet evaluation: shorter side resized to 256 (224 / crop_pct
0.875), centre crop 224, bilinear; timm's legacy SENet configs state the same.
"""
from __future__ import annotations

import math
from pathlib import Path

from .edits import class_order as classes
from .edits import input_space as spaces
from .edits.class_order import class_order_of, last_inner_product, reorder_classes
from .edits.global_pool import global_pool
from .edits.notes import deviations
from .errors import ConvertError
from .graph import Net
from .loader import load_net

TARGETS = ("graph", "timm")
CROP_PCT = 0.875
INTERPOLATION = "bilinear"


def prepare(net: Net, *, input_space: str = "caffe", class_order: str = "caffe", global_pooling: bool = False) -> Net:
    """The Net a graph conversion lowers: global pooling, class order, then the input adapter."""
    if global_pooling:
        net = global_pool(net)
    net = reorder_classes(net, class_order)
    return spaces.add_adapter(net, input_space)


def data_config(net: Net, *, input_space: str, class_order: str, architecture: str, first_conv: str,
                classifier_name: str, num_classes: int, fixed_input_size: bool) -> dict:
    """timm's pretrained_cfg keys, plus the conversion's own (input_space, channel_order, class_order...)."""
    conv = spaces.convention(input_space, net.mean_bgr if input_space == "caffe" else None)
    shape = next(iter(net.inputs.values()))
    config = {
        "architecture": architecture,
        "input_size": tuple(shape[1:]),
        "fixed_input_size": fixed_input_size,
        "interpolation": INTERPOLATION,
        "crop_pct": CROP_PCT,
        "crop_mode": "center",
        "mean": tuple(conv.mean),
        "std": tuple(conv.std),
        "num_classes": num_classes,
        "first_conv": first_conv,
        "classifier": classifier_name,
        "input_space": input_space,
        "channel_order": conv.channel_order,
        "input_contract": conv.describe(),
        "class_order": class_order,
        "deviations": deviations(net),
    }
    if num_classes == 1000:
        config["class_wnids"] = list(classes.wnids(class_order))
    return config


def load(prototxt: str | Path, caffemodel: str | Path, *, target: str = "graph", input_space: str = "caffe",
         class_order: str | None = None, global_pooling: bool = False, outputs=None):
    """(module in eval mode, config). target "graph": the Caffe-named torch.fx module (the adapter in
    front for input_space "torchvision"; class_order default "caffe"). target "timm": the timm model
    (needs timm; the convention folded into conv1 for "torchvision"; class_order default "sorted")."""
    if target not in TARGETS:
        raise ConvertError(f"target must be one of {', '.join(TARGETS)}, got '{target}'")
    net = load_net(prototxt, caffemodel)
    if target == "timm":
        if outputs is not None:
            raise ConvertError("outputs apply to the graph target; timm's model returns the logits")
        weights, config = timm_conversion(net, input_space=input_space, class_order=class_order or "sorted")
        from .to_timm import timm_model

        return timm_model(weights), config
    from .to_torch import module_for, module_name

    net = prepare(net, input_space=input_space, class_order=class_order or "caffe", global_pooling=global_pooling)
    module = module_for(net, outputs)
    head = last_inner_product(net)
    config = data_config(
        net, input_space=input_space, class_order=class_order_of(net), architecture=net.name,
        first_conv=module_name(net.layers[0].name), classifier_name=module_name(head.name),
        num_classes=head.param.inner_product_param.num_output, fixed_input_size=not global_pooling,
    )
    config["outputs"] = [net.blob_of.get(o, o) for o in (outputs or net.outputs)]
    return module, config


def timm_conversion(net: Net, *, input_space: str = "caffe", class_order: str = "sorted"):
    """(TimmWeights, config) for a loaded net; a folded convention's error is measured on its own weights."""
    from .to_timm import timm_weights

    weights = timm_weights(net, class_order=class_order, input_space=input_space)
    config = data_config(
        net, input_space=input_space, class_order=class_order, architecture=weights.model,
        first_conv="layer0.conv1", classifier_name="last_linear", num_classes=weights.num_classes,
        fixed_input_size=False,
    )
    if input_space != "caffe":
        config["fold_error"] = spaces.measure_fold_error(net, space=input_space)
    return weights, config


class _ToBGR:
    """Reverses the channel axis of a C x H x W tensor (RGB -> BGR)."""

    def __call__(self, x):
        return x.flip(-3)

    def __repr__(self) -> str:
        return "ToBGR()"


def make_transform(config: dict):
    """A torchvision transform from a PIL image to the model's input: resize, centre crop, to [0, 1],
    channels reversed for a BGR convention, normalised with the config's mean and std."""
    try:
        from torchvision import transforms as T
    except ImportError:
        raise ConvertError("make_transform needs torchvision: pip install torchvision") from None
    size = config["input_size"][1:]
    modes = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC}
    steps = [
        T.Resize(math.floor(size[0] / config["crop_pct"]), interpolation=modes[config["interpolation"]]),
        T.CenterCrop(size),
        T.ToTensor(),
    ]
    if config["channel_order"] == "BGR":
        steps.append(_ToBGR())
    steps.append(T.Normalize(config["mean"], config["std"]))
    return T.Compose(steps)
