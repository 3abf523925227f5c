"""The one place that knows the annotation file formats.

Ground truth comes as an ActivityNet JSON (``{"database": {vid: {...}}}``, ActivityNet 1.2 / 1.3
files as distributed included) or as a directory of the official THUMOS14 per-class txt files
(``<Class>_<split>.txt`` with ``video start end`` rows, plus ``Ambiguous_<split>.txt``).
Video-level training labels come as a CSV (``video,subset,labels`` with ``;``-separated classes),
from any ground-truth source, or by name (``thumos14``, ``thumos14-101``). Predictions are
ActivityNet JSON (``{"results": {vid: [{label, segment, score}]}}``).

Ground truth is loaded into ``actionhas.formats.ground_truth.GroundTruth``, predictions into the same
numpy columns (``video, label, start, end`` in seconds, ``score``); only the functions that hand out
DataFrames import pandas. Video ids match ground truth through ``canonical_video_id``.
"""
from __future__ import annotations

import csv
import gc
import json
import math
import warnings
from importlib.resources import files
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from actionhas.core.errors import ActionhasError
from actionhas.formats.atomic import write_text_atomic
from actionhas.formats.ground_truth import (INSTANCE_COLUMNS, SEGMENT_COLUMNS, VIDEO_COLUMNS, GroundTruth, as_columns,
                                            as_frame, columns_from_rows, subset_from_id)
from actionhas.formats.ground_truth import canonical_video_id  # noqa: F401 (re-exported: every video id matches through it)
from actionhas.formats.ids import check_video_id, check_video_ids

if TYPE_CHECKING:
    import pandas as pd

THUMOS14_DIR = Path(str(files("actionhas._thumos14")))
"""The THUMOS14 annotations installed with the package (see its SOURCES.md)."""

THUMOS14_EXCLUDED_TEST_VIDEOS = ("video_test_0000270", "video_test_0001292", "video_test_0001496")
"""Test videos many papers leave out: 270 and 1496 are mis-annotated, 1292 has only Ambiguous."""

EXCLUSION_SETS = {"thumos14-bad": THUMOS14_EXCLUDED_TEST_VIDEOS}

_SPLIT_SUFFIX = {"validation": "val", "test": "test"}
PREDICTION_COLUMNS = ("video", "label", "start", "end", "score")


class AnnotationError(ActionhasError):
    """A ground-truth, label or prediction file that cannot be read as its format says."""


def _read_json(path: Path) -> dict:
    enabled = gc.isenabled()
    gc.disable()  # a JSON document is a tree: collecting while it is built only costs time
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise AnnotationError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise AnnotationError(f"{path}: not valid JSON ({e})") from None
    finally:
        if enabled:
            gc.enable()


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
    """Read an ActivityNet-format ground-truth JSON (other top-level keys are ignored); errors name the file and video."""
    path = Path(path)
    data = _read_json(path)
    db = data.get("database") if isinstance(data, dict) else None
    if not isinstance(db, dict):
        raise AnnotationError(f"{path}: no 'database' object (is this a predictions file?)")
    check_video_ids(db, path)
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
    return GroundTruth(columns_from_rows(INSTANCE_COLUMNS, rows), columns_from_rows(VIDEO_COLUMNS, videos))


def write_anet_gt(gt: GroundTruth, path: str | Path) -> None:
    """Write ground truth as ActivityNet JSON (Ambiguous segments are not ground truth: left out)."""
    vids, inst = gt.video_columns, gt.instance_columns
    db = {v: {"subset": s, "annotations": [], **({} if np.isnan(d) else {"duration": float(d)})}
          for v, s, d in zip(vids["video"], vids["subset"], vids["duration"])}
    for v, label, s, e in zip(*(inst[c] for c in INSTANCE_COLUMNS)):
        db[v]["annotations"].append({"label": label, "segment": [float(s), float(e)]})
    write_text_atomic(path, json.dumps({"database": db}, indent=1))


def _read_segment_txt(path: Path) -> list[tuple[str, float, float]]:
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
        rows.append((check_video_id(parts[0], f"{path}:{n}"), start, end))
    return rows


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
    rows = [(v, p.name.rsplit("_", 1)[0], s, e) for p in class_files for v, s, e in _read_segment_txt(p)]
    ambiguous = [r for p in sorted(directory.glob("Ambiguous_*.txt")) for r in _read_segment_txt(p)]
    names = list(dict.fromkeys([r[0] for r in rows] + [r[0] for r in ambiguous]))
    check_video_ids(names, directory)
    durations = thumos14_durations()
    videos = [(v, subset_from_id(v), durations.get(v, np.nan)) for v in names]
    return GroundTruth(columns_from_rows(INSTANCE_COLUMNS, rows), columns_from_rows(VIDEO_COLUMNS, videos),
                       columns_from_rows(SEGMENT_COLUMNS, ambiguous))


def write_thumos_txt_dir(gt: GroundTruth, directory: str | Path, split: str) -> None:
    """Write per-class ``<Class>_<split>.txt`` files (and Ambiguous) as the official ones are laid out."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    inst, amb = gt.instance_columns, gt.ambiguous_columns
    by_label: dict[str, list[str]] = {}
    for v, label, s, e in zip(*(inst[c] for c in INSTANCE_COLUMNS)):
        by_label.setdefault(label, []).append(f"{v}  {s:.1f} {e:.1f}")
    if len(amb["video"]):
        by_label["Ambiguous"] = [f"{v}  {s:.1f} {e:.1f}" for v, s, e in zip(*(amb[c] for c in SEGMENT_COLUMNS))]
    for label, lines in sorted(by_label.items()):
        write_text_atomic(directory / f"{label}_{split}.txt", "\n".join(lines) + "\n")


def thumos14_durations() -> dict[str, float]:
    """Duration in seconds of every THUMOS14 video in the shipped video_info.json."""
    info = json.loads((THUMOS14_DIR / "video_info.json").read_text())
    return {vid: float(meta["duration"]) for vid, meta in info.items()}


def thumos14_video_subsets() -> dict[str, str]:
    """Subset of each of the 1010 validation and 1574 test THUMOS14 videos, annotated or not (official metadata)."""
    out: dict[str, str] = {}
    for split in _SPLIT_SUFFIX.values():
        with open(THUMOS14_DIR / f"meta_{split}.csv", newline="") as f:
            rows = csv.reader(f)
            next(rows)  # header: video,subset,...
            out.update((row[0], row[1]) for row in rows)
    return out


def load_thumos14(subset: str = "test", source: str = "json") -> GroundTruth:
    """The shipped THUMOS14 ground truth of ``subset`` ("validation" or "test").

    source="json" reads gt_<split>_anet.json (no Ambiguous); source="txt" reads the official
    per-class files, which carry the Ambiguous segments the THUMOS14 protocol needs. Every video
    of the official lists, annotated or not, is in its catalog (see ``GroundTruth.in_scope``).
    """
    if subset not in _SPLIT_SUFFIX:
        raise AnnotationError(f"THUMOS14 subset must be one of {list(_SPLIT_SUFFIX)}, got {subset!r}")
    split = _SPLIT_SUFFIX[subset]
    gt = read_thumos_txt_dir(THUMOS14_DIR / f"annotations_{split}") if source == "txt" \
        else read_anet_gt(THUMOS14_DIR / f"gt_{split}_anet.json")
    gt.catalog.update(thumos14_video_subsets())
    return gt


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


def load_ground_truth(spec: str, subset: str | None = None, protocol: str = "anet",
                      exclude: str | None = None) -> GroundTruth:
    """Ground truth named on the command line, restricted to ``subset`` without the ``exclude`` videos.

    ``spec``: "thumos14" (the shipped annotations, subset "test" by default: the per-class txt files
    with Ambiguous segments for ``protocol`` "thumos14", the ActivityNet JSON otherwise), an
    ActivityNet JSON or a directory of THUMOS14 txt files.
    """
    if spec == "thumos14":
        subset = subset or "test"
        if subset not in _SPLIT_SUFFIX:
            raise AnnotationError(f"--subset {subset!r}: THUMOS14 has the subsets {', '.join(_SPLIT_SUFFIX)}")
        gt = load_thumos14(subset, source="txt" if protocol == "thumos14" else "json")
    else:
        gt = read_ground_truth(spec)
        if protocol == "thumos14" and not Path(spec).is_dir():
            warnings.warn(f"{spec}: an ActivityNet JSON has no Ambiguous segments; "
                          "the THUMOS14 protocol runs without them (give the txt directory to use them)")
    subsets = sorted(set(gt.video_columns["subset"]))
    if subset is not None and subset not in subsets:
        raise AnnotationError(f"--subset {subset!r}: no video of {spec} is in it (its subsets: {subsets})")
    gt = gt.select(subset, resolve_exclusions(exclude))
    if not len(gt.instance_columns["video"]):
        raise AnnotationError(f"{spec}: no ground-truth instances in subset {subset!r}")
    return gt


# ----------------------------------------------------------------------------- predictions

def _checked_prediction_columns(path: Path, results: dict) -> dict[str, np.ndarray]:
    """Columns of ``results``, walking every prediction; raise on the first malformed one, naming
    its video and index."""
    rows = []
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
            rows.append((vid, item["label"], start, end, float(score)))
    return as_columns(columns_from_rows(PREDICTION_COLUMNS, rows), PREDICTION_COLUMNS)


def _fast_prediction_columns(results: dict) -> dict[str, np.ndarray] | None:
    """Columns of ``results`` when every entry is plainly well formed (str label, [start, end] with
    finite times and end >= start, finite number score), checked as whole arrays; else None."""
    counts, labels, segments, scores = [], [], [], []
    try:
        for items in results.values():
            labels += [item["label"] for item in items]
            segments += [item["segment"] for item in items]
            scores += [item["score"] for item in items]
            counts.append(len(items))
    except (TypeError, KeyError):
        return None
    if (set(map(type, labels)) - {str} or set(map(type, scores)) - {int, float} or set(map(type, segments)) - {list}
            or set(map(len, segments)) - {2}):
        return None
    try:
        seg = np.fromiter(chain.from_iterable(segments), float, 2 * len(segments)).reshape(-1, 2)
    except (TypeError, ValueError):
        return None
    score = np.fromiter(scores, float, len(scores))
    if not (np.isfinite(seg).all() and np.isfinite(score).all() and np.all(seg[:, 1] >= seg[:, 0])):
        return None
    return {"video": np.repeat(np.array(list(results), dtype=object), counts), "label": np.array(labels, dtype=object),
            "start": seg[:, 0], "end": seg[:, 1], "score": score}


def read_prediction_columns(path: str | Path) -> dict[str, np.ndarray]:
    """Read an ActivityNet predictions JSON into numpy columns video, label (str objects), start,
    end (seconds) and score, in file order.

    Malformed entries and NaN scores are errors naming the video; a segment with end < start is
    an error; zero-length segments are kept (they can only be false positives) with a warning.
    """
    path = Path(path)
    data = _read_json(path)
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict):
        raise AnnotationError(f"{path}: no 'results' object (is this a ground-truth file?)")
    columns = _fast_prediction_columns(results)
    if columns is None:
        columns = _checked_prediction_columns(path, results)
    zero = int(np.sum(columns["end"] == columns["start"]))
    if zero:
        warnings.warn(f"{path}: {zero} prediction(s) have zero length; they count as false positives")
    return columns


def read_predictions(path: str | Path) -> pd.DataFrame:
    """``read_prediction_columns`` as a DataFrame with columns video, label, start, end, score."""
    return as_frame(read_prediction_columns(path))


def read_predictions_info(path: str | Path) -> dict:
    """What a predictions JSON records about how it was made (its ``external_data`` object; {} when absent)."""
    path = Path(path)
    data = _read_json(path)
    info = data.get("external_data") if isinstance(data, dict) else None
    return info if isinstance(info, dict) else {}


def write_predictions(table, path: str | Path, extra: dict | None = None) -> None:
    """Columns video, label, start, end, score (DataFrame or mapping) as ActivityNet JSON, at full float precision."""
    results: dict[str, list] = {}
    for video, label, start, end, score in zip(*(table[c] for c in PREDICTION_COLUMNS)):
        results.setdefault(video, []).append(
            {"label": label, "segment": [float(start), float(end)], "score": float(score)})
    _write_json_atomic({"version": "actionhas", "results": results, "external_data": extra or {}}, path)


def _write_json_atomic(obj: dict, path: str | Path) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1))
