"""Generated image folders and a colour classifier whose top-1/top-5 results are known in advance.

The classifier is a Caffe net: a global average pool of the input, then an InnerProduct whose row k
is s 2 p_k with bias -s |p_k|^2, so that row k scores s (|c|^2 - |c - p_k|^2) for the mean input
colour c: the rows rank the prototypes p_k by their distance from c (the scale s keeps the softmax
that files ending in `prob` return from underflowing to ties). The prototypes live in the model's input
space (BGR, 0-255, minus the mean), so the prediction depends on the channel order, the mean and what
the crop keeps. Each image is one colour in a centre rectangle (which the 224/256 centre crop lies
inside) and a far colour in a thin border (which the crop cuts away). The expected result is computed
here, in float64, from the colours the images were made from: no decoding, no resizing.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from senet_convert.edits import class_order as ilsvrc
from senet_convert.caffe import caffe_pb2
from senet_convert.caffe.writer import write_caffemodel

MEAN_BGR = np.array([104.0, 117.0, 123.0])
BORDER = 0.03  # of each side; the centre crop keeps the central 87.5%
MARGIN = 8.0
SCALE = 3e-4  # colour levels between the distances that decide a rank (JPEG moves a colour by a few)
MODES = ["RGB", "RGB-jpeg", "L", "LA", "RGBA", "P", "CMYK-jpeg", "I;16"]
GREY = {"L", "LA", "I;16"}


def colour_prototxt(num_output: int, name: str = "Colour") -> str:
    return (
        f'name: "{name}"\n# mean_value: 104, 117, 123\n'
        'layer {\n  name: "data"\n  type: "Input"\n  top: "data"\n  input_param { shape { dim: 1 dim: 3 dim: 224 dim: 224 } }\n}\n'
        'layer {\n  name: "pool"\n  type: "Pooling"\n  bottom: "data"\n  top: "pool"\n  pooling_param { pool: AVE global_pooling: true }\n}\n'
        f'layer {{\n  name: "classifier"\n  type: "InnerProduct"\n  bottom: "pool"\n  top: "classifier"\n  inner_product_param {{ num_output: {num_output} }}\n}}\n'
        'layer {\n  name: "prob"\n  type: "Softmax"\n  bottom: "classifier"\n  top: "prob"\n}\n'
    )


def model_space(rgb) -> np.ndarray:
    """RGB pixel colours as the Caffe convention's input: BGR minus the mean."""
    return np.asarray(rgb, dtype=np.float64)[..., ::-1] - MEAN_BGR


@dataclass
class Case:
    prototypes: np.ndarray  # K x 3 RGB pixel colours of the live classes
    rows: np.ndarray  # K: the classifier row of each live class
    num_output: int
    centre: np.ndarray  # N x 3 RGB image colours
    border: np.ndarray
    truth: np.ndarray  # N: the live class (index into prototypes) each image is labelled with
    sizes: list[tuple[int, int]]
    modes: list[str]


def write_colour_net(folder: Path, case: Case, name: str = "colour") -> tuple[Path, Path]:
    """(prototxt, caffemodel): rows not in case.rows never rank above a live row."""
    prototxt = folder / f"{name}.prototxt"
    prototxt.write_text(colour_prototxt(case.num_output))
    weight = np.zeros((case.num_output, 3), dtype=np.float32)
    bias = np.full(case.num_output, -1e3, dtype=np.float32)
    p = model_space(case.prototypes)
    weight[case.rows] = SCALE * 2 * p
    bias[case.rows] = -SCALE * (p ** 2).sum(axis=1)
    layer = caffe_pb2.LayerParameter(name="classifier", type="InnerProduct", bottom=["pool"], top=["classifier"])
    write_caffemodel(folder / f"{name}.caffemodel", [(layer, [weight, bias])], name="Colour")
    return prototxt, folder / f"{name}.caffemodel"


def ranks(case: Case, colours: np.ndarray | None = None, space=model_space) -> np.ndarray:
    """Per image: how many live classes are nearer its colour than its labelled class; `space` turns
    the image's colour into what the model is fed (the prototypes are the model's, fixed)."""
    c = space(case.centre if colours is None else colours)
    d = np.linalg.norm(c[:, None, :] - model_space(case.prototypes)[None], axis=2)
    return (d < d[np.arange(len(d)), case.truth][:, None]).sum(axis=1)


def errors(rank: np.ndarray, k5: int = 5) -> tuple[float, float]:
    return float((rank >= 1).mean()), float((rank >= k5).mean())


def _distances(prototypes: np.ndarray, colour: np.ndarray) -> np.ndarray:
    return np.linalg.norm(model_space(colour)[None] - model_space(prototypes), axis=1)


def _robust(d: np.ndarray, truth: int) -> bool:
    """The labelled class's rank survives moving the colour by a few levels."""
    others = np.delete(d, truth)
    return bool(np.abs(others - d[truth]).min() > MARGIN)


def make_case(seed: int, n: int, *, live: int = 12, num_output: int | None = None, rows=None, modes=MODES) -> Case:
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(20, 236, (live, 3)).astype(np.float64)
    centre, border, truth, sizes, used = [], [], [], [], []
    while len(centre) < n:
        mode = modes[len(centre) % len(modes)]
        colour = rng.integers(0, 256, 3).astype(np.float64)
        if mode in GREY:
            colour[:] = colour[0]
        d = _distances(prototypes, colour)
        near = np.argsort(d)
        # about half right, a quarter only in the top 5, a quarter wrong
        wanted = int(near[[0, 0, int(rng.integers(1, 5)), int(rng.integers(5, live))][len(centre) % 4]])
        if not _robust(d, wanted):
            continue
        truth.append(wanted)
        centre.append(colour)
        border.append(255 - colour if mode not in GREY else np.full(3, 255.0 if colour[0] < 128 else 0.0))
        sizes.append((int(rng.integers(64, 200)), int(rng.integers(64, 200))))
        used.append(mode)
    rows = np.arange(live) if rows is None else np.asarray(rows)
    return Case(prototypes, rows, num_output or live, np.array(centre), np.array(border), np.array(truth), sizes, used)


def image_array(case: Case, i: int) -> np.ndarray:
    width, height = case.sizes[i]
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = case.border[i].astype(np.uint8)
    by, bx = max(1, int(BORDER * height)), max(1, int(BORDER * width))
    image[by:height - by, bx:width - bx] = case.centre[i].astype(np.uint8)
    return image


def save_image(array: np.ndarray, mode: str, stem: Path) -> Path:
    """The RGB array saved in `mode` (the decoding that evaluate must undo)."""
    from PIL import Image

    rgb = Image.fromarray(array)
    if mode == "RGB":
        path = stem.with_suffix(".png"); rgb.save(path)
    elif mode == "RGB-jpeg":
        path = stem.with_suffix(".jpg"); rgb.save(path, quality=95)
    elif mode in ("L", "LA"):
        grey = Image.fromarray(array[:, :, 0])
        path = stem.with_suffix(".png")
        (grey if mode == "L" else Image.merge("LA", [grey, Image.new("L", grey.size, 7)])).save(path)
    elif mode == "RGBA":
        alpha = Image.fromarray(np.random.default_rng(0).integers(0, 256, array.shape[:2], dtype=np.uint8))
        path = stem.with_suffix(".png"); Image.merge("RGBA", [*rgb.split(), alpha]).save(path)
    elif mode == "P":
        path = stem.with_suffix(".png"); rgb.quantize(colors=4, method=Image.Quantize.MAXCOVERAGE).save(path)
    elif mode == "CMYK-jpeg":
        cmyk = Image.merge("CMYK", [Image.fromarray(255 - array[:, :, c]) for c in range(3)] + [Image.new("L", rgb.size, 0)])
        path = stem.with_suffix(".jpg"); cmyk.save(path, quality=95)
    elif mode == "I;16":
        path = stem.with_suffix(".png")
        Image.fromarray(array[:, :, 0].astype(np.uint16) * 257).save(path)
    else:
        raise ValueError(mode)
    return path


def write_images(folder: Path, case: Case, names=None, subfolders=None) -> list[Path]:
    """Every image of the case, in its mode; names[i] (stem) and subfolders[i] where given."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, mode in enumerate(case.modes):
        where = folder / subfolders[i] if subfolders is not None else folder
        where.mkdir(parents=True, exist_ok=True)
        paths.append(save_image(image_array(case, i), mode, where / (names[i] if names else f"img{i:03d}")))
    return paths


def devkit_rows(live: int, seed: int = 1) -> np.ndarray:
    """`live` distinct rows of a 1000-way classifier in devkit order."""
    return np.sort(np.random.default_rng(seed).choice(1000, live, replace=False))


def wnid_of(case: Case, i: int) -> str:
    return ilsvrc.devkit_wnids()[case.rows[case.truth[i]]]
