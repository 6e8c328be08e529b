"""The `senet-convert` command: click declarations over senet_convert.jobs, nothing else."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from . import jobs
from .errors import ConvertError
from .signals import terminate_as_interrupt

_existing = click.Path(dir_okay=False, path_type=Path)


def _load_plugins(ctx, param, files):
    from .plugins import load_plugin

    for path in files:
        load_plugin(path)


class _Command(click.Command):
    """Every command takes --plugin FILE.py (repeatable), loaded before anything else is read."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params.insert(0, click.Option(
            ["--plugin", "plugin_files"], type=_existing, multiple=True, callback=_load_plugins, expose_value=False,
            is_eager=True, help="A plugin file adding layer types (see docs/plugins.md); repeatable.",
        ))


class _Group(click.Group):
    """Turns ConvertError (bad input) into one line on stderr and exit status 2; Ctrl-C, SIGTERM and
    SIGHUP into 'interrupted' and the shell's 128 + signal, after the job has cleaned up."""

    command_class = _Command

    def invoke(self, ctx):
        try:
            with terminate_as_interrupt():
                from .plugins import load_installed

                load_installed()  # installed plugin packages (the senet_convert.plugins entry points)
                return super().invoke(ctx)
        except ConvertError as exc:
            click.echo(f"senet-convert: error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt as exc:
            click.echo(f"senet-convert: interrupted{f' ({exc})' if str(exc) else ''}", err=True)
            sys.exit(getattr(exc, "status", 130))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="senet-convert")
def main():
    """Convert the Caffe SENet models to PyTorch and ONNX, exactly, and prove it."""


@main.command()
@click.argument("prototxt", type=_existing)
@click.argument("caffemodel", type=_existing, required=False)
@click.option("--batch", type=int, default=None, help="Batch size to infer shapes for (default: the prototxt's).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
def inspect(prototxt, caffemodel, batch, as_json):
    """Show each layer (type, bottoms -> tops, output shape, parameters), totals and the weight matching."""
    click.echo(jobs.inspect(prototxt, caffemodel, batch=batch, as_json=as_json))


def _transform_options(command):
    """The net transforms caffe2torch applies and verify must apply too, to check what it wrote."""
    options = [
        click.option("--input-space", type=click.Choice(["caffe", "torchvision"]), default="caffe", show_default=True,
                     help="caffe: BGR, 0-255, minus the prototxt's mean. torchvision: RGB, [0, 1], ImageNet mean/std "
                     "(graph: an exact adapter layer in front; timm: folded into layer0.conv1, error measured and printed)."),
        click.option("--class-order", type=click.Choice(["caffe", "sorted"]), default=None,
                     help="Classifier rows in ILSVRC-2012 devkit order (caffe) or by sorted WordNet ID (sorted, timm's). Default: caffe for graph, sorted for timm."),
        click.option("--global-pool", "global_pooling", is_flag=True,
                     help="Make the final fixed 7x7 average pool global so other input sizes work (a deliberate deviation from the prototxt)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.command()
@click.argument("prototxt", type=_existing)
@click.argument("caffemodel", type=_existing)
@click.option("-o", "--output-dir", type=click.Path(path_type=Path), default=Path("."), show_default=True, help="Where to write NAME.pt and NAME.pt2.")
@click.option("--name", help="Base name of the files written (default: the prototxt's name).")
@click.option("--outputs", help="Caffe blobs the module returns, comma-separated (e.g. classifier); default: the net's outputs.")
@click.option("--pt2/--no-pt2", default=True, show_default=True, help="Write the torch.export program NAME.pt2.")
@click.option("--safetensors", is_flag=True, help="Also write the state_dict as NAME.safetensors.")
@click.option("--onnx", is_flag=True, help="Also write NAME.onnx (as caffe2onnx does).")
@click.option("--to", "target", type=click.Choice(["graph", "timm"]), default="graph", show_default=True,
              help="graph: the Caffe-named module; timm: the folder DIR/NAME/ (config.json, model.safetensors, README.md) "
              "that timm.create_model('local-dir:DIR/NAME', pretrained=True) loads and the Hugging Face Hub takes.")
@_transform_options
@click.option("--optimize", is_flag=True, help="Write NAME.pt2 (and NAME.onnx) from the optimized graph: BatchNorm/Scale folded, Dropout gone; NAME.pt keeps Caffe's exact blobs.")
def caffe2torch(prototxt, caffemodel, output_dir, name, outputs, pt2, safetensors, onnx, target, input_space, class_order, global_pooling, optimize):
    """Convert to PyTorch: NAME.pt (weights-only checkpoint) and NAME.pt2 (torch.export, dynamic batch).

    With --to timm: the folder DIR/NAME/ for timm's legacy_seresnet50/101/152, legacy_seresnext50/101_32x4d,
    legacy_senet154 or se_bn_inception (registered by importing senet_convert), with its model card.
    """
    jobs.caffe2torch(prototxt, caffemodel, output_dir, name=name, outputs=outputs, pt2=pt2, safetensors=safetensors, onnx=onnx,
                     target=target, input_space=input_space, class_order=class_order, global_pooling=global_pooling,
                     optimize=optimize)


@main.command()
@click.argument("prototxt", type=_existing)
@click.argument("caffemodel", type=_existing)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="The .onnx file to write (default: NAME.onnx here, NAME from the prototxt); a directory: NAME.onnx in it.")
@click.option("--outputs", help="Caffe blobs the model returns, comma-separated (e.g. classifier); default: the net's outputs.")
@click.option("--opset", type=int, default=None, help="ONNX opset, 17 or later (default: the newest the pinned ONNX Runtime runs); default domain only.")
@click.option("--external-data/--no-external-data", default=None, help="Keep the weights in NAME.onnx.data (default: only when they exceed protobuf's 2 GB).")
@click.option("--optimize", is_flag=True, help="Export the optimized graph (BatchNorm/Scale folded into the convolutions, Dropout gone).")
def caffe2onnx(prototxt, caffemodel, output, outputs, opset, external_data, optimize):
    """Convert to ONNX: a checked model with a dynamic batch, every value named after its Caffe blob."""
    jobs.caffe2onnx(prototxt, caffemodel, output, outputs=outputs, opset=opset, external_data=external_data, optimize=optimize)


@main.command()
@click.argument("prototxt", type=_existing)
@click.argument("caffemodel", type=_existing)
@click.option("--device", type=click.Choice(["cpu", "cuda", "both"]), default="cpu", show_default=True, help="Where the torch lowering runs (float32, TF32 off).")
@click.option("--onnx", "onnx_file", type=_existing, help="Also check this .onnx in ONNX Runtime.")
@click.option("--pt2", "pt2_file", type=_existing, help="Also check this torch.export program.")
@click.option("--outputs", help="What the .pt2 returns, as given to caffe2torch --outputs (default: the net's outputs).")
@click.option("--input", "input_files", type=_existing, multiple=True, help="A preprocessed .npy (N x C x H x W or C x H x W), or image files (shorter side 256, centre crop, BGR minus the mean); repeatable for images. Default: seeded synthetic data.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the synthetic input.")
@click.option("--batch", type=click.IntRange(1, 4096), help="Batch size (default: 2 for synthetic data; the .npy's or the number of images).")
@click.option("--tolerance", type=click.FloatRange(min=0, min_open=True), default=2e-5, show_default=True, help="Per value: max|x - ref| <= tolerance * max|ref|.")
@click.option("--caffe-blobs", type=_existing, help="A .npz of blobs dumped by real Caffe (Caffe blob name -> array); its input blob is the input.")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the whole report, every value, as JSON.")
@click.option("--info/--no-info", default=True, show_default=True, help="Informational rows: TF32 (CUDA) and bf16 autocast at the outputs.")
@click.option("--onnx-intermediates/--onnx-outputs-only", default=True, show_default=True, help="Check the ONNX model at every Caffe value it names too.")
@click.option("--worst", type=click.IntRange(min=0), default=5, show_default=True, help="Worst values listed per backend.")
@click.option("--save-input", type=click.Path(dir_okay=False, path_type=Path), help="Also save the input as .npy (to feed real Caffe the same).")
@_transform_options
@click.option("--optimize", is_flag=True, help="Also check the optimized graph (caffe2torch/caffe2onnx --optimize) at every value it keeps, within 1e-5.")
def verify(prototxt, caffemodel, device, onnx_file, pt2_file, outputs, input_files, seed, batch, tolerance, caffe_blobs, json_file, info, onnx_intermediates, worst, save_input, input_space, class_order, global_pooling, optimize):
    """Prove the conversion exact on these files: oracle (float64) vs torch, .pt2, ONNX Runtime, real Caffe.

    Exits 1 when any value is out of tolerance, 2 on bad input.
    """
    report = jobs.verify_files(
        prototxt, caffemodel, device=device, onnx_file=onnx_file, pt2_file=pt2_file, outputs=outputs, input_files=input_files,
        seed=seed, batch=batch, tolerance=tolerance, caffe_blobs=caffe_blobs, info=info,
        onnx_intermediates=onnx_intermediates, save_input=save_input, input_space=input_space, class_order=class_order,
        global_pooling=global_pooling, optimize=optimize,
    )
    click.echo(report.render(worst))
    if json_file is not None:
        jobs.write_report(report, json_file)
    if not report.ok:
        sys.exit(1)


def _mean(value: str | None):
    if value is None:
        return None
    try:
        mean = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"'{value}' is not three numbers B,G,R") from None
    if len(mean) != 3:
        raise click.BadParameter(f"'{value}' is not three numbers B,G,R")
    return mean


@main.command()
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.argument("caffemodel", type=_existing, required=False)
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True, help="Folder of images: flat (with --labels) or one subfolder per class.")
@click.option("--labels", type=_existing, help="NAME LABEL file (the release's ILSVRC2017_val.txt: 0-based devkit order) or the devkit's ground-truth file; omit for class subfolders.")
@click.option("--label-order", type=click.Choice(["auto", "caffe", "sorted", "model"]), default="auto", show_default=True,
              help="How a NAME LABEL file's integers count: devkit order (caffe), sorted WordNet IDs, or the model's rows; auto: caffe for an ILSVRC model, else model.")
@click.option("--model-class-order", type=click.Choice(["caffe", "sorted"]), help="The model's row order, for a file that records none (.pt2, foreign ONNX).")
@click.option("--protocol", type=click.Choice(["official", "timm"]), help="official: shorter side 256, centre 224 crop; timm: crop 0.875. Default: official for a Caffe-convention model, timm otherwise.")
@click.option("--input-space", type=click.Choice(["caffe", "torchvision"]), help="The model's input convention, for a file that records none (.pt2).")
@click.option("--mean", "mean_text", help="B,G,R mean of a Caffe-convention model that records none (default 104,117,123).")
@click.option("--interpolation", type=click.Choice(["bilinear", "bicubic", "nearest", "lanczos", "box", "hamming"]), help="Pillow's resize filter (default bilinear, or the timm config's).")
@click.option("--resize", type=click.IntRange(min=1), help="Shorter side after resizing (default 256/224 of the crop).")
@click.option("--crop-pct", type=click.FloatRange(0, 1, min_open=True), help="Crop fraction: resize the shorter side to floor(crop / crop_pct).")
@click.option("--input-size", type=click.IntRange(min=1), help="Square crop fed to the model (default: the model's); other sizes need a global pool.")
@click.option("--global-pool", "global_pooling", is_flag=True, help="PROTOTXT CAFFEMODEL: make the final 7x7 average pool global, for --input-size.")
@click.option("--batch", type=click.IntRange(1, 4096), default=32, show_default=True, help="Images per forward pass.")
@click.option("--workers", type=click.IntRange(min=0), default=4, show_default=True, help="DataLoader worker processes decoding images (per process).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where the model runs (under torchrun: cuda:LOCAL_RANK).")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the whole report as JSON (top level: images, top1_error, top5_error, ...).")
@click.option("--per-class", "per_class_file", type=click.Path(dir_okay=False, path_type=Path), help="Write per-class accuracy as CSV.")
@click.option("--predictions", "predictions_file", type=click.Path(dir_okay=False, path_type=Path), help="Write every image's true row, rank and top-5 rows as CSV.")
def evaluate(model, caffemodel, images, labels, label_order, model_class_order, protocol, input_space, mean_text, interpolation, resize, crop_pct,
             input_size, global_pooling, batch, workers, device, json_file, per_class_file, predictions_file):
    """Top-1/top-5 error of a model on a folder of images, with the official protocol.

    MODEL is a PROTOTXT (with CAFFEMODEL), or a .pt, .pt2, .onnx, NAME.timm.pth or timm folder this tool wrote.
    Under `torchrun --nproc-per-node N --no-python senet-convert evaluate ...` the images are sharded over the processes.
    """
    from .evaluate.job import Options, evaluate_files

    options = Options(images=images, labels=labels, label_order=label_order, model_class_order=model_class_order, protocol=protocol,
                      input_space=input_space, mean=_mean(mean_text), interpolation=interpolation, resize=resize, crop_pct=crop_pct,
                      input_size=input_size, global_pooling=global_pooling, batch=batch, workers=workers, device=device)
    evaluate_files(model, caffemodel, options, json_file=json_file, per_class_file=per_class_file, predictions_file=predictions_file)
