"""Regenerate docs/model-card-example.md: the model card `caffe2torch --to timm` writes, from a real conversion.

    python scripts/model_card_example.py

The official SE-ResNet-50 prototxt (../shared/senet/models) with the project's synthetic weights
(../shared/goldens/synthetic.py), written to a caffemodel and converted by the command line with
--input-space torchvision --class-order sorted; its README.md is copied to the docs unchanged. As in
scripts/measure_fold_error.py, conv1's synthetic weights are scaled by the generator's INPUT_SCALE so
that a 0-255 image is in the regime it was calibrated for. The original weights cannot be downloaded
here, so the card's sha256 are those of the synthetic files (and the release's published accuracy,
which the card quotes, does not describe them). tests/test_timm_folder.py checks the docs copy against
a fresh run.
"""
from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODEL = "SE-ResNet-50"
DOC = REPO / "docs" / "model-card-example.md"
ARGS = ["--to", "timm", "--input-space", "torchvision", "--class-order", "sorted"]


def synthetic_module(shared: Path = SHARED):
    spec = importlib.util.spec_from_file_location("senet_synthetic", shared / "goldens" / "synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_scaled_caffemodel(prototxt: Path, path: Path, synthetic) -> Path:
    """`prototxt`'s net with synthetic weights, the first convolution's scaled by INPUT_SCALE, as a caffemodel."""
    from senet_convert.edits import input_space as spaces
    from senet_convert.caffe.writer import write_net_weights
    from senet_convert.loader import load_net

    net = load_net(prototxt)
    first = spaces.first_convolution(net).name

    def blob(name, kind, index, shape):
        scale = synthetic.INPUT_SCALE if (name, index) == (first, 0) else 1.0
        return synthetic.synthetic_blob(name, kind, index, shape) * np.float32(scale)

    write_net_weights(net, path, blob)
    return path


def render(work: Path, shared: Path = SHARED) -> str:
    """Convert in `work` and return the card the tool wrote."""
    from click.testing import CliRunner

    from senet_convert.cli import main

    prototxt = shared / "senet" / "models" / f"{MODEL}.prototxt"
    caffemodel = write_scaled_caffemodel(prototxt, work / f"{MODEL}.caffemodel", synthetic_module(shared))
    result = CliRunner().invoke(main, ["caffe2torch", str(prototxt), str(caffemodel), *ARGS, "-o", str(work / "out")])
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    return (work / "out" / MODEL / "README.md").read_text()


def main() -> None:
    sys.path.insert(0, str(REPO))
    work = Path(tempfile.mkdtemp(prefix="model-card."))
    try:
        DOC.write_text(render(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
