"""Raw videos to action instances in one call: the library behind ``python -m actionhas.detect``.

Features come from extracting the videos into DIR/features.h5 (resumable, as ``extract``) or
from an existing store; the run's head then localizes, in each video, the classes it predicts
(every class with probability >= ``min_prob``, the most probable one when none is) or the
classes given. Results: DIR/predictions.json (ActivityNet form), one timeline PNG per video
(class activation over time, threshold, instances, times in m:ss) and DIR/index.html.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from actionhas.core import defaults
from actionhas.core.errors import ActionhasError
from actionhas.formats.annotations import write_predictions
from actionhas.formats.atomic import write_text_atomic
from actionhas.formats.ids import check_video_id
from actionhas.formats.rundir import RunDir
from actionhas.formats.store import FeatureStore
from actionhas.localization.pipeline import (
    LocalizeSettings,
    head_outputs,
    localize_store,
)
from actionhas.reporting import plots
from actionhas.reporting.report_page import html_page


@dataclass
class VideoResult:
    video: str
    instances: pd.DataFrame          # label, start, end, score
    timeline: str | None             # PNG file name in the output directory


def _timeline(model, store: FeatureStore, vid: str, preds: pd.DataFrame, settings: LocalizeSettings,
              classes: list[str], out: Path, device: str) -> str | None:
    mine = preds[preds["video"] == vid]
    if not len(mine):
        return None
    probs, cas, _ = head_outputs(model, store.features(vid), device)
    times = store.times(vid)
    rows = []
    for label in dict.fromkeys(mine["label"]):
        act = cas[classes.index(label)]
        peak = act.max()
        inst = mine[mine["label"] == label]
        rows.append({"name": f"{label} (p={probs[classes.index(label)]:.2f})", "times": times,
                     "activation": act / peak if peak > 0 else act,
                     "predicted": list(zip(inst["start"], inst["end"], inst["score"]))})
    name = f"timeline_{vid}.png"
    threshold = settings.threshold if settings.proposals == "paper" else None
    plots.save(plots.timeline(rows, f"Actions found in {vid}", threshold), out / name)
    return name


def write_index(results: list[VideoResult], out: Path, run: str | Path) -> Path:
    """DIR/index.html: every video's instances (times in m:ss) above its timeline."""
    parts = [f"<p>Run: {html.escape(str(run))}. {sum(len(r.instances) for r in results)} instances in "
             f"{len(results)} videos.</p>"]
    for r in results:
        parts.append(f"<h2>{html.escape(r.video)}</h2>")
        if not len(r.instances):
            parts.append("<p>No action found.</p>")
            continue
        rows = "".join(f"<tr><td>{html.escape(i.label)}</td><td>{plots.mmss(i.start)}</td><td>{plots.mmss(i.end)}</td>"
                       f"<td>{i.score:.3f}</td></tr>" for i in r.instances.itertuples())
        parts.append(f"<table><tr><th>action</th><th>start</th><th>end</th><th>score</th></tr>{rows}</table>")
        if r.timeline:
            parts.append(f'<img alt="timeline of {html.escape(r.video)}" src="{html.escape(r.timeline)}">')
    page = out / "index.html"
    write_text_atomic(page, html_page("Actions found", "".join(parts)))
    return page


def detect_in_store(run: str | Path, store_path: str | Path, videos: list[str], out: str | Path,
                    labels: list[str] | None = None, min_prob: float = defaults.DETECT_MIN_PROB,
                    settings: LocalizeSettings | None = None, device: str = "cpu",
                    progress: bool = True) -> list[VideoResult]:
    """Localize ``videos`` of a store with a run; write predictions.json, timelines and index.html to ``out``."""
    from actionhas.models.heads import load_run

    out = Path(out)
    model, _, classes, _ = load_run(run, device)
    store = FeatureStore(store_path)
    RunDir(run).check_feature_dim(store.info.feature_dim, str(store_path))
    RunDir(run).check_store(store)
    missing = [v for v in videos if v not in store.video_ids]
    if missing:
        raise ActionhasError(f"{store_path}: video {missing[0]} is not in the store ({len(missing)} of "
                             f"{len(videos)} missing)")
    unknown = [c for c in labels or [] if c not in classes]
    if unknown:
        raise ActionhasError(f"--labels: {unknown[0]!r} is not one of the run's {len(classes)} classes")
    settings = settings or LocalizeSettings(min_prob=None if labels else min_prob)
    out.mkdir(parents=True, exist_ok=True)
    preds = localize_store(model, store, videos, [labels] * len(videos) if labels else [None] * len(videos),
                           classes, settings, device, progress=progress)
    preds = preds.sort_values(["video", "start"], kind="stable").reset_index(drop=True)
    write_predictions(preds, out / "predictions.json", extra={"run": str(run), **settings.record()})
    results = [VideoResult(v, preds[preds["video"] == v][["label", "start", "end", "score"]].reset_index(drop=True),
                           _timeline(model, store, v, preds, settings, classes, out, device)) for v in videos]
    write_index(results, out, run)
    return results


def summary_lines(results: list[VideoResult]) -> list[str]:
    """One line per instance, for the terminal."""
    lines = []
    for r in results:
        if not len(r.instances):
            lines.append(f"{r.video}: no action found")
        for i in r.instances.itertuples():
            lines.append(f"{r.video}: {i.label} {plots.mmss(i.start)}-{plots.mmss(i.end)} "
                         f"({i.start:.1f}-{i.end:.1f} s, score {i.score:.3f})")
    return lines


def videos_of(paths: list[str]) -> list[str]:
    """Video ids of the given files: their stems, as the feature store names them."""
    ids = [check_video_id(Path(p).stem, p) for p in paths]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ActionhasError(f"several videos share the id {dup[0]!r} (ids are file stems)")
    return ids

