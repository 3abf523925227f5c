"""Sequences and intervals, one home each: the level at a fraction of a map's max, the runs of True
in a mask, and the IoU of time intervals. Used by the video and the image side alike."""
from __future__ import annotations

import numpy as np


def fraction_of_max_level(values: np.ndarray, fraction: float) -> float:
    """``fraction`` x max(values); for a map whose max is <= 0 (where that selects nothing), the
    same fraction of its min-max range above its min."""
    peak = float(values.max())
    low = float(values.min())
    return fraction * peak if peak > 0 else low + fraction * (peak - low)


def true_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last index (inclusive) of every maximal run of True: of a (N,) mask, or of each
    row of a (K, N) mask, rows one after the other (the row of each run is the caller's to keep)."""
    mask = np.atleast_2d(np.asarray(mask, bool))
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), bool)
    padded[:, 1:-1] = mask
    _, cols = np.nonzero(padded[:, 1:] != padded[:, :-1])
    return cols[0::2], cols[1::2] - 1  # edges alternate start/end within each row, rows never share a run


def interval_iou(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """Temporal IoU of intervals [a0, a1] and [b0, b1], broadcast; 0 when they do not overlap.

    The union is summed as ActivityNet's ``segment_iou`` sums it, so thresholds compare equal floats.
    """
    inter = np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0.0, None)
    union = (a1 - a0) + (b1 - b0) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)
