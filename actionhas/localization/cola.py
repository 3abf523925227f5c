"""CoLA's official test path (main_cola.py ``test_all`` with core/utils.py), one video at a time.

The head runs on the video's features sampled by ``floor_indices_up_to`` (whole up to the run's
length). Classes: every class whose video score is >= 0.2, the top one when none is. The CAS of
each class and the actionness are min-max normalised over time and linearly interpolated to 24
points per feature. Each CAS threshold (0, 0.025, .., 0.225) and actionness threshold (0.1, ..,
0.9) gives proposals: every run of at least two consecutive points above the threshold, scored by
its outer-inner contrast plus 0.2 x the class score, then class-wise NMS at IoU 0.6.

As the official code: the CAS proposals are scored on the *thresholded* CAS (zeros below the
threshold), the actionness proposals on the plain CAS; point j of the interpolated sequence is at
j x n / (24 T) feature steps of the video's n features; NMS adds 1 (second) to every length.
A one-feature video gives no proposal (its normalised sequences are all zero; scipy cannot
interpolate it). A class whose points above a threshold were all isolated would make the official
code fail (IndexError); here it gives no proposal there (the peak of a normalised sequence always
makes a run, so on the head's non-negative CAS this does not arise). Videos of fewer than five
features: the official video scores are NaN (a mean over no snippet); here they use the top one.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import interp1d

from actionhas.core import defaults
from actionhas.localization.classes import at_least

OUTER_RATIO = 0.25   # outer region on each side, as a fraction of the proposal length (utils.py _lambda)
CLASS_WEIGHT = 0.2   # weight of the video score in a proposal's score (utils.py gamma)


def minmax_over_time(x: np.ndarray) -> np.ndarray:
    """(T, K) float32 -> each column (v - relu(min)) / (relu(max) - relu(min)) clipped to [0, 1];
    a column whose range is <= 0 is divided by 1 (utils.py minmax_norm)."""
    top, low = np.maximum(x.max(axis=0), 0), np.maximum(x.min(axis=0), 0)
    delta = top - low
    delta[delta <= 0] = 1
    return np.clip((x - low) / delta, 0, 1)


def upsample(x: np.ndarray, scale: int = defaults.COLA_UPSAMPLE) -> np.ndarray:
    """(T >= 2, K) -> values at np.arange(0, T, 1 / scale), linear between features and extrapolated
    past the last one (utils.py upgrade_resolution)."""
    points = np.arange(0, x.shape[0], 1 / scale)
    return interp1d(np.arange(x.shape[0]), x, kind="linear", axis=0, fill_value="extrapolate")(points)


def oic_proposals(points: np.ndarray, wtcam: np.ndarray, class_score: np.float32,
                  t_factor: float) -> list[tuple[float, float, float]]:
    """(score, start_s, end_s) of every run of >= 2 consecutive ``points`` (indices into ``wtcam``).

    score = mean(wtcam inside) - mean(wtcam in the 25 % margins outside, 0 when none) + 0.2 x the
    class score; times are [first, last + 1] x ``t_factor`` (utils.py get_proposal_oic).
    """
    out = []
    for run in np.split(points, np.where(np.diff(points) != 1)[0] + 1):
        if len(run) < 2:
            continue
        inner = np.mean(wtcam[run])
        margin = OUTER_RATIO * len(run)
        outer_start = max(0, int(run[0] - margin))
        outer_end = min(int(len(wtcam) - 1), int(run[-1] + margin))
        outer = list(range(outer_start, int(run[0]))) + list(range(int(run[-1] + 1), outer_end + 1))
        outer_score = np.mean(wtcam[outer]) if outer else 0
        out.append((inner - outer_score + CLASS_WEIGHT * class_score, run[0] * t_factor, (run[-1] + 1) * t_factor))
    return out


def nms(proposals: np.ndarray, iou: float = defaults.COLA_NMS_IOU) -> np.ndarray:
    """Rows (class, score, start, end) kept by greedy NMS, highest score first (ties as numpy's
    default argsort, reversed); overlap counts every length + 1, as utils.py nms."""
    start, end, scores = proposals[:, 2], proposals[:, 3], proposals[:, 1]
    length = end - start + 1
    order = scores.argsort()[::-1]
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        inter = np.maximum(0.0, np.minimum(end[best], end[rest]) - np.maximum(start[best], start[rest]) + 1)
        order = rest[inter / (length[best] + length[rest] - inter) < iou]
    return proposals[keep]


def video_proposals(scores: np.ndarray, cas: np.ndarray, actionness: np.ndarray, num_features: int,
                    features_per_second: float) -> list[tuple[int, float, float, float]]:
    """(class, start_s, end_s, score) of one video, in the official output order.

    scores (C,) float32 video scores, cas (C, T) and actionness (T,) of the T sampled features;
    ``num_features`` is the video's own count n (T = min(n, length)).
    """
    if cas.shape[1] < 2:
        return []
    classes = np.array(at_least(scores, defaults.COLA_CLASS_THRESHOLD))
    cas_up = upsample(minmax_over_time(cas.T)[:, classes])
    actionness_up = upsample(minmax_over_time(actionness[:, None]))[:, 0]
    t_factor = num_features / (features_per_second * defaults.COLA_UPSAMPLE * cas.shape[1])
    by_class: dict[int, list] = {}

    def add(c: int, found: list) -> None:
        if found:  # classes enter in the order they first give a proposal
            by_class.setdefault(c, []).extend(found)

    for th in np.arange(*defaults.COLA_CAS_THRESHOLDS):
        thresholded = np.where(cas_up < th, 0, cas_up)
        for i, c in enumerate(classes):
            add(int(c), oic_proposals(np.where(thresholded[:, i] > 0)[0], thresholded[:, i], scores[c], t_factor))
    for th in np.arange(*defaults.COLA_ACTIONNESS_THRESHOLDS):
        above = np.where((actionness_up >= th) & (actionness_up > 0))[0]
        for i, c in enumerate(classes):
            add(int(c), oic_proposals(above, cas_up[:, i], scores[c], t_factor))
    out = []
    for c, found in by_class.items():
        rows = np.array([[c, score, t0, t1] for score, t0, t1 in found])
        out.extend((c, float(t0), float(t1), float(score)) for _, score, t0, t1 in nms(rows))
    return out
