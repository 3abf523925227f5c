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

from actionhas.core import defaults
from actionhas.core.intervals import true_runs
from actionhas.data.sampling import check_finite, floor_indices_up_to
from actionhas.formats.store import FeatureStore
from actionhas.localization.basnet import official_nms, upsample  # CoLA's utils.py shares them with BaS-Net's
from actionhas.localization.classes import at_least
from actionhas.models.inference import head_outputs

OUTER_RATIO = 0.25   # outer region on each side, as a fraction of the proposal length (utils.py _lambda)
CLASS_WEIGHT = 0.2   # weight of the video score in a proposal's score (utils.py gamma)


def minmax_over_time(x: np.ndarray) -> np.ndarray:
    """(T, K) float32 -> each column (v - relu(min)) / (relu(max) - relu(min)) clipped to [0, 1];
    a column whose range is <= 0 is divided by 1 (utils.py minmax_norm)."""
    top, low = np.maximum(x.max(axis=0), 0), np.maximum(x.min(axis=0), 0)
    delta = top - low
    delta[delta <= 0] = 1
    return np.clip((x - low) / delta, 0, 1)


def oic_proposals(mask: np.ndarray, wtcam: np.ndarray, class_score: np.float32,
                  t_factor: float) -> list[tuple[float, float, float]]:
    """(score, start_s, end_s) of every run of >= 2 points where ``mask`` holds (utils.py
    get_proposal_oic: its single points make no proposal).

    score = mean(wtcam inside) - mean(wtcam in the 25 % margins outside, 0 when none) + 0.2 x the
    class score; times are [first, last + 1] x ``t_factor``.
    """
    out = []
    for first, last in zip(*true_runs(mask)):
        first, last = int(first), int(last)
        if last == first:
            continue
        inner = np.mean(wtcam[first:last + 1])
        margin = OUTER_RATIO * (last - first + 1)
        outer_start = max(0, int(first - margin))
        outer_end = min(int(len(wtcam) - 1), int(last + margin))
        outer = list(range(outer_start, first)) + list(range(last + 1, outer_end + 1))
        outer_score = np.mean(wtcam[outer]) if outer else 0
        out.append((inner - outer_score + CLASS_WEIGHT * class_score, first * t_factor, (last + 1) * t_factor))
    return out


def video_proposals(scores: np.ndarray, cas: np.ndarray, actionness: np.ndarray, num_features: int,
                    features_per_second: float) -> list[tuple[int, float, float, float]]:
    """(class, start_s, end_s, score) of one video, in the official output order.

    scores (C,) float32 video scores, cas (C, T) and actionness (T,) of the T sampled features;
    ``num_features`` is the video's own count n (T = min(n, length)).
    """
    if cas.shape[1] < 2:
        return []
    classes = np.array(at_least(scores, defaults.COLA_CLASS_THRESHOLD))
    cas_up = upsample(minmax_over_time(cas.T)[:, classes], defaults.COLA_UPSAMPLE)
    actionness_up = upsample(minmax_over_time(actionness[:, None]), defaults.COLA_UPSAMPLE)[:, 0]
    t_factor = num_features / (features_per_second * defaults.COLA_UPSAMPLE * cas.shape[1])
    by_class: dict[int, list] = {}

    def add(c: int, found: list) -> None:
        if found:  # classes enter in the order they first give a proposal
            by_class.setdefault(c, []).extend(found)

    for th in np.arange(*defaults.COLA_CAS_THRESHOLDS):
        thresholded = np.where(cas_up < th, 0, cas_up)
        for i, c in enumerate(classes):
            add(int(c), oic_proposals(thresholded[:, i] > 0, thresholded[:, i], scores[c], t_factor))
    for th in np.arange(*defaults.COLA_ACTIONNESS_THRESHOLDS):
        above = (actionness_up >= th) & (actionness_up > 0)
        for i, c in enumerate(classes):
            add(int(c), oic_proposals(above, cas_up[:, i], scores[c], t_factor))
    out = []
    for c, found in by_class.items():
        score, t0, t1 = np.array(found, np.float64).T
        kept = official_nms(t0, t1, score, defaults.COLA_NMS_IOU)
        out.extend((c, float(t0[i]), float(t1[i]), float(score[i])) for i in kept)
    return out


def localize_video(model, store: FeatureStore, video: str, length: int, device: str = "cpu"
                   ) -> tuple[list[tuple[int, float, float, float]], np.ndarray, np.ndarray, np.ndarray]:
    """One video through the official test path: its instances, (C,) video scores, (C, T) CAS
    and the (T,) times of the features sampled as CoLA samples them (T = min(n, length))."""
    feats = store.features(video)
    check_finite(video, feats)
    sampled = floor_indices_up_to(len(feats), length)
    probs, cas, actionness = head_outputs(model, feats[sampled], device)
    found = video_proposals(probs, cas, actionness, len(feats), store.info.features_per_second)
    return found, probs, cas, store.times(video)[sampled]
