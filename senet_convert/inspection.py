"""What `senet-convert inspect` shows: a per-layer table, totals, and the weight-matching report."""
from __future__ import annotations

import json
import math

from google.protobuf import text_format

from .caffe.extensions import declared_fields
from .caffe.layers.registry import fmt
from .graph import Layer, Net


def layer_params(layer: Layer) -> str:
    """The layer's own *_param message in one line, only the fields the prototxt set."""
    for field, value in layer.param.ListFields():
        if field.name.endswith("_param") and field.name not in ("transform_param", "loss_param"):
            return text_format.MessageToString(value, as_one_line=True)
    for declared in declared_fields().values():  # a Caffe fork's field, declared by a plugin
        if declared.has(layer):
            return text_format.MessageToString(declared.of(layer), as_one_line=True)
    return ""


def multiply_adds(net: Net, layer: Layer) -> int:
    """Multiply-adds of Convolution and InnerProduct layers (everything else is negligible)."""
    if layer.type == "Convolution":
        bottom = net.shapes[layer.bottoms[0]]
        in_channels = bottom[1] // layer.param.convolution_param.group
        kernel = layer.setup.params.kernel
        return math.prod(layer.top_shapes[0]) * in_channels * math.prod(kernel)
    if layer.type == "InnerProduct":
        bottom = net.shapes[layer.bottoms[0]]
        return math.prod(layer.top_shapes[0]) * layer.setup.params.inputs
    return 0


def summarize(net: Net) -> dict:
    rows = []
    for layer in net.layers:
        # Blob shapes as the prototxt implies them, so a structure-only load counts parameters too.
        shapes = layer.setup.blobs
        rows.append(
            {
                "name": layer.name,
                "type": layer.type,
                "bottoms": list(layer.caffe_bottoms),
                "tops": list(layer.caffe_tops),
                "in_place": layer.in_place,
                "output_shapes": [list(s) for s in layer.top_shapes],
                "params": layer_params(layer),
                "blob_shapes": [list(b) for b in shapes],
                "num_params": sum(math.prod(b) for b in shapes),
                "multiply_adds": multiply_adds(net, layer),
                "line": layer.line,
            }
        )
    weighted = [r for r in rows if r["blob_shapes"]]
    return {
        "name": net.name,
        "prototxt": str(net.prototxt_path) if net.prototxt_path else None,
        "caffemodel": str(net.caffemodel_path) if net.caffemodel_path else None,
        "inputs": {k: list(v) for k, v in net.inputs.items()},
        "outputs": [net.blob_of[v] for v in net.outputs],
        "mean_bgr": list(net.mean_bgr) if net.mean_bgr else None,
        "layers": rows,
        "totals": {
            "layers": len(rows),
            "parameters": sum(r["num_params"] for r in rows),
            "multiply_adds": sum(r["multiply_adds"] for r in rows),
        },
        "weights": {
            "loaded": net.caffemodel_path is not None,
            "layers_with_weights": sum(1 for layer in net.layers if layer.blobs),
            "layers_needing_weights": len(weighted),
            "unused_in_caffemodel": list(net.unused_weights),
        },
    }


def _human(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def render(summary: dict) -> str:
    lines = []
    header = ("layer", "type", "bottoms -> tops", "output", "params", "parameters")
    table = []
    for r in summary["layers"]:
        flow = ", ".join(r["bottoms"]) + " -> " + ", ".join(r["tops"]) + (" (in place)" if r["in_place"] else "")
        shapes = ", ".join(fmt(tuple(s)) for s in r["output_shapes"])
        table.append((r["name"], r["type"], flow, shapes, r["params"], _human(r["num_params"]) if r["num_params"] else ""))
    widths = [min(48, max(len(h), *(len(row[i]) for row in table))) if table else len(h) for i, h in enumerate(header)]
    widths[4] = min(widths[4], 60)
    fmt_row = lambda row: "  ".join(str(c)[: w].ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    lines.append(f"net {summary['name']!r}: inputs " + ", ".join(f"{k} {fmt(tuple(v))}" for k, v in summary["inputs"].items()) + ", outputs " + ", ".join(summary["outputs"]))
    lines.append(fmt_row(header))
    lines.append(fmt_row(tuple("-" * w for w in widths)))
    lines.extend(fmt_row(row) for row in table)
    totals = summary["totals"]
    lines.append("")
    lines.append(f"{totals['layers']} layers, {totals['parameters']:,} parameters ({_human(totals['parameters'])}), {totals['multiply_adds']:,} multiply-adds ({_human(totals['multiply_adds'])}) at batch {next(iter(summary['inputs'].values()))[0]}")
    weights = summary["weights"]
    if weights["loaded"]:
        lines.append(f"weights: {weights['layers_with_weights']} layers matched by name in {summary['caffemodel']}")
        unused = weights["unused_in_caffemodel"]
        if unused:
            lines.append(f"warning: the caffemodel holds weights for {len(unused)} layers absent from the prototxt: {', '.join(unused[:10])}{' ...' if len(unused) > 10 else ''}")
        else:
            lines.append("weights: every weighted layer in the caffemodel is used")
    else:
        lines.append("weights: none loaded (no caffemodel given)")
    return "\n".join(lines)


def render_unsupported(error, as_json: bool = False) -> str:
    """What `inspect` prints for a net with unsupported layer types: each type, its count, its first layer."""
    rows = [{"type": kind, "layers": count, "first_layer": name, "line": line} for kind, count, name, line in error.missing]
    if as_json:
        return json.dumps({"prototxt": str(error.path), "unsupported": rows, "supported": error.supported}, indent=1)
    header = ("type", "layers", "first layer", "line")
    table = [(r["type"], str(r["layers"]), r["first_layer"], str(r["line"] or "")) for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(header)]
    lines = [f"{error.path}: the net uses {len(rows)} layer type{'s' if len(rows) > 1 else ''} that senet-convert does not support"]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in (header, tuple("-" * w for w in widths), *table)]
    lines.append("A plugin can add a layer type without changing senet-convert: see docs/plugins.md.")
    return "\n".join(lines)
