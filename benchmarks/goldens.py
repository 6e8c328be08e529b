"""Parity with real Caffe on the goldens: the worst blob (and in-place snapshot) per golden model, for the
numpy oracle, the torch graph and the ONNX file in ONNX Runtime.

    python benchmarks/goldens.py [--variants mini,full]

Prints max|ours - Caffe| / max|Caffe| of the worst blob and of the worst snapshot, with their names.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
from goldens import MODELS, Comparison, load_case  # noqa: E402  (the tests' reading of the goldens)

SHARED = REPO.parent / "shared"


def _onnx_values(net, x, folder: Path) -> dict[str, np.ndarray]:
    from senet_convert.export.onnx import export_onnx
    from senet_convert.verify import onnxruntime as ort

    path = folder / "net.onnx"
    export_onnx(net, path)
    model = ort.load_model(path, with_data=True)
    names = sorted(ort.tensor_names(model) & set(net.shapes))
    return {"data": x, **ort.run_onnx(ort.ort_session(ort.with_outputs(model, names, copy=False), arena=False), {"data": x}, names)}


def _torch_values(net, x) -> dict[str, np.ndarray]:
    import torch

    from senet_convert.to_torch import lower

    with torch.inference_mode():
        return {k: v.numpy() for k, v in lower(net, intermediate=True)(torch.from_numpy(x)).items()}


def _worst(case, values) -> tuple[tuple[float, str], tuple[float, str]]:
    result = Comparison()
    for key, value in case.wanted().items():
        result.add(case.golden, key, np.asarray(values[value]))
    def worst(prefix):
        return max((err / max(scale, 1e-30), key) for key, (err, scale) in result.errors.items() if key.startswith(prefix))
    return worst("blob/"), worst("layer/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="mini,full")
    args = parser.parse_args()
    sys.path.insert(0, str(SHARED / "goldens"))
    import synthetic
    from senet_convert import reference

    print(f"{'model':<28}{'backend':<14}{'worst blob':>12}  {'(blob)':<34}{'worst snapshot':>15}  (layer)")
    for variant in args.variants.split(","):
        for model in MODELS:
            case = load_case(model, variant, SHARED / "goldens", SHARED / "senet" / "models", synthetic)
            with tempfile.TemporaryDirectory() as folder:
                rows = {
                    "oracle": reference.run(case.net, {"data": case.input}, intermediate=True),
                    "torch": _torch_values(case.net, case.input),
                    "onnxruntime": _onnx_values(case.net, case.input, Path(folder)),
                }
                for backend, values in rows.items():
                    (blob, blob_key), (snap, snap_key) = _worst(case, values)
                    print(f"{model + ' ' + variant:<28}{backend:<14}{blob:>12.3g}  {blob_key[5:]:<34}{snap:>15.3g}  {snap_key[6:]}")
                    sys.stdout.flush()


if __name__ == "__main__":
    main()
