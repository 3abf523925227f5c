"""``--proposals multi``, actionhas's own multi-threshold post-processing after BaS-Net's and CoLA's
(their official test paths are ``localization.basnet`` and ``localization.cola``): CAS and
attention -> scored proposals.

For one class of one video: min-max normalise the class activation sequence (and the
class-agnostic attention, when given), interpolate both to ``upsample`` points per feature, and
threshold them at several levels; every maximal run of points above a level is a proposal. Each
proposal is scored on the CAS with the outer-inner-contrastive score of AutoLoc (Shou et al.,
ECCV 2018) as BaS-Net and CoLA use it,

    score = mean(CAS inside) - mean(CAS in the margins) + class_weight * class_score,

the margins being ceil(outer_ratio * length) points on each side, cut at the sequence ends (no
margin left: outer mean 0). Low thresholds give long proposals, high ones short cores; class-wise
NMS (or Gaussian soft-NMS) then keeps the best-scored of each group of overlapping proposals.

Deliberate differences from the official code: proposals map to seconds with the feature centre
times of the store (a run of whole features spans [times[first] - step/2, times[last] + step/2],
clipped to [0, duration], as ``localization.pipeline.cam_to_instances``); both margins are rounded up
(the official code rounds the left one up and the right one down); NMS uses the plain temporal
IoU (the official one adds 1 to lengths, a pixel convention that in seconds inflates overlaps);
``class_score`` is the video's class probability as in CoLA (BaS-Net passes its thresholded 0/1
value, making that term a constant 0.2: pass 1.0 to reproduce it).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from actionhas.core import defaults
from actionhas.core.errors import ActionhasError
from actionhas.core.intervals import interval_iou, true_runs
from actionhas.localization.settings import NMS_METHODS

Proposal = tuple[float, float, float]  # (start_s, end_s, score)


def minmax_normalize(values: np.ndarray) -> np.ndarray:
    """Rescale each row of ``values`` (..., T) by its range over time, clipped to [0, 1].

    As BaS-Net and CoLA: min and max are first clipped at 0, so a sequence that is negative
    somewhere keeps its zero at 0 and its negative part below every threshold; a constant
    sequence becomes all 0.
    """
    values = np.asarray(values, np.float64)
    low = np.maximum(values.min(axis=-1, keepdims=True), 0.0)
    high = np.maximum(values.max(axis=-1, keepdims=True), 0.0)
    span = np.where(high - low > 0, high - low, 1.0)
    return np.clip((values - low) / span, 0.0, 1.0)


def _upsample(values: np.ndarray, times: np.ndarray, step: float, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """``factor`` points per feature: each feature's window [t - step/2, t + step/2] is cut into
    ``factor`` equal cells; returns the values linearly interpolated at the cell centres (held
    constant beyond the first and last feature) and the centre times in seconds."""
    n = len(times)
    if factor == 1:
        return values, times
    pos = (np.arange(n * factor) + 0.5) / factor - 0.5  # in feature indices
    inside = np.clip(pos, 0, n - 1)
    index = np.arange(n)
    return np.interp(inside, index, values), np.interp(inside, index, times) + (pos - inside) * step


def _oic(values: np.ndarray, starts: np.ndarray, ends: np.ndarray, outer_ratio: float) -> np.ndarray:
    """Outer-inner-contrastive score of each run [starts, ends] of ``values`` (N,), without the class term."""
    sums = np.r_[0.0, np.cumsum(values)]
    inner = (sums[ends + 1] - sums[starts]) / (ends - starts + 1)
    margin = np.ceil(outer_ratio * (ends - starts + 1)).astype(np.int64)
    lo, hi = np.maximum(starts - margin, 0), np.minimum(ends + margin, len(values) - 1)
    count = (starts - lo) + (hi - ends)
    outer_sum = (sums[starts] - sums[lo]) + (sums[hi + 1] - sums[ends + 1])
    outer = np.divide(outer_sum, count, out=np.zeros(len(count)), where=count > 0)
    return inner - outer


def _check_sequence(name: str, values: np.ndarray, n: int) -> np.ndarray:
    values = np.asarray(values, np.float64)
    if values.shape != (n,) or not np.isfinite(values).all():
        raise ActionhasError(f"{name} must be a finite 1-D array as long as times ({n}), got shape {values.shape}")
    return values


def class_proposals(cas: np.ndarray, times: np.ndarray, class_score: float, step: float, duration: float | None,
                    attention: np.ndarray | None = None, *,
                    cas_thresholds: Sequence[float] = defaults.PROPOSAL_CAS_THRESHOLDS,
                    attention_thresholds: Sequence[float] = defaults.PROPOSAL_ATTENTION_THRESHOLDS,
                    outer_ratio: float = defaults.PROPOSAL_OUTER_RATIO,
                    class_weight: float = defaults.PROPOSAL_CLASS_WEIGHT,
                    upsample: int = defaults.PROPOSAL_UPSAMPLE) -> list[Proposal]:
    """Every proposal of one class, before NMS, as (start_s, end_s, score).

    cas: (T,) activation sequence of the class, any scale (BaS-Net's class probabilities, the
    paper's CAM); times: (T,) feature centre times in seconds; step:
    seconds between features; attention: (T,) class-agnostic foreground attention, or None. Runs
    of the normalised CAS at each of ``cas_thresholds`` and of the normalised attention at each of
    ``attention_thresholds`` (points >= threshold and > 0) are all scored on the CAS. The same
    segment found at several thresholds is listed once per threshold; NMS merges them.
    """
    times = np.asarray(times, np.float64)
    if times.ndim != 1 or not len(times):
        raise ActionhasError(f"times must be a non-empty 1-D array, got shape {times.shape}")
    if not step > 0 or upsample < 1:
        raise ActionhasError(f"step must be > 0 seconds and upsample >= 1, got step={step}, upsample={upsample}")
    cas_up, centres = _upsample(minmax_normalize(_check_sequence("cas", cas, len(times))), times, step, upsample)
    sources = [(cas_up, np.asarray(cas_thresholds, np.float64))]
    if attention is not None:
        att = minmax_normalize(_check_sequence("attention", attention, len(times)))
        sources.append((_upsample(att, times, step, upsample)[0], np.asarray(attention_thresholds, np.float64)))
    runs = [true_runs((seq >= levels[:, None]) & (seq > 0)) for seq, levels in sources if len(levels)]
    if not runs:
        return []
    starts, ends = np.concatenate([r[0] for r in runs]), np.concatenate([r[1] for r in runs])
    scores = _oic(cas_up, starts, ends, outer_ratio) + class_weight * float(class_score)
    half = step / (2 * upsample)
    t0, t1 = np.maximum(centres[starts] - half, 0.0), centres[ends] + half
    if duration is not None:
        t0, t1 = np.minimum(t0, duration), np.minimum(t1, duration)
    return list(zip(t0.tolist(), t1.tolist(), scores.tolist()))


def _as_array(proposals: Sequence[Proposal]) -> np.ndarray:
    arr = np.asarray(proposals, np.float64).reshape(-1, 3)
    if not np.isfinite(arr).all() or (arr[:, 1] < arr[:, 0]).any():
        raise ActionhasError("proposals must hold finite (start_s, end_s, score) values with end >= start")
    return arr


def _overlap_graph(arr: np.ndarray, min_iou: float) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Every pair of proposals (rows of ``arr``) whose IoU is > 0 and >= ``min_iou``, as adjacency
    lists: the neighbours of i are ``nbrs[ptr[i]:ptr[i + 1]]``, their IoUs ``ious[ptr[i]:ptr[i + 1]]``.

    Sorting by start finds each overlapping pair once without an n x n matrix: proposals after i
    in start order overlap it exactly while they start before i ends.
    """
    n = len(arr)
    order = np.argsort(arr[:, 0], kind="stable")
    s, e = arr[order, 0], arr[order, 1]
    counts = np.maximum(np.searchsorted(s, e, side="left") - np.arange(n) - 1, 0)
    a = np.repeat(np.arange(n), counts)
    b = a + 1 + np.arange(len(a)) - np.repeat(np.cumsum(counts) - counts, counts)
    iou = interval_iou(s[a], e[a], s[b], e[b])
    edge = (iou > 0) & (iou >= min_iou)
    src = np.r_[order[a[edge]], order[b[edge]]]
    dst = np.r_[order[b[edge]], order[a[edge]]]
    by_src = np.argsort(src, kind="stable")
    ptr = np.searchsorted(src[by_src], np.arange(n + 1)).tolist()
    return ptr, dst[by_src], np.r_[iou[edge], iou[edge]][by_src]


def nms(proposals: Sequence[Proposal], iou: float) -> list[Proposal]:
    """Greedy NMS: repeatedly keep the best-scored segment (ties: earlier in the list) and drop
    every remaining one whose temporal IoU with it is >= ``iou`` (0 < iou <= 1). Returns the kept
    proposals by descending score."""
    if not 0 < iou <= 1:
        raise ActionhasError(f"NMS IoU threshold must be in (0, 1], got {iou}")
    arr = _as_array(proposals)
    ptr, nbrs, _ = _overlap_graph(arr, iou)
    nbrs = nbrs.tolist()
    suppressed = [False] * len(arr)
    keep = []
    for i in np.argsort(-arr[:, 2], kind="stable").tolist():
        if not suppressed[i]:
            keep.append(i)
            for j in nbrs[ptr[i]:ptr[i + 1]]:
                suppressed[j] = True
    return [tuple(row) for row in arr[keep].tolist()]


def soft_nms(proposals: Sequence[Proposal], sigma: float = defaults.SOFT_NMS_SIGMA,
             min_score: float = defaults.SOFT_NMS_MIN_SCORE) -> list[Proposal]:
    """Gaussian soft-NMS (Bodla et al., ICCV 2017): repeatedly keep the best-scored segment (ties:
    earlier in the list) and multiply the score of every remaining one by exp(-iou^2 / sigma);
    proposals whose score is or falls below ``min_score`` (every negative OIC score among them)
    are dropped. Returns the kept proposals, with their decayed scores, in the order kept."""
    if not sigma > 0:
        raise ActionhasError(f"soft-NMS sigma must be > 0, got {sigma}")
    arr = _as_array(proposals)
    ptr, nbrs, ious = _overlap_graph(arr, 0.0)
    decay = np.exp(-ious ** 2 / sigma)
    score = arr[:, 2].copy()
    alive = score >= min_score
    ranked = np.where(alive, score, -np.inf)  # the score of alive proposals, -inf for the others
    keep = []
    while len(ranked):
        i = int(np.argmax(ranked))
        if ranked[i] == -np.inf:
            break
        keep.append((arr[i, 0], arr[i, 1], score[i]))
        alive[i], ranked[i] = False, -np.inf
        js, ws = nbrs[ptr[i]:ptr[i + 1]], decay[ptr[i]:ptr[i + 1]]
        live = alive[js]
        js = js[live]
        score[js] *= ws[live]
        alive[js] = score[js] >= min_score
        ranked[js] = np.where(alive[js], score[js], -np.inf)
    return [(float(a), float(b), float(c)) for a, b, c in keep]


def multi_threshold_instances(cas: np.ndarray, times: np.ndarray, class_score: float, step: float,
                             duration: float | None, attention: np.ndarray | None = None, *,
                             method: str = defaults.PROPOSAL_METHOD, nms_iou: float = defaults.PROPOSAL_NMS_IOU,
                             soft_sigma: float = defaults.SOFT_NMS_SIGMA, **thresholds) -> list[Proposal]:
    """One class's final proposals: ``class_proposals`` (``thresholds`` are its keyword settings:
    cas_thresholds, attention_thresholds, outer_ratio, class_weight, upsample), then ``nms`` with
    ``nms_iou`` (method "nms") or ``soft_nms`` with ``soft_sigma`` (method "soft-nms")."""
    if method not in NMS_METHODS:
        raise ActionhasError(f"proposal suppression method must be 'nms' or 'soft-nms', got {method!r}")
    proposals = class_proposals(cas, times, class_score, step, duration, attention, **thresholds)
    return nms(proposals, nms_iou) if method == "nms" else soft_nms(proposals, soft_sigma)
