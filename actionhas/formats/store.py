"""The one place that knows the HDF5 feature store layout.

    / attrs: feature_dim (int), features_per_second (float), extractor (str),
             provenance (str, JSON: every setting that changes a feature value; absent in
             stores made by earlier versions)
    /videos/<video_id>/features  (n, feature_dim) float16|float32, n >= 1
    /videos/<video_id>/times     (n,) float64, centre of each feature's window in seconds, increasing
    /videos/<video_id> attrs: duration (s), fps (source frame rate); extraction adds
             frames_reported, frames_decoded (int), truncated and variable_rate (bool)
    /failures/<video_id> attrs: file, reason (videos an extraction could not read)

Readers open the file lazily and read one video (or a few rows of it) at a time, so nothing ever
loads the whole store: THUMOS14 at 4096-d is about 16 GB.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from actionhas.core.errors import ActionhasError
from actionhas.formats.atomic import atomic_path
from actionhas.formats.ids import check_video_id

PROVENANCE_NOT_COMPARED = ("package_version",)
"""Recorded but never compared: an upgrade that leaves every value-changing setting equal changes no feature."""

DIGEST_ROWS = 3
"""Rows per video a content digest reads (first, middle, last): ids and shapes catch a re-import, the rows a
re-extraction. Each row costs its 256-row chunk: 3 chunks per video bound the read (THUMOS14 C3D: ~1.2 GB of 16)."""


class StoreError(ActionhasError):
    """A feature store that breaks the layout contract."""


@dataclass(frozen=True)
class StoreInfo:
    """A store's file attributes. provenance: the settings that made its features (None: an earlier version's store)."""

    feature_dim: int
    features_per_second: float
    extractor: str
    provenance: dict | None = field(default=None, hash=False)


def read_info(f: h5py.File, path: str | Path) -> StoreInfo:
    """The file attributes of an open store; an error naming ``path`` when one is missing or broken."""
    try:
        dim, fps, extractor = int(f.attrs["feature_dim"]), float(f.attrs["features_per_second"]), str(f.attrs["extractor"])
    except KeyError as e:
        raise StoreError(f"{path}: missing file attribute {e.args[0]!r}") from None
    provenance = None
    if "provenance" in f.attrs:
        try:
            provenance = json.loads(f.attrs["provenance"])
        except (TypeError, ValueError):
            raise StoreError(f"{path}: file attribute 'provenance' is not JSON") from None
    return StoreInfo(dim, fps, extractor, provenance)


def create_store(path: str | Path, info: StoreInfo) -> h5py.File:
    """Open a new store for writing (truncating ``path``) with its file attributes set."""
    f = h5py.File(path, "w")
    f.attrs["feature_dim"] = int(info.feature_dim)
    f.attrs["features_per_second"] = float(info.features_per_second)
    f.attrs["extractor"] = str(info.extractor)
    if info.provenance is not None:
        f.attrs["provenance"] = json.dumps(info.provenance, sort_keys=True)
    f.require_group("videos")
    return f


@contextmanager
def create_store_atomic(path: str | Path, info: StoreInfo) -> Iterator[h5py.File]:
    """A new store written under a temporary name and renamed onto ``path`` when the block ends.

    On an error (or a kill) ``path`` is untouched: it holds the old file or none, never half a store.
    """
    with atomic_path(path) as tmp:
        with create_store(tmp, info) as f:
            yield f


def write_video(f: h5py.File, video_id: str, features: np.ndarray, times: np.ndarray,
                duration: float, fps: float, dtype=np.float16, attrs: dict | None = None) -> None:
    """Write one video's group, replacing any earlier one with the same id.

    attrs: further per-video attributes (extraction's frames_reported, frames_decoded, truncated, ...).
    """
    check_video_id(video_id, f.filename)
    features = np.asarray(features)
    times = np.asarray(times, dtype=np.float64)
    if features.ndim != 2 or len(features) < 1 or features.shape[1] != f.attrs["feature_dim"]:
        raise StoreError(f"{video_id}: features of shape {features.shape}, store wants (n>=1, {f.attrs['feature_dim']})")
    if times.shape != (len(features),) or np.any(np.diff(times) <= 0):
        raise StoreError(f"{video_id}: times must be {len(features)} increasing values")
    videos = f.require_group("videos")
    if video_id in videos:
        del videos[video_id]
    g = videos.create_group(video_id)
    g.create_dataset("features", data=features.astype(dtype, copy=False), chunks=(min(len(features), 256), features.shape[1]))
    g.create_dataset("times", data=times)
    g.attrs["duration"] = float(duration)
    g.attrs["fps"] = float(fps)
    g.attrs.update(attrs or {})


def read_record(path: Path) -> dict | str:
    """A store's provenance, or a sentence saying why it has none (``outputs.claim``'s record of a store)."""
    try:
        f = h5py.File(path, "r")
    except OSError:
        return "is not a feature store"
    with f:
        try:
            info = read_info(f, path)
        except StoreError:
            return "is not a feature store"
    return info.provenance or "is a store that records no provenance (made by an earlier version)"


def video_ids(f: h5py.File) -> list[str]:
    """The ids of the videos in an open store, sorted."""
    return sorted(f.get("videos", {}))


def copy_video(src: h5py.File, dst: h5py.File, video_id: str) -> None:
    """Copy one video's group (features, times, attributes) from one open store into another, replacing it there."""
    videos = dst.require_group("videos")
    if video_id in videos:
        del videos[video_id]
    src.copy(src["videos"][video_id], videos, name=video_id)


def write_failure(f: h5py.File, video_id: str, file: str, reason: str) -> None:
    """Record a video that could not be read: its file and the one-line reason."""
    g = f.require_group("failures").require_group(video_id)
    g.attrs["file"], g.attrs["reason"] = str(file), str(reason)


def read_failures(f: h5py.File) -> dict[str, dict]:
    """{video_id: {"file", "reason"}} of the videos an extraction recorded as failed."""
    return {vid: {"file": str(g.attrs["file"]), "reason": str(g.attrs["reason"])}
            for vid, g in f.get("failures", {}).items()}


@dataclass(frozen=True)
class StoreSummary:
    """What a person asks of a store: its attributes, its videos, those cut short and those that failed."""

    info: StoreInfo
    videos: int
    truncated: list[str]
    failures: dict[str, dict]


def summarize(path: str | Path) -> StoreSummary:
    """Read a store's summary (attributes only: no features are loaded)."""
    if not Path(path).is_file():
        raise StoreError(f"{path}: feature store not found")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise StoreError(f"{path}: not a readable HDF5 file ({e})") from None
    with f:
        videos = f.get("videos", {})
        truncated = sorted(vid for vid, g in videos.items() if bool(g.attrs.get("truncated", False)))
        return StoreSummary(read_info(f, path), len(videos), truncated, read_failures(f))


class FeatureStore:
    """Read-only view of a feature store; safe to hand to DataLoader workers (reopens per process)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise StoreError(f"{self.path}: feature store not found")
        self._file: h5py.File | None = None
        self._pid = -1
        f = self.file
        self.info = read_info(f, self.path)
        if "videos" not in f:
            raise StoreError(f"{self.path}: no /videos group")
        self.video_ids = sorted(f["videos"].keys())

    @property
    def file(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as e:
                raise StoreError(f"{self.path}: not a readable HDF5 file ({e})") from None
            self._pid = os.getpid()
        return self._file

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_file"], state["_pid"] = None, -1
        return state

    def _group(self, video_id: str) -> h5py.Group:
        try:
            return self.file["videos"][video_id]
        except KeyError:
            raise StoreError(f"{self.path}: video {video_id} is not in the store") from None

    def num_features(self, video_id: str) -> int:
        return int(self._group(video_id)["features"].shape[0])

    def features(self, video_id: str, rows: np.ndarray | None = None) -> np.ndarray:
        """float32 (n, D) features, or only ``rows`` (sorted, may repeat) of them."""
        ds = self._group(video_id)["features"]
        if rows is None:
            return ds[()].astype(np.float32)
        unique, inverse = np.unique(rows, return_inverse=True)
        lo, hi = int(unique[0]), int(unique[-1]) + 1
        return ds[lo:hi][unique - lo][inverse].astype(np.float32)  # one contiguous read

    def times(self, video_id: str) -> np.ndarray:
        return self._group(video_id)["times"][()]

    def duration(self, video_id: str) -> float:
        return float(self._group(video_id).attrs["duration"])

    def identity(self, videos: list[str]) -> dict:
        """What a run records of the store it was trained on: the provenance, or for a store without one a
        SHA-256 over the ids, shapes and ``DIGEST_ROWS`` evenly spaced feature rows of ``videos``."""
        if self.info.provenance is not None:
            return {"provenance": self.info.provenance}
        return {"digest": self.digest(videos), "digest_videos": sorted(videos)}

    def digest(self, videos: list[str]) -> str:
        """SHA-256 over the ids, shapes, dtypes and ``DIGEST_ROWS`` evenly spaced feature rows of ``videos``."""
        digest = hashlib.sha256()
        for vid in sorted(videos):
            ds = self._group(vid)["features"]
            rows = sorted(set(np.linspace(0, len(ds) - 1, DIGEST_ROWS).round().astype(int).tolist()))
            digest.update(json.dumps([vid, list(ds.shape), str(ds.dtype)]).encode())
            digest.update(np.ascontiguousarray(ds[rows]).tobytes())
        return digest.hexdigest()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
