"""GPU throughput: the exact graph, the optimized graph and timm's legacy SENets, side by side.

    python benchmarks/gpu.py [--quick] [--models SE-ResNet-50,SE-ResNeXt-50,SENet-154] [--compile-models ...]

Images/s at batch 128, 224 x 224, for each model in four modes:
  fp32       float32, TF32 off, NCHW
  tf32       float32 with TF32 matmuls and convolutions, NCHW
  bf16-cl    bf16 autocast, channels_last (model and input)
  compiled   bf16-cl under torch.compile (default mode); by default for SE-ResNet-50 only, the model
             timm's compiled anchor exists for (--compile-models all: every model, several minutes more)
and for every low-precision row the logits' max error (max|d| / max|fp32 logits|) and top-1 agreement
against the same graph in fp32. An experimental row, optimized+cudnn (eager, CUDA; --no-fused leaves it
out), replaces each conv -> ReLU pair of the optimized graph by cuDNN's fused conv + bias + ReLU: plain
eager PyTorch adds a conv's bias in a pass of its own, so folding BatchNorm into the conv saves no pass
over timm's conv -> BatchNorm until bias and ReLU ride in the convolution's epilogue.

Throughput is the median over timed repetitions after warm-up, each
repetition long enough (>= 0.25 s, --quick 0.1 s) and bracketed by synchronisation; the graphs of one mode
are measured in interleaved repetitions so that clock changes hit all alike. cudnn.benchmark is on for all.
Our graphs are the official prototxts with synthetic weights (benchmarks/common.py); timm's have random
weights (speed only). Without timm, or without a CUDA device (then --device cpu --batch 2 runs it as a
smoke test), the rows that cannot run are listed as skipped.

Targets, in one run: the exact graph >= 0.97x timm in every mode; the optimized graph >= 1.15x
timm in fp32, tf32 and bf16-cl; compiled, the optimized graph >= 0.95x compiled timm.
Anchors (H200, timm 1.0.29, torch 2.11), img/s: see ANCHORS.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import math
import statistics
import sys
import time
import traceback

import numpy as np
import torch
from common import synthetic, synthetic_net
from torch import nn

TIMM = {
    "SE-ResNet-50": "legacy_seresnet50",
    "SE-ResNeXt-50": "legacy_seresnext50_32x4d",
    "SENet-154": "legacy_senet154",
}
ANCHORS = {  # timm on the H200, img/s: fp32, tf32, bf16-cl, compiled
    "SE-ResNet-50": (3381, 6090, 11375, 17293),
    "SE-ResNeXt-50": (2396, 4974, 9502, None),
    "SENet-154": (656, 1536, 2701, None),
}
MODES = ("fp32", "tf32", "bf16-cl", "compiled")
GRAPHS = ("exact", "optimized", "optimized+cudnn", "timm")


class FusedConvReLU(nn.Module):
    """Experimental (eager CUDA only): convolution + bias + ReLU in one cuDNN call, torch.cudnn_convolution_relu.

    In eager mode a convolution's bias is a second pass over its output and the ReLU a third; this row
    measures whether cuDNN's fused kernel wins them back. The op is not autocast-aware: the autocast
    dtype is applied by hand. The first call in each setting (autocast or not, dtype, memory format)
    checks it against the plain path; an error or a gross difference there makes the module use the
    plain path in that setting (counted in `fallbacks`).
    """

    fallbacks = 0

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.conv = conv
        self.usable: dict[tuple, bool] = {}

    def plain(self, x):
        return torch.relu(self.conv(x))

    def fused(self, x):
        w, b = self.conv.weight, self.conv.bias
        if torch.is_autocast_enabled(x.device.type):
            dtype = torch.get_autocast_dtype(x.device.type)
            x, w, b = x.to(dtype), w.to(dtype), b.to(dtype)
        c = self.conv
        return torch.cudnn_convolution_relu(x, w, b, c.stride, c.padding, c.dilation, c.groups)

    def forward(self, x):
        if not x.is_cuda:
            return self.plain(x)
        autocast = torch.is_autocast_enabled(x.device.type)
        key = (autocast, x.dtype, x.is_contiguous())
        if key not in self.usable:
            try:
                got, want = self.fused(x).float(), self.plain(x).float()
                tolerance = 5e-2 if autocast else 1e-2  # a sanity check, not a precision test
                self.usable[key] = bool((got - want).abs().max() <= tolerance * want.abs().max().clamp_min(1e-6))
            except Exception:
                self.usable[key] = False
            FusedConvReLU.fallbacks += not self.usable[key]
        return self.fused(x) if self.usable[key] else self.plain(x)


def fuse_conv_relu(module):
    """A copy of the optimized GraphModule with each conv (with bias) -> ReLU (its only reader) fused."""
    from senet_convert.to_torch.optimize import PointwiseConv2d

    # a new GraphModule over a copy of the graph: submodules (and parameters) shared, swaps its own
    module = torch.fx.GraphModule(module, copy.deepcopy(module.graph), class_name=type(module).__name__)
    for node in module.graph.nodes:
        if node.op != "call_module" or not isinstance(module.get_submodule(node.target), nn.ReLU):
            continue
        (source,) = node.args
        if source.op != "call_module" or len(source.users) != 1:
            continue
        conv = module.get_submodule(source.target)
        if type(conv) is PointwiseConv2d or not isinstance(conv, nn.Conv2d) or conv.bias is None:
            continue
        module.add_submodule(source.target, FusedConvReLU(conv))
        module.add_submodule(node.target, nn.Identity())
    return module


def tf32(enabled: bool):
    """TF32 for CUDA matmuls and cuDNN convolutions on or off, restored afterwards (verify's switch)."""
    from senet_convert.verify import precision

    return precision("cuda", tf32=enabled)


class Bench:
    def __init__(self, args):
        self.args = args
        self.device = torch.device(args.device)
        self.cuda = self.device.type == "cuda"
        self.start = time.perf_counter()
        self.results: dict[tuple[str, str, str], dict] = {}  # (model, graph, mode) -> row
        self.skipped: list[str] = []
        self.parity: dict[str, float] = {}  # model -> optimized vs exact logits, fp32 on the device
        self.min_seconds = 0.1 if args.quick else 0.25
        self.warmup = 2 if args.quick else 5
        self.reps = 3 if args.quick else 7

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def over_budget(self) -> bool:
        return time.perf_counter() - self.start > self.args.budget

    @contextlib.contextmanager
    def mode(self, mode: str):
        with torch.inference_mode(), tf32(mode != "fp32"):
            yield

    def runner(self, mode: str, graph):
        """One call as a user makes it: bf16 modes enter autocast per call (as timm's benchmark.py does)."""
        if mode not in ("bf16-cl", "compiled"):
            return graph

        def run(x):
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                return graph(x)

        return run

    def run_mode(self, model: str, mode: str, graphs: dict, x, reference: dict) -> None:
        """Warm up every graph, then interleaved timed repetitions; logits checked against fp32."""
        batch = x.shape[0]
        live: dict = {}
        logits: dict = {}
        per_call: dict = {}
        with self.mode(mode):
            for name, graph in graphs.items():
                fn = self.runner(mode, graph)
                if self.over_budget():
                    self.skipped.append(f"{model} {name} {mode}: time budget ({self.args.budget:.0f} s) spent")
                    continue
                try:
                    started = time.perf_counter()
                    out = fn(x)
                    self.sync()
                    first = time.perf_counter() - started
                    for _ in range(self.warmup):
                        out = fn(x)
                    self.sync()
                    started = time.perf_counter()
                    out = fn(x)
                    self.sync()
                    per_call[name] = time.perf_counter() - started
                    logits[name] = out.float().cpu().numpy()
                    live[name] = fn
                    if mode == "compiled":
                        print(f"  {model} {name}: compiled in {first:.0f} s", flush=True)
                except Exception as exc:  # a row that cannot run is reported, not fatal
                    message = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
                    self.results[(model, name, mode)] = {"error": message}
                    if self.args.verbose:
                        traceback.print_exc()
            calls = {name: max(1, math.ceil(self.min_seconds / max(per_call[name], 1e-6))) for name in live}
            rates: dict = {name: [] for name in live}
            for _ in range(self.reps):
                for name, fn in live.items():
                    self.sync()
                    started = time.perf_counter()
                    for _ in range(calls[name]):
                        fn(x)
                    self.sync()
                    rates[name].append(batch * calls[name] / (time.perf_counter() - started))
        for name in live:
            row = {"img_s": statistics.median(rates[name]), "spread": (min(rates[name]), max(rates[name]))}
            if mode == "fp32":
                reference[(model, name)] = logits[name]
            elif (model, name) in reference:
                want = reference[(model, name)]
                row["max_err"] = float(np.abs(logits[name] - want).max() / np.abs(want).max())
                row["top1"] = float((logits[name].argmax(1) == want.argmax(1)).mean())
            self.results[(model, name, mode)] = row
            extra = f", max err {row['max_err']:.1e}, top-1 {100 * row['top1']:.0f}%" if "max_err" in row else ""
            elapsed = time.perf_counter() - self.start
            line = f"  [{elapsed:4.0f} s] {model:<14} {mode:<9} {name:<16} {row['img_s']:>9.1f} img/s{extra}"
            print(line, flush=True)


def load_graphs(model: str, bench: Bench, timm):
    """The graphs of `model` on the device, fp32, NCHW: name -> module."""
    from senet_convert.to_torch import module_for
    from senet_convert.to_torch.optimize import optimize

    net = synthetic_net(model)  # synthetic.py's weights, in memory: no caffemodel to write first
    modules = {"exact": module_for(net, ["classifier"]), "optimized": optimize(net, outputs=["classifier"]).module}
    del net
    if bench.args.no_fused:
        bench.skipped.append(f"{model} optimized+cudnn: --no-fused")
    elif not bench.cuda:
        bench.skipped.append(f"{model} optimized+cudnn: needs CUDA (cuDNN's fused kernel)")
    else:
        modules["optimized+cudnn"] = fuse_conv_relu(modules["optimized"])
    if timm is None:
        bench.skipped.append(f"{model} timm ({TIMM[model]}): timm is not installed")
    else:
        try:
            modules["timm"] = timm.create_model(TIMM[model], pretrained=False).eval()
        except Exception as exc:
            bench.skipped.append(f"{model} timm ({TIMM[model]}): {type(exc).__name__}: {exc}")
    return {name: m.to(bench.device) for name, m in modules.items()}


def report(bench: Bench, models: list[str]) -> None:
    print("\nimg/s (x timm); low-precision rows: logits max error / top-1 agreement against the same graph in fp32")
    header = f"{'model':<14}{'graph':<17}" + "".join(f"{m:>20}" for m in MODES)
    print(header)
    verdicts = []
    for model in models:
        for graph in GRAPHS:
            cells = []
            for mode in MODES:
                row = bench.results.get((model, graph, mode))
                base = bench.results.get((model, "timm", mode), {}).get("img_s")
                if row is None:
                    cells.append("-")
                elif "error" in row:
                    cells.append("failed")
                else:
                    ratio = f" ({row['img_s'] / base:.2f}x)" if base and graph != "timm" else ""
                    cells.append(f"{row['img_s']:.0f}{ratio}")
            print(f"{model:<14}{graph:<17}" + "".join(f"{c:>20}" for c in cells))
            acc = []
            for mode in MODES[1:]:
                row = bench.results.get((model, graph, mode), {})
                acc.append(f"{row['max_err']:.1e} / {100 * row['top1']:.0f}%" if "max_err" in row else "")
            if any(acc):
                print(f"{'':<14}{'':<17}{'':>20}" + "".join(f"{c:>20}" for c in acc))
        anchors = ANCHORS[model]
        print(f"{model:<14}{'timm anchor':<17}" + "".join(f"{a if a else '-':>20}" for a in anchors))
        for mode in MODES:
            base = bench.results.get((model, "timm", mode), {}).get("img_s")
            needs = [("exact", 0.97), ("optimized", 0.95 if mode == "compiled" else 1.15), ("optimized+cudnn", 1.15)]
            for graph, need in needs:
                mine = bench.results.get((model, graph, mode), {}).get("img_s")
                if base and mine:
                    verdicts.append((model, graph, mode, mine / base, need))
    for model, parity in bench.parity.items():
        print(f"{model}: optimized vs exact logits on {bench.device}, fp32, TF32 off: max|d|/max|exact| {parity:.1e}")
    for model, graph, mode in bench.results:
        if "error" in bench.results[(model, graph, mode)]:
            print(f"failed: {model} {graph} {mode}: {bench.results[(model, graph, mode)]['error']}")
    for line in bench.skipped:
        print(f"skipped: {line}")
    if verdicts:
        print("\ntargets (graph / timm, same mode):")
        for model, graph, mode, ratio, need in verdicts:
            verdict = "met" if ratio >= need else "NOT met"
            print(f"  {model:<14} {graph:<16} {mode:<9} {ratio:>5.2f}x  (>= {need:.2f}x: {verdict})")
        met = sum(r >= n for *_, r, n in verdicts)
        print(f"  {met} of {len(verdicts)} met")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(TIMM))
    parser.add_argument("--compile-models", default="SE-ResNet-50", help="models with compiled rows: names, all, none")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repetitions; compiled: optimized and timm")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--budget", type=float, default=480, help="seconds; rows not started by then are skipped")
    parser.add_argument("--verbose", action="store_true", help="tracebacks of rows that fail")
    parser.add_argument("--no-fused", action="store_true", help="leave out the experimental optimized+cudnn rows")
    args = parser.parse_args()

    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in TIMM]
    if unknown:
        sys.exit(f"unknown models {unknown}: choose from {list(TIMM)}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("no CUDA device: run on the GPU machine, or smoke-test with --device cpu --batch 2 --quick")
    compile_models = models if args.compile_models == "all" else [] if args.compile_models == "none" else [
        m for m in args.compile_models.split(",") if m in models
    ]
    try:
        import timm
    except ImportError:
        timm = None
    bench = Bench(args)
    torch.backends.cudnn.benchmark = True
    device_name = torch.cuda.get_device_name(bench.device) if bench.cuda else "cpu"
    print(f"{device_name}; torch {torch.__version__}, timm {getattr(timm, '__version__', 'not installed')}; "
          f"batch {args.batch}, 224 x 224; {'quick' if args.quick else 'full'} run", flush=True)
    x_host = synthetic().synthetic_input((args.batch, 3, 224, 224), seed=0)
    x = torch.from_numpy(x_host).to(bench.device)
    x_cl = x.contiguous(memory_format=torch.channels_last)

    reference: dict = {}
    loaded: dict = {}
    for model in models:
        print(f"  loading {model} ...", flush=True)
        graphs = load_graphs(model, bench, timm)
        for mode in ("fp32", "tf32"):
            bench.run_mode(model, mode, graphs, x, reference)
        with torch.inference_mode(), tf32(False):
            exact, optimized = graphs["exact"](x).float(), graphs["optimized"](x).float()
            bench.parity[model] = float((optimized - exact).abs().max() / exact.abs().max())
        graphs = {name: m.to(memory_format=torch.channels_last) for name, m in graphs.items()}
        bench.run_mode(model, "bf16-cl", graphs, x_cl, reference)
        loaded[model] = graphs
    for model in compile_models:
        graphs = loaded[model]
        names = ("optimized", "timm") if args.quick else ("exact", "optimized", "timm")
        torch._dynamo.reset()
        compiled = {name: torch.compile(graphs[name]) for name in names if name in graphs}
        bench.run_mode(model, "compiled", compiled, x_cl, reference)
        del compiled
    for model in models:
        if model not in compile_models:
            bench.skipped.append(f"{model} compiled rows: not asked for (--compile-models {args.compile_models})")
    if FusedConvReLU.fallbacks:
        bench.skipped.append(
            f"optimized+cudnn: {FusedConvReLU.fallbacks} convolutions use the plain path (fused call failed its check)"
        )
    report(bench, models)
    print(f"\ntotal {time.perf_counter() - bench.start:.0f} s")


if __name__ == "__main__":
    main()
