"""The caffe2torch job as the CLI runs it: load, transform, lower, write, report (progress on a terminal)."""
from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .converter import module_for
from .export import save_checkpoint, save_pt2, save_safetensors, sha256, source_hashes
from .files import staged_outputs
from .pipelines import prepare
from .progress import load_net_with_progress
from .transforms import notes


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def convert_files(prototxt: Path, caffemodel: Path, output_dir: Path, *, name=None, outputs=None, pt2=True, safetensors=False, onnx=False, quiet=False,
                  input_space="caffe", class_order="caffe", global_pooling=False, optimized=False) -> dict:
    start = time.perf_counter()
    cancel = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as pool:
        # hashlib releases the GIL: the caffemodel's digest is computed while the rest runs.
        digest = pool.submit(sha256, Path(caffemodel), cancel)
        try:
            return _convert(prototxt, caffemodel, output_dir, digest, start, name=name, outputs=outputs, pt2=pt2, safetensors=safetensors, onnx=onnx,
                            quiet=quiet, input_space=input_space, class_order=class_order, global_pooling=global_pooling, optimized=optimized)
        finally:  # a failed job does not wait for the digest (the pool joins its thread on exit)
            cancel.set()


def _convert(prototxt, caffemodel, output_dir, digest, start, *, name, outputs, pt2, safetensors, onnx, quiet, input_space, class_order, global_pooling, optimized) -> dict:
    net = load_net_with_progress(prototxt, caffemodel, warn=not quiet)
    if net.unused_weights and not quiet:
        _say(f"warning: {caffemodel} holds weights for {len(net.unused_weights)} layers absent from the prototxt: " + ", ".join(net.unused_weights[:5]) + (" ..." if len(net.unused_weights) > 5 else ""))
    # Issue 5: --global-pool, --class-order, --input-space, each recorded in the prototxt text the checkpoint carries.
    net = prepare(net, input_space=input_space, class_order=class_order, global_pooling=global_pooling)
    if not quiet:
        for kind, what in notes(net):
            _say(f"{kind}: {what}")
    module = module_for(net, outputs)
    # The deployable files may come from the optimized graph; the checkpoint always holds Caffe's blobs.
    deployed, deployed_net = module, net
    if optimized:
        from .optimize import optimize

        deployed = optimize(net, outputs=outputs)
        deployed_net = deployed.folding.net
        if not quiet:
            _say(f"optimized: {deployed.folding.summary()}")
    stem = name or Path(prototxt).stem
    steps = [("checkpoint", output_dir / f"{stem}.pt", lambda p: save_checkpoint(module, net, p, outputs, source_hashes(net, digest.result())))]
    if pt2:
        steps.append(("torch.export program", output_dir / f"{stem}.pt2", lambda p: save_pt2(deployed, deployed_net, p)))
    if safetensors:
        steps.append(("safetensors", output_dir / f"{stem}.safetensors", lambda p: save_safetensors(module, net, p)))
    if onnx:  # the same ONNX as caffe2onnx writes, from the IR (onnx_export.py)
        from .onnx_export import export_onnx

        hashes = lambda: source_hashes(net, digest.result())  # noqa: E731
        steps.append(("ONNX", output_dir / f"{stem}.onnx", lambda p: export_onnx(net, p, outputs=outputs, optimized=optimized, hashes=hashes)))
    tty = sys.stderr.isatty()
    written = [path for _, path, _ in steps]
    try:
        with staged_outputs(output_dir, [p.name for p in written]) as staging:
            for what, path, write in steps:
                if tty:
                    sys.stderr.write(f"\rwriting {what} {path.name} ...\033[K")
                    sys.stderr.flush()
                write(staging / path.name)
    finally:  # an error message then starts on a clean line
        if tty:
            sys.stderr.write("\r\033[K")
    elapsed = time.perf_counter() - start
    returns = ", ".join(net.blob_of.get(o, o) for o in (outputs or net.outputs))
    if not quiet:
        print(
            f"{net.name or stem}: {net.num_params():,} parameters, {len(net.layers)} layers, returns {returns}; "
            f"{elapsed:.1f} s; wrote " + ", ".join(str(p) for p in written)
        )
    return {"net": net, "module": module, "files": written, "seconds": elapsed}
