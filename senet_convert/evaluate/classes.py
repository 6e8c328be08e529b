"""Matching the model's class rows to the labels' classes, explicitly.

The official caffemodels count their 1000 rows in ILSVRC-2012 devkit order; timm, torchvision and
ImageFolder in sorted WordNet-ID order. Scored against the wrong one, a perfect model scores about
0%, so the two sides are matched by WordNet ID and anything that cannot be matched is an error:

  labels by WordNet ID   the model must say which WordNet ID each row is (a recorded class order or
                         list; a Caffe file's 1000 rows are devkit order); rows are looked up by ID
  labels by model row    the model's rows themselves (any classifier); each label must be a row
  labels by folder name  ImageFolder's rule: the i-th sorted folder is row i; the counts must agree
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..edits import class_order as ilsvrc
from ..errors import ConvertError
from .labels import Labels

ORDER_NAMES = {
    "caffe": "ILSVRC-2012 devkit order",
    "sorted": "sorted WordNet IDs (timm, torchvision)",
}


@dataclass(frozen=True)
class ModelClasses:
    count: int
    order: str | None  # "caffe", "sorted", "custom" (a recorded WordNet-ID list) or None (unknown)
    wnids: tuple[str, ...] | None
    source: str  # where the order came from, for the report

    def describe(self) -> str:
        if self.order in ORDER_NAMES:
            return f"{ORDER_NAMES[self.order]} ({self.source})"
        if self.order == "custom":
            return f"the recorded WordNet ID of each row ({self.source})"
        return f"{self.count} rows, no ILSVRC class order ({self.source})"


def model_classes(count: int, recorded: str | None, source: str, *, given: str | None = None, wnids=None) -> ModelClasses:
    """The model's classes: `recorded` is the order its file states (or a Caffe file's devkit order),
    `given` what --model-class-order says; a contradiction between them is an error."""
    if wnids is not None and len(wnids) == count:
        wnids = tuple(wnids)
        for order in ilsvrc.ORDERS:
            if count == 1000 and wnids == ilsvrc.wnids(order):
                recorded = order
        if recorded not in ilsvrc.ORDERS:
            recorded = "custom"
    if given is not None:
        if recorded is not None and recorded != given:
            raise ConvertError(f"--model-class-order {given} contradicts the model, which records {recorded} ({source})")
        recorded, source = given, "--model-class-order"
    if recorded in ilsvrc.ORDERS:
        if count != 1000:
            raise ConvertError(f"the model has {count} outputs; class order {recorded} applies to the 1000 ILSVRC-2012 classes")
        wnids = ilsvrc.wnids(recorded)
    return ModelClasses(count, recorded, wnids if recorded is not None else None, source)


@dataclass(frozen=True)
class Matching:
    rows: np.ndarray  # per image, the model row of its true class
    labels: str  # how the labels count, for the report
    model: str
    rule: str  # how the two were matched
    classes: tuple[str, ...]  # per row: the class's name (WordNet ID, folder, or row number)


def match(labels: Labels, model: ModelClasses) -> Matching:
    if labels.kind == "wnid":
        rows = _by_wnid(labels, model)
        rule = "by WordNet ID" + ("" if labels.order in ("wnid", model.order) else f": label {labels.order} order -> model {model.order} order")
    elif labels.kind == "model":
        high = max(labels.targets)
        if high >= model.count:
            raise ConvertError(f"{labels.source.split(':')[0]}: label {high} is not a row of the model, which has {model.count} outputs")
        rows, rule = np.asarray(labels.targets, dtype=np.int64), "labels are the model's rows"
    else:
        if len(labels.folders) != model.count:
            raise ConvertError(f"{len(labels.folders)} class folders, but the model has {model.count} outputs: "
                               "with folder names that are not WordNet IDs, folder i (sorted) must be row i")
        rows, rule = np.asarray(labels.targets, dtype=np.int64), "folder i (sorted names) is row i"
    names = model.wnids or (labels.folders if labels.kind == "folders" else tuple(str(i) for i in range(model.count)))
    return Matching(rows, _describe_labels(labels), model.describe(), rule, tuple(names))


def _by_wnid(labels: Labels, model: ModelClasses) -> np.ndarray:
    if model.wnids is None:
        if model.count == 1000:
            raise ConvertError("the labels name ILSVRC classes, but the model records no class order for its 1000 rows "
                               "(devkit or sorted WordNet IDs): give --model-class-order caffe|sorted")
        raise ConvertError(f"the labels name ILSVRC classes (WordNet IDs), but the model's {model.count} rows have no WordNet IDs: "
                           "give labels that index the model's rows (NAME ROW, --label-order model)")
    row = {w: i for i, w in enumerate(model.wnids)}
    unknown = sorted({w for w in labels.targets if w not in row})
    if unknown:
        shown = ", ".join(unknown[:5]) + (f", ... ({len(unknown)} in all)" if len(unknown) > 5 else "")
        raise ConvertError(f"the labels name classes the model has no row for: {shown}")
    return np.asarray([row[w] for w in labels.targets], dtype=np.int64)


def _describe_labels(labels: Labels) -> str:
    return {
        "caffe": "ILSVRC-2012 devkit order",
        "sorted": "sorted WordNet-ID order",
        "wnid": "WordNet IDs",
        "model": "the model's row indices",
        "folders": "folder names",
    }[labels.order] + f" ({labels.source})"
