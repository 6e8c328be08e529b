"""The `senet-convert` command: a thin click group over the Python API."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .errors import ConvertError

_existing = click.Path(dir_okay=False, path_type=Path)


class _Group(click.Group):
    """Turns ConvertError (bad input) into one line on stderr and exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ConvertError as exc:
            click.echo(f"senet-convert: error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("senet-convert: interrupted", err=True)
            sys.exit(130)


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
    from .loader import load_net
    from .progress import Progress
    from .summary import render, summarize

    progress = Progress("reading caffemodel", unit="B")
    try:
        net = load_net(prototxt, caffemodel, batch=batch, progress=progress)
    finally:
        progress.close()
    summary = summarize(net)
    click.echo(json.dumps(summary, indent=1) if as_json else render(summary))


def _split_outputs(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _output_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise ConvertError(f"{path}: exists and is not a directory")
    return path


@main.command()
@click.argument("prototxt", type=_existing)
@click.argument("caffemodel", type=_existing)
@click.option("-o", "--output-dir", type=click.Path(path_type=Path), default=Path("."), show_default=True, help="Where to write NAME.pt and NAME.pt2.")
@click.option("--name", help="Base name of the files written (default: the prototxt's name).")
@click.option("--outputs", help="Caffe blobs the module returns, comma-separated (e.g. classifier); default: the net's outputs.")
@click.option("--pt2/--no-pt2", default=True, show_default=True, help="Write the torch.export program NAME.pt2.")
@click.option("--safetensors", is_flag=True, help="Also write the state_dict as NAME.safetensors.")
def caffe2torch(prototxt, caffemodel, output_dir, name, outputs, pt2, safetensors):
    """Convert to PyTorch: NAME.pt (weights-only checkpoint) and NAME.pt2 (torch.export, dynamic batch)."""
    from .pipeline import convert_files

    convert_files(prototxt, caffemodel, _output_dir(output_dir), name=name, outputs=_split_outputs(outputs), pt2=pt2, safetensors=safetensors)
