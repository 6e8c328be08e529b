"""The Python entry point: Caffe files in, an exact torch module out."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch

from .graph import Net
from .loader import load_net
from .to_torch import lower


def convert(
    prototxt: str | Path,
    caffemodel: str | Path,
    *,
    outputs: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.fx.GraphModule:
    """The Caffe net as a torch.fx.GraphModule in eval mode.

    `outputs` are Caffe blob names (e.g. ["classifier"] for the logits); by default the
    net's outputs as Caffe defines them (blobs no layer reads, e.g. "prob").
    """
    return module_for(load_net(prototxt, caffemodel, progress=progress), outputs)


def module_for(net: Net, outputs: Sequence[str] | None = None, *, one_pass_batchnorm: bool = True) -> torch.fx.GraphModule:
    """The module for a Net the caller hands over: parameters share the Net's blob memory."""
    module = lower(net, outputs=outputs, share_weights=True, one_pass_batchnorm=one_pass_batchnorm)
    module.eval()
    module.requires_grad_(False)
    return module
