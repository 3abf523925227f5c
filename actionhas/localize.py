"""``python -m actionhas.localize``: action instances from the 1-D class activation map.

    python -m actionhas.localize --run runs/has --features thumos14_c3d.h5 --subset test \\
        --labels thumos14 --out runs/has/predictions.json --save-cams runs/has/cams.h5

For each video and class, CAM(c, t) = sum_i W(c, i) F_i(t) over all of the video's features;
every maximal run of features with CAM >= threshold * max(CAM) becomes one instance
[times[first] - step/2, times[last] + step/2] (step = 1 / features_per_second, clipped to the
video), scored by the mean CAM over the run times the class probability of the video, so that
instances of confidently recognised videos rank first. Classes are the video's ground-truth
classes with ``--labels`` (the paper's setting) or the predicted ones: the ``--top-k`` most
probable, or every class with probability >= ``--min-prob``.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from actionhas import cli, defaults
from actionhas.annotations import write_predictions
from actionhas.data import check_finite, select_videos
from actionhas.errors import ActionhasError
from actionhas.store import FeatureStore
from actionhas.train import load_label_table, load_run


def cam_to_segments(cam: np.ndarray, times: np.ndarray, threshold: float = defaults.THRESHOLD,
                    step: float | None = None, duration: float | None = None) -> list[tuple[float, float, float]]:
    """Maximal runs of ``cam >= threshold * max(cam)`` as (start_s, end_s, mean CAM) tuples.

    cam, times: (n,) CAM values and feature centre times in seconds. ``step`` (seconds between
    features) widens each run by half a step on both sides. A CAM whose max is <= 0 is
    thresholded on its min-max normalised values instead (threshold * max would select nothing).
    """
    cam = np.asarray(cam, np.float64)
    if step is None:
        step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    peak = cam.max()
    level = threshold * peak if peak > 0 else cam.min() + threshold * (peak - cam.min())
    above = np.r_[False, cam >= level, False]
    edges = np.flatnonzero(above[1:] != above[:-1])
    starts, ends = edges[0::2], edges[1::2] - 1  # inclusive feature indices
    out = []
    sums = np.r_[0.0, np.cumsum(cam)]
    for a, b in zip(starts, ends):
        t0, t1 = times[a] - step / 2, times[b] + step / 2
        t0 = max(t0, 0.0)
        if duration is not None:
            t1 = min(t1, duration)
        out.append((float(t0), float(t1), float((sums[b + 1] - sums[a]) / (b - a + 1))))
    return out


@torch.no_grad()
def video_cam(model, features: np.ndarray, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(C, n) CAM and (C,) class probabilities of one video's full feature sequence."""
    logits, cam = model.logits_and_cam(torch.from_numpy(features).unsqueeze(0).to(device))
    return cam[0].cpu().numpy(), torch.softmax(logits[0], dim=0).cpu().numpy()


def predicted_classes(probs: np.ndarray, top_k: int = 1, min_prob: float | None = None) -> list[int]:
    """The ``top_k`` most probable classes, or with ``min_prob`` every class at least that
    probable (the most probable one when none is)."""
    ranked = np.argsort(-probs, kind="stable")
    if min_prob is None:
        return list(ranked[:top_k])
    return [int(c) for c in ranked if probs[c] >= min_prob] or [int(ranked[0])]


def localize(run: str | Path, features: str | Path, subset: str | None = "test", labels: str | None = None,
             top_k: int = 1, threshold: float | None = None, device: str = "cpu",
             save_cams: str | Path | None = None, progress: bool = True, min_prob: float | None = None) -> pd.DataFrame:
    """Predictions (video, label, start, end, score) for the store's videos of ``subset``."""
    model, cfg, classes, _ = load_run(run, device)
    threshold = defaults.THRESHOLD if threshold is None else threshold
    store = FeatureStore(features)
    ckpt_dim = model.conv1.in_channels
    if store.info.feature_dim != ckpt_dim:
        raise ActionhasError(f"{features}: feature_dim {store.info.feature_dim} but run {run} was trained on {ckpt_dim}")
    if labels:
        table = select_videos(load_label_table(labels), store, subset, classes, what="localization")
        videos, wanted = list(table["video"]), list(table["labels"])
    else:
        videos, wanted = list(store.video_ids), [None] * len(store.video_ids)
        if subset:
            warnings.warn("without --labels every video of the store is localized (--subset needs --labels)")
    index = {c: i for i, c in enumerate(classes)}
    step = 1.0 / store.info.features_per_second
    rows = []
    cams_file = h5py.File(save_cams, "w") if save_cams else None
    if cams_file is not None:
        cams_file.attrs["classes"] = classes
        cams_file.attrs["threshold"] = threshold
    skipped = 0
    for vid, names in tqdm(list(zip(videos, wanted)), desc="localize", unit="video", disable=not progress):
        feats = store.features(vid)
        check_finite(vid, feats)
        times = store.times(vid)
        cam, probs = video_cam(model, feats, device)
        if names is None:
            chosen = predicted_classes(probs, top_k, min_prob)
        else:
            chosen = [index[n] for n in names if n in index]
            skipped += len(names) - len(chosen)
        for c in chosen:
            for t0, t1, mean_cam in cam_to_segments(cam[c], times, threshold, step, store.duration(vid)):
                rows.append((vid, classes[c], t0, t1, mean_cam * float(probs[c])))
        if cams_file is not None:
            g = cams_file.create_group(vid)
            g.create_dataset("cam", data=cam.astype(np.float32))
            g.create_dataset("times", data=times)
            g.create_dataset("probs", data=probs)
    if cams_file is not None:
        cams_file.close()
    if skipped:
        warnings.warn(f"{skipped} label(s) of localized videos are classes the run never saw; not localized")
    return pd.DataFrame(rows, columns=["video", "label", "start", "end", "score"])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.localize", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="training run directory")
    p.add_argument("--features", required=True, help="feature store (.h5)")
    p.add_argument("--out", required=True, help="predictions JSON to write")
    p.add_argument("--subset", default="test", help="videos of this subset of --labels (default: test)")
    p.add_argument("--labels", help="ground truth or labels CSV giving each video's classes (the paper's "
                                    "setting); 'thumos14' for the shipped annotations. Without it, "
                                    "the --top-k predicted classes of every video are localized")
    p.add_argument("--top-k", type=int, default=1, help="predicted classes localized per video without --labels")
    p.add_argument("--min-prob", type=float, help="without --labels: localize every class at least this probable "
                                                  "(instead of --top-k; the top class when none is)")
    p.add_argument("--threshold", type=float, default=defaults.THRESHOLD, help="CAM threshold as a fraction of its max")
    p.add_argument("--device", default="cpu")
    p.add_argument("--save-cams", help="also write every video's CAMs to this HDF5 file (for the report)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    preds = localize(args.run, args.features, args.subset, args.labels, args.top_k, args.threshold,
                     args.device, args.save_cams, min_prob=args.min_prob)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_predictions(preds, args.out, extra={"run": str(args.run), "threshold": args.threshold})
    print(f"{len(preds)} instances in {preds['video'].nunique()} videos written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
