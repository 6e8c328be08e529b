"""What a timm conversion measures on its own weights, for the model card and the summary line.

  mapping  the timm model with nothing folded (Caffe's input convention) against the numpy oracle
           (float64) of the original Caffe net, on verify's default input (seeded synthetic data,
           batch 2): the figure that says the mapping itself is exact
  folded   for a folded convention only: the weights as written, fed a natural-looking image in
           their convention (natural_image(256), centre crop 224: what timm's eval transform does to
           it, since the shorter side is already 256), against the oracle on the same pixels in
           Caffe's convention: the folding error, padding included
Both as verify states them: max|logits - oracle| / max|oracle|, and how many samples keep their top-1
and top-5 classes. The oracle's rows are put in the weights' class order first.
"""
from __future__ import annotations

import numpy as np

from ..edits import class_order as classes
from ..edits import input_space as spaces
from ..edits.class_order import last_inner_product
from ..graph import Net

FOLD_IMAGE = "natural_image(256, seed 0), centre crop 224"
RESIZE, CROP = 256, 224


def _oracle(net: Net, x: np.ndarray, class_order: str) -> np.ndarray:
    from .. import reference

    logits = last_inner_product(net).tops[0]
    out = reference.run(net, {next(iter(net.inputs)): x}, outputs=[logits])[logits]
    out = out.reshape(out.shape[0], -1)
    return out if class_order == "caffe" else out[:, classes.permutation("caffe", class_order)]


def _row(logits: np.ndarray, oracle: np.ndarray, what: str, described: str) -> dict:
    from ..verify import max_abs, max_error, top_k_agreement

    scale = max_abs(oracle)
    error = max_error(logits.astype(np.float64), oracle)
    return {
        "what": what,
        "input": described,
        "max_abs": error,
        "max_abs_logit": scale,
        "relative": error / scale if scale else error,
        "top1": list(top_k_agreement(logits, oracle, 1)),
        "top5": list(top_k_agreement(logits, oracle, 5)),
    }


def fold_image() -> np.ndarray:
    """The deterministic image the folding error is measured on, as timm's eval transform crops it."""
    image = spaces.natural_image(RESIZE)
    offset = (RESIZE - CROP) // 2
    return image[offset:offset + CROP, offset:offset + CROP]


def _run(model, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(x))).numpy()


def measure(net: Net, weights, model, unfolded_model=None) -> dict:
    """{"mapping": row, "folded": row or None}. `net` is the original Caffe net (devkit rows, Caffe's
    convention); `model` the timm model holding `weights`; `unfolded_model` the same mapping with
    nothing folded (needed when the weights are folded)."""
    from ..verify.inputs import make_inputs

    inputs, described = make_inputs(net)
    x = next(iter(inputs.values()))
    exact = model if weights.input_space == "caffe" else unfolded_model
    rows = {"mapping": _row(_run(exact, x), _oracle(net, x, weights.class_order), "timm model, nothing folded, vs the Caffe net (numpy oracle, float64)", f"verify's default: {described}")}
    rows["folded"] = None
    if weights.input_space != "caffe":
        image = fold_image()
        caffe = spaces.convention("caffe", net.mean_bgr)
        folded = _run(model, spaces.to_input(image, spaces.convention(weights.input_space, None)))
        rows["folded"] = _row(folded, _oracle(net, spaces.to_input(image, caffe), weights.class_order),
                              f"these weights ({weights.input_space} input) vs the Caffe net on the same pixels in Caffe's convention", FOLD_IMAGE)
    return rows


def describe(row: dict) -> str:
    top1, top5 = row["top1"], row["top5"]
    return (f"{row['relative']:.2g} of the largest logit (max |difference| {row['max_abs']:.3g}), "
            f"top-1 kept {top1[0]}/{top1[1]}, top-5 kept {top5[0]}/{top5[1]}")
