"""Every kind of file senet-convert writes, loaded as a classifier that evaluate can score.

  PROTOTXT CAFFEMODEL   the exact graph, scoring the last InnerProduct (the logits); the 1000 rows
                        of a Caffe file are ILSVRC-2012 devkit order; Caffe's input convention
  NAME.pt               load_checkpoint (torch.load with weights_only=True); its recorded input
                        contract and class order
  NAME.pt2              the torch.export program, checked first so that nothing is unpickled (pt2.py);
                        it records no convention or class order, so those come from the options
  NAME.onnx             ONNX Runtime; the input contract senet-convert writes into its metadata
  timm files            a folder (config.json + model.safetensors, what timm's local-dir: reads) or
                        NAME.timm.pth with its config beside it (timm_models.py)

A Model says what it knows (convention, class order, input size) and None where its file is silent.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..edits import input_space as spaces
from ..errors import ConvertError
from ..files import require_file
from . import official


@dataclass
class Model:
    kind: str
    files: list[Path]
    forward: Callable  # N x 3 x H x W float32 tensor -> N x K scores
    input_size: tuple[int, int] | None
    fixed_size: bool
    convention: spaces.Convention | None
    class_order: str | None  # "caffe", "sorted", or None: not recorded
    class_wnids: tuple[str, ...] | None = None
    scored: str = "the model's output"
    official: str | None = None
    recorded: dict = field(default_factory=dict)  # sha256 of the Caffe sources, as recorded
    device: str = "cpu"
    to_device: Callable | None = None

    def to(self, device: str) -> None:
        self.device = device
        if self.to_device is not None:
            self.to_device(device)


def torch_model(kind, files, module, **known) -> Model:
    import torch

    def forward(x):
        with torch.inference_mode():
            out = module(x)
        return out[0] if isinstance(out, (tuple, list)) else out

    return Model(kind, files, forward, to_device=lambda d: module.to(d), **known)


def caffe_convention(mean_bgr, mean_option) -> spaces.Convention | None:
    """Caffe's convention with the model's recorded mean, or --mean for a model that records none."""
    if mean_bgr is not None and mean_option is not None and tuple(mean_option) != tuple(mean_bgr):
        raise ConvertError(f"--mean {tuple(mean_option)} contradicts the model, which records the mean {tuple(mean_bgr)}")
    mean = mean_option or mean_bgr
    return spaces.convention("caffe", tuple(mean)) if mean is not None and len(mean) == 3 else None


def from_caffe(prototxt: Path, caffemodel: Path, *, global_pooling: bool = False, mean=None) -> Model:
    from ..to_torch import module_for
    from ..progress import load_net_with_progress
    from ..edits.class_order import last_inner_product
    from ..edits.global_pool import global_pool

    net = load_net_with_progress(prototxt, caffemodel)
    name = official.recognise_net(net)
    if global_pooling:
        net = global_pool(net)
    heads = [layer for layer in net.layers if layer.type == "InnerProduct"]
    outputs = [last_inner_product(net).caffe_tops[0]] if heads else None
    module = module_for(net, outputs)
    shape = next(iter(net.inputs.values()))
    scored = f"'{outputs[0]}' (the last InnerProduct: logits)" if outputs else f"'{net.outputs[0]}'"
    return torch_model("caffe", [prototxt, caffemodel], module, input_size=tuple(shape[2:]), fixed_size=not global_pooling,
                        convention=caffe_convention(net.mean_bgr, mean), class_order="caffe", scored=scored, official=name)


def _contract_convention(contract: dict, mean=None) -> spaces.Convention | None:
    order = contract.get("color_order")
    if order == "RGB":
        return spaces.Convention("torchvision", "RGB", tuple(contract["mean"]), tuple(contract["std"]))
    if order == "BGR":
        return caffe_convention(contract.get("mean"), mean)
    return caffe_convention(None, mean)


def from_checkpoint(path: Path, *, mean=None) -> Model:
    from ..export import load_checkpoint
    from ..loader import net_from_text

    module, data = load_checkpoint(path, with_info=True)
    contract = data["input"]
    name = official.recognise_net(net_from_text(data["prototxt"], f"{path}:prototxt"))
    fixed = not any("global-pool" in d for d in contract.get("deviations", []))
    recorded = {k: v.get("sha256") for k, v in data.get("sources", {}).items()}
    return torch_model("checkpoint", [path], module, input_size=tuple(contract["shape"][2:]), fixed_size=fixed,
                        convention=_contract_convention(contract, mean), class_order=contract.get("class_order"),
                        scored=", ".join(f"'{o}'" for o in data["outputs"][:1]), official=name, recorded=recorded)


def from_pt2(path: Path, *, mean=None) -> Model:
    from ..verify.pt2_file import load_pt2

    program = load_pt2(path)
    module = program.module()
    users = set(program.graph_signature.user_inputs)
    placeholders = [n for n in program.graph.nodes if n.op == "placeholder" and n.name in users]
    size = None
    if len(placeholders) == 1 and "val" in placeholders[0].meta:
        shape = placeholders[0].meta["val"].shape
        size = tuple(int(s) for s in shape[2:]) if len(shape) == 4 else None
    return torch_model("pt2", [path], module, input_size=size, fixed_size=True, convention=caffe_convention(None, mean),
                        class_order=None, scored="its first output")


def from_onnx(path: Path, *, mean=None, device: str = "cpu") -> Model:
    import onnxruntime as ort
    import torch

    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.startswith("cuda") else ["CPUExecutionProvider"]
    try:
        session = ort.InferenceSession(str(path), providers=[p for p in providers if p in ort.get_available_providers()])
    except Exception as exc:
        raise ConvertError(f"{path}: ONNX Runtime cannot load it ({str(exc).splitlines()[0][:160]})") from None
    meta = session.get_modelmeta().custom_metadata_map
    contract = json.loads(meta["caffe.input"]) if "caffe.input" in meta else {}
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ConvertError(f"{path}: takes {len(inputs)} inputs; evaluate feeds one image batch")
    dims = inputs[0].shape
    size = tuple(dims[2:]) if len(dims) == 4 and all(isinstance(d, int) for d in dims[2:]) else None
    output = session.get_outputs()[0].name

    def forward(x):
        return torch.from_numpy(session.run([output], {inputs[0].name: x.cpu().numpy()})[0])

    recorded = {"prototxt": meta.get("caffe.prototxt_sha256"), "caffemodel": meta.get("caffe.caffemodel_sha256")} if meta else {}
    return Model("onnx", [path], forward, size, True, _contract_convention(contract, mean) if contract else caffe_convention(None, mean),
                 contract.get("class_order"), scored=f"'{output}'", recorded=recorded)


def load_model(first: Path, second: Path | None, *, global_pooling=False, mean=None, device="cpu") -> Model:
    """The model behind the command's arguments: PROTOTXT CAFFEMODEL, or one file (or folder) this tool wrote."""
    from .timm_models import from_timm_folder, from_timm_weights

    name = first.name.lower()
    if name.endswith(".prototxt") or second is not None:
        if second is None:
            raise ConvertError(f"{first}: a prototxt needs its CAFFEMODEL as the second argument")
        return from_caffe(first, second, global_pooling=global_pooling, mean=mean)
    if global_pooling:
        raise ConvertError("--global-pool applies to PROTOTXT CAFFEMODEL (convert with caffe2torch --global-pool for other files)")
    if first.is_dir():
        return from_timm_folder(first)
    if name.endswith((".timm.pth", ".timm.json")):
        return from_timm_weights(first)
    loaders = {".pt": from_checkpoint, ".pt2": from_pt2, ".onnx": lambda p, mean: from_onnx(p, mean=mean, device=device)}
    if first.suffix.lower() not in loaders:
        raise ConvertError(f"{first}: evaluate reads PROTOTXT CAFFEMODEL, .pt, .pt2, .onnx, NAME.timm.pth or a timm folder")
    require_file(first)
    return loaders[first.suffix.lower()](first, mean=mean)
