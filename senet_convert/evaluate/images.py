"""Decoding image files into the model's input, as a torch Dataset that DataLoader workers run.

Real folders are messy; every file becomes 8-bit RGB before the protocol resizes it:
  grey (L), grey + alpha (LA)     the grey value in all three channels, alpha dropped
  RGBA, palette (P, PA)           alpha dropped, as Pillow's convert("RGB") and OpenCV's IMREAD_COLOR
                                  both do (not composited onto a background)
  CMYK (some ImageNet JPEGs)      Pillow's CMYK -> RGB conversion
  16-bit grey (I;16, I)           scaled to 8 bits, round(v / 257); Pillow's own convert clips at 255,
                                  which would turn nearly every pixel white (16-bit RGB PNGs Pillow
                                  already reads as 8-bit)
A file that cannot be decoded (not an image, truncated, a decompression bomb) is not an error: the
item comes back with its reason and the run counts it as skipped.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import ConvertError
from .protocol import Protocol, crop_box, resized_size, to_model_input

_FILTERS = {"bilinear": "BILINEAR", "bicubic": "BICUBIC", "nearest": "NEAREST", "lanczos": "LANCZOS", "box": "BOX", "hamming": "HAMMING"}


def pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ConvertError("evaluate decodes images with Pillow: pip install 'senet-convert[image]'") from None
    return Image


def library() -> str:
    import PIL

    return f"Pillow {PIL.__version__}"


def as_rgb(image):
    """`image` (any Pillow mode) as 8-bit RGB, by the rules in the module docstring."""
    Image = pillow()
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        grey = np.asarray(image, dtype=np.float64)
        grey = np.clip(np.round(grey / 257), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if mode == "F":
        return Image.fromarray(np.clip(np.round(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)).convert("RGB")
    if mode == "RGB":
        return image
    if mode in ("LA", "La"):
        return image.getchannel("L").convert("RGB")
    return image.convert("RGB")


def decode(path: Path, protocol: Protocol) -> np.ndarray:
    """One image file as the model's 3 x H x W float32 input; OSError/ValueError when unreadable."""
    Image = pillow()
    with Image.open(path) as image:
        image.load()
        rgb = as_rgb(image)
        size = resized_size(protocol, *rgb.size)
        if size != rgb.size:
            rgb = rgb.resize(size, getattr(Image.Resampling, _FILTERS[protocol.interpolation]))
        box = crop_box(protocol, *rgb.size)
        pixels = np.asarray(rgb.crop(box), dtype=np.uint8)
    return to_model_input(pixels, protocol.convention)


def _unreadable(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'unreadable'}"[:200]


class ImageFolderItems:
    """A map-style dataset over the images with positions `indices` (a shard): item i is
    (position, 3 x H x W float32 array or None, reason or None, seconds spent decoding)."""

    def __init__(self, root: Path, files, indices, protocol: Protocol):
        self.root, self.files, self.indices, self.protocol = root, files, list(indices), protocol

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        position = self.indices[i]
        Image = pillow()
        start = time.perf_counter()
        try:
            array, reason = decode(self.root / self.files[position], self.protocol), None
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            array, reason = None, _unreadable(exc)
        return position, array, reason, time.perf_counter() - start


def collate(items):
    """A batch: (positions, N x 3 x H x W tensor or None, [(position, reason)] of the unreadable,
    seconds spent decoding)."""
    import torch

    good = [(p, x) for p, x, _, _ in items if x is not None]
    bad = [(p, why) for p, _, why, _ in items if why is not None]
    arrays = torch.from_numpy(np.stack([x for _, x in good])) if good else None
    return [p for p, _ in good], arrays, bad, sum(t for *_, t in items)
