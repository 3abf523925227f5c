"""The one place that knows the annotation file formats.

Ground truth comes as an ActivityNet JSON (``{"database": {vid: {...}}}``) or as a directory of
the official THUMOS14 per-class txt files (``<Class>_<split>.txt`` with ``video start end`` rows,
plus ``Ambiguous_<split>.txt``). Video-level training labels come as a CSV
(``video,subset,labels`` with ``;``-separated classes) or from any ground-truth source.
Predictions are ActivityNet JSON (``{"results": {vid: [{label, segment, score}]}}``).

Everything is loaded into pandas tables with the columns ``video, label, start, end`` (seconds),
so the evaluators and the trainer never see a file format.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from actionhas.atomic import write_text_atomic
from actionhas.errors import ActionhasError

THUMOS14_DIR = Path(str(files("actionhas._thumos14")))
"""The THUMOS14 annotations installed with the package (see its SOURCES.md)."""

THUMOS14_EXCLUDED_TEST_VIDEOS = ("video_test_0000270", "video_test_0001292", "video_test_0001496")
"""Test videos many papers leave out: 270 and 1496 are mis-annotated, 1292 has only Ambiguous."""

EXCLUSION_SETS = {"thumos14-bad": THUMOS14_EXCLUDED_TEST_VIDEOS}

_SUBSET_OF_PREFIX = {"video_validation_": "validation", "video_test_": "test"}
_SPLIT_SUFFIX = {"validation": "val", "test": "test"}


class AnnotationError(ActionhasError):
    """A ground-truth, label or prediction file that cannot be read as its format says."""


@dataclass
class GroundTruth:
    """Temporal ground truth of a set of videos.

    instances: one row per action instance, columns video, label, start, end (seconds), in file
        order (the THUMOS14 evaluator's matching depends on it).
    videos: index video, columns subset, duration (seconds, NaN when unknown).
    ambiguous: THUMOS14 Ambiguous segments, columns video, start, end; never ground truth.
    """

    instances: pd.DataFrame
    videos: pd.DataFrame
    ambiguous: pd.DataFrame = field(default_factory=lambda: _empty_segments(with_label=False))

    @property
    def classes(self) -> list[str]:
        return sorted(self.instances["label"].unique())

    def select(self, subset: str | None = None, exclude: tuple[str, ...] | list[str] = ()) -> GroundTruth:
        """The videos of one subset (None = all), without the ``exclude`` ones."""
        keep = self.videos
        if subset is not None:
            keep = keep[keep["subset"] == subset]
        keep = keep[~keep.index.isin(list(exclude))]
        return GroundTruth(
            instances=self.instances[self.instances["video"].isin(keep.index)].reset_index(drop=True),
            videos=keep,
            ambiguous=self.ambiguous[self.ambiguous["video"].isin(keep.index)].reset_index(drop=True),
        )

    def video_labels(self) -> pd.DataFrame:
        """Video-level labels: columns video, subset, labels (sorted list of class names)."""
        grouped = self.instances.groupby("video")["label"].agg(lambda s: sorted(set(s)))
        table = self.videos[["subset"]].copy()
        table["labels"] = [grouped.get(v, []) for v in table.index]
        return table.rename_axis("video").reset_index()


def _empty_segments(with_label: bool = True) -> pd.DataFrame:
    cols = {"video": pd.Series(dtype=str)}
    if with_label:
        cols["label"] = pd.Series(dtype=str)
    cols["start"] = pd.Series(dtype=float)
    cols["end"] = pd.Series(dtype=float)
    return pd.DataFrame(cols)


def _read_json(path: Path) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise AnnotationError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise AnnotationError(f"{path}: not valid JSON ({e})") from None


def _segment(path: Path, video: str, i: int, item: dict, what: str) -> tuple[float, float]:
    seg = item.get("segment")
    if not isinstance(seg, (list, tuple)) or len(seg) != 2:
        raise AnnotationError(f"{path}: {video} {what} {i}: 'segment' must be [start, end], got {seg!r}")
    try:
        start, end = float(seg[0]), float(seg[1])
    except (TypeError, ValueError):
        raise AnnotationError(f"{path}: {video} {what} {i}: segment {seg!r} is not numeric") from None
    if not (math.isfinite(start) and math.isfinite(end)):
        raise AnnotationError(f"{path}: {video} {what} {i}: segment {seg!r} is not finite")
    return start, end


def read_anet_gt(path: str | Path) -> GroundTruth:
    """Read an ActivityNet-format ground-truth JSON. Errors name the file and video."""
    path = Path(path)
    data = _read_json(path)
    db = data.get("database") if isinstance(data, dict) else None
    if not isinstance(db, dict):
        raise AnnotationError(f"{path}: no 'database' object (is this a predictions file?)")
    rows, videos = [], []
    for vid, entry in db.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("annotations"), list):
            raise AnnotationError(f"{path}: {vid}: missing 'annotations' list")
        duration = entry.get("duration")
        videos.append((vid, entry.get("subset", ""), float(duration) if duration is not None else np.nan))
        for i, ann in enumerate(entry["annotations"]):
            if not isinstance(ann, dict) or not isinstance(ann.get("label"), str):
                raise AnnotationError(f"{path}: {vid} annotation {i}: missing 'label'")
            start, end = _segment(path, vid, i, ann, "annotation")
            if end <= start:
                raise AnnotationError(f"{path}: {vid} annotation {i}: end {end} <= start {start}")
            rows.append((vid, ann["label"], start, end))
    instances = pd.DataFrame(rows, columns=["video", "label", "start", "end"]) if rows else _empty_segments()
    table = pd.DataFrame(videos, columns=["video", "subset", "duration"]).set_index("video")
    return GroundTruth(instances=instances, videos=table)


def write_anet_gt(gt: GroundTruth, path: str | Path) -> None:
    """Write ground truth as ActivityNet JSON (Ambiguous segments are not ground truth: left out)."""
    by_video = {v: [] for v in gt.videos.index}
    for row in gt.instances.itertuples(index=False):
        by_video[row.video].append({"label": row.label, "segment": [row.start, row.end]})
    db = {}
    for vid, meta in gt.videos.iterrows():
        entry = {"subset": meta["subset"], "annotations": by_video[vid]}
        if not np.isnan(meta["duration"]):
            entry["duration"] = float(meta["duration"])
        db[vid] = entry
    _write_json_atomic({"database": db}, path)


def _read_segment_txt(path: Path) -> pd.DataFrame:
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise AnnotationError(f"{path}:{n}: expected 'video start end', got {line!r}")
        try:
            start, end = float(parts[1]), float(parts[2])
        except ValueError:
            raise AnnotationError(f"{path}:{n}: times are not numbers: {line!r}") from None
        if end <= start:
            raise AnnotationError(f"{path}:{n}: {parts[0]}: end {end} <= start {start}")
        rows.append((parts[0], start, end))
    return pd.DataFrame(rows, columns=["video", "start", "end"]) if rows else _empty_segments(False)


def _subset_of(video: str) -> str:
    for prefix, subset in _SUBSET_OF_PREFIX.items():
        if video.startswith(prefix):
            return subset
    return ""


def read_thumos_txt_dir(directory: str | Path) -> GroundTruth:
    """Read a directory of official THUMOS14 per-class txt files and its Ambiguous file.

    Classes come from ``detclasslist.txt`` when present, otherwise from the file names. Every
    video named in any file is a ground-truth video (including those with only Ambiguous
    segments, like video_test_0001292). Durations come from the shipped video_info.json.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise AnnotationError(f"{directory}: not a directory of THUMOS14 per-class txt files")
    class_files = sorted(p for p in directory.glob("*_*.txt") if not p.name.startswith("Ambiguous_"))
    classlist = directory / "detclasslist.txt"
    if classlist.exists():
        names = [line.split()[-1] for line in classlist.read_text().splitlines() if line.strip()]
        by_name = {p.name.rsplit("_", 1)[0]: p for p in class_files}
        missing = [c for c in names if c not in by_name]
        if missing:
            raise AnnotationError(f"{directory}: no txt file for classes {missing} of detclasslist.txt")
        class_files = [by_name[c] for c in names]
    if not class_files:
        raise AnnotationError(f"{directory}: no <Class>_<split>.txt files")
    frames = []
    for p in class_files:
        table = _read_segment_txt(p)
        table.insert(1, "label", p.name.rsplit("_", 1)[0])
        frames.append(table)
    instances = pd.concat(frames, ignore_index=True)
    amb_files = sorted(directory.glob("Ambiguous_*.txt"))
    ambiguous = pd.concat([_read_segment_txt(p) for p in amb_files], ignore_index=True) if amb_files \
        else _empty_segments(False)
    names = list(dict.fromkeys(list(instances["video"]) + list(ambiguous["video"])))
    durations = thumos14_durations()
    videos = pd.DataFrame({"video": names, "subset": [_subset_of(v) for v in names],
                           "duration": [durations.get(v, np.nan) for v in names]}).set_index("video")
    return GroundTruth(instances=instances, videos=videos, ambiguous=ambiguous)


def write_thumos_txt_dir(gt: GroundTruth, directory: str | Path, split: str) -> None:
    """Write per-class ``<Class>_<split>.txt`` files (and Ambiguous) as the official ones are laid out."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for label, group in gt.instances.groupby("label", sort=True):
        lines = [f"{r.video}  {r.start:.1f} {r.end:.1f}" for r in group.itertuples(index=False)]
        (directory / f"{label}_{split}.txt").write_text("\n".join(lines) + "\n")
    if len(gt.ambiguous):
        lines = [f"{r.video}  {r.start:.1f} {r.end:.1f}" for r in gt.ambiguous.itertuples(index=False)]
        (directory / f"Ambiguous_{split}.txt").write_text("\n".join(lines) + "\n")


def thumos14_durations() -> dict[str, float]:
    """Duration in seconds of every THUMOS14 video in the shipped video_info.json."""
    info = json.loads((THUMOS14_DIR / "video_info.json").read_text())
    return {vid: float(meta["duration"]) for vid, meta in info.items()}


def load_thumos14(subset: str = "test", source: str = "json") -> GroundTruth:
    """The shipped THUMOS14 ground truth of ``subset`` ("validation" or "test").

    source="json" reads gt_<split>_anet.json (no Ambiguous); source="txt" reads the official
    per-class files, which carry the Ambiguous segments the THUMOS14 protocol needs.
    """
    if subset not in _SPLIT_SUFFIX:
        raise AnnotationError(f"THUMOS14 subset must be one of {list(_SPLIT_SUFFIX)}, got {subset!r}")
    split = _SPLIT_SUFFIX[subset]
    if source == "txt":
        return read_thumos_txt_dir(THUMOS14_DIR / f"annotations_{split}")
    return read_anet_gt(THUMOS14_DIR / f"gt_{split}_anet.json")


def read_ground_truth(path: str | Path) -> GroundTruth:
    """Ground truth from an ActivityNet JSON file or a directory of THUMOS14 txt files."""
    path = Path(path)
    return read_thumos_txt_dir(path) if path.is_dir() else read_anet_gt(path)


def resolve_exclusions(spec: str | None) -> tuple[str, ...]:
    """``--exclude`` value to video ids: a named set ("thumos14-bad") or comma-separated ids."""
    if not spec:
        return ()
    out: list[str] = []
    for item in spec.split(","):
        item = item.strip()
        out.extend(EXCLUSION_SETS.get(item, (item,)))
    return tuple(out)


# ----------------------------------------------------------------------------- video-level labels

def read_labels(path: str | Path) -> pd.DataFrame:
    """Video-level labels from a CSV (video,subset,labels) or a ground-truth JSON / txt directory.

    Returns columns video, subset, labels (list of class names). Videos with an empty label list
    are kept: they are background-only videos.
    """
    path = Path(path)
    if path.is_dir() or path.suffix.lower() == ".json":
        return read_ground_truth(path).video_labels()
    if not path.exists():
        raise AnnotationError(f"{path}: file not found")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"video", "subset", "labels"} - set(table.columns)
    if missing:
        raise AnnotationError(f"{path}: labels CSV lacks column(s) {sorted(missing)}; header must be video,subset,labels")
    dup = table["video"][table["video"].duplicated()]
    if len(dup):
        raise AnnotationError(f"{path}: video {dup.iloc[0]} is listed twice")
    table["labels"] = [sorted({x.strip() for x in s.split(";") if x.strip()}) for s in table["labels"]]
    return table[["video", "subset", "labels"]]


def write_labels_csv(table: pd.DataFrame, path: str | Path) -> None:
    out = table[["video", "subset"]].copy()
    out["labels"] = [";".join(labels) for labels in table["labels"]]
    out.to_csv(path, index=False)


# ----------------------------------------------------------------------------- predictions

def read_predictions(path: str | Path) -> pd.DataFrame:
    """Read an ActivityNet predictions JSON into columns video, label, start, end, score.

    Malformed entries and NaN scores are errors naming the video; a segment with end < start is
    an error; zero-length segments are kept (they can only be false positives) with a warning.
    """
    path = Path(path)
    data = _read_json(path)
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict):
        raise AnnotationError(f"{path}: no 'results' object (is this a ground-truth file?)")
    videos, labels, starts, ends, scores = [], [], [], [], []
    for vid, items in results.items():
        if not isinstance(items, list):
            raise AnnotationError(f"{path}: {vid}: predictions must be a list")
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("label"), str):
                raise AnnotationError(f"{path}: {vid} prediction {i}: missing 'label'")
            start, end = _segment(path, vid, i, item, "prediction")
            score = item.get("score")
            if not isinstance(score, (int, float)) or isinstance(score, bool) or not math.isfinite(score):
                raise AnnotationError(f"{path}: {vid} prediction {i}: 'score' must be a finite number, got {score!r}")
            if end < start:
                raise AnnotationError(f"{path}: {vid} prediction {i}: end {end} < start {start}")
            videos.append(vid)
            labels.append(item["label"])
            starts.append(start)
            ends.append(end)
            scores.append(float(score))
    table = pd.DataFrame({"video": pd.Series(videos, dtype=str), "label": pd.Series(labels, dtype=str),
                          "start": np.asarray(starts, float), "end": np.asarray(ends, float),
                          "score": np.asarray(scores, float)})
    zero = int((table["end"] == table["start"]).sum())
    if zero:
        warnings.warn(f"{path}: {zero} prediction(s) have zero length; they count as false positives")
    return table


def write_predictions(table: pd.DataFrame, path: str | Path, extra: dict | None = None) -> None:
    """Write columns video, label, start, end, score as ActivityNet predictions JSON."""
    results: dict[str, list] = {}
    for row in table.itertuples(index=False):
        results.setdefault(row.video, []).append(
            {"label": row.label, "segment": [round(float(row.start), 3), round(float(row.end), 3)],
             "score": float(row.score)})
    _write_json_atomic({"version": "actionhas", "results": results, "external_data": extra or {}}, path)


def _write_json_atomic(obj: dict, path: str | Path) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1))
