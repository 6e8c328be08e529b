"""The GPU benchmark and the traffic count still run, end to end, on the CPU.

benchmarks/gpu.py is written for a GPU session that has minutes, not hours: it must not be the
first thing to break there. On the CPU its speeds mean nothing; what is checked is that every row
runs, the table and the targets print, and the optimized graph agrees with the exact one.
benchmarks/traffic.py counts kernels and bytes, which are the same on any machine.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest
from conftest import REPO

HAS_TIMM = importlib.util.find_spec("timm") is not None


@pytest.fixture(scope="module")
def bench(tmp_path_factory, models_dir, goldens_dir):
    """Run a benchmark script with its synthetic caffemodels cached in a temporary folder."""
    env = {**os.environ, "SENET_BENCH_CACHE": str(tmp_path_factory.mktemp("bench-cache"))}

    def run(script: str, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / script), *args],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    return run


def test_gpu_benchmark_runs_every_eager_row(bench):
    out = bench("gpu.py", "--device", "cpu", "--batch", "1", "--quick", "--models", "SE-ResNet-50", "--compile-models", "none")
    graphs = ("exact", "optimized", "timm") if HAS_TIMM else ("exact", "optimized")
    for graph in graphs:
        for mode in ("fp32", "tf32", "bf16-cl"):
            assert re.search(rf"SE-ResNet-50\s+{mode}\s+{graph}\s+[\d.]+ img/s", out), (graph, mode, out)
    parity = re.search(r"optimized vs exact logits on cpu, fp32, TF32 off: max\|d\|/max\|exact\| (\S+)", out)
    assert parity and float(parity.group(1)) <= 1e-5, out
    assert "failed:" not in out
    if HAS_TIMM:
        assert re.search(r"exact\s+bf16-cl\s+[\d.]+x\s+\(>= 0\.97x", out) and "of 6 met" in out, out
    else:
        assert "timm is not installed" in out


def test_traffic_count_shows_the_one_pass_batchnorm(bench):
    out = bench("traffic.py", "--models", "SE-ResNet-50", "--batch", "2")
    rows = {m.group(1): (int(m.group(2)), float(m.group(3))) for m in re.finditer(
        r"^\s+(exact|optimized|timm)\s+(\d+)\s+\d+\s+([\d.]+)", out, re.MULTILINE)}
    # per SE-ResNet-50 forward pass: 53 convolutions, and no more than a handful of kernels per layer
    assert 150 < rows["optimized"][0] < rows["exact"][0] < 300, out
    if HAS_TIMM:
        assert rows["exact"][0] < rows["timm"][0], out


def test_cuda_verify_table_runs(bench):
    out = bench("cuda_verify.py", "--device", "cpu", "--batch", "1", "--models", "SE-ResNet-50")
    assert re.search(r"^SE-ResNet-50\s+308/308 \S+\s+121/121 \S+\s+-\s+\S+\s+1/1\s+\d+\s+ok$", out, re.MULTILINE), out
    assert "0 failed" in out


def test_gpu_benchmark_fuses_each_conv_relu_pair(models_dir, goldens_dir, monkeypatch):
    # The optimized+cudnn row runs on CUDA only; on the CPU its modules take the plain path, so what
    # can be checked here is that the rewrite finds every pair and leaves the numbers alone.
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import torch
    from common import synthetic_net
    from gpu import FusedConvReLU, fuse_conv_relu

    from senet_convert.to_torch.optimize import optimize

    optimized, _ = optimize(synthetic_net("SE-ResNet-50"), outputs=["classifier"])
    fused = fuse_conv_relu(optimized)
    # the stem, and the first two convolutions of each of the 16 bottlenecks (the third has no ReLU)
    assert sum(isinstance(m, FusedConvReLU) for m in fused.modules()) == 1 + 2 * 16
    assert not any(isinstance(m, FusedConvReLU) for m in optimized.modules())  # the original is untouched
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(fused(x), optimized(x))
