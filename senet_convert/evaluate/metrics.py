"""Top-k correctness per image, and the error rates with their confidence intervals.

An image is top-k correct when fewer than k classes score at least as high as its true class,
other than the true class itself: Caffe's Accuracy layer counts this way, so ties count against the
model and the result does not depend on how a sort orders equal scores. A true class scoring NaN
is never correct.

The 95% intervals are Wilson score intervals for a binomial proportion (the errors among the
images), which stay inside [0, 1] and behave at rates near 0 or 1, unlike the normal approximation.
"""
from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054  # the 97.5% quantile of the standard normal
TOP_K = 5


def ranks(scores, rows):
    """Per image: how many other classes score at least as high as its true row (0: top-1 correct)."""
    import torch

    true = scores.gather(1, rows[:, None])
    better = (scores >= true).sum(dim=1) - 1
    return torch.where(torch.isnan(true[:, 0]), torch.full_like(better, scores.shape[1]), better)


def top_rows(scores, k: int):
    """The k highest-scoring rows per image, best first (for the per-image predictions)."""
    return scores.topk(min(k, scores.shape[1]), dim=1).indices


def wilson(errors: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of the proportion errors / n."""
    if n == 0:
        return (0.0, 1.0)
    p = errors / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def summary(rank: np.ndarray, rows: np.ndarray, num_classes: int) -> dict:
    """Counts and errors from every scored image's rank and true row."""
    n = int(rank.size)
    k5 = min(TOP_K, num_classes)
    top1, top5 = int((rank < 1).sum()), int((rank < k5).sum())
    out = {"images": n, "top1_correct": top1, "top5_correct": top5, "top5_k": k5}
    for name, correct in (("top1", top1), ("top5", top5)):
        out[f"{name}_error"] = (n - correct) / n if n else None
        out[f"{name}_error_ci95"] = list(wilson(n - correct, n))
    return out


def per_class(rank: np.ndarray, rows: np.ndarray, num_classes: int) -> np.ndarray:
    """num_classes x 3 counts: images, top-1 correct, top-5 correct of each true row."""
    k5 = min(TOP_K, num_classes)
    counts = np.zeros((num_classes, 3), dtype=np.int64)
    np.add.at(counts[:, 0], rows, 1)
    np.add.at(counts[:, 1], rows, (rank < 1).astype(np.int64))
    np.add.at(counts[:, 2], rows, (rank < k5).astype(np.int64))
    return counts
