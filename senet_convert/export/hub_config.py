"""config.json of a timm / Hugging Face Hub folder, as timm's `save_for_hf` writes it.

The top-level keys are timm's: architecture, num_classes, num_features, global_pool, label_names,
label_descriptions, model_args, pretrained_cfg (timm/models/_hub.py, save_config_for_hf); what
`timm.create_model("local-dir:..." or "hf-hub:...")` reads back. pretrained_cfg holds only fields of
timm's PretrainedCfg, describing the input convention the weights take. timm's transforms always
produce RGB and normalise it with mean and std, so those are per colour in R, G, B order whatever the
model takes; a BGR convention (Caffe's) then needs the normalised image's channels reversed, which
`notes` says (normalising first and reversing after is exact: each colour keeps its own mean). label_names are the WordNet IDs in the classifier's row order,
label_descriptions timm's own ImageNet class names (timm.data.ImageNetInfo).
"""
from __future__ import annotations

from ..edits import class_order as classes
from ..edits.input_space import Convention

TAG = "caffe_in1k"  # the weights: the official Caffe release, trained on ImageNet-1k
ORIGIN_URL = "https://github.com/hujie-frank/SENet"
PAPER = ("Squeeze-and-Excitation Networks", "arXiv:1709.01507")
LICENSE = "apache-2.0"  # the SENet release's
CROP_PCT, INTERPOLATION = 0.875, "bilinear"  # shorter side 256, centre crop 224, as the release evaluates


def label_info(class_order: str, num_classes: int) -> tuple[list[str] | None, dict[str, str] | None]:
    """(label_names, label_descriptions) for a 1000-class ILSVRC-2012 classifier; (None, None) otherwise."""
    if num_classes != 1000:
        return None, None
    from timm.data import ImageNetInfo

    names = list(classes.wnids(class_order))
    info = ImageNetInfo("imagenet-1k")
    return names, {wnid: info.label_name_to_description(wnid) for wnid in names}


def rgb(values, conv: Convention) -> list[float]:
    """Per-channel `values` of `conv` (in its channel order) in R, G, B order."""
    return [values[conv.channel_order.index(colour)] for colour in "RGB"]


def input_notes(conv: Convention, class_order: str) -> list[str]:
    notes = [f"input: {conv.describe()}; mean and std are per colour in R, G, B order, as timm's transforms apply them"]
    if conv.channel_order == "BGR":
        notes.append("the model takes BGR: reverse the channels after timm's transform (x.flip(-3)), or convert with --input-space torchvision")
    notes.append(f"classifier rows in {class_order} order: " + ("ILSVRC-2012 devkit IDs" if class_order == "caffe" else "sorted WordNet IDs, as timm and torchvision"))
    return notes


def hub_config(*, architecture: str, num_classes: int, num_features: int, first_conv: str, input_size,
               conv: Convention, class_order: str, model_args: dict) -> dict:
    """The config.json dict, keys in the order timm writes them."""
    label_names, label_descriptions = label_info(class_order, num_classes)
    pretrained_cfg = {
        "tag": TAG,
        "custom_load": False,
        "input_size": list(input_size),
        "fixed_input_size": False,  # timm's models pool globally
        "interpolation": INTERPOLATION,
        "crop_pct": CROP_PCT,
        "crop_mode": "center",
        "mean": rgb(conv.mean, conv),
        "std": rgb(conv.std, conv),
        "num_classes": num_classes,
        "pool_size": [input_size[1] // 32, input_size[2] // 32],
        "first_conv": first_conv,
        "classifier": "last_linear",
        "license": LICENSE,
        "origin_url": ORIGIN_URL,
        "paper_name": PAPER[0],
        "paper_ids": PAPER[1],
        "notes": input_notes(conv, class_order),
    }
    config = {"architecture": architecture, "num_classes": num_classes, "num_features": num_features, "global_pool": "avg"}
    if label_names is not None:
        config["label_names"] = label_names
        config["label_descriptions"] = label_descriptions
    config["model_args"] = {"in_chans": input_size[0], "num_classes": num_classes, "global_pool": "avg", **model_args}
    config["pretrained_cfg"] = pretrained_cfg
    return config
