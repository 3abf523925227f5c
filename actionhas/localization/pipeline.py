"""Action instances from a trained head: the library behind ``python -m actionhas.localize``.

For each video the head gives class probabilities and a class activation sequence over all of
the video's features (the paper's CAM(c, t) = sum_i W(c, i) F_i(t), Eq. 1; BaS-Net's
suppression-branch CAS), and BaS-Net an attention. Three post-processings:

- ``paper``: every maximal run of CAM >= threshold x max is one instance, from half a feature
  step before its first feature to half a step after its last (clipped to the video), scored by
  the mean CAM over the run times the class probability;
- ``basnet``: BaS-Net's official test path on the video resampled to the run's length
  (``actionhas.localization.basnet``);
- ``cola``: CoLA's official test path on the features sampled as it samples them, with the
  classes it predicts (``actionhas.localization.cola``);
- ``multi``: actionhas's own variant of both: proposals from several thresholds of the min-max
  normalised sequence (and of the attention), outer-inner-contrastive scores, class-wise NMS or
  soft-NMS (``actionhas.localization.proposals``).

Classes are the video's own (``labels``, the paper's setting) or predicted: the ``top_k`` most
probable, every class with probability >= ``min_prob``, or with ``basnet`` and ``multi`` the
classes whose video score passes the class threshold.
"""
from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from tqdm import tqdm

from actionhas.core import defaults
from actionhas.core.intervals import fraction_of_max_level, true_runs
from actionhas.core.errors import ActionhasError
from actionhas.data.sampling import check_finite
from actionhas.formats.atomic import atomic_path
from actionhas.formats.store import FeatureStore
from actionhas.models.inference import head_outputs
from actionhas.localization import classes as pick
from actionhas.localization.settings import LocalizeSettings


def cam_to_instances(cam: np.ndarray, times: np.ndarray, threshold: float = defaults.THRESHOLD,
                    step: float | None = None, duration: float | None = None) -> list[tuple[float, float, float]]:
    """Maximal runs of ``cam >= threshold * max(cam)`` as (start_s, end_s, mean CAM) tuples.

    cam, times: (n,) CAM values and feature centre times in seconds. ``step`` (seconds between
    features) widens each run by half a step on both sides. A CAM whose max is <= 0 is
    thresholded on its min-max normalised values instead (threshold * max would select nothing).
    """
    cam = np.asarray(cam, np.float64)
    if step is None:
        step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    starts, ends = true_runs(cam >= fraction_of_max_level(cam, threshold))  # inclusive feature indices
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
    probable, most probable first (the most probable one when none is)."""
    return pick.top_k(probs, top_k) if min_prob is None else pick.at_least(probs, min_prob, by_score=True)


def video_instances(probs: np.ndarray, cas: np.ndarray, attention: np.ndarray | None, times: np.ndarray,
                    step: float, duration: float, classes: list[int] | None,
                    settings: LocalizeSettings) -> list[tuple[int, float, float, float]]:
    """(class index, start_s, end_s, score) of one video; ``classes`` None: predicted ones."""
    if settings.proposals == "multi":
        from actionhas.localization import proposals

        if classes is None:
            classes = (predicted_classes(probs, settings.top_k, settings.min_prob) if settings.min_prob is not None
                       else pick.at_least(probs, settings.class_threshold))
        return [(c, t0, t1, score) for c in classes
                for t0, t1, score in proposals.multi_threshold_instances(cas[c], times, float(probs[c]), step, duration,
                                                                        attention, **settings.multi())]
    if classes is None:
        classes = predicted_classes(probs, settings.top_k, settings.min_prob)
    return [(c, t0, t1, mean * float(probs[c])) for c in classes
            for t0, t1, mean in cam_to_instances(cas[c], times, settings.threshold, step, duration)]


def localize_store(model, store: FeatureStore, videos: list[str], wanted: list[list[str] | None], classes: list[str],
                   settings: LocalizeSettings, device: str = "cpu", save_cams: str | Path | None = None,
                   progress: bool = True, length: int | None = None, cams_record: dict | None = None) -> pd.DataFrame:
    """Predictions (video, label, start, end, score) of ``videos`` with a model in eval mode.

    wanted[i]: the class names to localize in videos[i] (the paper's setting), or None for the
    predicted ones. Class names the model does not know are skipped with a counted warning.
    length: the run's sampled length, which ``basnet`` proposals resample every video to and ``cola``
    proposals sample longer videos down to; ``cola`` always localizes its predicted classes.
    save_cams: an HDF5 file of every video's activations, written atomically; cams_record: how
    they were made, kept as its ``made_with`` attribute (``formats.outputs``).
    """
    if settings.proposals == "basnet":
        from actionhas.localization import basnet

        if length is None or not hasattr(model, "suppression_outputs"):
            raise ActionhasError("--proposals basnet needs a BaS-Net run (train --model basnet)")
        official = basnet.OfficialSettings(class_threshold=settings.class_threshold)
    if settings.proposals == "cola":
        from actionhas.localization import cola
        from actionhas.models.cola import CoLA

        if length is None or not isinstance(model, CoLA):
            raise ActionhasError("--proposals cola is CoLA's test path: it needs a CoLA run (train --model cola)")
    index = {c: i for i, c in enumerate(classes)}
    step = 1.0 / store.info.features_per_second
    rows, skipped = [], 0
    with contextlib.ExitStack() as stack:
        cams_file = None
        if save_cams:
            cams_file = stack.enter_context(h5py.File(stack.enter_context(atomic_path(save_cams)), "w"))
            cams_file.attrs["classes"] = classes
            cams_file.attrs["threshold"] = settings.threshold
            cams_file.attrs["made_with"] = json.dumps(cams_record or {})
        for vid, names in tqdm(list(zip(videos, wanted)), desc="localize", unit="video", disable=not progress):
            chosen = None
            if names is not None:
                chosen = [index[n] for n in names if n in index]
                skipped += len(names) - len(chosen)
            if settings.proposals == "basnet":
                found, probs, cas, times = basnet.localize_video(model, store, vid, length, chosen, official, device)
            elif settings.proposals == "cola":
                found, probs, cas, times = cola.localize_video(model, store, vid, length, device)
            else:
                feats = store.features(vid)
                check_finite(vid, feats)
                times = store.times(vid)
                probs, cas, attention = head_outputs(model, feats, device)
                found = video_instances(probs, cas, attention, times, step, store.duration(vid), chosen, settings)
            rows += [(vid, classes[c], t0, t1, score) for c, t0, t1, score in found]
            if cams_file is not None:
                g = cams_file.create_group(vid)
                g.create_dataset("cam", data=cas.astype(np.float32))
                g.create_dataset("times", data=times)
                g.create_dataset("probs", data=probs)
    if skipped:
        warnings.warn(f"{skipped} label(s) of localized videos are classes the run never saw; not localized")
    return pd.DataFrame(rows, columns=["video", "label", "start", "end", "score"])


def localize(run: str | Path, features: str | Path, subset: str | None = "test", labels: str | None = None,
             settings: LocalizeSettings | None = None, device: str = "cpu", save_cams: str | Path | None = None,
             progress: bool = True, cams_record: dict | None = None) -> pd.DataFrame:
    """Predictions (video, label, start, end, score) of a run for the store's videos of ``subset``.

    With ``labels`` the videos of ``subset`` are localized with their own classes; without, every
    video of the store with its predicted classes. A run that chose its epoch on ``subset`` is refused.
    """
    from actionhas.data.sampling import select_videos
    from actionhas.formats.labels import load_labels
    from actionhas.formats.rundir import RunDir
    from actionhas.models.heads import load_run

    chosen = RunDir(run).selection()
    if chosen and subset is not None and chosen["subset"] == subset:
        raise ActionhasError(f"{run}: its epoch was selected on {subset!r}; localizing that subset would report "
                             "on the selection split (use another --subset)")
    store = FeatureStore(features)
    RunDir(run).check_feature_dim(store.info.feature_dim, str(features))
    RunDir(run).check_store(store)
    model, cfg, classes, _ = load_run(run, device)
    for official in ("basnet", "cola"):
        if settings is not None and settings.proposals == official and cfg.model != official:
            raise ActionhasError(f"--proposals {official} is {official}'s official test path: it needs a --model "
                                 f"{official} run; {run} is a --model {cfg.model} run")
    if labels:
        table = select_videos(load_labels(labels), store, subset, classes, what="localization")
        videos, wanted = list(table["video"]), list(table["labels"])
    else:
        videos, wanted = list(store.video_ids), [None] * len(store.video_ids)
        if subset:
            warnings.warn("without --labels every video of the store is localized (--subset needs --labels)")
    return localize_store(model, store, videos, wanted, classes, settings or LocalizeSettings(), device, save_cams,
                          progress, cfg.length, cams_record)
