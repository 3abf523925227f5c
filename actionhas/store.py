"""The one place that knows the HDF5 feature store layout.

    / attrs: feature_dim (int), features_per_second (float), extractor (str)
    /videos/<video_id>/features  (n, feature_dim) float16|float32, n >= 1
    /videos/<video_id>/times     (n,) float64, centre of each feature's window in seconds, increasing
    /videos/<video_id> attrs: duration (s), fps (source frame rate)

Readers open the file lazily and read one video (or a few rows of it) at a time, so nothing ever
loads the whole store: THUMOS14 at 4096-d is about 16 GB.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from actionhas.errors import ActionhasError


class StoreError(ActionhasError):
    """A feature store that breaks the layout contract."""


@dataclass(frozen=True)
class StoreInfo:
    feature_dim: int
    features_per_second: float
    extractor: str


def read_info(f: h5py.File, path: str | Path) -> StoreInfo:
    """The file attributes of an open store; an error naming ``path`` when one is missing."""
    try:
        return StoreInfo(int(f.attrs["feature_dim"]), float(f.attrs["features_per_second"]), str(f.attrs["extractor"]))
    except KeyError as e:
        raise StoreError(f"{path}: missing file attribute {e.args[0]!r}") from None


def create_store(path: str | Path, info: StoreInfo) -> h5py.File:
    """Open a new store for writing (truncating ``path``) with its file attributes set."""
    f = h5py.File(path, "w")
    f.attrs["feature_dim"] = int(info.feature_dim)
    f.attrs["features_per_second"] = float(info.features_per_second)
    f.attrs["extractor"] = str(info.extractor)
    f.require_group("videos")
    return f


def write_video(f: h5py.File, video_id: str, features: np.ndarray, times: np.ndarray,
                duration: float, fps: float, dtype=np.float16) -> None:
    """Write one video's group, replacing any earlier one with the same id."""
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

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
