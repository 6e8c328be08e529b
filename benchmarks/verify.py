"""verify benchmark: `senet-convert verify` on CPU at batch 1 for SE-ResNet-50 and SENet-154 (synthetic
weights), checking the torch lowering, its bf16 info row and an ONNX file in ONNX Runtime.

    python benchmarks/verify.py [--repeat N]

Each run is a fresh process (load_net + verify, as the CLI does); wall time and peak RSS above the
interpreter's baseline after imports, then where the time goes, from verify's own timings. The ONNX
file is exported once beforehand (its export time is shown too, but is not part of verify).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import CACHE, caffemodel, measure

MODELS = ["SE-ResNet-50", "SENet-154"]
STAGES = [
    ("oracle", "numpy oracle, float64, every value"),
    ("lower", "lowering to torch.fx"),
    ("torch", "torch CPU forward, float32, every value"),
    ("deployed", "torch CPU, the deployed graph, every Caffe blob"),
    ("info", "torch CPU, bf16 autocast (info row)"),
    ("onnxruntime", "ONNX Runtime: load + run, outputs and every named value"),
    ("compare", "comparisons (every value, every backend)"),
]


def onnx_file(model: str, prototxt: Path, weights: Path) -> tuple[Path, float | None]:
    path = CACHE / f"{model}.onnx"
    if path.exists() and path.stat().st_mtime > weights.stat().st_mtime:
        return path, None
    from senet_convert.export.onnx import export_onnx
    from senet_convert.loader import load_net

    start = time.perf_counter()
    export_onnx(None, load_net(prototxt, weights), path)
    return path, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1, help="fresh processes per model (median wall, max RSS)")
    args = parser.parse_args()
    rows = []
    for model in MODELS:
        prototxt, weights = caffemodel(model)
        onnx, export_seconds = onnx_file(model, prototxt, weights)
        with tempfile.TemporaryDirectory() as tmp:
            timings = Path(tmp) / "timings.json"
            setup = (
                "import json\n"
                "from senet_convert.loader import load_net\n"
                "from senet_convert.verify.inputs import make_inputs\n"
                "from senet_convert.verify import verify\n"
                "import senet_convert.to_torch, senet_convert.reference, onnxruntime\n"
            )
            step = (
                f"net = load_net({str(prototxt)!r}, {str(weights)!r})\n"
                "inputs, text = make_inputs(net, batch=1)\n"
                f"report = verify(net, inputs, onnx={str(onnx)!r}, description=text)\n"
                "assert report.ok, report.render()\n"
                f"open({str(timings)!r}, 'w').write(json.dumps(report.timings))\n"
            )
            result = measure(setup, step, repeat=args.repeat)
            result["stages"] = json.loads(timings.read_text())
        result.update(model=model, size_mib=weights.stat().st_size / 2**20, export_s=export_seconds)
        rows.append(result)

    print("verify on CPU, batch 1, synthetic weights: oracle, torch (+ bf16 info row), ONNX Runtime; "
          f"median of {args.repeat} fresh process(es), page cache warm")
    print(f"{'model':<14}{'caffemodel MiB':>16}{'wall s':>9}{'peak RSS above base, MiB':>27}")
    for r in rows:
        print(f"{r['model']:<14}{r['size_mib']:>16.0f}{r['wall_s']:>9.1f}{r['peak_above_base_mib']:>27.0f}")
    print("\nwhere the time goes (seconds; load_net is the rest):")
    print(f"{'stage':<58}" + "".join(f"{r['model']:>14}" for r in rows))
    for key, label in STAGES:
        print(f"{label:<58}" + "".join(f"{r['stages'].get(key, 0.0):>14.2f}" for r in rows))
    rest = [r["wall_s"] - sum(r["stages"].get(k, 0.0) for k, _ in STAGES) for r in rows]
    print(f"{'load_net, inputs, report':<58}" + "".join(f"{x:>14.2f}" for x in rest))
    exports = [r["export_s"] for r in rows]
    if any(e is not None for e in exports):
        print(f"\n{'(not part of verify) caffe2onnx export, s':<58}" + "".join(
            f"{e:>14.1f}" if e is not None else f"{'cached':>14}" for e in exports))


if __name__ == "__main__":
    main()
