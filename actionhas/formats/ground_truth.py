"""Temporal ground truth in memory: numpy columns, pandas views on demand, and the evaluated set.

``actionhas.formats.annotations`` reads and writes the file formats into this; the evaluators read its
columns directly, so scoring never needs pandas (``import pandas`` alone costs ~0.4 s).
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

INSTANCE_COLUMNS = ("video", "label", "start", "end")
VIDEO_COLUMNS = ("video", "subset", "duration")
SEGMENT_COLUMNS = ("video", "start", "end")
NUMERIC_COLUMNS = {"start", "end", "duration", "score"}
"""Columns held as float64 (seconds, or a score); every other column holds str objects."""

_SUBSET_OF_PREFIX = {"video_validation_": "validation", "video_test_": "test"}


def canonical_video_id(video_id: str) -> str:
    """A video id without the ``v_`` that feature files put before ActivityNet ids (``v_abc`` -> ``abc``)."""
    return video_id.removeprefix("v_")


def subset_from_id(video: str) -> str:
    """The THUMOS14 subset an id names by its prefix (``video_test_...`` -> "test"); "" for other ids."""
    for prefix, subset in _SUBSET_OF_PREFIX.items():
        if video.startswith(prefix):
            return subset
    return ""


def columns_from_rows(names: tuple[str, ...], rows: list[tuple]) -> dict[str, tuple]:
    """Row tuples as named columns (empty columns for no rows)."""
    return dict(zip(names, zip(*rows))) if rows else {name: () for name in names}


def as_columns(table, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Named columns of a DataFrame (an index of that name counts) or of a mapping, as numpy arrays."""
    index = getattr(table, "index", None)
    return {name: np.asarray(index if getattr(index, "name", None) == name else table[name],
                             dtype=float if name in NUMERIC_COLUMNS else object) for name in names}


def as_frame(columns: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Numpy columns as a DataFrame (imports pandas)."""
    import pandas as pd

    return pd.DataFrame({name: pd.Series(values, dtype=float if name in NUMERIC_COLUMNS else str)
                         for name, values in columns.items()})


def _take(columns: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[keep] for name, values in columns.items()}


class GroundTruth:
    """Temporal ground truth of a set of videos.

    instances: one row per action instance, columns video, label, start, end (seconds), in file
        order (the THUMOS14 evaluator's matching depends on it).
    videos: index video, columns subset, duration (seconds, NaN when unknown).
    ambiguous: THUMOS14 Ambiguous segments, columns video, start, end; never ground truth.
    Each is given as a DataFrame (``videos`` indexed by video) or a mapping column -> values, and
    kept as numpy columns (``instance_columns`` ...); the DataFrames are made on first use.

    The evaluated set (``in_scope``) is what ``select`` chose: ``subset`` (None = every video)
    minus ``excluded`` (canonical ids). ``catalog`` maps the canonical id of every video the source
    knows, annotated or not, to its subset.
    """

    def __init__(self, instances, videos, ambiguous=None, *, subset: str | None = None,
                 excluded: frozenset[str] = frozenset(), catalog: dict[str, str] | None = None):
        self.instance_columns = as_columns(instances, INSTANCE_COLUMNS)
        self.video_columns = as_columns(videos, VIDEO_COLUMNS)
        self.ambiguous_columns = as_columns(columns_from_rows(SEGMENT_COLUMNS, []) if ambiguous is None else ambiguous,
                                            SEGMENT_COLUMNS)
        self.subset, self.excluded = subset, excluded
        self.catalog = catalog if catalog is not None else dict(
            zip(map(canonical_video_id, self.video_columns["video"]), self.video_columns["subset"]))

    @cached_property
    def instances(self) -> pd.DataFrame:
        return as_frame(self.instance_columns)

    @cached_property
    def videos(self) -> pd.DataFrame:
        return as_frame(self.video_columns).set_index("video")

    @cached_property
    def ambiguous(self) -> pd.DataFrame:
        return as_frame(self.ambiguous_columns)

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.instance_columns["label"]))

    def select(self, subset: str | None = None, exclude: tuple[str, ...] | list[str] = ()) -> GroundTruth:
        """The videos of one subset (None = all), without the ``exclude`` ones."""
        excluded = self.excluded | {canonical_video_id(v) for v in exclude}
        vids = self.video_columns
        keep = np.array([(subset is None or s == subset) and canonical_video_id(v) not in excluded
                         for v, s in zip(vids["video"], vids["subset"])], bool)
        names = set(vids["video"][keep])

        def of_kept_videos(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return _take(columns, np.array([v in names for v in columns["video"]], bool))

        return GroundTruth(of_kept_videos(self.instance_columns), _take(vids, keep),
                           of_kept_videos(self.ambiguous_columns), subset=self.subset if subset is None else subset,
                           excluded=frozenset(excluded), catalog=self.catalog)

    def in_scope(self, video: str) -> bool:
        """Whether a video, annotated or not, belongs to the evaluated set: not excluded and of the
        selected subset (as the source's video list says, else as a THUMOS14 id prefix says)."""
        video = canonical_video_id(video)
        if video in self.excluded:
            return False
        return self.subset is None or self.catalog.get(video, subset_from_id(video)) == self.subset

    def video_labels(self) -> pd.DataFrame:
        """Video-level labels: columns video, subset, labels (sorted list of class names)."""
        import pandas as pd

        by_video: dict[str, set] = {}
        for video, label in zip(self.instance_columns["video"], self.instance_columns["label"]):
            by_video.setdefault(video, set()).add(label)
        vids = self.video_columns
        return pd.DataFrame({"video": pd.Series(vids["video"], dtype=str),
                             "subset": pd.Series(vids["subset"], dtype=str),
                             "labels": [sorted(by_video.get(v, ())) for v in vids["video"]]})
