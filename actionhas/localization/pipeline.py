"""Action instances from a trained head: the library behind ``python -m actionhas.localize``.

For each video the head gives class probabilities and a class activation sequence over all of
the video's features (the paper's CAM(c, t) = sum_i W(c, i) F_i(t), Eq. 1; BaS-Net's
suppression-branch CAS), and BaS-Net an attention. Two post-processings:

- ``paper``: every maximal run of CAM >= threshold x max is one instance, from half a feature
  step before its first feature to half a step after its last (clipped to the video), scored by
  the mean CAM over the run times the class probability;
- ``multi``: proposals from several thresholds of the min-max normalised sequence (and of the
  attention), outer-inner-contrastive scores, class-wise NMS or soft-NMS (``actionhas.localization.proposals``);
- ``cola``: CoLA's official test path on the features sampled as it samples them, with the
  classes it predicts (``actionhas.localization.cola``).

Classes are the video's own (``labels``, the paper's setting) or predicted: the ``top_k`` most
probable, every class with probability >= ``min_prob``, or with ``multi`` the classes whose
video score passes the class threshold.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from actionhas.core import defaults
from actionhas.data.sampling import check_finite, floor_indices_up_to
from actionhas.formats.store import FeatureStore
from actionhas.localization.settings import LocalizeSettings


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


def predicted_classes(probs: np.ndarray, top_k: int = defaults.TOP_K, min_prob: float | None = None) -> list[int]:
    """The ``top_k`` most probable classes, or with ``min_prob`` every class at least that
    probable (the most probable one when none is)."""
    ranked = np.argsort(-probs, kind="stable")
    if min_prob is None:
        return [int(c) for c in ranked[:top_k]]
    return [int(c) for c in ranked if probs[c] >= min_prob] or [int(ranked[0])]


@torch.no_grad()
def head_outputs(model, features: np.ndarray, device: str = "cpu") -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(C,) class probabilities, (C, n) activation sequence and (n,) attention (or None) of one video."""
    probs, cas, attention = model.predict(torch.from_numpy(features).unsqueeze(0).to(device))
    return (probs[0].cpu().numpy(), cas[0].float().cpu().numpy(),
            None if attention is None else attention[0].float().cpu().numpy())


def video_instances(probs: np.ndarray, cas: np.ndarray, attention: np.ndarray | None, times: np.ndarray,
                    step: float, duration: float, classes: list[int] | None,
                    settings: LocalizeSettings) -> list[tuple[int, float, float, float]]:
    """(class index, start_s, end_s, score) of one video; ``classes`` None: predicted ones."""
    if settings.proposals == "multi":
        from actionhas.localization import proposals

        if classes is None:
            classes = (predicted_classes(probs, settings.top_k, settings.min_prob) if settings.min_prob is not None
                       else proposals.select_classes(probs, settings.class_threshold))
        return [(c, t0, t1, score) for c in classes
                for t0, t1, score in proposals.multi_threshold_segments(cas[c], times, float(probs[c]), step, duration,
                                                                        attention, **settings.multi())]
    if classes is None:
        classes = predicted_classes(probs, settings.top_k, settings.min_prob)
    return [(c, t0, t1, mean * float(probs[c])) for c in classes
            for t0, t1, mean in cam_to_segments(cas[c], times, settings.threshold, step, duration)]


def localize_store(model, store: FeatureStore, videos: list[str], wanted: list[list[str] | None], classes: list[str],
                   settings: LocalizeSettings, device: str = "cpu", save_cams: str | Path | None = None,
                   progress: bool = True, length: int = defaults.COLA_LENGTH) -> pd.DataFrame:
    """Predictions (video, label, start, end, score) of ``videos`` with a model in eval mode.

    wanted[i]: the class names to localize in videos[i] (the paper's setting), or None for the
    predicted ones. Class names the model does not know are skipped with a counted warning.
    ``cola`` always localizes its predicted classes, on at most ``length`` sampled features.
    """
    index = {c: i for i, c in enumerate(classes)}
    step = 1.0 / store.info.features_per_second
    rows, skipped = [], 0
    cams_file = h5py.File(save_cams, "w") if save_cams else None
    if cams_file is not None:
        cams_file.attrs["classes"] = classes
        cams_file.attrs["threshold"] = settings.threshold
    try:
        for vid, names in tqdm(list(zip(videos, wanted)), desc="localize", unit="video", disable=not progress):
            feats = store.features(vid)
            check_finite(vid, feats)
            times = store.times(vid)
            if settings.proposals == "cola":
                from actionhas.localization import cola

                sampled = floor_indices_up_to(len(feats), length)
                times = times[sampled]
                probs, cas, attention = head_outputs(model, feats[sampled], device)
                found = cola.video_proposals(probs, cas, attention, len(feats), store.info.features_per_second)
            else:
                probs, cas, attention = head_outputs(model, feats, device)
                chosen = None
                if names is not None:
                    chosen = [index[n] for n in names if n in index]
                    skipped += len(names) - len(chosen)
                found = video_instances(probs, cas, attention, times, step, store.duration(vid), chosen, settings)
            for c, t0, t1, score in found:
                rows.append((vid, classes[c], t0, t1, score))
            if cams_file is not None:
                g = cams_file.create_group(vid)
                g.create_dataset("cam", data=cas.astype(np.float32))
                g.create_dataset("times", data=times)
                g.create_dataset("probs", data=probs)
    finally:
        if cams_file is not None:
            cams_file.close()
    if skipped:
        warnings.warn(f"{skipped} label(s) of localized videos are classes the run never saw; not localized")
    return pd.DataFrame(rows, columns=["video", "label", "start", "end", "score"])


def localize(run: str | Path, features: str | Path, subset: str | None = "test", labels: str | None = None,
             settings: LocalizeSettings | None = None, device: str = "cpu", save_cams: str | Path | None = None,
             progress: bool = True) -> pd.DataFrame:
    """Predictions (video, label, start, end, score) of a run for the store's videos of ``subset``.

    With ``labels`` the videos of ``subset`` are localized with their own classes; without, every
    video of the store with its predicted classes. A run that chose its epoch on ``subset`` is refused.
    """
    from actionhas.core.errors import ActionhasError
    from actionhas.data.sampling import select_videos
    from actionhas.formats.annotations import load_labels
    from actionhas.formats.rundir import RunDir
    from actionhas.models.heads import load_run

    chosen = RunDir(run).selection()
    if chosen and subset is not None and chosen["subset"] == subset:
        raise ActionhasError(f"{run}: its epoch was selected on {subset!r}; localizing that subset would report "
                             "on the selection split (use another --subset)")
    store = FeatureStore(features)
    RunDir(run).check_feature_dim(store.info.feature_dim, str(features))
    model, cfg, classes, _ = load_run(run, device)
    chosen_settings = settings or LocalizeSettings()
    if chosen_settings.proposals == "cola" and cfg.model != "cola":
        raise ActionhasError(f"--proposals cola is CoLA's test path; {run} is a --model {cfg.model} run")
    if labels:
        table = select_videos(load_labels(labels), store, subset, classes, what="localization")
        videos, wanted = list(table["video"]), list(table["labels"])
    else:
        videos, wanted = list(store.video_ids), [None] * len(store.video_ids)
        if subset:
            warnings.warn("without --labels every video of the store is localized (--subset needs --labels)")
    return localize_store(model, store, videos, wanted, classes, chosen_settings, device, save_cams, progress,
                          cfg.length)
