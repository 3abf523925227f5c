"""BaS-Net's official test path, ``--proposals basnet`` (test.py and utils.py of
github.com/Pilhyeon/BaSNet-pytorch at c8c6bbd8), restated step by step.

Per video: the n features are resampled to ``length`` points (``floor(i * n / length)``, 750
officially) and run through the head in eval mode. Classes: those whose suppression-branch video
score is >= the class threshold (0.25), or the video's own classes when they are given. Their raw
suppression activations are min-max normalised over time, linearly upsampled 24x (extrapolated
past the last point) and thresholded at each of 0, 0.025, ..., 0.225; every run of points above
a threshold is a proposal scored with the outer-inner-contrastive score on the thresholded
sequence plus 0.2 x the binarised video score, and mapped to seconds by
``index * step_frames * n / (24 * length * fps)``. A class's proposals of all thresholds then go
through the official NMS (IoU 0.7, lengths + 1).

Where the official code raises or skips, this one goes on: a selected class without a run at some
threshold (official: IndexError) keeps the proposals of the other thresholds, so a run made only of
the first upsampled point (dropped by its ``.any()``, which then raises) is a proposal too; a
video whose only selected class is the first one (official: nothing written, by ``pred.any()``) is
localized like any other; fewer than 8 points give k = 1 and one point is held constant when
upsampled (official: NaN, and ``interp1d`` raises).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.interpolate import interp1d
from torch import Tensor

from actionhas.core import defaults
from actionhas.core.intervals import true_runs
from actionhas.data.sampling import check_finite, floor_indices
from actionhas.formats.store import FeatureStore, StoreInfo

Proposal = tuple[float, float, float]  # (start_s, end_s, score)


@dataclass(frozen=True)
class OfficialSettings:
    """The official post-processing's constants (config.py, utils.py, test.py)."""

    class_threshold: float = defaults.BASNET_CLASS_THRESHOLD
    act_thresholds: tuple[float, ...] = defaults.BASNET_ACT_THRESHOLDS
    scale: int = defaults.BASNET_SCALE
    outer_ratio: float = defaults.BASNET_OUTER_RATIO
    class_weight: float = defaults.BASNET_CLASS_WEIGHT
    nms_iou: float = defaults.BASNET_NMS_IOU


def binarised_scores(scores: np.ndarray, threshold: float) -> np.ndarray:
    """(C,) video scores -> 1.0 where >= ``threshold``, else 0.0 (for scores >= 0, as softmax
    scores are, this is test.py's two in-place assignments)."""
    return np.where(np.asarray(scores) >= threshold, 1.0, 0.0)


def selected_classes(scores: np.ndarray, threshold: float) -> list[int]:
    """Indices of the classes test.py localizes: binarised score > threshold, in index order
    (so none at a threshold of 1)."""
    return [int(c) for c in np.flatnonzero(binarised_scores(scores, threshold) > threshold)]


def minmax_norm(cas: Tensor) -> Tensor:
    """(..., T) -> utils.minmax_norm along time: min and max clipped at 0 first, a range <= 0 read
    as 1, the result not clipped (a negative sequence stays negative, a constant one becomes 0)."""
    high = torch.relu(cas.max(dim=-1, keepdim=True).values)
    low = torch.relu(cas.min(dim=-1, keepdim=True).values)
    delta = high - low
    return (cas - low) / torch.where(delta <= 0, torch.ones_like(delta), delta)


def upsample(values: np.ndarray, scale: int) -> np.ndarray:
    """(T, K) -> (24 T, K) float64: utils.upgrade_resolution, linear interpolation at
    ``np.arange(0, T, 1 / scale)``, extrapolated past the last point (T = 1: held constant)."""
    positions = np.arange(0, len(values), 1 / scale)
    if len(values) == 1:
        return np.repeat(np.asarray(values, np.float64), len(positions), axis=0)
    return interp1d(np.arange(len(values)), values, kind="linear", axis=0, fill_value="extrapolate")(positions)


def threshold_proposals(values: np.ndarray, threshold: float, class_term: float, t_factor: float,
                        outer_ratio: float) -> list[Proposal]:
    """utils.get_proposal_oic for one class at one threshold; values: (N,) upsampled sequence.

    Points below ``threshold`` are zeroed; every run of positive points is a proposal scored
    mean(inside) - mean(margins) + class_term on the zeroed sequence. The margins reach
    int(start - r * len) and int(end + r * len) (truncation, as the official code), cut at the ends.
    """
    kept = np.where(values < threshold, 0, values)
    out = []
    for first, last in zip(*true_runs(kept > 0)):
        first, last, size = int(first), int(last), int(last - first + 1)
        lo = max(0, int(first - outer_ratio * size))
        hi = min(len(kept) - 1, int(last + outer_ratio * size))
        outer = np.concatenate([kept[lo:first], kept[last + 1:hi + 1]])
        outer_score = np.mean(outer) if len(outer) else 0
        score = np.mean(kept[first:last + 1]) - outer_score + class_term
        out.append((float(first * t_factor), float((last + 1) * t_factor), float(score)))
    return out


def official_nms(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices kept by utils.nms (BaS-Net's, and CoLA's, which is the same): greedy by descending
    score (numpy's default argsort, reversed: its tie order), lengths and intersections counted
    with + 1 as on frame indices, overlaps < ``iou`` kept."""
    areas = ends - starts + 1
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        inter = np.maximum(0.0, np.minimum(ends[i], ends[rest]) - np.maximum(starts[i], starts[rest]) + 1)
        order = rest[inter / (areas[i] + areas[rest] - inter) < iou]
    return keep


def feature_step(info: StoreInfo) -> tuple[float, float]:
    """(frames, frame rate) of one feature step: an imported store's stride at its fps (16 at 25
    for the official I3D features), otherwise 1 at features_per_second."""
    prov = info.provenance or {}
    if info.extractor.startswith("imported:") and "stride" in prov and "fps" in prov:
        return float(prov["stride"]), float(prov["fps"])
    return 1.0, info.features_per_second


def time_factor(num_features: int, length: int, scale: int, step_frames: float, fps: float) -> float:
    """Seconds per upsampled point: (step_frames * n) / (scale * length * fps), the official
    ``t_factor`` with the store's own feature step."""
    return (step_frames * num_features) / (scale * length * fps)


def video_proposals(scores: np.ndarray, cas: Tensor, t_factor: float, classes: list[int] | None = None,
                    settings: OfficialSettings = OfficialSettings()) -> list[tuple[int, float, float, float]]:
    """(class, start_s, end_s, score) of one video, classes in index order, each class's kept
    proposals by descending score.

    scores: (C,) suppression-branch video scores; cas: (C, T) raw suppression activations (float32,
    T = the sampled length); classes: the video's own, or None for the selected ones.
    """
    binary = binarised_scores(scores, settings.class_threshold)
    chosen = selected_classes(scores, settings.class_threshold) if classes is None else sorted(set(classes))
    if not chosen:
        return []
    normalised = minmax_norm(cas[chosen]).numpy().T  # (T, K), as test.py's cas_pred
    upsampled = upsample(normalised, settings.scale)
    out = []
    for column, c in enumerate(chosen):
        class_term = settings.class_weight * float(binary[c])
        found = [p for level in settings.act_thresholds
                 for p in threshold_proposals(upsampled[:, column], level, class_term, t_factor, settings.outer_ratio)]
        if found:
            arr = np.asarray(found, np.float64)
            out += [(c, *found[i]) for i in official_nms(arr[:, 0], arr[:, 1], arr[:, 2], settings.nms_iou)]
    return out


@torch.no_grad()
def localize_video(model, store: FeatureStore, video: str, length: int, classes: list[int] | None,
                   settings: OfficialSettings = OfficialSettings(),
                   device: str = "cpu") -> tuple[list[tuple[int, float, float, float]], np.ndarray, np.ndarray, np.ndarray]:
    """One video through the official test path: its instances, (C,) video scores, (C, length)
    normalised suppression activations and the (length,) times of the sampled features."""
    n = store.num_features(video)
    rows = floor_indices(n, length)
    feats = store.features(video, rows)
    check_finite(video, feats)
    scores, cas = model.suppression_outputs(torch.from_numpy(feats).unsqueeze(0).to(device))
    scores, cas = scores[0].float().cpu(), cas[0].float().cpu()
    t_factor = time_factor(n, length, settings.scale, *feature_step(store.info))
    found = video_proposals(scores.numpy(), cas, t_factor, classes, settings)
    return found, scores.numpy(), minmax_norm(cas).numpy(), store.times(video)[rows]
