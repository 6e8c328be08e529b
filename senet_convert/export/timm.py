"""The timm state_dict of a residual SENet: Caffe blobs under timm's names, BatchNorm + Scale merged."""
from __future__ import annotations

import numpy as np

from ..edits.class_order import class_order_of
from ..edits.notes import notes
from ..errors import ConvertError
from ..graph import Layer, Net
from .timm_model import check_layers, choose_family
from .timm_structure import TIMM_BN_EPS, Structure, TimmWeights, Unit, read_structure, refuse

# ---- the state_dict ----------------------------------------------------------------------


def _blobs(layer: Layer, n: int) -> list[np.ndarray]:
    if len(layer.blobs) != n:
        refuse(layer, f"needs {n} learned blobs, has {len(layer.blobs)}" + ("" if layer.blobs else " (no weights loaded?)"))
    return [np.asarray(b, dtype=np.float32) for b in layer.blobs]


def _bn(prefix: str, unit: Unit) -> dict[str, tuple[np.ndarray, str]]:
    mean, var, s = _blobs(unit.bn, 3)
    gamma, beta = _blobs(unit.scale, 2)
    s = np.float32(s.reshape(-1)[0])
    sf = np.float32(0) if s == 0 else np.float32(1) / s  # Caffe: a float32 reciprocal
    bn = f"'{unit.bn.name}'"
    return {
        f"{prefix}.weight": (gamma.reshape(-1), f"'{unit.scale.name}'[0] (gamma)"),
        f"{prefix}.bias": (beta.reshape(-1), f"'{unit.scale.name}'[1] (beta)"),
        f"{prefix}.running_mean": (mean.reshape(-1) * sf, f"{bn}[0] * sf, sf = 1/{bn}[2]"),
        f"{prefix}.running_var": (var.reshape(-1) * sf, f"{bn}[1] * sf"),
        f"{prefix}.num_batches_tracked": (np.zeros((), np.int64), "0"),
    }


def _conv(prefix: str, layer: Layer, bias: bool = False) -> dict[str, tuple[np.ndarray, str]]:
    blobs = _blobs(layer, 2 if bias else 1)
    out = {f"{prefix}.weight": (blobs[0], f"'{layer.name}'[0]")}
    if bias:
        out[f"{prefix}.bias"] = (blobs[1].reshape(-1), f"'{layer.name}'[1]")
    return out


def _entries(s: Structure) -> dict[str, tuple[np.ndarray, str]]:
    entries: dict[str, tuple[np.ndarray, str]] = {}
    for i, unit in enumerate(s.stem, 1):
        entries |= _conv(f"layer0.conv{i}", unit.conv) | _bn(f"layer0.bn{i}", unit)
    for stage_index, stage in enumerate(s.stages, 1):
        for b, block in enumerate(stage):
            name = f"layer{stage_index}.{b}"
            for i, unit in enumerate(block.branch, 1):
                entries |= _conv(f"{name}.conv{i}", unit.conv) | _bn(f"{name}.bn{i}", unit)
            entries |= _conv(f"{name}.se_module.fc1", block.down, bias=True)
            entries |= _conv(f"{name}.se_module.fc2", block.up, bias=True)
            if block.projection is not None:
                entries |= _conv(f"{name}.downsample.0", block.projection.conv) | _bn(f"{name}.downsample.1", block.projection)
    weight, bias = _blobs(s.classifier, 2)
    entries["last_linear.weight"] = (weight.reshape(weight.shape[0], -1), f"'{s.classifier.name}'[0]")
    entries["last_linear.bias"] = (bias.reshape(-1), f"'{s.classifier.name}'[1]")
    return entries


def timm_weights(net: Net, *, class_order: str = "sorted", input_space: str = "caffe") -> TimmWeights:
    """`net` (with weights) as a state_dict for timm.create_model(model, pretrained=False).

    class_order: the order of last_linear's rows ("sorted", timm's, by default). input_space:
    "caffe" keeps Caffe's input convention exactly; "torchvision" folds the RGB/ImageNet
    normalisation into layer0.conv1 and layer0.bn1, exact except where conv1 reads its padding.
    """
    import torch

    from ..edits import class_order as classes
    from ..edits import input_space as spaces

    if any(kind == "input-space" for kind, _ in notes(net)):
        raise ConvertError(f"net '{net.name}' already has an input adapter; make timm weights from the plain net with input_space=...")
    structure = read_structure(net)
    model, num_classes = check_layers(structure, choose_family(structure), net)
    entries = _entries(structure)
    current = class_order_of(net)
    if class_order != current:
        if num_classes != 1000:
            refuse(structure.classifier, f"{num_classes} classes: a class order applies to the 1000 ILSVRC-2012 classes")
        for key in ("last_linear.weight", "last_linear.bias"):
            array, source = entries[key]
            entries[key] = (classes.reorder_rows(array, current, class_order), f"{source}, rows in {class_order} order")
    if input_space != "caffe":
        a, b = spaces.affine(spaces.convention(input_space, None), spaces.convention("caffe", net.mean_bgr))
        weight, offset = spaces.fold_weights(entries["layer0.conv1.weight"][0], a, b)
        mean = (entries["layer0.bn1.running_mean"][0].astype(np.float64) - offset).astype(np.float32)
        entries["layer0.conv1.weight"] = (weight, entries["layer0.conv1.weight"][1] + f" @ A ({input_space} -> caffe)")
        entries["layer0.bn1.running_mean"] = (mean, entries["layer0.bn1.running_mean"][1] + " - conv1(b)")
    state_dict = {key: torch.from_numpy(np.ascontiguousarray(array)) for key, (array, _) in entries.items()}
    sources = {key: source for key, (_, source) in entries.items()}
    return TimmWeights(model, state_dict, sources, num_classes, class_order, input_space, structure)


def timm_model(weights: TimmWeights):
    """timm.create_model(weights.model) with the weights loaded strictly, in eval mode."""
    try:
        import timm
    except ImportError:
        raise ConvertError("timm is not installed: pip install timm (the weights themselves need no timm)") from None
    if weights.model not in timm.list_models(weights.model):
        raise ConvertError(f"timm {timm.__version__} has no model '{weights.model}'")
    import torch

    with torch.device("meta"):  # no random initialisation: every tensor comes from the state_dict
        model = timm.create_model(weights.model, pretrained=False, num_classes=weights.num_classes)
    try:
        model.load_state_dict({k: v.clone() for k, v in weights.state_dict.items()}, strict=True, assign=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ConvertError(f"the weights do not load into timm {timm.__version__}'s {weights.model}: " + " ".join(first[:3])) from None
    odd = [name for name, m in model.named_modules() if hasattr(m, "running_var") and m.eps != TIMM_BN_EPS]
    if odd:
        raise ConvertError(f"timm {timm.__version__}'s {weights.model} has BatchNorm eps other than {TIMM_BN_EPS:g} ({odd[0]})")
    return model.eval()
