"""The commands as the CLI runs them: inspect, caffe2torch (graph or timm), caffe2onnx, verify.

Each job loads the files (a progress bar on a terminal), applies the edits asked for, writes its
outputs all or nothing and prints one summary line; cli.py only declares the options.
"""
from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

from .edits.notes import notes
from .errors import ConvertError
from .files import atomic_path, file_stem, staged_outputs
from .pipelines import prepare
from .progress import load_net_with_progress


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _warn_unused(net, caffemodel) -> None:
    if net.unused_weights:
        _say(f"warning: {caffemodel} holds weights for {len(net.unused_weights)} layers absent from the prototxt: "
             + ", ".join(net.unused_weights[:5]) + (" ..." if len(net.unused_weights) > 5 else ""))


@contextlib.contextmanager
def _digest_meanwhile(caffemodel):
    """The caffemodel's sha256 as a future, computed in a thread while the job runs (hashlib releases
    the GIL); a job that ends, failed or not, does not wait for it (the pool joins its thread on exit)."""
    from .export.provenance import sha256

    cancel = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as pool:
        try:
            yield pool.submit(sha256, Path(caffemodel), cancel)
        finally:
            cancel.set()


def convert_files(prototxt: Path, caffemodel: Path, output_dir: Path, *, name=None, outputs=None, pt2=True, safetensors=False, onnx=False, quiet=False,
                  input_space="caffe", class_order="caffe", global_pooling=False, optimized=False) -> dict:
    start = time.perf_counter()
    with _digest_meanwhile(caffemodel) as digest:
        return _convert(prototxt, caffemodel, output_dir, digest, start, name=name, outputs=outputs, pt2=pt2, safetensors=safetensors, onnx=onnx,
                        quiet=quiet, input_space=input_space, class_order=class_order, global_pooling=global_pooling, optimized=optimized)


def _convert(prototxt, caffemodel, output_dir, digest, start, *, name, outputs, pt2, safetensors, onnx, quiet, input_space, class_order, global_pooling, optimized) -> dict:
    from .export.checkpoint import save_checkpoint, save_pt2, save_safetensors, source_hashes
    from .to_torch import module_for

    net = load_net_with_progress(prototxt, caffemodel, warn=not quiet)
    if not quiet:
        _warn_unused(net, caffemodel)
    # --global-pool, --class-order, --input-space: each recorded in the prototxt text the checkpoint carries.
    net = prepare(net, input_space=input_space, class_order=class_order, global_pooling=global_pooling)
    if not quiet:
        for kind, what in notes(net):
            _say(f"{kind}: {what}")
    module = module_for(net, outputs)
    # The deployable files may come from the optimized graph; the checkpoint always holds Caffe's blobs.
    deployed, deployed_net = module, net
    if optimized:
        from .to_torch.optimize import optimize

        deployed, folding = optimize(net, outputs=outputs)
        deployed_net = folding.net
        if not quiet:
            _say(f"optimized: {folding.summary()}")
    stem = file_stem(name, prototxt)
    steps = [("checkpoint", output_dir / f"{stem}.pt", lambda p: save_checkpoint(module, net, p, outputs, source_hashes(net, digest.result())))]
    if pt2:
        steps.append(("torch.export program", output_dir / f"{stem}.pt2", lambda p: save_pt2(deployed, deployed_net, p)))
    if safetensors:
        steps.append(("safetensors", output_dir / f"{stem}.safetensors", lambda p: save_safetensors(module, net, p)))
    if onnx:  # the same ONNX as caffe2onnx writes, from the IR (export/onnx.py)
        from .export.onnx import export_onnx

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


def convert(
    prototxt: str | Path,
    caffemodel: str | Path,
    *,
    outputs: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
):
    """The Caffe net as a torch.fx.GraphModule in eval mode.

    `outputs` are Caffe blob names (e.g. ["classifier"] for the logits); by default the
    net's outputs as Caffe defines them (blobs no layer reads, e.g. "prob").
    """
    from .loader import load_net
    from .to_torch import module_for

    return module_for(load_net(prototxt, caffemodel, progress=progress), outputs)


def split_outputs(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def output_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise ConvertError(f"{path}: exists and is not a directory")
    return path


def inspect(prototxt, caffemodel=None, *, batch=None, as_json=False) -> str:
    from .errors import UnsupportedLayers
    from .inspection import render, render_unsupported, summarize

    try:
        net = load_net_with_progress(prototxt, caffemodel, batch=batch)
    except UnsupportedLayers as exc:  # list all that the net lacks, then fail as every command does
        print(render_unsupported(exc, as_json))
        raise
    summary = summarize(net)
    return json.dumps(summary, indent=1) if as_json else render(summary)


def caffe2torch(prototxt, caffemodel, output_dir_, *, target="graph", outputs=None, onnx=False, class_order=None, optimize=False,
                name=None, pt2=True, safetensors=False, input_space="caffe", global_pooling=False, quiet=False):
    if target == "timm":
        from .export.hub_folder import convert_to_timm_folder

        if outputs or onnx:
            raise ConvertError("--outputs and --onnx apply to --to graph; timm's model returns the logits")
        # --safetensors and --no-pt2 are accepted: the folder always holds model.safetensors, never a .pt2
        return convert_to_timm_folder(prototxt, caffemodel, output_dir(output_dir_), name=name, input_space=input_space,
                                      class_order=class_order, global_pooling=global_pooling)
    return convert_files(prototxt, caffemodel, output_dir(output_dir_), name=name, outputs=split_outputs(outputs), pt2=pt2,
                         safetensors=safetensors, onnx=onnx, quiet=quiet, input_space=input_space, class_order=class_order or "caffe",
                         global_pooling=global_pooling, optimized=optimize)


def caffe2onnx(prototxt, caffemodel, output, *, outputs=None, opset=None, external_data=None, optimize=False, quiet=False) -> dict:
    """Load, emit ONNX from the IR (no torch), check, write, report."""
    from .export.onnx import OPSET, export_onnx
    from .export.provenance import source_hashes

    start = time.perf_counter()
    path = output if output is not None else Path(f"{Path(prototxt).stem}.onnx")
    if path.is_dir():
        path = path / f"{Path(prototxt).stem}.onnx"
    with _digest_meanwhile(caffemodel) as digest:
        net = load_net_with_progress(prototxt, caffemodel, warn=not quiet)
        if not quiet:
            _warn_unused(net, caffemodel)
        info = export_onnx(net, path, outputs=split_outputs(outputs), opset=OPSET if opset is None else opset, external_data=external_data,
                           optimized=optimize, hashes=lambda: source_hashes(net, digest.result()))
    if not quiet:
        print(
            f"{net.name or Path(path).stem}: opset {info['opset']}, batch dynamic, {info['nodes']} nodes, "
            f"{info['values_exposed']} Caffe values named, returns {', '.join(info['outputs'])}; "
            f"{time.perf_counter() - start:.1f} s; wrote " + ", ".join(str(p) for p in info["files"])
        )
    return info


# ---- verify ---------------------------------------------------------------------------------------


def verify_files(prototxt, caffemodel, *, device="cpu", onnx_file=None, pt2_file=None, outputs=None, input_files=(), seed=0,
                 batch=None, tolerance=2e-5, caffe_blobs=None, info=True, onnx_intermediates=True,
                 save_input=None, input_space="caffe", class_order=None, global_pooling=False, optimize=False):
    """Run verify on the files as caffe2torch would have converted them; returns the Report."""
    from . import verify as parity
    from .verify.input_size import fit_for_verify
    from .verify.inputs import verify_inputs

    # The same transforms as caffe2torch, so that its .pt2/.onnx can be checked; the report names deviations.
    net = prepare(load_net_with_progress(prototxt, caffemodel), input_space=input_space, class_order=class_order or "caffe",
                  global_pooling=global_pooling)
    caffe = parity.read_caffe_blobs(caffe_blobs) if caffe_blobs else None
    # Only a synthetic input may be made smaller: a file here fixes the size, as does Caffe's run on a saved input.
    net, resized = fit_for_verify(net, fixed=bool(caffe_blobs or input_files or onnx_file or pt2_file or save_input))
    inputs, description = verify_inputs(net, caffe, caffe_blobs, input_files, batch, seed)
    if save_input is not None:
        import numpy as np

        if len(inputs) != 1:
            raise ConvertError(f"--save-input: net '{net.name}' takes {len(inputs)} inputs")
        with atomic_path(save_input.with_suffix(".npy")) as tmp:
            np.save(tmp, next(iter(inputs.values())))
    log = (lambda m: print(m, file=sys.stderr)) if sys.stderr.isatty() else None
    report = parity.verify(
        net, inputs, devices=["cpu", "cuda"] if device == "both" else [device], onnx=onnx_file, pt2=pt2_file,
        caffe_blobs=caffe, caffe_name=Path(caffe_blobs).name if caffe_blobs else None,
        tolerance=tolerance, outputs=split_outputs(outputs), info=info, onnx_intermediates=onnx_intermediates, optimized=optimize,
        description=description, log=log,
    )
    if resized:
        report.notes.append(resized)
    return report


def write_report(report, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(report.to_dict(), indent=1))
