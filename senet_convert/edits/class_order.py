"""The order of the 1000 ILSVRC-2012 classes in a classifier's rows.

  caffe   ILSVRC-2012 devkit order: row i is the class whose ILSVRC2012_ID is i + 1 (the devkit's
          meta.mat). The official SENet caffemodels use it, like their validation list
          (hujie-frank/SENet ILSVRC2017_val.txt, issues #25 and #63): ILSVRC2012_val_00000001 has
          ILSVRC2012_ID 490, n01751748 "sea snake", which is row 489.
  sorted  the WordNet IDs sorted as strings (n01440764 "tench" first), which timm, torchvision and
          ImageFolder use; "sea snake" is row 65 there.

The 1000 WordNet IDs in devkit order are the package file data/ilsvrc2012_devkit_wnids.txt (line i
is ILSVRC2012_ID i); the sorted order is derived from it by sorting, never stored. Numpy only.
"""
from __future__ import annotations

import functools
import re
from importlib import resources

import numpy as np

from ..errors import ConvertError
from ..graph import Layer, Net
from .notes import edit, notes

ORDERS = ("caffe", "sorted")
DATA_FILE = "ilsvrc2012_devkit_wnids.txt"
_WNID = re.compile(r"n\d{8}")


@functools.cache
def devkit_wnids() -> tuple[str, ...]:
    """WordNet IDs in devkit order: element i has ILSVRC2012_ID i + 1."""
    text = resources.files("senet_convert").joinpath("data", DATA_FILE).read_text(encoding="ascii")
    wnids = tuple(text.split())
    if len(wnids) != 1000 or len(set(wnids)) != 1000 or not all(_WNID.fullmatch(w) for w in wnids):
        raise RuntimeError(f"senet_convert/data/{DATA_FILE} is damaged: it must hold 1000 distinct WordNet IDs")
    return wnids


def sorted_wnids() -> tuple[str, ...]:
    return tuple(sorted(devkit_wnids()))


def wnids(order: str) -> tuple[str, ...]:
    """The WordNet ID of each row of a classifier in `order`."""
    return devkit_wnids() if _check(order) == "caffe" else sorted_wnids()


def permutation(source: str, target: str) -> np.ndarray:
    """Indices p with rows_in_target = rows_in_source[p]: p[j] is the source row of target row j."""
    position = {wnid: i for i, wnid in enumerate(wnids(source))}
    return np.array([position[w] for w in wnids(target)], dtype=np.int64)


def reorder_rows(array: np.ndarray, source: str, target: str) -> np.ndarray:
    """`array`'s first axis (one entry per class) moved from `source` to `target` order."""
    if array.shape[0] != 1000:
        raise ValueError(f"a class order applies to 1000 classes, got an axis of {array.shape[0]}")
    return np.ascontiguousarray(array[permutation(source, target)])


def _check(order: str) -> str:
    if order not in ORDERS:
        raise ValueError(f"class order must be one of {', '.join(ORDERS)}, got {order!r}")
    return order


# ---- the edit: a classifier's rows permuted ----------------------------------------------


def last_inner_product(net: Net) -> Layer:
    """The last InnerProduct: the SENets' classifier, whose output is the logits."""
    found = [layer for layer in net.layers if layer.type == "InnerProduct"]
    if not found:
        raise ConvertError(f"net '{net.name}' has no InnerProduct layer (no classifier)")
    return found[-1]


def classifier(net: Net) -> Layer:
    """The 1000-way ILSVRC classifier whose rows a class order permutes."""
    layer = last_inner_product(net)
    p = layer.param.inner_product_param
    if p.num_output != 1000 or p.transpose:
        raise ConvertError(f"{layer.where()}: a class order applies to a 1000-way classifier stored out x in; this one has {p.num_output} outputs" + (" (transpose)" if p.transpose else ""))
    return layer


def reorder_classes(net: Net, target: str) -> Net:
    """The classifier's rows (weight and bias) moved to `target` class order from the net's current one."""
    source = class_order_of(net)
    for order in (target, source):
        if order not in ORDERS:
            raise ConvertError(f"class order must be one of {', '.join(ORDERS)}, got '{order}'")
    if target == source:
        return net
    layer = classifier(net)
    if not layer.blobs:
        raise ConvertError(f"{layer.where()}: no weights loaded, nothing to reorder")
    blobs = [reorder_rows(b, source, target) for b in layer.blobs]
    what = f"{target} ({_describe(target)}): the rows of '{layer.name}', permuted from {source} order"
    return edit(net, lambda proto: {layer.name: blobs}, "class-order", what)


def _describe(order: str) -> str:
    return "ILSVRC-2012 devkit order" if order == "caffe" else "sorted WordNet IDs, as timm and torchvision"


def class_order_of(net: Net) -> str:
    """The class order of the net's classifier rows: the last class-order note, else the caffemodel's."""
    orders = [what.split()[0] for kind, what in notes(net) if kind == "class-order"]
    return orders[-1] if orders else "caffe"
