"""timm's files as evaluate's Model: a timm folder, or a bare NAME.timm.pth.

  a folder        config.json + model.safetensors, what timm.create_model("local-dir:...") and the
                  Hugging Face Hub read: architecture, num_classes, model_args, label_names (the
                  WordNet ID of every row) and pretrained_cfg. timm's transforms produce RGB, so its
                  mean and std are per colour in R, G, B order; a model that takes BGR (Caffe's
                  convention kept) says so in pretrained_cfg's notes, and gets the channels reversed
  NAME.timm.pth   the bare state_dict (torch.load with weights_only), its config in NAME.timm.json
                  (release 0.1.0: pretrained_cfg with input_space, channel_order, class_order and
                  mean/std in the model's channel order) or the folder NAME/ beside it
"""
from __future__ import annotations

import json
from pathlib import Path

from ..edits import input_space as spaces
from ..errors import ConvertError
from ..files import require_file
from . import official
from .models import Model, torch_model

CAFFE_STD = 1 / 255


def _convention(cfg: dict, *, rgb_order: bool) -> spaces.Convention:
    """The input convention a pretrained_cfg describes; `rgb_order`: its mean and std are per colour in
    R, G, B order (a hub config.json) rather than in the model's channel order (a NAME.timm.json)."""
    mean, std = tuple(cfg.get("mean", spaces.IMAGENET_MEAN)), tuple(cfg.get("std", spaces.IMAGENET_STD))
    bgr = cfg.get("channel_order") == "BGR" or any("takes BGR" in str(note) for note in cfg.get("notes", []))
    if bgr and rgb_order:
        mean, std = mean[::-1], std[::-1]
    if bgr and all(abs(s - CAFFE_STD) < 1e-12 for s in std):
        return spaces.convention("caffe", tuple(round(255 * m, 6) for m in mean))
    if bgr:
        return spaces.Convention("timm", "BGR", mean, std)
    return spaces.Convention("torchvision" if (mean, std) == (spaces.IMAGENET_MEAN, spaces.IMAGENET_STD) else "timm", "RGB", mean, std)


def _timm_module(architecture: str, model_args: dict, state_dict: dict, where: Path):
    try:
        import timm
    except ImportError:
        raise ConvertError(f"{where}: evaluating timm weights needs timm: pip install timm") from None
    if not isinstance(architecture, str) or not timm.is_model(architecture):
        # Never a "hf-hub:" or "local-dir:" name: that would fetch or read something other than this file.
        raise ConvertError(f"{where}: timm {timm.__version__} has no model {architecture!r}")
    try:
        model = timm.create_model(architecture, pretrained=False, **model_args)
        model.load_state_dict(state_dict, strict=True)
    except (RuntimeError, KeyError) as exc:
        raise ConvertError(f"{where}: the weights do not load into timm's {architecture} ({str(exc).splitlines()[0][:160]})") from None
    return model.eval()


def _timm(kind, files, architecture, cfg: dict, state_dict, where, *, labels=None, model_args=None, rgb_order=False) -> Model:
    args = {"num_classes": int(cfg.get("num_classes") or 1000), **(model_args or {})}
    module = _timm_module(architecture, args, state_dict, where)
    wnids = cfg.get("class_wnids") or labels
    return torch_model(kind, files, module, input_size=tuple(cfg.get("input_size", (3, 224, 224))[1:]), fixed_size=False,
                        convention=_convention(cfg, rgb_order=rgb_order), class_order=cfg.get("class_order"),
                        class_wnids=tuple(wnids) if wnids else None, scored="timm's logits",
                        official=official.recognise_timm(architecture), recorded={"timm_config": cfg})


def _hub_config(config: Path) -> dict:
    """What a timm config.json says: architecture, pretrained_cfg (with num_classes), model_args, labels."""
    try:
        info = json.loads(config.read_text())
        architecture = info["architecture"]
        cfg = dict(info.get("pretrained_cfg") or {}, num_classes=info.get("num_classes", 1000))
        model_args = dict(info.get("model_args") or {})
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ConvertError(f"{config}: not a timm config.json (no 'architecture')") from None
    labels = info.get("label_names")
    if not (isinstance(labels, list) and all(isinstance(w, str) and len(w) == 9 and w[0] == "n" for w in labels)):
        labels = None
    return {"architecture": architecture, "cfg": cfg, "model_args": model_args, "labels": labels, "rgb_order": True}


def _release_config(config: Path) -> dict:
    """What a NAME.timm.json (release 0.1.0) says."""
    try:
        info = json.loads(config.read_text())
        return {"architecture": info["model"], "cfg": dict(info["pretrained_cfg"]), "model_args": {}, "labels": None,
                "rgb_order": False, "sources": {k: v.get("sha256") for k, v in info.get("sources", {}).items()}}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ConvertError(f"{config}: not the NAME.timm.json senet-convert writes") from None


def _from(kind: str, files: list[Path], config: dict, state_dict, where: Path) -> Model:
    model = _timm(kind, files, config["architecture"], config["cfg"], state_dict, where, labels=config["labels"],
                  model_args=config["model_args"], rgb_order=config["rgb_order"])
    model.recorded.update(config.get("sources", {}))
    return model


def from_timm_weights(path: Path) -> Model:
    """NAME.timm.pth, configured by NAME.timm.json or by the folder NAME/ beside it."""
    import torch

    stem = path.name[: -len(".timm.pth")] if path.name.endswith(".timm.pth") else path.name[: -len(".timm.json")]
    pth, release, folder = path.with_name(f"{stem}.timm.pth"), path.with_name(f"{stem}.timm.json"), path.with_name(stem)
    require_file(pth)
    if release.is_file():
        config, files = _release_config(release), [pth, release]
    elif (folder / "config.json").is_file():
        config, files = _hub_config(folder / "config.json"), [pth, folder / "config.json"]
    else:
        raise ConvertError(f"{pth}: its config is missing (NAME.timm.json, or the folder NAME/ with config.json, beside it)")
    try:
        state_dict = torch.load(pth, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConvertError(f"{pth}: not a readable state_dict ({type(exc).__name__})") from None
    return _from("timm", files, config, state_dict, pth)


def from_timm_folder(folder: Path) -> Model:
    config, weights = folder / "config.json", folder / "model.safetensors"
    if not config.is_file() or not weights.is_file():
        raise ConvertError(f"{folder}: a timm folder holds config.json and model.safetensors")
    hub = _hub_config(config)
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise ConvertError(f"{weights}: reading it needs safetensors: pip install safetensors") from None
    try:
        state_dict = load_file(weights)
    except Exception as exc:
        raise ConvertError(f"{weights}: not a readable safetensors file ({type(exc).__name__})") from None
    return _from("timm-folder", [config, weights], hub, state_dict, weights)
