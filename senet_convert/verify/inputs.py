"""The input that `verify` feeds the net: seeded synthetic data, a .npy array, or images.

Images get the official SENet preprocessing (Caffe's convention): resize so that the shorter side
is 256 (Pillow, bilinear), take the centre crop of the net's input size (224 x 224; the offset is
(size - crop) // 2, as Caffe's DataTransformer takes it), reorder RGB to BGR, keep the 0-255 range
and subtract the mean (104, 117, 123), or the mean the prototxt states. For a net whose input is not
224 the shorter side scales with it (256/224 of the crop).

Decoding images needs Pillow, an optional dependency: `pip install 'senet-convert[image]'`.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ConvertError
from ..files import no_such_file
from ..graph import Net

SENET_MEAN_BGR = (104.0, 117.0, 123.0)
RESIZE, CROP = 256, 224
SYNTHETIC_RANGE = 4.0  # uniform in [-4, 4), the regime of the real-Caffe goldens (../shared/goldens)


def synthetic(shape: Sequence[int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-SYNTHETIC_RANGE, SYNTHETIC_RANGE, tuple(shape)).astype(np.float32)


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ConvertError(
            "reading images needs Pillow: pip install 'senet-convert[image]' (or pass a preprocessed .npy)"
        ) from None
    return Image


def load_image(path: str | Path, crop: tuple[int, int] = (CROP, CROP), mean_bgr: Sequence[float] = SENET_MEAN_BGR) -> np.ndarray:
    """One image as the net's 3 x H x W float32 input (see the module docstring)."""
    Image = _pillow()
    path = Path(path)
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            width, height = image.size
            shorter = round(max(crop) * RESIZE / CROP)
            scale = shorter / min(width, height)
            size = (max(crop[1], round(width * scale)), max(crop[0], round(height * scale)))
            image = image.resize(size, Image.BILINEAR)
            rgb = np.asarray(image, dtype=np.float32)
    except FileNotFoundError:
        raise no_such_file(path) from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ConvertError(f"{path}: not a readable image ({exc})") from None
    top, left = (rgb.shape[0] - crop[0]) // 2, (rgb.shape[1] - crop[1]) // 2
    rgb = rgb[top : top + crop[0], left : left + crop[1]]
    bgr = rgb[:, :, ::-1] - np.asarray(mean_bgr, dtype=np.float32)
    return np.ascontiguousarray(bgr.transpose(2, 0, 1))


def load_npy(path: str | Path, shape: Sequence[int], batch: int | None) -> np.ndarray:
    """A preprocessed array: C x H x W (repeated `batch` times) or N x C x H x W."""
    path = Path(path)
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise no_such_file(path) from None
    except (OSError, ValueError) as exc:
        raise ConvertError(f"{path}: not a readable .npy array ({exc})") from None
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.number):
        raise ConvertError(f"{path}: expected a numeric array")
    sample = tuple(shape[1:])
    if array.shape == sample:
        array = np.repeat(array[None], batch or 1, axis=0)
    elif array.shape[1:] != sample:
        raise ConvertError(f"{path}: array of shape {array.shape}, the net takes N x {' x '.join(map(str, sample))}")
    elif batch is not None and array.shape[0] != batch:
        raise ConvertError(f"{path}: holds a batch of {array.shape[0]}, --batch asks for {batch}")
    if not np.isfinite(array).all():
        raise ConvertError(f"{path}: holds values that are not finite")
    return np.ascontiguousarray(array, dtype=np.float32)


def make_inputs(
    net: Net, files: Sequence[str | Path] = (), *, batch: int | None = None, seed: int = 0
) -> tuple[dict[str, np.ndarray], str]:
    """The net's inputs and a one-line description of where they came from.

    No files: seeded synthetic data (batch default 2). One .npy: that array. Image files: one sample
    each (with --batch, the images are repeated to fill it).
    """
    if batch is not None and not 1 <= batch <= 4096:
        raise ConvertError(f"batch size {batch} is out of range (1 to 4096)")
    if not files:
        n = batch or 2
        inputs = {name: synthetic((n, *shape[1:]), seed + i) for i, (name, shape) in enumerate(net.inputs.items())}
        return inputs, f"synthetic, uniform in [-{SYNTHETIC_RANGE:g}, {SYNTHETIC_RANGE:g}), seed {seed}, batch {n}"
    if len(net.inputs) != 1:
        raise ConvertError(f"net '{net.name}' takes {len(net.inputs)} inputs; files can feed only a net with one")
    name, shape = next(iter(net.inputs.items()))
    files = [Path(f) for f in files]
    npys = [f for f in files if f.suffix.lower() == ".npy"]
    if npys:
        if len(files) != 1:
            raise ConvertError("give one .npy array, or image files, not both")
        array = load_npy(files[0], shape, batch)
        return {name: array}, f"{files[0].name}, batch {array.shape[0]}"
    if len(shape) != 4 or shape[1] != 3:
        raise ConvertError(f"net '{net.name}' takes {shape}, not 3-channel images: pass a .npy instead")
    mean = net.mean_bgr if net.mean_bgr is not None and len(net.mean_bgr) == 3 else SENET_MEAN_BGR
    images = [load_image(f, (shape[2], shape[3]), mean) for f in files]
    if batch is not None:
        if batch < len(images):
            raise ConvertError(f"{len(images)} images for a batch of {batch}")
        images = [images[i % len(images)] for i in range(batch)]
    array = np.stack(images)
    names = ", ".join(f.name for f in files[:3]) + (", ..." if len(files) > 3 else "")
    how = f"shorter side {RESIZE}, centre crop, BGR minus {tuple(mean)}"
    return {name: array}, f"image{'s' if len(files) > 1 else ''} {names} ({how}), batch {array.shape[0]}"


def verify_inputs(net, caffe, caffe_blobs, input_files, batch, seed):
    """The input to verify on: Caffe's dumped input blob when there is one and no --input, else make_inputs."""
    dumped = {k: caffe[k] for k in net.inputs if caffe is not None and k in caffe}
    if dumped and not input_files:
        if len(dumped) != len(net.inputs):
            raise ConvertError(f"{caffe_blobs}: holds {sorted(dumped)} but the net takes inputs {list(net.inputs)}")
        inputs = {k: v.astype("float32") for k, v in dumped.items()}
        if batch is not None and next(iter(inputs.values())).shape[0] != batch:
            raise ConvertError(f"{caffe_blobs}: its input has batch {next(iter(inputs.values())).shape[0]}, --batch asks for {batch}")
        return inputs, f"the input blob of {Path(caffe_blobs).name}, batch {next(iter(inputs.values())).shape[0]}"
    if caffe is not None and not input_files:
        raise ConvertError(f"{caffe_blobs}: holds no input blob {list(net.inputs)}; give the input Caffe ran on with --input")
    return make_inputs(net, input_files, batch=batch, seed=seed)
