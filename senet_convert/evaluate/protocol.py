"""The evaluation protocols: how an image file becomes the model's input.

  official  the SENet release's Table 1: the shorter side resized to 256 (256/224 of the crop),
            the centre 224 x 224 crop at offset (size - crop) // 2, as Caffe's DataTransformer takes it
  timm      timm's evaluation transform (torchvision Resize + CenterCrop): the shorter side to
            floor(224 / crop_pct) with crop_pct 0.875 (256 too), the longer side int(256 * long / short),
            the crop at int(round((size - crop) / 2))

Both resize with Pillow's bilinear filter (Image.resize, which widens the filter when it shrinks,
i.e. antialiases; OpenCV's INTER_LINEAR does not). The numbers after the crop follow the model's
input convention, never the protocol: a Caffe-convention model gets BGR, 0-255, minus its mean; a
torchvision-convention model RGB in [0, 1], then (x - mean) / std, computed in float32 as
torchvision's ToTensor and Normalize compute it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConvertError
from ..edits.input_space import Convention

PROTOCOLS = ("official", "timm")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "lanczos", "box", "hamming")
OFFICIAL_RESIZE, OFFICIAL_CROP = 256, 224
TIMM_CROP_PCT = 0.875


@dataclass(frozen=True)
class Protocol:
    name: str
    resize: int  # the shorter side after resizing
    crop: tuple[int, int]  # height, width
    interpolation: str
    rounding: str  # "caffe": long side rounded, crop offset floored; "torchvision": truncated, rounded
    convention: Convention

    def describe(self, library: str) -> str:
        return (
            f"{self.name}: shorter side to {self.resize} ({library} Image.resize, {self.interpolation}), centre "
            f"{self.crop[0]}x{self.crop[1]} crop ({'floor' if self.rounding == 'caffe' else 'rounded'} offsets), "
            f"{self.convention.describe()}"
        )

    def to_dict(self, library: str) -> dict:
        return {
            "protocol": self.name, "resize_shorter_side": self.resize, "crop": list(self.crop),
            "interpolation": self.interpolation, "resize_library": library, "offsets": self.rounding,
            "input_space": self.convention.name, "channel_order": self.convention.channel_order,
            "pixel_range": [0, 255] if self.convention.name == "caffe" else [0, 1],
            "mean": [255 * m for m in self.convention.mean] if self.convention.name == "caffe" else list(self.convention.mean),
            "std": [1.0] * 3 if self.convention.name == "caffe" else list(self.convention.std),
            "description": self.describe(library),
        }


def make_protocol(name: str, convention: Convention, input_size: tuple[int, int], *, interpolation: str = "bilinear",
                  resize: int | None = None, crop_pct: float | None = None) -> Protocol:
    """A protocol for a model taking `input_size` (height, width) inputs in `convention`.
    `resize` (the shorter side) or `crop_pct` (resize = floor(crop / crop_pct)) override the protocol's."""
    if name not in PROTOCOLS:
        raise ConvertError(f"protocol must be one of {', '.join(PROTOCOLS)}, got '{name}'")
    if interpolation not in INTERPOLATIONS:
        raise ConvertError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got '{interpolation}'")
    if resize is not None and crop_pct is not None:
        raise ConvertError("give --resize or --crop-pct, not both")
    if crop_pct is not None and not 0 < crop_pct <= 1:
        raise ConvertError(f"--crop-pct {crop_pct} is out of range (0, 1]")
    crop = tuple(int(s) for s in input_size)
    if resize is None:
        if crop_pct is None and name == "official":
            resize = round(max(crop) * OFFICIAL_RESIZE / OFFICIAL_CROP)
        else:
            resize = math.floor(max(crop) / (crop_pct or TIMM_CROP_PCT))
    if resize < max(crop):
        raise ConvertError(f"resizing the shorter side to {resize} leaves too little for a {crop[0]}x{crop[1]} crop")
    return Protocol(name, resize, crop, interpolation, "caffe" if name == "official" else "torchvision", convention)


def resized_size(protocol: Protocol, width: int, height: int) -> tuple[int, int]:
    """(width, height) after resizing the shorter side to protocol.resize."""
    short, long = (width, height) if width <= height else (height, width)
    if protocol.rounding == "caffe":
        new_long = max(protocol.resize, round(long * protocol.resize / short))
    else:  # torchvision's _compute_resized_output_size
        new_long = int(protocol.resize * long / short)
    return (protocol.resize, new_long) if width <= height else (new_long, protocol.resize)


def crop_box(protocol: Protocol, width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the centre crop of a width x height image."""
    ch, cw = protocol.crop
    if protocol.rounding == "caffe":
        top, left = (height - ch) // 2, (width - cw) // 2
    else:  # torchvision's center_crop
        top, left = int(round((height - ch) / 2.0)), int(round((width - cw) / 2.0))
    return left, top, left + cw, top + ch


def to_model_input(rgb: np.ndarray, convention: Convention) -> np.ndarray:
    """An H x W x 3 RGB uint8 crop as the 3 x H x W float32 input in `convention`."""
    if convention.name == "caffe":
        # 0-255 minus the mean in BGR: integer pixels minus the prototxt's mean, exact in float32.
        bgr = rgb[:, :, ::-1].astype(np.float32) - np.asarray([255 * m for m in convention.mean], dtype=np.float32)
        return np.ascontiguousarray(bgr.transpose(2, 0, 1))
    order = ["RGB".index(c) for c in convention.channel_order]
    x = rgb[:, :, order].transpose(2, 0, 1).astype(np.float32) / np.float32(255)  # ToTensor
    mean = np.asarray(convention.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(convention.std, dtype=np.float32)[:, None, None]
    return np.ascontiguousarray((x - mean) / std)  # Normalize
