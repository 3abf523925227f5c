"""The detection-mAP rules of ``actionhas.evaluation`` written as plain loops, one detection at a time.

Slow and obviously faithful to ActivityNet's ``compute_average_precision_detection`` and to
``TH14evalDet.m``: the tests use it as the oracle for the vectorised evaluator, and
``benchmarks/bench_evaluate.py`` times the two against each other.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from actionhas.annotations import GroundTruth
from actionhas.evaluation import interpolated_ap, select_predictions, thumos14_ap


def _iou(a0: float, a1: float, b0: float, b1: float) -> float:
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    union = (a1 - a0) + (b1 - b0) - inter
    return inter / union if union > 0 else 0.0


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
        cands = by_video.get(video, [])
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
    by_video_gt, by_video_det = defaultdict(list), defaultdict(list)
    for g in gts:
        by_video_gt[g[0]].append(g)
    for i in sorted(range(len(preds)), key=lambda i: -preds[i][3]):
        by_video_det[preds[i][0]].append(i)
    status = {}  # detection index -> True (tp) / False (fp); dropped ones are absent
    for video, dets in by_video_det.items():
        matched = [False] * len(dets)
        for g in by_video_gt.get(video, []):
            best, best_k = -1.0, -1
            for k, i in enumerate(dets):
                if matched[k]:
                    continue
                ov = _iou(g[1], g[2], preds[i][1], preds[i][2])
                if ov > best:  # strict: the first (highest-scored) detection wins ties
                    best, best_k = ov, k
            if best_k >= 0 and best > thr:
                matched[best_k] = True
        for k, i in enumerate(dets):
            if matched[k]:
                status[i] = True
            elif not any(min(preds[i][2], a1) - max(preds[i][1], a0) > 0 for a0, a1 in ambiguous.get(video, [])):
                status[i] = False
    order = [i for i in sorted(range(len(preds)), key=lambda i: -preds[i][3]) if i in status]
    tp = np.array([1.0 if status[i] else 0.0 for i in order])
    return thumos14_ap(tp, 1.0 - tp, len(gts))


def evaluate_detection_loops(gt: GroundTruth, preds: pd.DataFrame, iou_thresholds, protocol: str = "anet") -> dict:
    """Same result as ``actionhas.evaluation.evaluate_detection`` (mAP and per-class AP)."""
    preds = select_predictions(gt, preds)
    ambiguous = defaultdict(list)
    for r in gt.ambiguous.itertuples(index=False):
        ambiguous[r.video].append((r.start, r.end))
    classes = sorted(gt.instances["label"].unique())
    per_class = {}
    for c in classes:
        gts = [(r.video, r.start, r.end) for r in gt.instances.itertuples(index=False) if r.label == c]
        ps = [(r.video, r.start, r.end, r.score) for r in preds.itertuples(index=False) if r.label == c]
        if protocol == "anet":
            per_class[c] = [_anet_class(gts, ps, t) for t in iou_thresholds]
        else:
            per_class[c] = [_thumos14_class(gts, ps, ambiguous, t) for t in iou_thresholds]
    m = [float(np.mean([per_class[c][i] for c in classes])) for i in range(len(iou_thresholds))]
    return {"iou": list(iou_thresholds), "mAP": m, "average_mAP": float(np.mean(m)), "per_class": per_class}
