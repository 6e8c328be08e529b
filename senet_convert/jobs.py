"""The commands as the CLI runs them: inspect, caffe2torch (graph or timm), caffe2onnx, verify.

Each job loads the files (a progress bar on a terminal), applies the edits asked for, writes its
outputs all or nothing and prints one summary line; cli.py only declares the options.
"""
from __future__ import annotations

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


def convert_files(prototxt: Path, caffemodel: Path, output_dir: Path, *, name=None, outputs=None, pt2=True, safetensors=False, onnx=False, quiet=False,
                  input_space="caffe", class_order="caffe", global_pooling=False, optimized=False) -> dict:
    from .export.provenance import sha256

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
    import json

    from .errors import UnsupportedLayers
    from .inspection import render, render_unsupported, summarize

    try:
        net = load_net_with_progress(prototxt, caffemodel, batch=batch)
    except UnsupportedLayers as exc:  # list all that the net lacks, then fail as every command does
        print(render_unsupported(exc, as_json))
        raise
    summary = summarize(net)
    return json.dumps(summary, indent=1) if as_json else render(summary)


def caffe2torch(prototxt, caffemodel, output_dir_, *, target="graph", outputs=None, onnx=False, class_order=None, optimize=False, **options):
    if target == "timm":
        if outputs or onnx:
            raise ConvertError("--outputs and --onnx apply to --to graph; timm's model returns the logits")
        options.pop("pt2", None)
        return convert_to_timm(prototxt, caffemodel, output_dir(output_dir_), class_order=class_order or "sorted", **options)
    return convert_files(prototxt, caffemodel, output_dir(output_dir_), outputs=split_outputs(outputs), onnx=onnx,
                         class_order=class_order or "caffe", optimized=optimize, **options)


def caffe2onnx(prototxt, caffemodel, output, *, outputs=None, opset=None, external_data=None, optimize=False, quiet=False) -> dict:
    """Load, emit ONNX from the IR (no torch), check, write, report."""
    from .export.onnx import OPSET, export_onnx
    from .export.provenance import sha256, source_hashes

    start = time.perf_counter()
    path = output if output is not None else Path(f"{Path(prototxt).stem}.onnx")
    if path.is_dir():
        path = path / f"{Path(prototxt).stem}.onnx"
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as pool:
        # hashlib releases the GIL: the caffemodel's digest is computed while the net is read and emitted.
        cancel = threading.Event()
        digest = pool.submit(sha256, Path(caffemodel), cancel)
        try:
            net = load_net_with_progress(prototxt, caffemodel, warn=not quiet)
            if not quiet:
                _warn_unused(net, caffemodel)
            info = export_onnx(net, path, outputs=split_outputs(outputs), opset=OPSET if opset is None else opset, external_data=external_data,
                               optimized=optimize, hashes=lambda: source_hashes(net, digest.result()))
        finally:
            cancel.set()
    if not quiet:
        print(
            f"{net.name or Path(path).stem}: opset {info['opset']}, batch dynamic, {info['nodes']} nodes, "
            f"{info['values_exposed']} Caffe values named, returns {', '.join(info['outputs'])}; "
            f"{time.perf_counter() - start:.1f} s; wrote " + ", ".join(str(p) for p in info["files"])
        )
    return info


# ---- caffe2torch --to timm ---------------------------------------------------------------------


def _fold_line(error: dict) -> str:
    return (
        f"folding the {error['space']} convention into layer0.conv1 is exact except where conv1 reads its zero padding; "
        f"measured on {error['image']}: logits differ by up to {error['max_abs']:.3g} "
        f"({error['relative']:.2g} of the largest logit), top-1 {'unchanged' if error['top1_same'] else 'CHANGED'}, "
        f"{error['top5_overlap']}/5 of the top 5 shared"
    )


def convert_to_timm(prototxt: Path, caffemodel: Path, output_dir: Path, *, name=None, input_space="caffe",
                    class_order="sorted", global_pooling=False, safetensors=False, quiet=False) -> dict:
    """Write NAME.timm.pth (timm's state_dict) and NAME.timm.json (the config, the input contract and
    where every tensor came from); check the weights against timm when it is installed."""
    from .export.checkpoint import sha256, versions
    from .to_timm import timm_model
    from .files import write_torch
    from .pipelines import timm_conversion

    start = time.perf_counter()
    net = load_net_with_progress(prototxt, caffemodel)
    weights, config = timm_conversion(net, input_space=input_space, class_order=class_order)
    try:
        import timm
    except ImportError:
        checked = "not checked against timm (not installed)"
    else:
        timm_model(weights)
        checked = f"loads strictly into timm {timm.__version__} {weights.model}"
    if safetensors:
        try:
            from safetensors.torch import save  # bytes we write ourselves: save_file ignores a full disk
        except ImportError:
            raise ConvertError("--safetensors needs the safetensors package: pip install safetensors") from None
    stem = file_stem(name, prototxt)
    files = [output_dir / f"{stem}.timm.pth", output_dir / f"{stem}.timm.json"]
    if safetensors:
        files.append(output_dir / f"{stem}.timm.safetensors")
    info = {
        "format": "senet-convert/timm",
        "model": weights.model,
        "load": f"timm.create_model('{weights.model}', pretrained=False).load_state_dict(torch.load('{files[0].name}'))",
        "pretrained_cfg": config,
        "sources": {
            "prototxt": {"name": Path(prototxt).name, "sha256": sha256(Path(prototxt))},
            "caffemodel": {"name": Path(caffemodel).name, "sha256": sha256(Path(caffemodel))},
        },
        "tensors": weights.sources,
        "versions": versions(),
    }
    with staged_outputs(output_dir, [p.name for p in files]) as staging:
        write_torch(weights.state_dict, staging / files[0].name)
        (staging / files[1].name).write_text(json.dumps(info, indent=1) + "\n")
        if safetensors:
            (staging / files[2].name).write_bytes(save(dict(weights.state_dict), metadata={"format": "senet-convert/timm", "model": weights.model}))
    if not quiet:
        params = sum(t.numel() for k, t in weights.state_dict.items() if not k.endswith("num_batches_tracked"))
        print(
            f"{net.name}: timm {weights.model}, {params:,} parameters; class order {class_order}; input {config['input_contract']}; "
            f"{checked}; {time.perf_counter() - start:.1f} s; wrote " + ", ".join(str(p) for p in files)
        )
        if "fold_error" in config:
            print(_fold_line(config["fold_error"]))
        if input_space == "caffe":
            print(
                "note: these weights take Caffe's input convention, which timm's default transforms do not produce; "
                "use --input-space torchvision for them, or build the transform from NAME.timm.json's pretrained_cfg "
                "(senet_convert.pipelines.make_transform)", file=sys.stderr,
            )
        if global_pooling:
            print("--global-pool: timm's model already averages globally; nothing to change", file=sys.stderr)
    return {"net": net, "weights": weights, "config": config, "files": files}


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
    import json

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(report.to_dict(), indent=1))
