"""The evaluate command as the CLI runs it: model, labels, protocol, scoring, report.

Every process started by torchrun runs this whole function on its shard; rank 0 alone prints and
writes files.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..edits import input_space as spaces
from ..errors import ConvertError
from ..export.provenance import sha256
from ..verify.inputs import SENET_MEAN_BGR
from . import classes, distributed, metrics, official, protocol as protocols, report as reports
from .images import ImageFolderItems, library, pillow
from .labels import read_labels
from .models import load_model
from .run import score


@dataclass
class Options:
    images: Path
    labels: Path | None = None
    label_order: str = "auto"
    model_class_order: str | None = None
    protocol: str | None = None
    input_space: str | None = None
    mean: tuple[float, float, float] | None = None
    interpolation: str | None = None
    resize: int | None = None
    crop_pct: float | None = None
    input_size: int | None = None
    global_pooling: bool = False
    batch: int = 32
    workers: int = 4
    device: str = "auto"


def _convention(model, options: Options) -> tuple[spaces.Convention, str]:
    space = options.input_space
    if model.convention is not None:
        if space is not None and space != model.convention.name:
            raise ConvertError(f"--input-space {space} contradicts the model, which takes {model.convention.describe()}")
        return model.convention, "recorded by the model"
    if space is None:
        raise ConvertError(f"{model.files[0].name} records no input convention: give --input-space caffe|torchvision")
    if space == "caffe":
        mean = options.mean or SENET_MEAN_BGR
        return spaces.convention("caffe", tuple(mean)), "--input-space caffe" + ("" if options.mean else f", the SENet mean {SENET_MEAN_BGR}")
    return spaces.convention(space, None), f"--input-space {space}"


def _input_size(model, options: Options) -> tuple[int, int]:
    if options.input_size is None:
        if model.input_size is None:
            raise ConvertError(f"{model.files[0].name} records no input size: give --input-size N")
        return tuple(model.input_size)
    size = (options.input_size, options.input_size)
    if model.fixed_size and model.input_size is not None and size != tuple(model.input_size):
        raise ConvertError(f"the model takes {model.input_size[0]}x{model.input_size[1]} inputs only; --input-size {options.input_size} "
                           "needs a global final pool (--global-pool with PROTOTXT CAFFEMODEL, or caffe2torch --global-pool)")
    return size


def _protocol(model, options: Options) -> protocols.Protocol:
    convention, _ = _convention(model, options)
    name = options.protocol or ("official" if convention.name == "caffe" else "timm")
    cfg = model.recorded.get("timm_config", {}) if name == "timm" else {}
    crop_pct = options.crop_pct if options.crop_pct is not None or options.resize is not None else cfg.get("crop_pct")
    return protocols.make_protocol(name, convention, _input_size(model, options), interpolation=options.interpolation or cfg.get("interpolation", "bilinear"),
                                   resize=options.resize, crop_pct=crop_pct)


def _num_classes(model, size: tuple[int, int]) -> int:
    import torch

    out = model.forward(torch.zeros((1, 3, *size), device=model.device))
    out = out.reshape(out.shape[0], -1) if out.ndim > 2 and all(d == 1 for d in out.shape[2:]) else out
    if out.ndim != 2:
        raise ConvertError(f"{model.files[0].name} returns {tuple(out.shape)} for one image: evaluate needs a classifier's N x classes scores")
    return int(out.shape[1])


def _model_classes(model, count: int, options: Options) -> classes.ModelClasses:
    recorded, source = model.class_order, f"recorded in {model.files[-1].name}"
    if model.kind == "caffe":
        recorded = "caffe" if count == 1000 else None
        source = "a Caffe file: devkit order, as the official caffemodels" if recorded else "a Caffe file"
    elif recorded is None and model.class_wnids is None:
        source = f"{model.files[0].name} records none"
    return classes.model_classes(count, recorded, source, given=options.model_class_order, wnids=model.class_wnids)


def evaluate(first: Path, second: Path | None, options: Options, *, show_progress: bool = True) -> dict | None:
    """Score the model on the folder; the report on rank 0 (None on the other ranks)."""
    pillow()
    world = distributed.join(options.device)
    try:
        return _evaluate(first, second, options, world, show_progress)
    finally:
        distributed.leave(world)


def _evaluate(first, second, options: Options, world, show_progress: bool) -> dict | None:
    model = load_model(first, second, global_pooling=options.global_pooling, mean=options.mean, device=world.device)
    model.to(world.device)
    chosen = _protocol(model, options)
    count = _num_classes(model, chosen.crop)
    model_classes = _model_classes(model, count, options)
    knows = True if model_classes.wnids is not None else (None if count == 1000 else False)
    labels = read_labels(options.images, options.labels, options.label_order, model_knows_ilsvrc=knows)
    matching = classes.match(labels, model_classes)
    dataset = ImageFolderItems(options.images, labels.images, distributed.shard(len(labels), world), chosen)
    scored = score(model, dataset, matching.rows, batch=options.batch, workers=options.workers, total=len(labels),
                   world_size=world.size, show=show_progress and world.leader)
    positions, rank, top = scored.arrays()
    counts = np.zeros((count, 3), dtype=np.int64)
    if rank.size:
        counts = metrics.per_class(rank, matching.rows[positions], count)
    counts = distributed.sum_counts(world, counts)
    parts = distributed.gather(world, (positions, rank, top, scored.skipped, scored.wait_s, scored.model_s, scored.decode_s))
    wall = distributed.most(world, scored.wall_s)
    if not world.leader:
        return None
    return _report(model, first, second, options, world, chosen, labels, matching, counts, parts, wall)


def _merge(parts) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    positions = np.concatenate([p[0] for p in parts])
    order = np.argsort(positions, kind="stable")
    rank, top = np.concatenate([p[1] for p in parts])[order], np.concatenate([p[2] for p in parts])[order]
    skipped = sorted(s for p in parts for s in p[3])
    return positions[order], rank, top, skipped


def _rate(x: float | None) -> str:
    return "?" if not x else f"{x:.3g}" if x < 100 else f"{x:.0f}"


def _speed(parts, wall: float, images: int, workers: int) -> dict:
    wait, model_s, decode = (sum(p[i] for p in parts) for i in (4, 5, 6))
    per_process = max(len(parts), 1)
    decoders = max(workers, 1) * per_process  # workers=0: the main process decodes
    decoding = images / (decode / decoders) if decode else None
    verdict = "decoding" if wait > model_s else "the model"
    line = (f"the bottleneck is {verdict}: the model waited {wait / per_process:.1f} s for decoded batches and ran {model_s / per_process:.1f} s "
            f"(per process); decoding alone ~{_rate(decoding)} images/s with {workers} worker(s) per process, the model alone "
            f"~{_rate(images / model_s if model_s else None)} images/s")
    if verdict == "decoding":
        line += "; more --workers (or CPU cores) would help"
    return {"images_per_second": images / wall if wall else 0.0, "seconds": wall, "wait_for_decoding_s": wait, "model_s": model_s,
            "decode_s": decode, "decoding_images_per_second": decoding, "model_images_per_second": images / model_s if model_s else None,
            "workers": workers, "bottleneck": line, "limited_by": verdict}


def _report(model, first, second, options, world, chosen, labels, matching, counts, parts, wall) -> dict:
    positions, rank, top, skipped = _merge(parts)
    if positions.size + len(skipped) != len(labels) or int(counts[:, 0].sum()) != positions.size:
        raise RuntimeError("evaluate bug: the processes' shards do not add up to the image list")
    names = [labels.images[i].as_posix() for i in range(len(labels))]
    if positions.size == 0:
        raise ConvertError(f"{options.images}: none of its {len(labels)} images could be read (first: {names[skipped[0][0]]}: {skipped[0][1]})")
    rows = matching.rows[positions]
    out = metrics.summary(rank, rows, counts.shape[0])
    files = list(model.files)
    digests = {p.name: sha256(p) for p in dict.fromkeys(files) if p.is_file()}
    if options.labels is not None:
        digests[options.labels.name] = sha256(options.labels)
    out.update({
        "images_found": len(labels), "images_folder": str(options.images), "skipped_count": len(skipped),
        "skipped": [[names[i], why] for i, why in skipped], "interval": reports.INTERVAL,
        "model": {"kind": model.kind, "files": [str(p) for p in files], "scored": model.scored, "num_classes": int(counts.shape[0]),
                  "description": " + ".join(p.name for p in files) + f" ({model.kind})", "recorded_sources_sha256": {k: v for k, v in model.recorded.items() if isinstance(v, str)}},
        "sha256": digests,
        "class_orders": {"model": matching.model, "labels": matching.labels, "rule": matching.rule},
        "preprocessing": chosen.to_dict(library()),
        "published": official.published(model.official),
        "processes": world.describe(), "world_size": world.size, "device": world.device,
        "speed": _speed(parts, wall, int(positions.size), options.workers),
        "per_class": reports.per_class_rows(counts, matching.classes),
    })
    out["predictions"] = [{"image": names[p], "true_row": int(r), "rank": int(k), "top5_rows": " ".join(str(int(t)) for t in tp if t >= 0)}
                          for p, r, k, tp in zip(positions.tolist(), rows.tolist(), rank.tolist(), top)]
    return out


def evaluate_files(first: Path, second: Path | None, options: Options, *, json_file=None, per_class_file=None, predictions_file=None) -> dict | None:
    """The command: evaluate, then (rank 0) print the report and write the files asked for."""
    report = evaluate(first, second, options)
    if report is not None:
        print(reports.render(report), file=sys.stdout)
        reports.write_outputs(report, report["predictions"], json_file=json_file, per_class_file=per_class_file, predictions_file=predictions_file)
    return report
