"""Devices and float32 precision modes for the torch rows."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from ..errors import ConvertError

# ---- precision modes ----


@contextlib.contextmanager
def precision(device: str, *, tf32: bool = False):
    """Full float32 (tf32=False: parity mode) or TF32 for CUDA matmuls and convolutions; restored after.

    torch >= 2.9 has per-backend `fp32_precision` settings and refuses to mix them with the legacy
    `allow_tf32` flags once the new ones are in use, so the new ones are used where they exist.
    """
    import torch

    if device.startswith("cuda"):
        knobs = [torch.backends.cuda.matmul, torch.backends.cudnn.conv]
        mode = "tf32" if tf32 else "ieee"
    else:
        knobs = [getattr(torch.backends.mkldnn, "matmul", None), getattr(torch.backends.mkldnn, "conv", None)]
        knobs = [k for k in knobs if k is not None]
        mode = "ieee"
    restore: Callable[[], None]
    try:
        saved = [k.fp32_precision for k in knobs]
        for k in knobs:
            k.fp32_precision = mode

        def restore():
            for k, s in zip(knobs, saved):
                k.fp32_precision = s
    except (AttributeError, RuntimeError):  # torch before 2.9: the legacy flags
        if not device.startswith("cuda"):

            def restore():
                pass
        else:
            old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32

            def restore():
                torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
    try:
        yield
    finally:
        restore()


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def check_devices(devices: Sequence[str]) -> list[str]:
    devices = list(dict.fromkeys(devices))
    for device in devices:
        if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
            raise ConvertError(f"unknown device '{device}': use cpu or cuda")
        if device.startswith("cuda") and not cuda_available():
            raise ConvertError(f"device '{device}' was asked for, but torch sees no CUDA device")
    return devices
