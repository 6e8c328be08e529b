"""The scoring loop of one process: DataLoader workers decode its shard, the model scores it.

Time is split into waiting for decoded batches and running the model (synchronised on GPUs), which
tells which of the two limits the speed; the workers' own decoding time gives decoding's capacity.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConvertError
from ..progress import Progress
from . import metrics
from .images import ImageFolderItems, collate


@dataclass
class Scored:
    positions: list[int] = field(default_factory=list)
    ranks: list[np.ndarray] = field(default_factory=list)
    top: list[np.ndarray] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    wait_s: float = 0.0
    model_s: float = 0.0
    decode_s: float = 0.0
    wall_s: float = 0.0

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rank = np.concatenate(self.ranks) if self.ranks else np.zeros(0, np.int64)
        top = np.concatenate(self.top) if self.top else np.zeros((0, metrics.TOP_K), np.int64)
        return np.asarray(self.positions, dtype=np.int64), rank, top


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)


def score(model, dataset: ImageFolderItems, true_rows: np.ndarray, *, batch: int, workers: int, total: int,
          world_size: int = 1, show: bool = False) -> Scored:
    """Every image of `dataset` scored: its rank (metrics.ranks) and its top rows."""
    import torch
    from torch.utils.data import DataLoader

    loader = DataLoader(dataset, batch_size=batch, num_workers=workers, collate_fn=collate,
                        pin_memory=model.device.startswith("cuda"), prefetch_factor=4 if workers else None)
    rows = torch.from_numpy(true_rows)
    out, bar, done = Scored(), Progress("evaluating", " images", enabled=None if show else False), 0
    start = tick = time.perf_counter()
    try:
        for positions, x, bad, decode_s in loader:
            now = time.perf_counter()
            out.wait_s += now - tick
            out.decode_s += decode_s
            out.skipped += bad
            if x is not None:
                scores = model.forward(x.to(model.device, non_blocking=True)).float()
                _check(scores, x.shape[0])
                target = rows[positions].to(scores.device)
                out.ranks.append(metrics.ranks(scores, target).cpu().numpy())
                out.top.append(_padded(metrics.top_rows(scores, metrics.TOP_K).cpu().numpy()))
                out.positions += positions
                _sync(model.device)
            tick = time.perf_counter()
            out.model_s += tick - now
            done += len(positions) + len(bad)
            bar(min(done * world_size, total), total)
    finally:
        bar.close()
    out.wall_s = time.perf_counter() - start
    return out


def _check(scores, n: int) -> None:
    if scores.ndim != 2 or scores.shape[0] != n:
        raise ConvertError(f"the model returned {tuple(scores.shape)} for a batch of {n}: evaluate needs N x classes scores")


def _padded(top: np.ndarray) -> np.ndarray:
    if top.shape[1] == metrics.TOP_K:
        return top
    pad = np.full((top.shape[0], metrics.TOP_K - top.shape[1]), -1, dtype=top.dtype)
    return np.concatenate([top, pad], axis=1)
