"""Raw videos to action instances in one call: the library behind ``python -m actionhas.detect``.

Features come from extracting the videos into DIR/features.h5 (resumable, as ``extract``) or
from an existing store; the run's head then localizes, in each video, the classes it predicts
(every class with probability >= ``min_prob``, the most probable one when none is) or the
classes given. Results: DIR/predictions.json (ActivityNet form), one timeline PNG per video
(class activation over time, threshold, instances) and DIR/index.html, the page to review them
with the videos playing (``detect_page``).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from actionhas.core import defaults
from actionhas.reporting import plots
from actionhas.formats.annotations import write_predictions
from actionhas.core.errors import ActionhasError
from actionhas.formats import outputs
from actionhas.formats.ids import check_video_id
from actionhas.formats.rundir import RunDir
from actionhas.localization.pipeline import localize_store
from actionhas.models.inference import head_outputs
from actionhas.localization.settings import LocalizeSettings
from actionhas.reporting.detect_page import VideoResult, video_source, write_detect_page
from actionhas.reporting.time_ticks import mmss
from actionhas.formats.store import FeatureStore


def _review(model, store: FeatureStore, vid: str, preds: pd.DataFrame, settings: LocalizeSettings,
            classes: list[str], out: Path, device: str) -> VideoResult:
    """One video's instances, the probabilities of their classes and its activation plot (PNG in ``out``)."""
    mine = preds[preds["video"] == vid]
    result = VideoResult(vid, mine[["label", "start", "end", "score"]].reset_index(drop=True), store.duration(vid))
    if not len(mine):
        return result
    probs, cas, _ = head_outputs(model, store.features(vid), device)
    times = store.times(vid)
    rows = []
    for label in dict.fromkeys(mine["label"]):
        act = cas[classes.index(label)]
        peak = act.max()
        inst = mine[mine["label"] == label]
        result.probabilities[label] = float(probs[classes.index(label)])
        rows.append({"name": f"{label} (p={probs[classes.index(label)]:.2f})", "times": times,
                     "activation": act / peak if peak > 0 else act,
                     "predicted": list(zip(inst["start"], inst["end"], inst["score"]))})
    result.timeline = f"timeline_{vid}.png"
    threshold = settings.threshold if settings.proposals == "paper" else None
    plots.save(plots.timeline(rows, f"Actions found in {vid}", threshold, result.duration), out / result.timeline)
    return result


def thresholds_note(settings: LocalizeSettings, forced: bool) -> str:
    """The sentence the page shows about which classes were localized and where instances lie."""
    if forced:
        chosen = "Classes localized: the ones given (--classes)."
    elif settings.proposals == "paper":
        chosen = (f"Classes localized: those the run gives a video-level probability >= {settings.min_prob:.2f} "
                  "(the most probable one when none does).")
    elif settings.proposals == "cola":
        chosen = (f"Classes localized: those scoring >= {defaults.COLA_CLASS_THRESHOLD:.2f} (CoLA's rule; the top "
                  "one when none does).")
    else:
        chosen = f"Classes localized: those scoring >= {settings.class_threshold:.2f}."
    if settings.proposals == "paper":
        return f"{chosen} Instances: every run of the class activation >= {settings.threshold:.2f} x its maximum."
    return f"{chosen} Instances: {settings.proposals} proposals (several thresholds, outer-inner scores, NMS)."


def detect_in_store(run: str | Path, store_path: str | Path, videos: list[str], out: str | Path,
                    labels: list[str] | None = None, min_prob: float = defaults.DETECT_MIN_PROB,
                    settings: LocalizeSettings | None = None, device: str = "cpu", progress: bool = True,
                    files: dict[str, Path] | None = None, failures: dict[str, str] | None = None,
                    copy_videos: bool = False) -> list[VideoResult]:
    """Localize ``videos`` of a store with a run; write predictions.json, timelines and index.html to ``out``.

    files: video id -> its file, played on the page (linked, or copied into out/videos/ with
    ``copy_videos``); failures: video id -> why it has no features, listed on the page.
    """
    from actionhas.models.heads import load_run

    out = Path(out)
    model, cfg, classes, _ = load_run(run, device)
    store = FeatureStore(store_path)
    RunDir(run).check_feature_dim(store.info.feature_dim, str(store_path))
    RunDir(run).check_store(store)
    missing = [v for v in videos if v not in store.video_ids]
    if missing:
        raise ActionhasError(f"{store_path}: video {missing[0]} is not in the store ({len(missing)} of "
                             f"{len(videos)} missing)")
    unknown = [c for c in labels or [] if c not in classes]
    if unknown:
        raise ActionhasError(f"--classes: {unknown[0]!r} is not one of the run's {len(classes)} classes")
    out.mkdir(parents=True, exist_ok=True)
    settings = settings or LocalizeSettings(min_prob=None if labels else min_prob)
    preds = localize_store(model, store, videos, [labels] * len(videos) if labels else [None] * len(videos),
                           classes, settings, device, progress=progress, length=cfg.length)
    preds = preds.sort_values(["video", "start"], kind="stable").reset_index(drop=True)
    write_predictions(preds, out / "predictions.json", extra={"run": str(run), **settings.record()})
    results = [_review(model, store, v, preds, settings, classes, out, device) for v in videos]
    for r in results:
        if files and r.video in files:
            r.source = video_source(files[r.video], out, copy_videos)
    failed = [VideoResult(v, pd.DataFrame(columns=["label", "start", "end", "score"]), failure=reason)
              for v, reason in sorted((failures or {}).items())]
    write_detect_page(results + failed, out, run, thresholds_note(settings, bool(labels)))
    return results


def detect(videos: list[str], run: str | Path, out: str | Path, *, weights: str | None = None,
           features: str | None = None, classes: list[str] | None = None,
           min_prob: float = defaults.DETECT_MIN_PROB, settings: LocalizeSettings | None = None, device: str = "cpu",
           copy_videos: bool = False, overwrite: bool = False,
           batch_size: int = defaults.EXTRACT_BATCH_SIZE) -> tuple[list[VideoResult], dict[str, dict]]:
    """Video files (with ``weights``: extracted into OUT/features.h5, resumable) or ids or files of the
    ``features`` store to OUT/predictions.json, timelines and index.html; returns the results and the
    extraction failures (video id -> record with ``file`` and ``reason``)."""
    out = Path(out)
    # what OUT's files lastingly depend on; the classes and proposal settings are redone by every run
    record = {"run": outputs.input_path(run), "weights": outputs.input_path(weights),
              "features": outputs.input_path(features)}
    ids, failures = videos_of(videos), {}
    files = {Path(v).stem: Path(v) for v in videos if Path(v).is_file()}
    outputs.claim(out, "--out", "folder", "detect", outputs.folder_record("detect"), record, overwrite)
    store = features
    if weights:
        from feature_extraction.c3d import FC7_DIM
        from feature_extraction.pipeline import extract_c3d

        RunDir(run).check_feature_dim(FC7_DIM, f"C3D fc7 ({weights})")
        outputs.write_folder_record(out, "detect", record)  # first: a killed extraction resumes into it
        store = out / "features.h5"
        failures = extract_c3d([Path(v) for v in videos], store, weights, device=device, overwrite=overwrite,
                               batch_size=batch_size)
        ids = [v for v in ids if v not in failures]
    results = detect_in_store(run, store, ids, out, classes, min_prob, settings, device, files=files,
                              failures={v: r["reason"] for v, r in failures.items()}, copy_videos=copy_videos)
    outputs.write_folder_record(out, "detect", record)
    drawn = {r.timeline for r in results}
    for stale in (p for p in out.glob("timeline_*.png") if p.name not in drawn):  # an earlier run's videos
        stale.unlink()
    return results, failures


def summary_lines(results: list[VideoResult]) -> list[str]:
    """One line per instance, for the terminal."""
    lines = []
    for r in results:
        if not len(r.instances):
            lines.append(f"{r.video}: no action found")
        for i in r.instances.itertuples():
            lines.append(f"{r.video}: {i.label} {mmss(i.start)}-{mmss(i.end)} "
                         f"({i.start:.1f}-{i.end:.1f} s, score {i.score:.3f})")
    return lines


def videos_of(paths: list[str]) -> list[str]:
    """Video ids of the given files: their stems, as the feature store names them."""
    ids = [check_video_id(Path(p).stem, p) for p in paths]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ActionhasError(f"several videos share the id {dup[0]!r} (ids are file stems)")
    return ids

