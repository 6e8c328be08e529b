"""Measure what folding the torchvision input convention into conv1 costs, per model.

    python scripts/measure_fold_error.py                          # the six official residual SENets, synthetic weights
    python scripts/measure_fold_error.py --model P.prototxt C.caffemodel [--image photo.jpg]

Folding the RGB/[0, 1]/ImageNet-normalised convention into the first convolution (what a timm
checkpoint needs) is exact except where that convolution reads its zero padding, which then stands
for ImageNet's mean pixel instead of the prototxt's (104, 117, 123). This prints, at the logits,
max|folded - exact| absolute and relative to max|exact|, whether the top-1 and top-5 classes
agree, and for comparison the exact adapter's float32 difference (its rounding floor).

Without --model the weights are synthetic (../shared/goldens/synthetic.py). That generator is
calibrated for inputs it scales by INPUT_SCALE = 1/32: fed a raw 0-255 image its activations run
~50x hot, SE gates saturate and float32 rounding alone moves SENet-154's logits by 1e-3. So the first
convolution's synthetic weights are multiplied by INPUT_SCALE here, which puts a real 0-255 image
where the generator was calibrated. Real weights (--model) are used as they are.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from senet_convert.edits import input_space as spaces
from senet_convert.edits.class_order import last_inner_product
from senet_convert.loader import fill_weights, load_net
from senet_convert.to_torch import module_for
from shared_data import GOLDENS, load_synthetic
from shared_data import MODELS as MODELS_DIR

MODELS = ["SE-ResNet-50", "SE-ResNet-101", "SE-ResNet-152", "SE-ResNeXt-50", "SE-ResNeXt-101", "SENet-154"]



def synthetic_net(prototxt: Path, synthetic, scale_first_conv: bool = True):
    """The official net with synthetic.py's weights (in memory), conv1 scaled by INPUT_SCALE."""
    net = fill_weights(load_net(prototxt), synthetic.synthetic_blob)
    if scale_first_conv:
        conv = spaces.first_convolution(net)
        conv.blobs[0] = conv.blobs[0] * np.float32(synthetic.INPUT_SCALE)
    return net


def measure(net, image: np.ndarray) -> dict:
    """The folding error and the exact adapter's rounding, both against the Caffe-convention run."""
    result = spaces.measure_fold_error(net, image)
    logits = [last_inner_product(net).caffe_tops[0]]
    with torch.no_grad():
        exact = module_for(net, logits)(torch.from_numpy(spaces.to_input(image, spaces.convention("caffe", net.mean_bgr))))
        adapted = module_for(spaces.add_adapter(net, "torchvision"), logits)(torch.from_numpy(spaces.to_input(image, spaces.convention("torchvision", None))))
    result["adapter_relative"] = spaces.compare(exact.numpy(), adapted.numpy())["relative"]
    return result


def load_image(path: Path, size: int = 224) -> np.ndarray:
    from PIL import Image

    image = Image.open(path).convert("RGB")
    scale = 256 / min(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
    left, top = (image.width - size) // 2, (image.height - size) // 2
    return np.asarray(image.crop((left, top, left + size, top + size)), dtype=np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs=2, metavar=("PROTOTXT", "CAFFEMODEL"), help="real weights instead of the synthetic ones")
    parser.add_argument("--image", type=Path, help="a photograph (resized to 256, centre crop 224) instead of natural_image()")
    parser.add_argument("--synthetic", type=Path, default=GOLDENS / "synthetic.py")
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    args = parser.parse_args()
    image = spaces.natural_image() if args.image is None else load_image(args.image)
    what = "natural_image(224, seed 0)" if args.image is None else str(args.image)
    if args.model:
        nets = [(Path(args.model[0]).stem, lambda: load_net(*args.model))]
        weights = "real weights"
    else:
        synthetic = load_synthetic(args.synthetic)
        nets = [(m, lambda m=m: synthetic_net(args.models_dir / f"{m}.prototxt", synthetic)) for m in MODELS]
        weights = "synthetic weights, conv1 x INPUT_SCALE"
    print(f"folding the torchvision convention into conv1: logits on {what}, {weights}, float32, torch {torch.__version__}\n")
    print("| model | max abs diff | max abs logit | relative | top-1 same | top-5 shared | exact adapter, relative |")
    print("|---|---:|---:|---:|:---:|:---:|---:|")
    for model, make in nets:
        r = measure(make(), image)
        print(
            f"| {model} | {r['max_abs']:.3g} | {r['max_abs_logit']:.3g} | {r['relative']:.2e} | "
            f"{'yes' if r['top1_same'] else 'NO'} | {r['top5_overlap']}/5 | {r['adapter_relative']:.1e} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
