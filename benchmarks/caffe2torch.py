"""caffe2torch benchmark: wall time and peak RSS for SE-ResNet-50 and a SENet-154-sized caffemodel.

    python benchmarks/caffe2torch.py

Target for SENet-154: <= 3.5 s and peak RSS above the baseline <= 1.5x the file.
Each number is the median of 3 fresh processes (imports excluded: they are the baseline);
the step breakdown is one more process that times each step. For scale, the same run exports timm's
hand-written model of the same architecture (legacy_seresnet50, legacy_senet154; made in the setup,
not timed) with torch.export and saves it, with the same dynamic batch: the intrinsic cost of a .pt2,
beside the .pt2 step of ours.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile

from common import REPO, caffemodel, measure

TIMM = {"SE-ResNet-50": "legacy_seresnet50", "SENet-154": "legacy_senet154"}
TIMM_SETUP = """
import timm, torch
from pathlib import Path
model = timm.create_model({name!r}, pretrained=False).eval()
examples = (torch.zeros(2, 3, 224, 224),)
dynamic = ({{0: torch.export.Dim("batch", min=1, max=4096)}},)
"""
TIMM_STEP = """
with torch.no_grad():
    program = torch.export.export(model, examples, dynamic_shapes=dynamic)
with open(Path({out!r}) / "timm.pt2", "wb") as f:
    torch.export.save(program, f)
"""

BREAKDOWN = r"""
import json, sys, time
from pathlib import Path
from senet_convert.to_torch import module_for
from senet_convert.export.checkpoint import save_checkpoint, save_pt2, source_hashes
from senet_convert.loader import load_net
prototxt, model, out = sys.argv[1:4]
times = {}
t = time.perf_counter(); net = load_net(prototxt, model); times["read prototxt + caffemodel"] = time.perf_counter() - t
t = time.perf_counter(); module = module_for(net); times["lower to torch.fx"] = time.perf_counter() - t
t = time.perf_counter(); hashes = source_hashes(net); times["sha256 of the sources"] = time.perf_counter() - t
t = time.perf_counter(); save_checkpoint(module, net, Path(out) / "m.pt", None, hashes); times["write .pt"] = time.perf_counter() - t
t = time.perf_counter(); save_pt2(module, net, Path(out) / "m.pt2"); times["torch.export + write .pt2"] = time.perf_counter() - t
print(json.dumps(times))
"""


def main() -> None:
    for model in ("SE-ResNet-50", "SENet-154"):
        prototxt, weights = caffemodel(model)
        size_mib = weights.stat().st_size / 2**20
        print(f"\n{model}: {weights.name} {size_mib:.0f} MiB")
        with tempfile.TemporaryDirectory() as out:
            # what the job imports (torch, the lowering, the writers) is the baseline, not the step
            setup = ("from senet_convert.jobs import convert_files; from pathlib import Path; "
                     "import torch, senet_convert.to_torch, senet_convert.export.checkpoint")
            rows = []
            for label, pt2 in (("caffe2torch --no-pt2 (.pt)", False), ("caffe2torch (.pt + .pt2)", True)):
                step = f"convert_files(Path({str(prototxt)!r}), Path({str(weights)!r}), Path({out!r}), pt2={pt2}, quiet=True)"
                rows.append((label, measure(setup, step)))
            if importlib.util.find_spec("timm") is not None:
                rows.append((f"timm {TIMM[model]}: torch.export + save", measure(TIMM_SETUP.format(name=TIMM[model]), TIMM_STEP.format(out=out))))
            print(f"  {'job':<30}{'wall s':>8}{'peak RSS above base MiB':>26}{'x file':>8}")
            for label, r in rows:
                print(f"  {label:<30}{r['wall_s']:>8.2f}{r['peak_above_base_mib']:>26.0f}{r['peak_above_base_mib'] / size_mib:>8.2f}")
            done = subprocess.run([sys.executable, "-c", BREAKDOWN, str(prototxt), str(weights), out], check=True, capture_output=True, text=True, cwd=REPO)
            times = json.loads(done.stdout.strip().splitlines()[-1])
            total = sum(times.values())
            print("  step breakdown (one process):")
            for step, seconds in times.items():
                print(f"    {step:<30}{seconds:>7.2f} s {100 * seconds / total:>5.0f}%")
            if len(rows) > 2:
                ours, timm_export = times["torch.export + write .pt2"], rows[2][1]["wall_s"]
                print(f"  our .pt2 step / timm's torch.export + save: {ours:.2f} s / {timm_export:.2f} s = {ours / timm_export:.2f}x")


if __name__ == "__main__":
    main()
