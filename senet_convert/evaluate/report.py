"""The evaluation report: one dict (the --json file), its text rendering, and the CSV tables."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from ..files import atomic_path

INTERVAL = "Wilson score interval, 95%"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.3f}%"


def _published_line(report: dict, key: str) -> str:
    known = report.get("published")
    if not known:
        return ""
    parts = [f"release {100 * known['release'][key]:.2f}%"]
    if "timm" in known:
        parts.append(f"timm {100 * known['timm'][key]:.2f}%")
    return "   published: " + ", ".join(parts)


def render(report: dict) -> str:
    m, s = report["model"], report["speed"]
    lines = [
        f"model         {m['description']}; scores {m['scored']}; {m['num_classes']} classes",
        f"images        {report['images']} scored, {report['skipped_count']} skipped (unreadable), {report['images_found']} in {report['images_folder']}",
    ]
    for name in ("top1", "top5"):
        lo, hi = report[f"{name}_error_ci95"]
        k = 1 if name == "top1" else report["top5_k"]
        lines.append(f"top-{k} error   {_pct(report[f'{name}_error'])} ({INTERVAL}: {_pct(lo)} to {_pct(hi)})" + _published_line(report, f"{name}_error"))
    if report.get("published"):
        lines.append(f"recognised    {report['published']['model']} (by its structure); published numbers are for the official weights")
    lines += [
        f"speed         {s['images_per_second']:.1f} images/s, {s['seconds']:.1f} s, {report['processes']}",
        f"              {s['bottleneck']}",
        f"preprocessing {report['preprocessing']['description']}",
        f"class orders  model: {report['class_orders']['model']}",
        f"              labels: {report['class_orders']['labels']}",
        f"              matched {report['class_orders']['rule']}",
        "sha256        " + "; ".join(f"{name} {digest}" for name, digest in report["sha256"].items()),
    ]
    for position, (name, why) in enumerate(report["skipped"][:10]):
        lines.append(("skipped       " if position == 0 else "              ") + f"{name}: {why}")
    if report["skipped_count"] > 10:
        lines.append(f"              ... {report['skipped_count'] - 10} more (all in --json)")
    return "\n".join(lines)


def per_class_rows(counts: np.ndarray, names) -> list[dict]:
    rows = []
    for row, (n, top1, top5) in enumerate(counts.tolist()):
        if n:
            rows.append({"row": row, "class": names[row], "images": n, "top1_accuracy": top1 / n, "top5_accuracy": top5 / n})
    return rows


def _csv_text(rows: list[dict], fields: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_outputs(report: dict, predictions: list[dict] | None, *, json_file=None, per_class_file=None, predictions_file=None) -> None:
    if per_class_file is not None:
        write_text(per_class_file, _csv_text(report["per_class"], ["row", "class", "images", "top1_accuracy", "top5_accuracy"]))
    if predictions_file is not None and predictions is not None:
        write_text(predictions_file, _csv_text(predictions, ["image", "true_row", "rank", "top5_rows"]))
    if json_file is not None:
        write_text(json_file, json.dumps(report, indent=1) + "\n")
