"""Vectorised detection mAP against the plain-loop oracle on a THUMOS-sized random problem.

    python benchmarks/bench_evaluate.py [--videos 200] [--classes 20] [--predictions 100000]

Prints seconds for each protocol, the speed-up (target >= 20x) and whether the numbers agree.
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from actionhas.annotations import GroundTruth
from actionhas.evaluation import DEFAULT_IOUS, evaluate_detection
from actionhas.evaluation_reference import evaluate_detection_loops


def problem(videos: int, classes: int, predictions: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    names = [f"class{c:02d}" for c in range(classes)]
    vids = [f"video_{v:04d}" for v in range(videos)]
    rows = []
    for v in vids:
        for c in rng.choice(classes, size=2, replace=False):
            for _ in range(rng.integers(1, 12)):
                s = rng.uniform(0, 280)
                rows.append((v, names[c], s, s + rng.uniform(1, 15)))
    inst = pd.DataFrame(rows, columns=["video", "label", "start", "end"])
    gt = GroundTruth(inst, pd.DataFrame({"video": vids, "subset": "test", "duration": 300.0}).set_index("video"),
                     pd.DataFrame({"video": vids[:40], "start": 100.0, "end": 104.0}))
    base = inst.iloc[rng.integers(0, len(inst), predictions)]
    jitter = rng.normal(0, 3, size=(predictions, 2))
    start = base["start"].to_numpy() + jitter[:, 0]
    preds = pd.DataFrame({
        "video": np.where(rng.random(predictions) < 0.3, rng.choice(vids, predictions), base["video"]),
        "label": np.where(rng.random(predictions) < 0.2, rng.choice(names, predictions), base["label"]),
        "start": start, "end": np.maximum(start + 0.5, base["end"].to_numpy() + jitter[:, 1]),
        "score": np.round(rng.random(predictions), 3)})
    return gt, preds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=int, default=200)
    p.add_argument("--classes", type=int, default=20)
    p.add_argument("--predictions", type=int, default=100_000)
    args = p.parse_args()
    gt, preds = problem(args.videos, args.classes, args.predictions)
    print(f"{args.videos} videos, {args.classes} classes, {len(gt.instances)} instances, "
          f"{len(preds)} predictions, {len(DEFAULT_IOUS)} tIoU thresholds")
    warnings.simplefilter("ignore")
    for protocol in ("anet", "thumos14"):
        t0 = time.perf_counter()
        fast = evaluate_detection(gt, preds, DEFAULT_IOUS, protocol)
        t_fast = time.perf_counter() - t0
        t0 = time.perf_counter()
        slow = evaluate_detection_loops(gt, preds, DEFAULT_IOUS, protocol)
        t_slow = time.perf_counter() - t0
        same = all(np.array_equal(fast["per_class"][c], slow["per_class"][c]) for c in fast["per_class"])
        print(f"{protocol:9s} vectorised {t_fast:7.3f} s   loops {t_slow:7.2f} s   speed-up {t_slow / t_fast:6.1f}x   "
              f"identical per-class AP: {same}   mAP@0.5 {100 * fast['mAP'][4]:.2f}")


if __name__ == "__main__":
    main()
