"""Video-level training labels: a CSV (``video,subset,labels`` with ``;``-separated classes), any
ground-truth source (a video's labels are the classes of its annotations), or a shipped set by name."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from actionhas.formats.annotations import (
    _SPLIT_SUFFIX,
    THUMOS14_DIR,
    AnnotationError,
    load_thumos14,
    read_ground_truth,
)
from actionhas.formats.ids import check_video_ids

if TYPE_CHECKING:
    import pandas as pd

LABEL_SOURCES = {"thumos14": "20 classes: the temporally annotated THUMOS14 validation and test videos",
                 "thumos14-101": "101 classes: all 1010 validation and 1574 test THUMOS14 videos (official metadata)"}


def read_labels(path: str | Path) -> pd.DataFrame:
    """Video-level labels from a CSV (video,subset,labels) or a ground-truth JSON / txt directory.

    Returns columns video, subset, labels (list of class names). Videos with an empty label list
    are kept: they are background-only videos.
    """
    import pandas as pd

    path = Path(path)
    if path.is_dir() or path.suffix.lower() == ".json":
        return read_ground_truth(path).video_labels()
    if not path.exists():
        raise AnnotationError(f"{path}: file not found")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"video", "subset", "labels"} - set(table.columns)
    if missing:
        raise AnnotationError(f"{path}: labels CSV lacks column(s) {sorted(missing)}; "
                              "header must be video,subset,labels")
    check_video_ids(table["video"], path)
    dup = table["video"][table["video"].duplicated()]
    if len(dup):
        raise AnnotationError(f"{path}: video {dup.iloc[0]} is listed twice")
    table["labels"] = [sorted({x.strip() for x in s.split(";")}) if s.strip() else [] for s in table["labels"]]
    blank = [v for v, names in zip(table["video"], table["labels"]) if "" in names]
    if blank:
        raise AnnotationError(f"{path}: video {blank[0]}: a blank class name in its labels (classes are separated "
                              "by ';'; leave the field empty for a video without actions)")
    return table[["video", "subset", "labels"]]


def load_labels(spec: str) -> pd.DataFrame:
    """Video-level labels named on the command line: a CSV, a ground-truth JSON / txt directory,
    or a name of ``LABEL_SOURCES`` (the paper trains on the validation videos of ``thumos14-101``)."""
    import pandas as pd

    if spec == "thumos14":
        return pd.concat([load_thumos14(s).video_labels() for s in _SPLIT_SUFFIX], ignore_index=True)
    if spec == "thumos14-101":
        return pd.concat([read_labels(THUMOS14_DIR / f"labels_{split}_101.csv") for split in _SPLIT_SUFFIX.values()],
                         ignore_index=True)
    if not Path(spec).exists():
        raise AnnotationError(f"{spec}: no such labels file, nor one of {', '.join(LABEL_SOURCES)}")
    return read_labels(spec)


def write_labels_csv(table: pd.DataFrame, path: str | Path) -> None:
    out = table[["video", "subset"]].copy()
    out["labels"] = [";".join(labels) for labels in table["labels"]]
    out.to_csv(path, index=False)
