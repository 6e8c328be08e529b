"""The `caffe2torch --to timm` job: the folder DIR/NAME/ that timm loads and the Hugging Face Hub takes.

    DIR/NAME/config.json        timm's hub config (hub_config.py)
    DIR/NAME/model.safetensors  the state_dict; its metadata names the Caffe blob behind every key
    DIR/NAME/README.md          the model card (model_card.py), from what this conversion measured
    DIR/NAME.timm.pth           the bare state_dict, as release 0.1.0 wrote it: an alias for this release only

`timm.create_model("local-dir:DIR/NAME", pretrained=True)` loads it strictly, and
`huggingface_hub.upload_folder(folder_path="DIR/NAME", ...)` publishes it as it is. The folder
appears whole or not at all (files.staged_outputs), replacing an earlier conversion's.
"""
from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

from ..edits import input_space as spaces
from ..to_timm import parity as timm_parity
from ..edits.class_order import last_inner_product
from ..errors import ConvertError
from .checkpoint import versions
from .provenance import sha256

FILES = ("config.json", "model.safetensors", "README.md")


def _timm():
    try:
        import timm
    except ImportError:
        raise ConvertError("--to timm needs timm, to build and check the model it writes: pip install timm") from None
    return timm


def command_line(prototxt: Path, caffemodel: Path, *, input_space: str, class_order: str) -> str:
    """The command, with the source files' names only (a card is published: no local paths)."""
    args = ["senet-convert", "caffe2torch", Path(prototxt).name, Path(caffemodel).name, "--to", "timm",
            "--input-space", input_space, "--class-order", class_order]
    return " ".join(shlex.quote(a) for a in args)


def card_facts(name: str, net, weights, model, parity: dict, sources: dict, command: str) -> dict:
    conv = spaces.convention(weights.input_space, net.mean_bgr if weights.input_space == "caffe" else None)
    info = model.feature_info if isinstance(model.feature_info, list) else []
    return {
        "name": name, "architecture": weights.model, "model_args": weights.model_args, "num_classes": weights.num_classes,
        "parameters": sum(p.numel() for p in model.parameters()), "input_space": weights.input_space, "convention": conv,
        "class_order": weights.class_order, "first_conv": weights.first_conv, "parity": parity, "sources": sources,
        "command": command, "versions": {**versions(), "timm": _timm().__version__},
        "features": [(i["module"], i["reduction"], i["num_chs"]) for i in info],
    }


def folder_contents(name: str, net, weights, model, parity: dict, sources: dict, command: str) -> dict[str, bytes]:
    """file name -> bytes of the folder."""
    from safetensors.torch import save

    from .hub_config import hub_config
    from .model_card import render

    facts = card_facts(name, net, weights, model, parity, sources, command)
    config = hub_config(architecture=weights.model, num_classes=weights.num_classes, num_features=model.num_features,
                        first_conv=weights.first_conv, input_size=next(iter(net.inputs.values()))[1:], conv=facts["convention"],
                        class_order=weights.class_order, model_args=weights.model_args)
    metadata = {
        "format": "pt",
        "senet_convert.sources": json.dumps(weights.sources),
        "senet_convert.files": json.dumps(sources),
        "senet_convert.version": facts["versions"]["senet_convert"],
    }
    tensors = {k: v.contiguous() for k, v in weights.state_dict.items()}
    return {
        "config.json": (json.dumps(config, indent=2) + "\n").encode(),
        "model.safetensors": save(tensors, metadata=metadata),  # bytes we write ourselves: save_file ignores a full disk
        "README.md": render(facts).encode(),
    }


def write_timm_folder(net, output_dir: Path, stem: str, *, sources: dict, command: str, input_space: str, class_order: str,
                      legacy_pth: bool = False) -> dict:
    """DIR/STEM/ for a loaded `net` (the original Caffe net, with weights): map, load into timm,
    measure, write. `sources` are the files' names and sha256, `command` the conversion command.
    legacy_pth: also DIR/STEM.timm.pth, the bare state_dict release 0.1.0 wrote (kept for one release)."""
    from ..files import staged_outputs, write_torch
    from ..to_timm import timm_model, timm_weights

    output_dir = Path(output_dir)
    weights = timm_weights(net, class_order=class_order, input_space=input_space)
    model = timm_model(weights)
    unfolded = None if input_space == "caffe" else timm_model(timm_weights(net, class_order=class_order, input_space="caffe"))
    parity = timm_parity.measure(net, weights, model, unfolded)
    del unfolded
    contents = folder_contents(stem, net, weights, model, parity, sources, command)
    legacy = [f"{stem}.timm.pth"] if legacy_pth else []
    with staged_outputs(output_dir, [*legacy, stem]) as staging:
        (staging / stem).mkdir()
        for file, data in contents.items():
            (staging / stem / file).write_bytes(data)
        for file in legacy:
            write_torch(weights.state_dict, staging / file)
    files = [output_dir / stem / f for f in FILES] + [output_dir / f for f in legacy]
    return {"net": net, "weights": weights, "model": model, "parity": parity, "folder": output_dir / stem, "files": files}


def convert_to_timm_folder(prototxt: Path, caffemodel: Path, output_dir: Path, *, name=None, input_space="caffe",
                           class_order=None, global_pooling=False, quiet=False) -> dict:
    """Write DIR/NAME/ (config.json, model.safetensors, README.md), measuring the parity it states.
    class_order None: "sorted" (timm's) for the 1000 ILSVRC classes, the caffemodel's rows otherwise."""
    from ..progress import load_net_with_progress

    timm, start = _timm(), time.perf_counter()
    stem = name or Path(prototxt).stem
    if Path(stem).name != stem or stem in ("", ".", ".."):
        raise ConvertError(f"--name {stem!r}: the folder's name, without '/'")
    net = load_net_with_progress(prototxt, caffemodel)
    if class_order is None:
        class_order = "sorted" if last_inner_product(net).param.inner_product_param.num_output == 1000 else "caffe"
    sources = {"prototxt": {"name": Path(prototxt).name, "sha256": sha256(Path(prototxt))},
               "caffemodel": {"name": Path(caffemodel).name, "sha256": sha256(Path(caffemodel))}}
    command = command_line(prototxt, caffemodel, input_space=input_space, class_order=class_order)
    result = write_timm_folder(net, output_dir, stem, sources=sources, command=command,
                               input_space=input_space, class_order=class_order, legacy_pth=True)
    if not quiet:
        _report(net, result["weights"], result["parity"], timm.__version__, result["folder"], time.perf_counter() - start, global_pooling)
    return result


def _report(net, weights, parity: dict, timm_version: str, folder: Path, seconds: float, global_pooling: bool) -> None:
    params = sum(t.numel() for k, t in weights.state_dict.items() if not k.endswith("num_batches_tracked"))
    conv = spaces.convention(weights.input_space, net.mean_bgr if weights.input_space == "caffe" else None)
    print(f"{net.name}: timm {weights.model}, {params:,} parameters; class order {weights.class_order}; input {conv.describe()}; "
          f"loads strictly into timm {timm_version}; {seconds:.1f} s; wrote {folder}/ ({', '.join(FILES)})")
    print(f"parity (nothing folded) vs the Caffe net's float64 oracle: {timm_parity.describe(parity['mapping'])}")
    if parity["folded"]:
        print(f"folding the {weights.input_space} convention into {weights.first_conv} is exact except where it reads its zero padding; "
              f"measured on {parity['folded']['input']}: {timm_parity.describe(parity['folded'])}")
    print(f"note: {folder.name}.timm.pth, the bare state_dict as senet-convert 0.1.0 wrote it, is written for this release only; "
          f"load the folder instead: timm.create_model('local-dir:{folder}', pretrained=True)", file=sys.stderr)
    if weights.input_space == "caffe":
        print("note: these weights take Caffe's input convention (BGR), which timm's default transforms do not produce; "
              "use --input-space torchvision for them, or reverse the channels after timm's transform (see the folder's README.md)", file=sys.stderr)
    if global_pooling:
        print("--global-pool: timm's model already averages globally; nothing to change", file=sys.stderr)
