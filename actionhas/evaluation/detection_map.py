"""Temporal detection mAP under the two THUMOS14 protocols, vectorised with numpy.

``anet`` is ActivityNet's ``eval_detection.py`` (``compute_average_precision_detection``,
``interpolated_prec_rec``): per class, predictions in descending score (ties keep file order),
each greedily takes the free ground-truth instance of its video with the highest tIoU (ties: the
later instance, as ActivityNet's reversed argsort), true positive when tIoU >= theta; AP is the
area under the interpolated precision-recall curve. Predictions in videos without ground truth
are ignored (with a counted warning).

``thumos14`` is the updated official THUMOS14 kit (``TH14evalDet.m`` with ``TH14eventdetpr.m``,
``intervaloverlapvalseconds.m``, ``prap.m``). Per class it walks every video named by the ground
truth or the detections, in name order; in each, detections in descending confidence, and the
ground-truth instances in file order each take the still-free detection of largest overlap
(intersection over the hull of the two segments; ties: the higher-scored), matched when overlap
> theta (strict); an unmatched detection overlapping an Ambiguous segment is dropped. The
videos' detections are concatenated in name order and sorted by confidence again, stably, so
ties fall in video-name order; AP = sum of precision at each true positive / number of positives.
Every prediction of an evaluated video (``GroundTruth.in_scope``) counts, so a detection in a
video without ground truth of its class is a false positive.

Prediction videos match ground-truth videos through ``canonical_video_id`` (``v_abc`` is ``abc``).

Both matchings are one sequential greedy rule (``_greedy``): proposers in turn each take their
most preferred free resource (ActivityNet: predictions take instances; the kit: instances take
detections). All thresholds, and every proposer that no earlier one can get in the way of,
advance together in rounds.
``actionhas.evaluation.reference`` states the same rules as plain loops; the tests hold the two equal.
"""
from __future__ import annotations

import warnings

import numpy as np

from actionhas.core.errors import ActionhasError
from actionhas.core.intervals import interval_iou  # noqa: F401 (the evaluation's tIoU, imported from here too)
from actionhas.formats.annotations import PREDICTION_COLUMNS
from actionhas.formats.ground_truth import GroundTruth, as_columns, canonical_video_id

PROTOCOLS = ("anet", "thumos14")
_THUMOS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
IOU_SETS = {"thumos": _THUMOS, "anet": tuple(float(t) for t in np.linspace(0.5, 0.95, 10))}
"""Named tIoU sets: THUMOS14's 0.1:0.1:0.7 and ActivityNet's np.linspace(0.5, 0.95, 10), bit for bit."""
DEFAULT_IOUS = IOU_SETS["thumos"]
AVERAGE_RANGES = {"0.1-0.5": _THUMOS[:5], "0.1-0.7": _THUMOS, "0.3-0.7": _THUMOS[2:], "0.5-0.95": IOU_SETS["anet"]}
"""The averages over tIoU the field quotes; one is reported when all of its thresholds were evaluated."""


def kit_overlap(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """The THUMOS14 kit's overlap: intersection over the hull of both segments, 0 without overlap.

    The tIoU of overlapping segments, computed as ``intervaloverlapvalseconds.m`` computes it.
    """
    inter = np.minimum(a1, b1) - np.maximum(a0, b0)
    hull = np.maximum(a1, b1) - np.minimum(a0, b0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(inter > 0, inter / hull, 0.0)


def interpolated_ap(tp: np.ndarray, fp: np.ndarray, npos: int) -> float:
    """ActivityNet's area under the precision-recall curve with precision made monotone."""
    if npos == 0 or len(tp) == 0:
        return 0.0
    tp_c, fp_c = np.cumsum(tp), np.cumsum(fp)
    rec = tp_c / npos
    prec = tp_c / (tp_c + fp_c)
    mprec = np.concatenate([[0.0], prec, [0.0]])
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]
    idx = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def thumos14_ap(tp: np.ndarray, fp: np.ndarray, npos: int) -> float:
    """The kit's ``prap``: precision summed at each true positive, over the number of positives."""
    if npos == 0 or len(tp) == 0:
        return 0.0
    tp_c, fp_c = np.cumsum(tp), np.cumsum(fp)
    prec = tp_c / (tp_c + fp_c)
    return float(prec[tp.astype(bool)].sum() / npos)


def select_predictions(gt: GroundTruth, preds, protocol: str) -> dict[str, np.ndarray]:
    """The predictions that are scored, as columns with canonical video ids; warn with counts about the rest.

    ``preds``: a DataFrame or mapping with columns video, label, start, end, score. ``anet`` scores
    the predictions of ground-truth videos, ``thumos14`` those of every video in scope of ``gt``;
    both drop labels the ground truth does not have.
    """
    cols = as_columns(preds, PREDICTION_COLUMNS)
    gt_videos = {canonical_video_id(v) for v in gt.video_columns["video"]}
    if len(gt_videos) < len(gt.video_columns["video"]):
        raise ActionhasError("the ground truth names a video both with and without the 'v_' prefix")
    canonical = {v: canonical_video_id(v) for v in dict.fromkeys(cols["video"])}
    counted = {v: c in gt_videos or (protocol == "thumos14" and gt.in_scope(v)) for v, c in canonical.items()}
    in_video = np.fromiter(map(counted.__getitem__, cols["video"]), bool, len(cols["video"]))
    n_video = int((~in_video).sum())
    if n_video:
        where = "not in the ground truth" if protocol == "anet" else \
            f"outside the evaluated videos (subset {gt.subset!r}, {len(gt.excluded)} excluded)"
        warnings.warn(f"{n_video} prediction(s) in {len(set(cols['video'][~in_video]))} video(s) {where} are ignored")
    classes = set(gt.instance_columns["label"])
    in_class = np.fromiter(map(classes.__contains__, cols["label"]), bool, len(cols["label"]))
    n_class = int((in_video & ~in_class).sum())
    if n_class:
        unknown = sorted(set(cols["label"][in_video & ~in_class]))[:5]
        warnings.warn(f"{n_class} prediction(s) with labels not in the ground truth (e.g. {unknown}) are ignored")
    keep = in_video & in_class
    kept = {name: values[keep] for name, values in cols.items()}
    kept["video"] = np.fromiter(map(canonical.__getitem__, kept["video"]), object, len(kept["video"]))
    return kept


class _Layout:
    """Ground truth and predictions as integer codes, and the overlapping pairs between them.

    Videos are numbered in name order (canonical ids of the ground truth and the predictions).
    Predictions are ordered by class, then score descending; ties keep file order (``anet``) or
    fall in video-name order, then file order (``thumos14``). Instances are ordered by (class,
    video), then file order. Edges (ep, eg, eiou) list every prediction and instance of the same
    class and video with positive overlap (the protocol's tIoU).
    """

    def __init__(self, gt: GroundTruth, preds: dict[str, np.ndarray], protocol: str):
        inst = gt.instance_columns
        self.classes = gt.classes
        cls_code = {c: i for i, c in enumerate(self.classes)}
        named = (gt.video_columns["video"], inst["video"], gt.ambiguous_columns["video"])
        names = sorted({canonical_video_id(v) for column in named for v in column} | set(preds["video"]))
        self.video_code = {v: i for i, v in enumerate(names)}
        n_videos = max(len(names), 1)

        g_cls = _codes(cls_code, inst["label"])
        g_key = g_cls * n_videos + self.video_codes(inst["video"])
        g_order = np.argsort(g_key, kind="stable")
        g_key, g0, g1 = g_key[g_order], inst["start"][g_order], inst["end"][g_order]
        self.n_gt = len(g_key)
        self.npos = np.bincount(g_cls, minlength=len(self.classes))

        p_cls, p_vid = _codes(cls_code, preds["label"]), _codes(self.video_code, preds["video"])
        score = preds["score"]
        order = np.lexsort((p_vid, -score, p_cls) if protocol == "thumos14" else (-score, p_cls))
        self.p_cls, self.p_vid = p_cls[order], p_vid[order]
        self.p0, self.p1 = preds["start"][order], preds["end"][order]
        self.p_key = self.p_cls * n_videos + self.p_vid
        self.class_bounds = np.searchsorted(self.p_cls, np.arange(len(self.classes) + 1))

        ep, eg = _candidate_edges(g_key, g0, g1, self.p_key, self.p0, self.p1)
        overlap_of = kit_overlap if protocol == "thumos14" else interval_iou
        eiou = overlap_of(self.p0[ep], self.p1[ep], g0[eg], g1[eg])
        keep = eiou > 0
        self.ep, self.eg, self.eiou = ep[keep], eg[keep], eiou[keep]

    def video_codes(self, videos: np.ndarray) -> np.ndarray:
        return _codes(self.video_code, [canonical_video_id(v) for v in videos])


def _codes(code: dict[str, int], values) -> np.ndarray:
    return np.fromiter(map(code.__getitem__, values), int, len(values))


def _candidate_edges(g_key, g0, g1, p_key, p0, p1) -> tuple[np.ndarray, np.ndarray]:
    """(ep, eg): for each prediction, the instances of its (class, video) that may overlap it.

    A superset of the overlapping pairs found by binary search, not by trying every instance of the
    pair: in the pair's instances sorted by start, those starting before the prediction ends, from
    the first whose running maximum end passes the prediction's start. Times are compared through
    their ranks among the instances' starts (ends), so one search covers every pair exactly.
    """
    if not len(g_key) or not len(p_key):
        return np.zeros(0, int), np.zeros(0, int)
    blocks, block_of = np.unique(g_key, return_inverse=True)
    by_start = np.lexsort((g0, block_of))
    width = len(g_key) + 1
    starts, ends = np.sort(g0), np.sort(g1)
    start_key = block_of[by_start] * width + np.searchsorted(starts, g0[by_start], "left")
    end_key = np.maximum.accumulate(block_of[by_start] * width + np.searchsorted(ends, g1[by_start], "right"))
    b = np.minimum(np.searchsorted(blocks, p_key), len(blocks) - 1)
    hi = np.searchsorted(start_key, b * width + np.searchsorted(starts, p1, "left"), "left")
    lo = np.searchsorted(end_key, b * width + np.searchsorted(ends, p0, "right"), "right")
    count = np.where(blocks[b] == p_key, np.maximum(hi - lo, 0), 0)
    ep = np.repeat(np.arange(len(p_key)), count)
    j = np.repeat(lo, count) + np.arange(len(ep)) - np.repeat(np.cumsum(count) - count, count)
    return ep, by_start[j]


def _greedy(t: np.ndarray, who: np.ndarray, what: np.ndarray, took_shape: tuple[int, int],
            taken_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The sequential greedy rule, vectorised: for each threshold, proposers in ``who`` order each
    take their most preferred free resource. Returns (T, proposers) flags of those that took one
    and (T, resources) flags of those taken.

    Edges (t, who, what) are sorted by (t, who), each proposer's edges in its order of preference.
    Each round, every proposer with an edge to a free resource points at its favourite, and takes
    it when no earlier proposer still has an edge to it: then nobody before it can take it, and
    all it prefers went to earlier proposers, so it is what the sequential rule gives. The earliest
    proposer pointing anywhere always takes, so rounds are as many as the longest chain of
    proposers waiting on one another. A proposer left without free edges takes nothing, as at its turn.
    """
    took, taken = np.zeros(took_shape, bool), np.zeros(taken_shape, bool)
    earliest = np.empty(taken_shape, int)
    while len(who):
        free = ~taken[t, what] & ~took[t, who]
        t, who, what = t[free], who[free], what[free]
        if not len(who):
            break
        head = np.flatnonzero(np.r_[True, (who[1:] != who[:-1]) | (t[1:] != t[:-1])])
        earliest[t, what] = took_shape[1]
        np.minimum.at(earliest, (t, what), who)
        h_t, h_who, h_what = t[head], who[head], what[head]
        settled = earliest[h_t, h_what] == h_who
        took[h_t[settled], h_who[settled]] = True
        taken[h_t[settled], h_what[settled]] = True
    return took, taken


def _match_anet(lay: _Layout, thresholds: np.ndarray) -> np.ndarray:
    """(T, P) true-positive flags under ActivityNet's matching: predictions in score order each take
    the free instance of highest tIoU >= threshold (ties: the later instance)."""
    order = np.lexsort((-lay.eg, -lay.eiou, lay.ep))
    t, e = np.nonzero(lay.eiou[order][None, :] >= thresholds[:, None])
    e = order[e]
    return _greedy(t, lay.ep[e], lay.eg[e], (len(thresholds), len(lay.p0)), (len(thresholds), lay.n_gt))[0]


def _match_thumos14(lay: _Layout, thresholds: np.ndarray, gt: GroundTruth) -> tuple[np.ndarray, np.ndarray]:
    """(T, P) true-positive and dropped (unmatched, overlapping Ambiguous) flags, the kit's rules:
    instances in file order each take the free detection of highest overlap > threshold (ties: the
    higher-scored)."""
    order = np.lexsort((lay.ep, -lay.eiou, lay.eg))
    t, e = np.nonzero(lay.eiou[order][None, :] > thresholds[:, None])
    e = order[e]
    _, tp = _greedy(t, lay.eg[e], lay.ep[e], (len(thresholds), lay.n_gt), (len(thresholds), len(lay.p0)))
    return tp, ~tp & _overlaps_ambiguous(lay, gt)[None, :]


def _overlaps_ambiguous(lay: _Layout, gt: GroundTruth) -> np.ndarray:
    """(P,) whether each prediction overlaps (positive intersection) an Ambiguous segment of its video."""
    amb = gt.ambiguous_columns
    out = np.zeros(len(lay.p0), bool)
    if not len(amb["video"]) or not len(lay.p0):
        return out
    a_vid = lay.video_codes(amb["video"])
    order = np.argsort(a_vid, kind="stable")
    a_vid, a0, a1 = a_vid[order], amb["start"][order], amb["end"][order]
    first = np.searchsorted(a_vid, lay.p_vid, side="left")
    count = np.searchsorted(a_vid, lay.p_vid, side="right") - first
    near = np.flatnonzero(count)  # predictions in a video with Ambiguous segments
    if not len(near):
        return out
    slots = np.arange(count.max())
    valid = slots[None, :] < count[near, None]
    idx = np.where(valid, first[near, None] + slots[None, :], 0)
    inter = np.minimum(lay.p1[near, None], a1[idx]) - np.maximum(lay.p0[near, None], a0[idx])
    out[near] = np.any(valid & (inter > 0), axis=1)
    return out


def check_thresholds(iou_thresholds) -> np.ndarray:
    """tIoU thresholds as an array; an error unless there is at least one and all lie in (0, 1]."""
    thresholds = np.asarray(iou_thresholds, float)
    if thresholds.ndim != 1 or not len(thresholds) or not np.all((thresholds > 0) & (thresholds <= 1)):
        raise ActionhasError(f"tIoU thresholds must lie in (0, 1], got {list(iou_thresholds)}")
    return thresholds


def average_ranges(iou: list[float], mean_ap: list[float]) -> dict[str, float]:
    """mAP averaged over each range of ``AVERAGE_RANGES`` whose thresholds are all in ``iou``."""
    iou_arr = np.asarray(iou, float)
    out = {}
    for name, wanted in AVERAGE_RANGES.items():
        at = [np.flatnonzero(np.abs(iou_arr - t) < 1e-9) for t in wanted]
        if all(len(i) for i in at):
            out[name] = float(np.mean([mean_ap[i[0]] for i in at]))
    return out


def evaluate_detection(gt: GroundTruth, preds, iou_thresholds=DEFAULT_IOUS, protocol: str = "anet") -> dict:
    """mAP of ``preds`` (video, label, start, end, score: a DataFrame or mapping of columns) against
    ``gt`` at each tIoU threshold.

    Returns the metrics dict of the project's metrics JSON: iou, mAP, average_mAP (over every
    threshold), averages (``AVERAGE_RANGES`` present), per_class, num_videos, num_predictions
    (the ones scored), protocol.
    """
    if protocol not in PROTOCOLS:
        raise ActionhasError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    thresholds = check_thresholds(iou_thresholds)
    preds = select_predictions(gt, preds, protocol)
    lay = _Layout(gt, preds, protocol)
    if protocol == "anet":
        tp = _match_anet(lay, thresholds)
        counted = np.ones_like(tp)
    else:
        tp, dropped = _match_thumos14(lay, thresholds, gt)
        counted = ~dropped
    ap_fn = interpolated_ap if protocol == "anet" else thumos14_ap
    ap = np.zeros((len(lay.classes), len(thresholds)))
    for c in range(len(lay.classes)):
        lo, hi = lay.class_bounds[c], lay.class_bounds[c + 1]
        for t in range(len(thresholds)):
            hits = tp[t, lo:hi][counted[t, lo:hi]]
            ap[c, t] = ap_fn(hits.astype(float), (~hits).astype(float), int(lay.npos[c]))
    mean = ap.mean(axis=0) if len(lay.classes) else np.zeros(len(thresholds))
    iou, mean_ap = [float(x) for x in thresholds], [float(x) for x in mean]
    return {
        "iou": iou,
        "mAP": mean_ap,
        "average_mAP": float(mean.mean()),
        "averages": average_ranges(iou, mean_ap),
        "per_class": {c: [float(x) for x in ap[i]] for i, c in enumerate(lay.classes)},
        "num_videos": len(gt.video_columns["video"]),
        "num_predictions": len(preds["score"]),
        "protocol": protocol,
    }


def format_table(metrics: dict, title: str = "") -> str:
    """mAP per tIoU in percent on one line with the average over all of them, then the named averages."""
    head = " ".join(f"{t:>6.2f}" for t in metrics["iou"])
    vals = " ".join(f"{100 * m:6.2f}" for m in metrics["mAP"])
    lines = [title] if title else []
    lines += [f"tIoU     {head}    avg", f"mAP (%)  {vals} {100 * metrics['average_mAP']:6.2f}"]
    averages = metrics.get("averages") or {}
    if averages:
        lines.append("average mAP (%) over tIoU " + "   ".join(f"{k}: {100 * v:.2f}" for k, v in averages.items()))
    return "\n".join(lines)
