"""evaluate's throughput on the CPU for SE-ResNet-50: decoding alone, the model alone, and both together.

    python benchmarks/evaluate.py [--images 64] [--workers 0,2] [--batch 16] [--model SE-ResNet-50]

Synthetic JPEGs (500 x 375, the typical ImageNet validation size, natural-looking content from
input_space.natural_image, quality 90) are written into a temporary folder; the model is the official
prototxt with synthetic weights (benchmarks/common.py). Decoding runs the official protocol (Pillow
decode, shorter side to 256, bilinear, centre 224 crop, BGR minus the mean) through evaluate's
DataLoader with each worker count; the model runs the exact graph on random inputs of the same shape
after one untimed batch; the end-to-end row is the evaluate command's own measurement (its report's
images/s and bottleneck line). Ratios within one run are what to compare: the machine's speed drifts.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import MODELS, REPO, caffemodel, synthetic_net


def write_images(folder: Path, count: int) -> Path:
    from PIL import Image

    from senet_convert.edits.class_order import devkit_wnids
    from senet_convert.edits.input_space import natural_image

    lines = []
    for i in range(count):
        array = natural_image(512, seed=i)[:375, :500]
        name = f"ILSVRC2012_val_{i + 1:08d}.JPEG"
        Image.fromarray(array).save(folder / name, format="JPEG", quality=90)
        lines.append(f"{name} {i % 1000}")
    labels = folder.parent / "val.txt"
    labels.write_text("\n".join(lines) + "\n")
    assert len(devkit_wnids()) == 1000
    return labels


def decoding_rate(folder: Path, workers: int, batch: int) -> float:
    from torch.utils.data import DataLoader

    from senet_convert.evaluate.images import ImageFolderItems, collate
    from senet_convert.evaluate.labels import image_files
    from senet_convert.evaluate.protocol import make_protocol
    from senet_convert.edits.input_space import convention

    files = image_files(folder)
    protocol = make_protocol("official", convention("caffe", (104.0, 117.0, 123.0)), (224, 224))
    loader = DataLoader(ImageFolderItems(folder, files, range(len(files)), protocol), batch_size=batch, num_workers=workers, collate_fn=collate)
    start = time.perf_counter()
    n = sum(len(positions) for positions, *_ in loader)
    return n / (time.perf_counter() - start)


def model_rate(model: str, batch: int, rounds: int = 3) -> float:
    import torch

    from senet_convert.to_torch import module_for

    net = synthetic_net(model)
    module = module_for(net, ["classifier"])
    x = torch.randn(batch, 3, 224, 224)
    with torch.inference_mode():
        module(x)
        start = time.perf_counter()
        for _ in range(rounds):
            module(x)
    return rounds * batch / (time.perf_counter() - start)


def end_to_end(model: str, folder: Path, labels: Path, workers: int, batch: int) -> dict:
    prototxt, weights = caffemodel(model)
    out = folder.parent / "report.json"
    command = [sys.executable, "-c", "from senet_convert.cli import main; main()", "evaluate", str(prototxt), str(weights), "--images", str(folder),
               "--labels", str(labels), "--workers", str(workers), "--batch", str(batch), "--device", "cpu", "--json", str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--workers", default="0,2")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--model", default="SE-ResNet-50")
    args = parser.parse_args()
    if not (MODELS / f"{args.model}.prototxt").exists():
        sys.exit(f"{MODELS / (args.model + '.prototxt')} is absent: the benchmarks need ../shared beside the repo")
    with tempfile.TemporaryDirectory(prefix="senet-evaluate-bench.") as tmp:
        folder = Path(tmp) / "val"
        folder.mkdir()
        labels = write_images(folder, args.images)
        print(f"{args.images} synthetic 500x375 JPEGs, official protocol; {args.model} exact graph, batch {args.batch}, CPU")
        for workers in (int(w) for w in args.workers.split(",")):
            print(f"  decoding, {workers} DataLoader worker(s): {decoding_rate(folder, workers, args.batch):8.1f} images/s")
        print(f"  model alone ({args.model}):          {model_rate(args.model, args.batch):8.1f} images/s")
        workers = max(int(w) for w in args.workers.split(","))
        report = end_to_end(args.model, folder, labels, workers, args.batch)
        speed = report["speed"]
        print(f"  evaluate end to end, {workers} worker(s):  {speed['images_per_second']:8.1f} images/s "
              f"(limited by {speed['limited_by']}; waited {speed['wait_for_decoding_s']:.1f} s, model {speed['model_s']:.1f} s)")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
