"""A timm state_dict from the structure: Caffe's blobs under timm's module names, each with its source.

Caffe's BatchNorm + Scale become one BatchNorm2d: running_mean = blob0*sf, running_var = blob1*sf,
sf = 0 if blob2 == 0 else 1/blob2 (float32, as Caffe computes it), weight = gamma, bias = beta.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..edits import class_order as classes
from ..edits import input_space as spaces
from ..edits.notes import notes
from ..errors import ConvertError
from ..graph import Layer, Net
from .residual import TIMM_BN_EPS, check, family_of, residual
from .structure import Structure, Unit, fail, read_structure

@dataclass
class TimmWeights:
    model: str  # the timm model name, e.g. "legacy_seresnet50"
    state_dict: dict  # str -> torch.Tensor, timm's keys in timm's order
    sources: dict[str, str]  # key -> the Caffe blobs it comes from
    num_classes: int
    class_order: str  # "caffe" or "sorted"
    input_space: str  # "caffe" (nothing folded) or "torchvision" (folded into the first convolution)
    structure: object  # Structure, or inception.InceptionStructure
    first_conv: str = "layer0.conv1"  # timm's module names, as its pretrained_cfg states them
    model_args: dict = field(default_factory=dict)  # timm.create_model arguments beyond the name (other widths)



def blobs_of(layer: Layer, n: int) -> list[np.ndarray]:
    if len(layer.blobs) != n:
        fail(layer, f"needs {n} learned blobs, has {len(layer.blobs)}" + ("" if layer.blobs else " (no weights loaded?)"))
    return [np.asarray(b, dtype=np.float32) for b in layer.blobs]


def bn_entries(prefix: str, unit: Unit) -> dict[str, tuple[np.ndarray, str]]:
    mean, var, s = blobs_of(unit.bn, 3)
    gamma, beta = blobs_of(unit.scale, 2)
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


def conv_entries(prefix: str, layer: Layer, bias: bool = False) -> dict[str, tuple[np.ndarray, str]]:
    blobs = blobs_of(layer, 2 if bias else 1)
    out = {f"{prefix}.weight": (blobs[0], f"'{layer.name}'[0]")}
    if bias:
        out[f"{prefix}.bias"] = (blobs[1].reshape(-1), f"'{layer.name}'[1]")
    return out


def _entries(s: Structure) -> dict[str, tuple[np.ndarray, str]]:
    entries: dict[str, tuple[np.ndarray, str]] = {}
    for i, unit in enumerate(s.stem, 1):
        entries |= conv_entries(f"layer0.conv{i}", unit.conv) | bn_entries(f"layer0.bn{i}", unit)
    for stage_index, stage in enumerate(s.stages, 1):
        for b, block in enumerate(stage):
            name = f"layer{stage_index}.{b}"
            for i, unit in enumerate(block.branch, 1):
                entries |= conv_entries(f"{name}.conv{i}", unit.conv) | bn_entries(f"{name}.bn{i}", unit)
            entries |= conv_entries(f"{name}.se_module.fc1", block.down, bias=True)
            entries |= conv_entries(f"{name}.se_module.fc2", block.up, bias=True)
            if block.projection is not None:
                entries |= conv_entries(f"{name}.downsample.0", block.projection.conv) | bn_entries(f"{name}.downsample.1", block.projection)
    weight, bias = blobs_of(s.classifier, 2)
    entries["last_linear.weight"] = (weight.reshape(weight.shape[0], -1), f"'{s.classifier.name}'[0]")
    entries["last_linear.bias"] = (bias.reshape(-1), f"'{s.classifier.name}'[1]")
    return entries


def timm_weights(net: Net, *, class_order: str = "sorted", input_space: str = "caffe") -> TimmWeights:
    """`net` (with weights) as a state_dict for timm.create_model(model, pretrained=False).

    class_order: the order of last_linear's rows ("sorted", timm's, by default). input_space:
    "caffe" keeps Caffe's input convention exactly; "torchvision" folds the RGB/ImageNet
    normalisation into the first convolution and its BatchNorm, exact except where it reads its padding.
    A net without Axpy layers is mapped as SE-BN-Inception (inception.py).
    """
    import torch

    if any(kind == "input-space" for kind, _ in notes(net)):
        raise ConvertError(f"net '{net.name}' already has an input adapter; make timm weights from the plain net with input_space=...")
    if residual(net):
        structure = read_structure(net)
        model, num_classes = check(structure, family_of(structure), net)
        entries, first, model_args = _entries(structure), ("layer0.conv1", "layer0.bn1"), {}
    else:
        from .inception import MODEL, inception_entries, inception_model

        structure, model_args = inception_model(net)
        model, num_classes = MODEL, structure.classifier.param.inner_product_param.num_output
        entries, first = inception_entries(structure), ("conv1.conv", "conv1.bn")
    _reorder(entries, net, structure.classifier, num_classes, class_order)
    if input_space != "caffe":
        _fold(entries, net, input_space, *first)
    state_dict = {key: torch.from_numpy(np.ascontiguousarray(array)) for key, (array, _) in entries.items()}
    sources = {key: source for key, (_, source) in entries.items()}
    return TimmWeights(model, state_dict, sources, num_classes, class_order, input_space, structure, first[0], model_args)


def _reorder(entries: dict, net: Net, classifier: Layer, num_classes: int, class_order: str) -> None:
    current = classes.class_order_of(net)
    if class_order == current:
        return
    if num_classes != 1000:
        fail(classifier, f"{num_classes} classes: a class order applies to the 1000 ILSVRC-2012 classes")
    for key in ("last_linear.weight", "last_linear.bias"):
        array, source = entries[key]
        entries[key] = (classes.reorder_rows(array, current, class_order), f"{source}, rows in {class_order} order")


def _fold(entries: dict, net: Net, input_space: str, conv: str, bn: str) -> None:
    """The input convention folded into the first convolution: its weight mixes the channels, the offset
    it adds to every output (exact where it reads no padding) is taken off the following BatchNorm's mean."""
    a, b = spaces.affine(spaces.convention(input_space, None), spaces.convention("caffe", net.mean_bgr))
    weight, offset = spaces.fold_weights(entries[f"{conv}.weight"][0], a, b)
    mean = (entries[f"{bn}.running_mean"][0].astype(np.float64) - offset).astype(np.float32)
    entries[f"{conv}.weight"] = (weight, entries[f"{conv}.weight"][1] + f" @ A ({input_space} -> caffe)")
    entries[f"{bn}.running_mean"] = (mean, entries[f"{bn}.running_mean"][1] + f" - {conv}(b)")


def timm_model(weights: TimmWeights):
    """timm.create_model(weights.model) with the weights loaded strictly, in eval mode."""
    try:
        import timm
    except ImportError:
        raise ConvertError("timm is not installed: pip install timm (the weights themselves need no timm)") from None
    import torch

    from .se_bn_inception import register

    register()  # normally done on importing timm; timm may have been imported before senet_convert
    if weights.model not in timm.list_models(weights.model):
        raise ConvertError(f"timm {timm.__version__} has no model '{weights.model}'")
    with torch.device("meta"):  # no random initialisation: every tensor comes from the state_dict
        model = timm.create_model(weights.model, pretrained=False, num_classes=weights.num_classes, **weights.model_args)
    try:
        model.load_state_dict({k: v.clone() for k, v in weights.state_dict.items()}, strict=True, assign=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ConvertError(f"the weights do not load into timm {timm.__version__}'s {weights.model}: " + " ".join(first[:3])) from None
    odd = [name for name, m in model.named_modules() if hasattr(m, "running_var") and m.eps != TIMM_BN_EPS]
    if odd:
        raise ConvertError(f"timm {timm.__version__}'s {weights.model} has BatchNorm eps other than {TIMM_BN_EPS:g} ({odd[0]})")
    return model.eval()
