"""ONNX parity: each official architecture (synthetic weights) in ONNX Runtime against the float64 oracle
at every value the file names, exact and optimized; the golden models against real Caffe's logits.

    python benchmarks/onnx_parity.py [--models ...] [--batch 1]

Prints max|ort - oracle| / max|oracle| of the worst value (and which), and the number of values compared.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from common import SHARED, synthetic, synthetic_net

OFFICIAL = "SE-BN-Inception,SE-ResNet-50,SE-ResNet-101,SE-ResNet-152,SE-ResNeXt-50,SE-ResNeXt-101,SENet-154"


def worst(path: Path, oracle: dict, x: np.ndarray) -> tuple[float, str, int]:
    from senet_convert.export import onnx as ox
    from senet_convert.verify import onnxruntime as ort

    model = ort.load_model(path, with_data=True)
    names = sorted(ort.tensor_names(model) & set(oracle))
    session = ort.ort_session(ort.with_outputs(model, names, copy=False), arena=False)
    got = ort.run_onnx(session, {"data": x}, names)
    return (*max((float(np.abs(got[v] - oracle[v]).max() / max(np.abs(oracle[v]).max(), 1e-30)), v) for v in names), len(names))


def main() -> None:
    from senet_convert.export import onnx as ox
    from senet_convert.verify import onnxruntime as ort
    from senet_convert import reference

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=OFFICIAL)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    gen = synthetic()
    print(f"ONNX Runtime vs the float64 oracle at every value, batch {args.batch} (max|d| / max|oracle|, worst value)")
    with tempfile.TemporaryDirectory() as out:
        for model in args.models.split(","):
            net = synthetic_net(model, batch=args.batch)
            x = gen.synthetic_input((args.batch, 3, 224, 224), seed=0)
            oracle = reference.run(net, {"data": x}, intermediate=True)
            for variant, optimized in (("exact", False), ("optimized", True)):
                path = Path(out) / f"{variant}.onnx"
                ox.export_onnx(net, path, optimized=optimized)
                error, value, compared = worst(path, oracle, x)
                print(f"  {model:<16}{variant:<10}{error:>10.2e}  ({compared} values; worst {value})", flush=True)
            del oracle, net
        print("\nONNX Runtime vs real Caffe's logits (goldens, batch 2)")
        for model in ("SE-ResNet-50", "SE-BN-Inception", "SE-ResNeXt-50"):
            golden = np.load(SHARED / "goldens" / f"{model}.golden.npz")
            net = synthetic_net(model, batch=2)
            x = gen.synthetic_input(tuple(golden["input_shape"]), seed=int(golden["input_seed"]))
            for variant, optimized in (("exact", False), ("optimized", True)):
                path = Path(out) / f"{variant}.onnx"
                ox.export_onnx(net, path, outputs=["classifier"], optimized=optimized)
                (logits,) = ort.run_onnx(ort.ort_session(path), {"data": x}).values()
                want = golden["blob/classifier/data"]
                print(f"  {model:<16}{variant:<10}{float(np.abs(logits - want).max() / np.abs(want).max()):>10.2e}")


if __name__ == "__main__":
    main()
