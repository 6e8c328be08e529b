"""A legal net declared for a huge input: caffe2torch's and verify's peak memory, the .pt2's size.

    python benchmarks/huge_input.py [--size 6000]

The net (a strided convolution, global average pooling, a classifier: 113 parameters) takes
3 x SIZE x SIZE; nothing in it depends on the spatial size but the activations. Each command runs
in a fresh process; peak RSS is the whole process's, imports included.
verify's verdict is not the point here (exit 1 is allowed): at a huge declared size a float32
average over millions of values can leave the tolerance. Targets: peak RSS of caffe2torch and verify under 1.5 GiB whatever SIZE; the .pt2's sample inputs
under 64 KiB.
"""
from __future__ import annotations

import argparse
import tempfile
import zipfile
from pathlib import Path

from common import measure

NET = """name: "wide"
input: "data"
input_shape {{ dim: 1 dim: 3 dim: {size} dim: {size} }}
layer {{ name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param {{ num_output: 4 kernel_size: 3 stride: 2 }} }}
layer {{ name: "relu" type: "ReLU" bottom: "conv" top: "conv" }}
layer {{ name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param {{ pool: AVE global_pooling: true }} }}
layer {{ name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param {{ num_output: 5 }} }}
layer {{ name: "prob" type: "Softmax" bottom: "fc" top: "prob" }}
"""


def write_net(folder: Path, size: int) -> tuple[Path, Path]:
    import numpy as np

    from senet_convert.caffe.writer import write_net_weights
    from senet_convert.loader import load_net

    proto = folder / "wide.prototxt"
    proto.write_text(NET.format(size=size))
    rng = np.random.default_rng(0)
    write_net_weights(load_net(proto), folder / "wide.caffemodel", lambda n, t, i, s: rng.standard_normal(s).astype(np.float32))
    return proto, folder / "wide.caffemodel"


def cli(*args: str, allowed: tuple[int, ...] = (0,)) -> str:
    """The command in-process; exit codes other than `allowed` fail the measurement."""
    return (f"import sys\nfrom senet_convert.cli import main\nsys.argv = ['senet-convert', *{list(args)!r}]\n"
            f"try:\n    main()\nexcept SystemExit as e:\n    assert (e.code or 0) in {allowed!r}, e.code")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=6000)
    size = parser.parse_args().size
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        proto, model = write_net(folder, size)
        convert = measure("", cli("caffe2torch", str(proto), str(model), "-o", str(folder / "out")), repeat=1)
        pt2 = folder / "out" / "wide.pt2"
        with zipfile.ZipFile(pt2) as archive:
            samples = sum(i.file_size for i in archive.infolist() if "sample_inputs" in i.filename)
        check = measure("", cli("verify", str(proto), str(model), "--no-info", allowed=(0, 1)), repeat=1)
        print(f"net: 3 x {size} x {size} input, global average pooling, 113 parameters")
        print(f"{'command':<12}{'wall s':>8}{'peak RSS MiB':>14}")
        for name, r in (("caffe2torch", convert), ("verify", check)):
            print(f"{name:<12}{r['wall_s']:>8.1f}{r['base_mib'] + r['peak_above_base_mib']:>14.0f}")
        print(f".pt2: {pt2.stat().st_size:,} bytes, of which sample inputs {samples:,} bytes (target < 65,536)")


if __name__ == "__main__":
    main()
