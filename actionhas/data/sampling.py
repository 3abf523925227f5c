"""Training data: feature sequences sampled to a fixed length, with multi-hot labels, read lazily from the store.

Two samplings of ``length`` indices from a video of ``n`` features:
- ``uniform`` (the paper's): the centre of each of ``length`` equal bins, the same every epoch;
- ``perturbed`` (BaS-Net's and CoLA's official training sampling): one index drawn at random in
  each bin, a new draw every epoch; the identity when n == length.
``floor_indices`` is BaS-Net's official test-time sampling, ``floor_indices_up_to`` CoLA's.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from actionhas.core.errors import ActionhasError
from actionhas.formats.ground_truth import canonical_video_id
from actionhas.formats.store import FeatureStore


def sample_uniform(n: int, length: int) -> np.ndarray:
    """Indices of ``length`` features spread uniformly over a video of ``n`` features.

    index_i = floor((i + 0.5) * n / length), i = 0..length-1: the centre of the i-th of
    ``length`` equal bins. A video shorter than ``length`` repeats each feature about
    length / n times; a longer one keeps every (n / length)-th.
    """
    return np.minimum(((np.arange(length) + 0.5) * n / length).astype(np.int64), n - 1)


def perturbed_indices(n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """BaS-Net's and CoLA's ``random_perturb``: bin i starts at s_i = i * n / length; its index is
    drawn uniformly from int(s_i) .. int(s_{i+1}) (both ends included, as the official code does),
    the last bin's from int(s_last) .. n - 1; a bin narrower than one feature keeps int(s_i)."""
    if n == length:
        return np.arange(length, dtype=np.int64)
    starts = np.arange(length) * n / length
    out = starts.astype(np.int64)
    ends = np.r_[out[1:], n - 1]  # inclusive upper end of each draw
    wide = np.r_[out[:-1] != out[1:], out[-1] < n - 1]
    draws = rng.integers(out, ends + 1)
    return np.where(wide, draws, out)


def floor_indices(n: int, length: int) -> np.ndarray:
    """BaS-Net's test-time ``uniform_sampling``: floor(i * n / length); the identity when n == length."""
    if n == length:
        return np.arange(length, dtype=np.int64)
    return np.floor(np.arange(length) * n / length).astype(np.int64)


def floor_indices_up_to(n: int, length: int) -> np.ndarray:
    """CoLA's test-time ``uniform_sampling``: a video of n <= length features whole, a longer one
    floor(i * n / length), i = 0..length-1."""
    return np.arange(n, dtype=np.int64) if n <= length else floor_indices(n, length)



def select_videos(labels: pd.DataFrame, store: FeatureStore, subset: str | None, classes: list[str] | None = None,
                  what: str = "training") -> pd.DataFrame:
    """The labelled videos of ``subset`` that the store holds; warn with counts about the rest.

    Ids match with or without the ``v_`` prefix ActivityNet feature files carry; the returned
    table names each video as the store does.
    """
    table = labels if subset is None else labels[labels["subset"] == subset]
    if not len(table):
        raise ActionhasError(f"no {what} videos with subset {subset!r} in the labels "
                             f"(subsets present: {sorted(labels['subset'].unique())})")
    stored = {canonical_video_id(v): v for v in store.video_ids}  # ActivityNet: "v_<id>" in stores, "<id>" in labels
    table = table.assign(video=[stored.get(canonical_video_id(v), v) for v in table["video"]])
    present = table["video"].isin(store.video_ids)
    if not present.any():
        raise ActionhasError(f"none of the {len(table)} {what} videos is in {store.path} "
                             f"(e.g. {table['video'].iloc[0]})")
    if not present.all():
        missing = table.loc[~present, "video"]
        warnings.warn(f"{len(missing)} of {len(table)} {what} videos are not in {store.path} and are "
                      f"skipped (e.g. {missing.iloc[0]})")
    table = table[present]
    if classes is not None:
        known = set(classes)
        unknown = sorted({c for labels_ in table["labels"] for c in labels_} - known)
        if unknown:
            warnings.warn(f"{what} labels name {len(unknown)} class(es) the run does not know, ignored: {unknown[:5]}")
    return table.reset_index(drop=True)


def label_matrix(labels: pd.Series, classes: list[str]) -> np.ndarray:
    """(videos, classes) float32 multi-hot matrix; unknown class names are ignored."""
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(labels), len(classes)), np.float32)
    for row, names in enumerate(labels):
        for name in names:
            if name in index:
                out[row, index[name]] = 1.0
    return out


def check_finite(video_id: str, features: np.ndarray) -> None:
    if not np.isfinite(features).all():
        bad = int((~np.isfinite(features)).any(axis=1).sum())
        raise ActionhasError(f"{video_id}: {bad} feature row(s) hold NaN or Inf")


def mean_feature(store: FeatureStore, videos: list[str], progress: bool = True) -> np.ndarray:
    """The (D,) mean over every feature of ``videos``, accumulated in float64 one video at a time."""
    total = np.zeros(store.info.feature_dim, np.float64)
    count = 0
    for vid in tqdm(videos, desc="mean feature", unit="video", disable=not progress, leave=False):
        feats = store.features(vid)
        check_finite(vid, feats)
        total += feats.sum(axis=0, dtype=np.float64)
        count += len(feats)
    return total / max(count, 1)


class VideoFeatures(Dataset):
    """(features (length, D) float32, labels (C,) float32, times (length,) float64 seconds) per
    video, read on demand: the sampled features and the times they were taken at.

    ``perturbed`` draws from a generator seeded by (seed, epoch, video index) alone, so a resumed
    run and any number of workers draw the same indices (``set_epoch`` before each epoch).
    """

    def __init__(self, store: FeatureStore, videos: list[str], labels: np.ndarray, length: int,
                 sampling: str = "uniform", seed: int = 0):
        self.store, self.videos, self.labels, self.length = store, list(videos), labels, length
        self.sampling, self.seed, self.epoch = sampling, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.videos)

    def rows(self, i: int) -> np.ndarray:
        n = self.store.num_features(self.videos[i])
        if self.sampling == "perturbed":
            return perturbed_indices(n, self.length, np.random.default_rng((self.seed, self.epoch, i)))
        return sample_uniform(n, self.length)

    def __getitem__(self, i: int):
        vid = self.videos[i]
        rows = self.rows(i)
        feats = self.store.features(vid, rows)
        check_finite(vid, feats)
        times = self.store.times(vid)[rows]
        return torch.from_numpy(feats), torch.from_numpy(self.labels[i]), torch.from_numpy(times)
