"""The caffe2onnx job as the CLI runs it: load, emit ONNX from the IR, check, write, report. No torch."""
from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .onnx_export import OPSET, export_onnx
from .progress import load_net_with_progress
from .provenance import sha256, source_hashes


def convert_to_onnx(prototxt: Path, caffemodel: Path, path: Path, *, outputs=None, opset: int | None = None,
                    external_data: bool | None = None, optimized: bool = False, quiet: bool = False) -> dict:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as pool:
        # hashlib releases the GIL: the caffemodel's digest is computed while the net is read and emitted.
        digest = pool.submit(sha256, Path(caffemodel))
        net = load_net_with_progress(prototxt, caffemodel)
        if net.unused_weights and not quiet:
            print(f"warning: {caffemodel} holds weights for {len(net.unused_weights)} layers absent from the prototxt: "
                  + ", ".join(net.unused_weights[:5]) + (" ..." if len(net.unused_weights) > 5 else ""), file=sys.stderr)
        info = export_onnx(net, path, outputs=outputs, opset=OPSET if opset is None else opset, external_data=external_data,
                           optimized=optimized, hashes=lambda: source_hashes(net, digest.result()))
    if not quiet:
        print(
            f"{net.name or Path(path).stem}: opset {info['opset']}, batch dynamic, {info['nodes']} nodes, "
            f"{info['values_exposed']} Caffe values named, returns {', '.join(info['outputs'])}; "
            f"{time.perf_counter() - start:.1f} s; wrote " + ", ".join(str(p) for p in info["files"])
        )
    return info
