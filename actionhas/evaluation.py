"""Temporal detection mAP under the two THUMOS14 protocols, vectorised with numpy.

``anet`` is ActivityNet's ``eval_detection.py``: per class, predictions in descending score
(ties keep file order), each greedily takes the free ground-truth instance of its video with the
highest tIoU (ties: the later instance, as ActivityNet's reversed argsort), true positive when
tIoU >= theta; AP is the area under the interpolated precision-recall curve.

``thumos14`` is the official ``TH14evalDet.m``: per class and video, ground-truth instances in
file order each take the still-free detection with the largest overlap (ties: the higher-scored),
matched when overlap > theta (strict); an unmatched detection overlapping an Ambiguous segment of
its video is dropped; AP = sum of precision at each true positive / number of positives.

The greedy matching is sequential by nature, but only within one (class, video) pair, and its
state changes only when an instance is taken. So all pairs and thresholds advance together: in
each round every pending detection either can no longer match (false positive, for good), is the
first candidate of its pair (true positive) or waits. Rounds <= instances in the busiest pair.
``actionhas.evaluation_reference`` states the same rules as plain loops; the tests hold the two equal.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from actionhas.annotations import GroundTruth

DEFAULT_IOUS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
PROTOCOLS = ("anet", "thumos14")


def segment_iou(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """Temporal IoU of segments [a0, a1] and [b0, b1], broadcast; 0 when they do not overlap."""
    inter = np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0.0, None)
    union = (a1 - a0) + (b1 - b0) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


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
    """TH14evalDet's AP: precision summed at each true positive, over the number of positives."""
    if npos == 0 or len(tp) == 0:
        return 0.0
    tp_c, fp_c = np.cumsum(tp), np.cumsum(fp)
    prec = tp_c / (tp_c + fp_c)
    return float(prec[tp.astype(bool)].sum() / npos)


def select_predictions(gt: GroundTruth, preds: pd.DataFrame) -> pd.DataFrame:
    """Keep predictions of ground-truth videos and classes; warn with counts about the rest."""
    in_video = preds["video"].isin(gt.videos.index)
    n_video = int((~in_video).sum())
    if n_video:
        warnings.warn(f"{n_video} prediction(s) in {preds.loc[~in_video, 'video'].nunique()} video(s) "
                      "not in the ground truth are ignored")
    classes = set(gt.instances["label"])
    in_class = preds["label"].isin(classes)
    n_class = int((in_video & ~in_class).sum())
    if n_class:
        unknown = sorted(set(preds.loc[in_video & ~in_class, "label"]))[:5]
        warnings.warn(f"{n_class} prediction(s) with labels not in the ground truth (e.g. {unknown}) are ignored")
    return preds[in_video & in_class].reset_index(drop=True)


class _Layout:
    """Ground truth and predictions as integer codes, and the overlapping pairs between them.

    Predictions are ordered by class, then score descending (stable: ties keep file order);
    instances by (class, video), then file order. Edges (ep, eg, eiou) list every prediction and
    instance of the same class and video with positive tIoU, ordered by prediction.
    """

    def __init__(self, gt: GroundTruth, preds: pd.DataFrame):
        self.classes = sorted(gt.instances["label"].unique())
        videos = pd.Index(gt.videos.index)
        cls_code = {c: i for i, c in enumerate(self.classes)}
        n_videos = max(len(videos), 1)

        g_cls = gt.instances["label"].map(cls_code).to_numpy(int)
        g_key = g_cls * n_videos + videos.get_indexer(gt.instances["video"])
        g_order = np.argsort(g_key, kind="stable")
        g_key = g_key[g_order]
        g0 = gt.instances["start"].to_numpy(float)[g_order]
        g1 = gt.instances["end"].to_numpy(float)[g_order]
        self.n_gt = len(g_key)
        self.g_slot = np.arange(self.n_gt) - np.searchsorted(g_key, g_key, side="left")
        self.npos = np.bincount(g_cls, minlength=len(self.classes))

        p_cls = preds["label"].map(cls_code).to_numpy(int)
        score = preds["score"].to_numpy(float)
        order = np.lexsort((-score, p_cls))
        self.p_cls = p_cls[order]
        self.p_vid = videos.get_indexer(preds["video"].to_numpy()[order])
        self.p0 = preds["start"].to_numpy(float)[order]
        self.p1 = preds["end"].to_numpy(float)[order]
        self.p_key = self.p_cls * n_videos + self.p_vid
        self.class_bounds = np.searchsorted(self.p_cls, np.arange(len(self.classes) + 1))

        first = np.searchsorted(g_key, self.p_key, side="left")
        count = np.searchsorted(g_key, self.p_key, side="right") - first
        ep = np.repeat(np.arange(len(order)), count)
        eg = first[ep] + np.arange(len(ep)) - np.repeat(np.cumsum(count) - count, count)
        eiou = segment_iou(self.p0[ep], self.p1[ep], g0[eg], g1[eg])
        overlap = eiou > 0
        self.ep, self.eg, self.eiou = ep[overlap], eg[overlap], eiou[overlap]


def _edges_per_threshold(lay: _Layout, thresholds: np.ndarray, strict: bool):
    """Edges replicated per threshold t where they can match: (t, ep, eg, eiou), t-major."""
    ok = (lay.eiou[None, :] > thresholds[:, None]) if strict else (lay.eiou[None, :] >= thresholds[:, None])
    t, e = np.nonzero(ok)
    return t, lay.ep[e], lay.eg[e], lay.eiou[e]


def _match_anet(lay: _Layout, thresholds: np.ndarray) -> np.ndarray:
    """(T, P) true-positive flags under ActivityNet's prediction-centric greedy matching.

    An edge can match while its instance is free; a prediction with no such edge left is a
    false positive for good. Each round, the first prediction of each (threshold, pair) with an
    edge left takes its highest-tIoU instance (ties: the later one). Edges are put in pair order
    once (a stable sort keeps predictions in score order and instances in file order inside a
    pair), so a round is a few linear passes: a pair's head prediction owns the first block of
    its run, and that block's last maximum is the instance it takes.
    """
    T, P = len(thresholds), len(lay.p0)
    tp = np.zeros((T, P), bool)
    t, ep, eg, eiou = _edges_per_threshold(lay, thresholds, strict=False)
    pair = t * (int(lay.p_key.max(initial=0)) + 1) + lay.p_key[ep]
    order = np.argsort(pair, kind="stable")
    t, ep, eg, eiou, pair = t[order], ep[order], eg[order], eiou[order], pair[order]
    locked = np.zeros((T, lay.n_gt), bool)
    while len(ep):
        new_pair = np.r_[True, pair[1:] != pair[:-1]]
        run = np.cumsum(new_pair) - 1
        starts = np.flatnonzero(new_pair)
        chosen = ep == ep[starts][run]
        idx = np.flatnonzero(chosen)
        best = np.maximum.reduceat(eiou[idx], np.searchsorted(idx, starts))
        at_best = np.where(eiou[idx] == best[run[idx]], idx, -1)
        take = np.maximum.reduceat(at_best, np.searchsorted(idx, starts))
        tp[t[take], ep[take]] = True
        locked[t[take], eg[take]] = True
        keep = ~chosen & ~locked[t, eg]  # every round retires each pair's head prediction
        t, ep, eg, eiou, pair = t[keep], ep[keep], eg[keep], eiou[keep], pair[keep]
    return tp


def _match_thumos14(lay: _Layout, thresholds: np.ndarray, gt: GroundTruth) -> tuple[np.ndarray, np.ndarray]:
    """(T, P) true-positive and dropped (unmatched, overlapping Ambiguous) flags, TH14evalDet rules.

    Instances of a pair take their turn by slot (file order); in round k every pair's k-th
    instance takes its free detection of highest overlap (ties: the higher-scored one).
    """
    T, P = len(thresholds), len(lay.p0)
    tp = np.zeros((T, P), bool)
    t, ep, eg, eiou = _edges_per_threshold(lay, thresholds, strict=True)
    slot = lay.g_slot[eg]
    by_slot = np.lexsort((ep, -eiou, eg, t, slot))  # per (slot, t, instance): best overlap, then best score
    t, ep, eg, slot = t[by_slot], ep[by_slot], eg[by_slot], slot[by_slot]
    bounds = np.searchsorted(slot, np.arange(int(slot.max(initial=-1)) + 2))
    for k in range(len(bounds) - 1):
        lo, hi = bounds[k], bounds[k + 1]
        kt, kp, kg = t[lo:hi], ep[lo:hi], eg[lo:hi]
        free = ~tp[kt, kp]
        kt, kp, kg = kt[free], kp[free], kg[free]
        if not len(kt):
            continue
        head = np.r_[True, (kt[1:] != kt[:-1]) | (kg[1:] != kg[:-1])]
        tp[kt[head], kp[head]] = True
    dropped = ~tp & _overlaps_ambiguous(lay, gt)[None, :]
    return tp, dropped


def _overlaps_ambiguous(lay: _Layout, gt: GroundTruth) -> np.ndarray:
    """(P,) whether each prediction overlaps (positive intersection) an Ambiguous segment of its video."""
    amb = gt.ambiguous
    out = np.zeros(len(lay.p0), bool)
    if not len(amb) or not len(lay.p0):
        return out
    a_vid = pd.Index(gt.videos.index).get_indexer(amb["video"])
    keep = a_vid >= 0
    a_vid = a_vid[keep]
    order = np.argsort(a_vid, kind="stable")
    a_vid = a_vid[order]
    a0, a1 = amb["start"].to_numpy(float)[keep][order], amb["end"].to_numpy(float)[keep][order]
    first = np.searchsorted(a_vid, lay.p_vid, side="left")
    count = np.searchsorted(a_vid, lay.p_vid, side="right") - first
    if not count.max(initial=0):
        return out
    slots = np.arange(count.max())
    valid = slots[None, :] < count[:, None]
    idx = np.where(valid, first[:, None] + slots[None, :], 0)
    inter = np.minimum(lay.p1[:, None], a1[idx]) - np.maximum(lay.p0[:, None], a0[idx])
    return np.any(valid & (inter > 0), axis=1)


def evaluate_detection(gt: GroundTruth, preds: pd.DataFrame, iou_thresholds=DEFAULT_IOUS,
                       protocol: str = "anet") -> dict:
    """mAP of ``preds`` (video, label, start, end, score) against ``gt`` at each tIoU threshold.

    Returns the metrics dict of the project's metrics JSON: iou, mAP, average_mAP, per_class,
    num_videos, num_predictions (after dropping videos and classes not in ``gt``), protocol.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    thresholds = np.asarray(iou_thresholds, float)
    if not len(thresholds) or np.any((thresholds <= 0) | (thresholds > 1)):
        raise ValueError(f"tIoU thresholds must lie in (0, 1], got {list(iou_thresholds)}")
    preds = select_predictions(gt, preds)
    lay = _Layout(gt, preds)
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
            keep = counted[t, lo:hi]
            hits = tp[t, lo:hi][keep]
            ap[c, t] = ap_fn(hits.astype(float), (~hits).astype(float), int(lay.npos[c]))
    mean = ap.mean(axis=0) if len(lay.classes) else np.zeros(len(thresholds))
    return {
        "iou": [float(x) for x in thresholds],
        "mAP": [float(x) for x in mean],
        "average_mAP": float(mean.mean()) if len(mean) else 0.0,
        "per_class": {c: [float(x) for x in ap[i]] for i, c in enumerate(lay.classes)},
        "num_videos": int(len(gt.videos)),
        "num_predictions": int(len(preds)),
        "protocol": protocol,
    }
