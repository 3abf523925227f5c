"""The detection-mAP rules of ``actionhas.evaluation.detection_map`` written as plain loops, one detection at a time.

Slow and obviously faithful to ActivityNet's ``compute_average_precision_detection`` and to the
THUMOS14 kit's ``TH14eventdetpr.m``: the tests use it as the oracle for the vectorised evaluator,
and ``benchmarks/bench_evaluate.py`` times the two against each other. Which predictions count is
decided once, by ``actionhas.evaluation.detection_map.select_predictions``.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from actionhas.evaluation.detection_map import (
    check_thresholds,
    interpolated_ap,
    select_predictions,
    thumos14_ap,
)
from actionhas.formats.ground_truth import GroundTruth, canonical_video_id


def _iou(a0: float, a1: float, b0: float, b1: float) -> float:
    """ActivityNet's interval_iou of one pair."""
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    union = (a1 - a0) + (b1 - b0) - inter
    return inter / union if union > 0 else 0.0


def _kit_overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    """intervalsingleoverlapvalseconds.m: intersection over the hull, 0 without overlap."""
    inter = min(a1, b1) - max(a0, b0)
    return inter / (max(a1, b1) - min(a0, b0)) if inter > 0 else 0.0


def _anet_class(gts: list, preds: list, thr: float) -> float:
    """gts: [(video, start, end)] in file order; preds: [(video, start, end, score)] in file order."""
    order = sorted(range(len(preds)), key=lambda i: -preds[i][3])  # sorted() is stable
    by_video = defaultdict(list)
    for j, g in enumerate(gts):
        by_video[g[0]].append(j)
    taken = set()
    tp, fp = [], []
    for i in order:
        video, s, e, _ = preds[i]
        cands = by_video.get(video, [])  # no instance of the class in the video: a false positive
        ious = [_iou(s, e, gts[j][1], gts[j][2]) for j in cands]
        # ActivityNet visits instances by descending tIoU (reversed stable argsort: later first on ties)
        visit = sorted(range(len(cands)), key=lambda k: (ious[k], k), reverse=True)
        hit = False
        for k in visit:
            if ious[k] < thr:
                break
            if cands[k] in taken:
                continue
            taken.add(cands[k])
            hit = True
            break
        tp.append(1.0 if hit else 0.0)
        fp.append(0.0 if hit else 1.0)
    return interpolated_ap(np.array(tp), np.array(fp), len(gts))


def _thumos14_class(gts: list, preds: list, ambiguous: dict, thr: float) -> float:
    """TH14eventdetpr for one class: videos in name order, then one stable sort by confidence."""
    by_video_gt, by_video_det = defaultdict(list), defaultdict(list)
    for g in gts:
        by_video_gt[g[0]].append(g)
    for p in preds:
        by_video_det[p[0]].append(p)
    conf, hit = [], []
    for video in sorted(by_video_det):  # videos without detections of the class add nothing
        dets = sorted(by_video_det[video], key=lambda p: -p[3])  # stable, as MATLAB's sort
        free = [True] * len(dets)
        for _, g0, g1 in by_video_gt.get(video, []):
            best, best_k = -1.0, -1
            for k, d in enumerate(dets):
                if free[k]:
                    ov = _kit_overlap(g0, g1, d[1], d[2])
                    if ov > best:  # strict: the first (highest-scored) detection wins ties
                        best, best_k = ov, k
            if best_k >= 0 and best > thr:
                free[best_k] = False
        for k, (_, s, e, score) in enumerate(dets):
            if not free[k]:
                conf.append(score)
                hit.append(True)
            elif not any(min(e, a1) - max(s, a0) > 0 for a0, a1 in ambiguous.get(video, [])):
                conf.append(score)
                hit.append(False)
    order = sorted(range(len(conf)), key=lambda i: -conf[i])
    tp = np.array([1.0 if hit[i] else 0.0 for i in order])
    return thumos14_ap(tp, 1.0 - tp, len(gts))


def evaluate_detection_loops(gt: GroundTruth, preds, iou_thresholds, protocol: str = "anet") -> dict:
    """Same result as ``actionhas.evaluation.detection_map.evaluate_detection`` (iou, mAP, average_mAP, per_class)."""
    thresholds = check_thresholds(iou_thresholds).tolist()
    kept = select_predictions(gt, preds, protocol)
    inst, amb = gt.instance_columns, gt.ambiguous_columns
    instances = list(zip([canonical_video_id(v) for v in inst["video"]], inst["label"],
                         inst["start"].tolist(), inst["end"].tolist()))
    predictions = list(zip(kept["video"], kept["label"], kept["start"].tolist(), kept["end"].tolist(),
                           kept["score"].tolist()))
    ambiguous = defaultdict(list)
    for video, start, end in zip(amb["video"], amb["start"].tolist(), amb["end"].tolist()):
        ambiguous[canonical_video_id(video)].append((start, end))
    per_class = {}
    for c in gt.classes:
        gts = [(v, s, e) for v, label, s, e in instances if label == c]
        ps = [(v, s, e, score) for v, label, s, e, score in predictions if label == c]
        if protocol == "anet":
            per_class[c] = [_anet_class(gts, ps, t) for t in thresholds]
        else:
            per_class[c] = [_thumos14_class(gts, ps, ambiguous, t) for t in thresholds]
    m = [float(np.mean([per_class[c][i] for c in per_class])) for i in range(len(thresholds))]
    return {"iou": thresholds, "mAP": m, "average_mAP": float(np.mean(m)), "per_class": per_class}
